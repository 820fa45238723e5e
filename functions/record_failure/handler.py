"""Workflow step RecordFailure: any failed step ends here with a readable, recorded reason."""

from __future__ import annotations

import json
from typing import Any

from functions.observability import logger
from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.aws import lineage_repository
from registry.exceptions import InvalidStateError
from registry.names import MODELS_PREFIX
from registry.repository import LineageRepository
from registry.statuses import VersionStatus
from registry.workflow_state import Failure, PromotionState, StepError

UNRECOGNISED_UPLOADS = "_unrecognised-uploads"
_KEY_PARTS = 4


def failure_reason(error: StepError | None) -> str:
    """'<ErrorType>: <message>' from a Step Functions error object (Cause is Lambda's JSON)."""
    error_type = (error.Error if error else None) or "UnknownError"
    cause = (error.Cause if error else None) or ""
    try:
        message = json.loads(cause).get("errorMessage", cause)
    except (json.JSONDecodeError, AttributeError):
        message = cause
    return f"{error_type}: {message}" if message else error_type


def subject_of(state: PromotionState) -> tuple[str, str]:
    """(name, version) the failure belongs to: the manifest's if known, else the key's."""
    if state.validated is not None:
        return state.candidate()
    parts = state.key.split("/")  # models/<name>/<version>/<file>
    if len(parts) == _KEY_PARTS and f"{parts[0]}/" == MODELS_PREFIX:
        return parts[1], parts[2]
    return UNRECOGNISED_UPLOADS, state.key or "unknown"


def record_failure(state: PromotionState, repository: LineageRepository) -> Failure:
    """Audit the rejection, mark the version, stop its canary, release the lock."""
    reason = failure_reason(state.error)
    name, version = subject_of(state)
    execution = state.execution_name
    registered = repository.get_version(name, version)
    if registered is not None and registered["execution"] == execution:
        repository.update_version(
            name, version, status=VersionStatus.REJECTED, rejection_reason=reason
        )
    repository.clear_canary(name, version)
    repository.release_lock(name, execution)
    repository.record_audit(
        AuditEvent(
            name=name,
            version=version,
            execution=execution,
            step=AuditStep.REJECT,
            outcome=AuditOutcome.REJECTED,
            reason=reason,
        ),
        detail={"bucket": state.bucket, "key": state.key, "s3_version_id": state.version_id},
    )
    return Failure(name=name, version=version, reason=reason)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        state = PromotionState.parse(event)
    except InvalidStateError:
        # The failure may be that the document itself is broken; the reason must still be
        # recorded, so keep whatever of it is readable.
        logger.exception("recording a failure whose state does not fit the contract")
        state = PromotionState.model_construct(**_readable(event))
    return record_failure(state, lineage_repository()).dump()


def _readable(event: dict[str, Any]) -> dict[str, Any]:
    error = event.get("error") if isinstance(event.get("error"), dict) else {}
    return {
        "bucket": str(event.get("bucket", "")),
        "key": str(event.get("key", "")),
        "version_id": str(event.get("version_id", "")),
        "execution_name": str(event.get("execution_name") or "unknown-execution"),
        "validated": None,
        "error": StepError.model_construct(Error=error.get("Error"), Cause=error.get("Cause")),
    }
