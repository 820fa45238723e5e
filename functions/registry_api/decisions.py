"""Decisions people make about versions: approve, reject, roll back. Each is audited.

Approve and reject resume the waiting execution through its stored task token; Step
Functions then promotes or records the rejection, so the workflow stays the only writer of
the live pointer during a promotion. Rollback moves the live pointer directly, because it
must work when no promotion is running; it takes the model's promotion lock to do so, and
cancels the promotion that held it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from botocore.exceptions import ClientError

from functions.exceptions import DecisionConflictError, NotFoundError
from functions.ingest.executions import start_promotion
from functions.observability import count_decision
from registry.approval_tokens import ApprovalTokens
from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.exceptions import PromotionLockedError
from registry.executions import UploadEvent, retry_execution_name
from registry.lock_holders import holder_status
from registry.metrics import Metric
from registry.promotion_line import PromotionLine
from registry.repository import LineageRepository
from registry.statuses import RETRYABLE, WAS_LIVE, VersionStatus
from registry.uploads import require_other_approver
from registry.workflow_state import Approval


def _awaiting(repository: LineageRepository, name: str, version: str) -> dict[str, Any]:
    item = repository.get_version(name, version)
    if item is None:
        raise NotFoundError(f"{name} {version} is not registered")
    if item.get("status") != VersionStatus.AWAITING_APPROVAL or not item.get("approval_token"):
        raise DecisionConflictError(
            f"{name} {version} is not waiting for approval (status {item.get('status')})"
        )
    return item


def _send(call: Any, name: str, version: str, **kwargs: Any) -> None:
    try:
        call(**kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
            raise DecisionConflictError(
                f"the promotion of {name} {version} no longer waits for a decision"
            ) from None
        raise


def approve(
    repository: LineageRepository,
    sfn: Any,
    tokens: ApprovalTokens,
    name: str,
    version: str,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """Record the approval, then resume the waiting promotion; it goes on to Promote, which
    acts only on an approval recorded here (a token used directly with SendTaskSuccess
    brings an approval nobody recorded, and Promote refuses it)."""
    item = _awaiting(repository, name, version)
    if item.get("separation_of_duties"):
        require_other_approver(item.get("uploaded_by"), actor, name, version)
    token = tokens.unseal(item["approval_token"], name, version, item["execution"])
    if not repository.record_approval(name, version, item["execution"], actor, reason):
        raise DecisionConflictError(f"{name} {version} is no longer waiting for approval")
    _send(
        sfn.send_task_success,
        name,
        version,
        taskToken=token,
        # the answer WaitForApproval stores in the state document, in its declared shape
        output=Approval(approved_by=actor, reason=reason).model_dump_json(),
    )
    repository.record_audit(
        AuditEvent(
            name,
            version,
            item["execution"],
            AuditStep.APPROVAL,
            AuditOutcome.APPROVED,
            reason or "approved",
            actor,
        )
    )
    return {"model": name, "version": version, "status": VersionStatus.APPROVED, "by": actor}


def reject(
    repository: LineageRepository,
    sfn: Any,
    tokens: ApprovalTokens,
    name: str,
    version: str,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """Fail the waiting task; the workflow records the rejection and releases the lock."""
    item = _awaiting(repository, name, version)
    _send(
        sfn.send_task_failure,
        name,
        version,
        taskToken=tokens.unseal(item["approval_token"], name, version, item["execution"]),
        error="ApprovalRejected",
        cause=f"rejected by {actor}: {reason or 'no reason given'}",
    )
    repository.update_version(name, version, approval_token=None)
    return {"model": name, "version": version, "status": "rejecting", "by": actor}


# A rollback holds the model's lock for as long as it may take, no longer.
ROLLBACK_LOCK_SECONDS = 300
ROLLBACK_PREFIX = "rollback-"


def rollback(
    repository: LineageRepository,
    sfn: Any,
    name: str,
    actor: str,
    reason: str,
    to: str | None = None,
) -> dict[str, Any]:
    """Point live back at the last good version live before the current one, or at ``to``
    (any version that was live). A promotion of the model in flight is cancelled first: the
    rollback takes its lock, so it can move no pointer afterwards, and stops its execution."""
    operation = f"{ROLLBACK_PREFIX}{uuid.uuid4().hex[:12]}"
    cancelled = _take_the_lock(repository, sfn, name, operation, actor, reason)
    try:
        pointer = repository.get_pointer(name)
        if pointer is None:
            raise NotFoundError(f"model {name!r} has no live version")
        if not pointer.get("version"):
            raise DecisionConflictError(
                f"the live pointer of {name} is damaged (it names no version): repair or "
                f"delete the item MODEL#{name} / STAGE#live in the table, then roll back"
            )
        current = str(pointer["version"])
        target = rollback_target(repository, name, current, to)
        repository.promote(
            name,
            target,
            operation,
            holding_lock=True,
            replaced_status=VersionStatus.ROLLED_BACK,
        )
        repository.update_version(name, current, rollback_reason=reason, rolled_back_by=actor)
        repository.record_audit(
            AuditEvent(
                name,
                current,
                operation,
                AuditStep.ROLLBACK,
                AuditOutcome.ROLLED_BACK,
                f"live pointer moved back to {target}: {reason or 'no reason given'}",
                actor,
            ),
            detail={"from": current, "to": target, "cancelled": cancelled},
        )
    finally:
        # the next version waiting in line goes on (its promotion judges it against the
        # version live now)
        PromotionLine(repository, sfn).leave(name, operation)
    count_decision(Metric.ROLLBACKS, name)
    return {
        "model": name,
        "live_version": target,
        "rolled_back": current,
        "cancelled": cancelled,
        "by": actor,
    }


def rollback_target(repository: LineageRepository, name: str, current: str, to: str | None) -> str:
    """``to`` if it was live; else the version most recently replaced by a promotion: the
    last good one before ``current`` (a version rolled back from is never chosen again)."""
    if to is not None:
        item = repository.get_version(name, to)
        if item is None:
            raise NotFoundError(f"{name} {to} is not registered")
        if to == current:
            raise DecisionConflictError(f"{name} {to} is already live")
        if item.get("status") not in WAS_LIVE:
            raise DecisionConflictError(
                f"{name} {to} has never been live (status {item.get('status')}); a rollback "
                "goes only to versions that were"
            )
        return to
    earlier = repository.all_versions(name, VersionStatus.ARCHIVED)
    if not earlier:
        raise DecisionConflictError(
            f"{name} has no good version live before {current} to roll back to (versions "
            "rolled back from are not chosen again; name one with --to)"
        )
    latest = max(earlier, key=lambda item: str(item.get("status_changed_at", "")))
    return str(latest["version"])


def _take_the_lock(
    repository: LineageRepository, sfn: Any, name: str, operation: str, actor: str, reason: str
) -> str | None:
    """Hold the model's promotion lock for ``operation``; stop the promotion that held it,
    if one runs, and cancel its version. Returns the cancelled version."""
    for _ in range(3):  # the lock may change hands while we look
        holder = repository.lock_holder(name)
        rolling_back = holder and str(holder.get("execution", "")).startswith(ROLLBACK_PREFIX)
        if rolling_back and int(holder.get("expires_at", 0)) > time.time():  # type: ignore[union-attr]
            raise DecisionConflictError(f"another rollback of {name} is in progress")
        try:
            repository.acquire_lock(
                name,
                "rollback",
                operation,
                ROLLBACK_LOCK_SECONDS,
                take_over_from=holder["execution"] if holder else None,
            )
        except PromotionLockedError:
            continue
        break
    else:
        raise DecisionConflictError(f"the lock of {name} keeps changing hands; try again")
    if holder is None or holder_status(sfn, holder) != "RUNNING":
        return None
    # the version says it was cancelled before its execution stops: whatever sees the
    # execution end (the execution-ended rule) finds it decided, and leaves it so
    version = str(holder.get("version", ""))
    cancelled = repository.cancel_version(name, version, holder["execution"], actor, reason)
    try:
        sfn.stop_execution(
            executionArn=holder["execution_arn"],
            error="Slipway.Cancelled",
            cause=f"cancelled by {actor}: {name} was rolled back ({reason or 'no reason given'})",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionDoesNotExist":
            raise
    repository.clear_staging(name, version)
    if cancelled:
        repository.record_audit(
            AuditEvent(
                name,
                version,
                holder["execution"],
                AuditStep.CANCEL,
                AuditOutcome.CANCELLED,
                f"promotion stopped by a rollback of {name}: {reason or 'no reason given'}",
                actor,
            )
        )
        return version
    return None


def retry(
    repository: LineageRepository,
    sfn: Any,
    state_machine_arn: str,
    name: str,
    version: str,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """Run the gate again for a version that failed (an infrastructure error) or was
    superseded, on the same object version; a version rejected by a verdict is not retried."""
    item = repository.get_version(name, version)
    if item is None:
        raise NotFoundError(f"{name} {version} is not registered")
    if item.get("status") not in RETRYABLE:
        raise DecisionConflictError(
            f"{name} {version} is {item.get('status')}: only a failed or superseded version "
            "is retried (a rejected one was judged: package the model again under a new "
            "version)"
        )
    upload = UploadEvent.registered(item)
    attempt = int(item.get("retries", 0)) + 1
    execution = retry_execution_name(upload, attempt)
    if not repository.request_retry(name, version, execution, attempt, actor, reason):
        raise DecisionConflictError(f"{name} {version} is being retried already")
    start_promotion(sfn, state_machine_arn, upload, name=execution)
    repository.record_audit(
        AuditEvent(
            name,
            version,
            execution,
            AuditStep.RETRY,
            AuditOutcome.RETRIED,
            f"gate run again (retry {attempt}): {reason or 'no reason given'}",
            actor,
        ),
        detail={"failed_execution": item["execution"]},
    )
    return {"model": name, "version": version, "execution": execution, "by": actor}
