"""Workflow steps AutoApprove and RequestApproval: the gate before the live pointer moves.

RequestApproval is called with a task token: the token is stored on the version, an SNS
message announces it, and the execution waits until someone approves or rejects through the
registry (or the wait times out).
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import boto3

from functions.constants import APPROVAL_TOPIC_ARN
from functions.lineage.clients import lineage_repository
from functions.lineage.repository import AuditEvent
from functions.workflow_state import candidate, execution


@cache
def _sns() -> Any:
    return boto3.client("sns")


def _audit(event: dict[str, Any], outcome: str, reason: str, actor: str) -> None:
    name, version = candidate(event)
    lineage_repository().record_audit(
        AuditEvent(name, version, execution(event), "6-approve", outcome, reason, actor),
        detail={"smoke_test": event.get("smoke_test", {})},
    )


def auto_approve(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name, version = candidate(event)
    lineage_repository().update_version(
        name, version, status="approved", smoke_test_result=event["smoke_test"]
    )
    _audit(event, "approved", "approval policy of this environment is 'auto'", "policy")
    return {"approved_by": "policy"}


def request_approval(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Store the task token and announce the waiting version; the answer comes later."""
    payload, token = event["state"], event["task_token"]
    name, version = candidate(payload)
    lineage_repository().update_version(
        name,
        version,
        status="awaiting-approval",
        smoke_test_result=payload["smoke_test"],
        approval_token=token,
    )
    evaluation = payload.get("evaluation", {})
    _sns().publish(
        TopicArn=os.environ[APPROVAL_TOPIC_ARN],
        Subject=f"Slipway: {name} {version} awaits approval"[:100],
        Message=json.dumps(
            {
                "model": name,
                "version": version,
                "evaluation": evaluation,
                "smoke_test": payload["smoke_test"],
                "approve": f"slipway approve {name} {version}",
                "reject": f"slipway reject {name} {version} --reason '...'",
            },
            indent=2,
        ),
    )
    _audit(payload, "awaiting-approval", "approval policy is 'manual'", "policy")
    return {"requested": True}
