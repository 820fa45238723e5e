"""Decisions people make about versions: approve, reject, roll back. Each is audited.

Approve and reject resume the waiting execution through its stored task token; Step
Functions then promotes or records the rejection, so the workflow stays the only writer of
the live pointer during a promotion. Rollback moves the live pointer directly, because it
must work when no promotion is running.
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

from functions.exceptions import DecisionConflictError, NotFoundError
from functions.observability import count_decision
from registry.approval_tokens import ApprovalTokens
from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.metrics import Metric
from registry.repository import LineageRepository
from registry.statuses import VersionStatus
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


def rollback(repository: LineageRepository, name: str, actor: str, reason: str) -> dict[str, Any]:
    """Point live back at the version that was live before the current one."""
    pointer = repository.get_pointer(name)
    if pointer is None:
        raise NotFoundError(f"model {name!r} has no live version")
    current, previous = pointer["version"], pointer.get("previous_version")
    if not previous:
        raise DecisionConflictError(
            f"{name} {current} is the first live version; nothing to roll back to"
        )
    operation = f"rollback-{uuid.uuid4().hex[:12]}"
    repository.promote(name, previous, operation)
    repository.update_version(
        name,
        current,
        status=VersionStatus.ROLLED_BACK,
        rollback_reason=reason,
        rolled_back_by=actor,
    )
    repository.record_audit(
        AuditEvent(
            name,
            current,
            operation,
            AuditStep.ROLLBACK,
            AuditOutcome.ROLLED_BACK,
            f"live pointer moved back to {previous}: {reason or 'no reason given'}",
            actor,
        ),
        detail={"from": current, "to": previous},
    )
    count_decision(Metric.ROLLBACKS, name)
    return {"model": name, "live_version": previous, "rolled_back": current, "by": actor}
