"""Workflow step Stage: the staging pointer moves to the evaluated candidate."""

from __future__ import annotations

from typing import Any

from functions.observability import logger
from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.aws import lineage_repository
from registry.repository import LineageRepository
from registry.statuses import Stage, VersionStatus
from registry.workflow_state import EvaluationOutcome, PromotionState, Staged


def stage_candidate(state: PromotionState, repository: LineageRepository) -> Staged:
    """Store the evaluation on the version and point staging at it, audited."""
    name, version = state.candidate()
    evaluation: EvaluationOutcome = state.require("evaluation")
    repository.update_version(
        name, version, status=VersionStatus.STAGED, evaluation_result=evaluation.dump()
    )
    previous = repository.promote(name, version, state.execution_name, stage=Stage.STAGING)
    repository.record_audit(
        AuditEvent(
            name=name,
            version=version,
            execution=state.execution_name,
            step=AuditStep.STAGE,
            outcome=AuditOutcome.STAGED,
            reason=f"{evaluation_summary(evaluation)}; staging pointer moved from "
            f"{previous or 'nothing'}",
        ),
        detail={"evaluation": evaluation.dump()},
    )
    return Staged(previous_version=previous)


def evaluation_summary(evaluation: EvaluationOutcome) -> str:
    summary = f"{evaluation.metric} {evaluation.value:.4f} meets {evaluation.threshold}"
    if evaluation.live_version and evaluation.live_value is not None:
        summary += f" and beats live {evaluation.live_version} ({evaluation.live_value:.4f})"
    elif not evaluation.comparable:
        summary += (
            f"; not compared with live: {evaluation.not_comparable_reason} "
            "(champion_not_comparable: threshold_only)"
        )
    return summary


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return stage_candidate(PromotionState.parse(event), lineage_repository()).dump()
