"""Workflow step RecordFailure: any failed step ends here with a readable, recorded reason."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from functions.observability import count_decision, logger
from registry import aws
from registry.audit import AuditEvent, AuditStep
from registry.aws import lineage_repository
from registry.exceptions import InvalidStateError
from registry.failure_reasons import MAX_TEXT, readable_reason
from registry.metrics import Metric
from registry.names import MODELS_PREFIX, NAME_PATTERN, VERSION_PATTERN
from registry.promotion_endings import end_promotion
from registry.repository import LineageRepository
from registry.verdicts import ending_of
from registry.workflow_state import Failure, PromotionState, StepError

UNRECOGNISED_UPLOADS = "_unrecognised-uploads"
_KEY_PARTS = 4
EXECUTION_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def failure_reason(error: StepError | None) -> str:
    """'<ErrorType>: <message>' from a Step Functions error object (Cause is Lambda's JSON)."""
    return readable_reason(error.Error if error else None, error.Cause if error else None)


def subject_of(state: PromotionState) -> tuple[str, str]:
    """(name, version) the failure belongs to: the manifest's if known, else the key's."""
    if state.validated is not None:
        return state.candidate()
    parts = state.key.split("/")  # models/<name>/<version>/<file>
    if (
        len(parts) == _KEY_PARTS
        and f"{parts[0]}/" == MODELS_PREFIX
        and NAME_PATTERN.fullmatch(parts[1])
        and VERSION_PATTERN.fullmatch(parts[2])
    ):
        return parts[1], parts[2]
    # a key that names no valid model is filed under a digest of itself: audit keys stay
    # within DynamoDB's limits whatever the uploader chose
    return UNRECOGNISED_UPLOADS, hashlib.sha256(state.key.encode()).hexdigest()[:32]


def record_failure(state: PromotionState, repository: LineageRepository, sfn: Any) -> Failure:
    """Audit the ending, mark the version rejected (a verdict), superseded or failed
    (anything else), stop its canary, leave nothing staged that will not go live, and hand
    the lock to the next in line."""
    reason = failure_reason(state.error)
    name, version = subject_of(state)
    execution = state.execution_name
    error_type = (state.error.Error if state.error else None) or "UnknownError"
    status, outcome = ending_of(error_type)
    end_promotion(repository, sfn, name, version, execution, reason, status)
    repository.record_audit(
        AuditEvent(
            name=name,
            version=version,
            execution=execution,
            step=AuditStep.REJECT,
            outcome=outcome,
            reason=reason,
        ),
        detail={"bucket": state.bucket, "key": state.key, "s3_version_id": state.version_id},
    )
    count_decision(Metric.REJECTIONS, name, version=version, error=error_type)
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
    return record_failure(state, lineage_repository(), aws.client("stepfunctions")).dump()


def _readable(event: Any) -> dict[str, Any]:
    """What can be read of a document that breaks the contract, as plain bounded text."""
    document = event if isinstance(event, dict) else {}
    error = document.get("error") if isinstance(document.get("error"), dict) else {}

    def text(value: Any, default: str = "") -> str:
        return str(value)[:MAX_TEXT] if value is not None else default

    execution = text(document.get("execution_name"), "unknown-execution")
    if not EXECUTION_PATTERN.fullmatch(execution):
        execution = "unreadable-" + hashlib.sha256(execution.encode()).hexdigest()[:24]
    cause = error.get("Cause")
    return {
        "bucket": text(document.get("bucket")),
        "key": text(document.get("key")),
        "version_id": text(document.get("version_id")),
        "execution_name": execution,
        "validated": None,
        "error": StepError.model_construct(
            Error=text(error.get("Error")) or None,
            Cause=cause
            if isinstance(cause, str) or cause is None
            else json.dumps(cause, default=str),
        ),
    }
