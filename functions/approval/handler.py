"""Workflow steps AutoApprove and WaitForApproval: the gate before the live pointer moves.

WaitForApproval's function is called with a task token: the token is stored on the version,
an SNS message announces it, and the execution waits until someone approves or rejects
through the registry (or the wait times out).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from functions.observability import logger
from registry import aws
from registry.approval_tokens import ApprovalTokens
from registry.attesting import attest_after_the_fact
from registry.audit import POLICY_ACTOR, AuditEvent, AuditOutcome, AuditStep
from registry.environment import APPROVAL_TOKEN_KEY, APPROVAL_TOPIC_ARN, required
from registry.repository import LineageRepository
from registry.statuses import VersionStatus
from registry.workflow_state import Approval, ApprovalRequest, PromotionState, SmokeTestOutcome


def approve_by_policy(
    state: PromotionState,
    repository: LineageRepository,
    kms: Any,
    environ: Mapping[str, str] = os.environ,
) -> Approval:
    name, version = state.candidate()
    smoke_test: SmokeTestOutcome = state.require("smoke_test")
    reason = "approval policy of this environment is 'auto'"
    repository.update_version(
        name,
        version,
        status=VersionStatus.APPROVED,
        smoke_test_result=smoke_test.dump(),
        approved_by=POLICY_ACTOR,
        approved_in=state.execution_name,
        approval_reason=reason,
    )
    repository.record_audit(
        AuditEvent(
            name,
            version,
            state.execution_name,
            AuditStep.APPROVAL,
            AuditOutcome.APPROVED,
            reason,
            POLICY_ACTOR,
        ),
        detail={"smoke_test": smoke_test.dump()},
    )
    attest_after_the_fact(repository, kms, environ, name, version, "approved")
    return Approval(approved_by=POLICY_ACTOR, reason=reason)


def request_approval_of(
    request: ApprovalRequest,
    repository: LineageRepository,
    sns: Any,
    topic_arn: str,
    tokens: ApprovalTokens,
) -> dict[str, bool]:
    """Store the task token, sealed, and announce the waiting version; the answer comes
    later, through the registry API."""
    state = request.state
    name, version = state.candidate()
    smoke_test: SmokeTestOutcome = state.require("smoke_test")
    repository.update_version(
        name,
        version,
        status=VersionStatus.AWAITING_APPROVAL,
        smoke_test_result=smoke_test.dump(),
        approval_token=tokens.seal(request.task_token, name, version, state.execution_name),
        # the registry API enforces it when someone answers
        separation_of_duties=state.policy.separation_of_duties,
    )
    sns.publish(
        TopicArn=topic_arn,
        Subject=f"Slipway: {name} {version} awaits approval"[:100],
        Message=json.dumps(
            {
                "model": name,
                "version": version,
                "evaluation": state.evaluation.dump() if state.evaluation else {},
                "smoke_test": smoke_test.dump(),
                "approve": f"slipway approve {name} {version}",
                "reject": f"slipway reject {name} {version} --reason '...'",
            },
            indent=2,
        ),
    )
    repository.record_audit(
        AuditEvent(
            name,
            version,
            state.execution_name,
            AuditStep.APPROVAL_REQUESTED,
            AuditOutcome.AWAITING_APPROVAL,
            "approval policy is 'manual'",
            POLICY_ACTOR,
        ),
        detail={"smoke_test": smoke_test.dump()},
    )
    return {"requested": True}


@logger.inject_lambda_context
def auto_approve(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return approve_by_policy(
        PromotionState.parse(event), aws.lineage_repository(), aws.client("kms")
    ).dump()


@logger.inject_lambda_context
def request_approval(event: dict[str, Any], context: Any) -> dict[str, bool]:
    """The answer Step Functions keeps is the one SendTaskSuccess brings, not this one."""
    return request_approval_of(
        ApprovalRequest.parse(event),
        aws.lineage_repository(),
        aws.client("sns"),
        required(APPROVAL_TOPIC_ARN),
        ApprovalTokens(aws.client("kms"), required(APPROVAL_TOKEN_KEY)),
    )
