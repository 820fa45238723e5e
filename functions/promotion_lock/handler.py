"""Workflow steps AcquireLock and ReleaseLock: one promotion per model at a time.

A lock cannot outlive its holder: when the lock is taken, AcquireLock asks Step Functions
whether the holding execution still runs, and takes the lock over from one that ended
without releasing it (stopped, timed out, failed past its failure handler).
"""

from __future__ import annotations

from typing import Any

from functions.observability import logger
from registry import aws
from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.aws import lineage_repository
from registry.exceptions import PromotionLockedError
from registry.lock_holders import holder_status
from registry.repository import LineageRepository
from registry.workflow_state import LockHeld, LockReleased, LockRequest, PromotionState


def acquire_lock(request: LockRequest, repository: LineageRepository, sfn: Any) -> LockHeld:
    """Raises PromotionLockedError while another running execution holds it (the workflow
    retries)."""
    state = request.state
    name, version = state.candidate()
    ttl = state.policy.lock_ttl_seconds
    try:
        repository.acquire_lock(name, version, state.execution_name, ttl, request.execution_arn)
        return LockHeld(held=True)
    except PromotionLockedError:
        holder = repository.lock_holder(name) or {}
        status = holder_status(sfn, holder)
        if status is None or status == "RUNNING":
            raise
    repository.acquire_lock(
        name,
        version,
        state.execution_name,
        ttl,
        request.execution_arn,
        take_over_from=holder["execution"],
    )
    repository.record_audit(
        AuditEvent(
            name,
            version,
            state.execution_name,
            AuditStep.LOCK,
            AuditOutcome.TAKEN_OVER,
            f"lock taken over from execution {holder['execution']} (version "
            f"{holder.get('version', '?')}), which ended {status} without releasing it",
        )
    )
    return LockHeld(held=True)


def release_lock(state: PromotionState, repository: LineageRepository) -> LockReleased:
    """Release this execution's lock; an execution that failed before it knew its model
    (Validate) never held one."""
    if state.validated is None:
        return LockReleased(released=False)
    name, _ = state.candidate()
    return LockReleased(released=repository.release_lock(name, state.execution_name))


@logger.inject_lambda_context
def acquire(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = LockRequest.parse(event)
    return acquire_lock(request, lineage_repository(), aws.client("stepfunctions")).dump()


@logger.inject_lambda_context
def release(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return release_lock(PromotionState.parse(event), lineage_repository()).dump()
