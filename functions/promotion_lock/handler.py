"""Workflow steps AcquireLock and ReleaseLock: one promotion per model at a time."""

from __future__ import annotations

from typing import Any

from functions.observability import logger
from registry.aws import lineage_repository
from registry.repository import LineageRepository
from registry.workflow_state import LockHeld, LockReleased, PromotionState


def acquire_lock(state: PromotionState, repository: LineageRepository) -> LockHeld:
    """Raises PromotionLockedError while another execution holds it (the workflow retries)."""
    name, version = state.candidate()
    repository.acquire_lock(name, version, state.execution_name, state.policy.lock_ttl_seconds)
    return LockHeld(held=True)


def release_lock(state: PromotionState, repository: LineageRepository) -> LockReleased:
    name, _ = state.candidate()
    return LockReleased(released=repository.release_lock(name, state.execution_name))


@logger.inject_lambda_context
def acquire(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return acquire_lock(PromotionState.parse(event), lineage_repository()).dump()


@logger.inject_lambda_context
def release(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return release_lock(PromotionState.parse(event), lineage_repository()).dump()
