"""Workflow step Promote: the live pointer moves to the candidate, audited."""

from __future__ import annotations

from typing import Any

from functions.exceptions import ApprovalNotRecordedError
from functions.observability import count_decision, logger
from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.aws import lineage_repository
from registry.metrics import Metric
from registry.repository import LineageRepository
from registry.uploads import require_other_approver
from registry.workflow_state import Approval, Promoted, PromotionState


def require_recorded_approval(state: PromotionState, repository: LineageRepository) -> None:
    """The approval in the state must be the one the registry recorded for this execution.

    Approvals are recorded by AutoApprove or by the registry API, before the execution
    resumes; an approval sent straight to Step Functions with the task token is not."""
    name, version = state.candidate()
    approval: Approval = state.require("approval")
    item = repository.get_version(name, version) or {}
    recorded = (item.get("approved_by"), item.get("approved_in"))
    if recorded != (approval.approved_by, state.execution_name):
        raise ApprovalNotRecordedError(
            f"{name} {version} carries an approval by {approval.approved_by!r} that the "
            "registry did not record for this promotion; approvals go through the registry "
            "API (slipway approve)"
        )
    if state.policy.separation_of_duties:
        require_other_approver(
            state.require_validated().uploaded_by, approval.approved_by, name, version
        )


def promote_live_pointer(state: PromotionState, repository: LineageRepository) -> Promoted:
    require_recorded_approval(state, repository)
    name, version = state.candidate()
    # only while this promotion holds the lock: one a rollback cancelled moves nothing
    previous = repository.promote(name, version, state.execution_name, holding_lock=True)
    repository.record_audit(
        AuditEvent(
            name=name,
            version=version,
            execution=state.execution_name,
            step=AuditStep.PROMOTE,
            outcome=AuditOutcome.LIVE,
            reason=f"live pointer moved from {previous or 'nothing'} to {version}",
        ),
        detail={"from": previous, "to": version},
    )
    count_decision(Metric.PROMOTIONS, name, version=version)
    return Promoted(name=name, version=version, previous_version=previous)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return promote_live_pointer(PromotionState.parse(event), lineage_repository()).dump()
