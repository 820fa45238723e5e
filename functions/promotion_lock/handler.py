"""Workflow steps AcquireLock and ReleaseLock: one promotion per model at a time, the others
waiting in line (registry/promotion_line.py).

AcquireLock is answered through its task token: at once when the lock is free, else when
the promotion ahead ends its turn. A lock whose holder ended without releasing it (stopped,
timed out, failed past its failure handler) is taken over, audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from functions.observability import logger
from registry import aws
from registry.aws import lineage_repository
from registry.promotion_line import PromotionLine, Waiter
from registry.repository import LineageRepository
from registry.workflow_state import LockReleased, LockRequest, PromotionState


def comparable_time(moment: str) -> str:
    """An ISO 8601 time as UTC with milliseconds, always the same width: the line compares
    start times as strings ("...:01Z" would sort after "...:01.192Z")."""
    parsed = datetime.fromisoformat(moment)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds")


def acquire_lock(request: LockRequest, repository: LineageRepository, sfn: Any) -> None:
    """Join the model's line; the token is answered when the lock is this promotion's.
    Raises VersionSupersededError when a newer version goes ahead (latest-wins)."""
    state = request.state
    name, version = state.candidate()
    waiter = Waiter(
        execution=state.execution_name,
        execution_arn=request.execution_arn,
        version=version,
        started_at=comparable_time(request.started_at),
        task_token=request.task_token,
        policy=state.policy.lock_policy,
        lock_ttl_seconds=state.policy.lock_ttl_seconds,
    )
    PromotionLine(repository, sfn).arrive(name, waiter)


def release_lock(state: PromotionState, repository: LineageRepository, sfn: Any) -> LockReleased:
    """End this execution's turn and hand the lock to the next in line; an execution that
    failed before it knew its model (Validate) never held one."""
    if state.validated is None:
        return LockReleased(released=False)
    name, _ = state.candidate()
    released = PromotionLine(repository, sfn).leave(name, state.execution_name)
    return LockReleased(released=released)


@logger.inject_lambda_context
def acquire(event: dict[str, Any], context: Any) -> dict[str, Any]:
    acquire_lock(LockRequest.parse(event), lineage_repository(), aws.client("stepfunctions"))
    return {}  # the answer goes through the task token


@logger.inject_lambda_context
def release(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = PromotionState.parse(event)
    return release_lock(state, lineage_repository(), aws.client("stepfunctions")).dump()
