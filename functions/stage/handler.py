"""Workflow step Stage: the staging pointer moves to the evaluated candidate."""

from __future__ import annotations

import os
from typing import Any

from functions.constants import APPROVAL_POLICY, CANARY_BAKE_SECONDS, CANARY_SHARE
from functions.lineage import keys
from functions.lineage.clients import lineage_repository
from functions.lineage.repository import AuditEvent
from functions.workflow_state import candidate, execution


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name, version = candidate(event)
    repository = lineage_repository()
    evaluation = event["evaluation"]
    repository.update_version(name, version, status="staged", evaluation_result=evaluation)
    previous = repository.promote(name, version, execution(event), stage=keys.STAGING)
    repository.record_audit(
        AuditEvent(
            name=name,
            version=version,
            execution=execution(event),
            step="4-stage",
            outcome="staged",
            reason=(
                f"{evaluation['metric']} {evaluation['value']:.4f} meets {evaluation['threshold']}"
                + (
                    f" and beats live {evaluation['live_version']} ({evaluation['live_value']:.4f})"
                    if evaluation.get("live_version")
                    else ""
                )
                + f"; staging pointer moved from {previous or 'nothing'}"
            ),
        ),
        detail={"evaluation": evaluation},
    )
    return {
        "approval": os.environ.get(APPROVAL_POLICY, "auto"),
        "canary": {
            "share": float(os.environ.get(CANARY_SHARE, "0")),
            "bake_seconds": int(os.environ.get(CANARY_BAKE_SECONDS, "0")),
        },
    }
