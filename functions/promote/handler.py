"""Workflow step Promote: the live pointer moves to the candidate, audited."""

from __future__ import annotations

from typing import Any

from functions.observability import count_decision, logger
from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.aws import lineage_repository
from registry.metrics import Metric
from registry.repository import LineageRepository
from registry.workflow_state import Promoted, PromotionState


def promote_live_pointer(state: PromotionState, repository: LineageRepository) -> Promoted:
    name, version = state.candidate()
    previous = repository.promote(name, version, state.execution_name)
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
