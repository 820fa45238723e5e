"""SQS-triggered handler: each message body is a Step Functions "Execution Status Change"
event of the promotion workflow, delivered by an EventBridge rule.

An execution may end without its last steps running: stopped by hand, timed out, or failed
in its own failure handler. Then nothing released its lock, and its version still says it
is under way. This ends such a promotion the way RecordFailure does (the version failed,
its canary off, the lock handed to the next in line). For one that ended normally it is a
second look that finds nothing to do: every write is conditional, so a repeated or late
event changes nothing. Step Functions delivers these events on a best-effort basis, so
AcquireLock's own check of a holder (and its re-armed wait) stays the guarantee.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.observability import logger
from registry import aws
from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.aws import lineage_repository
from registry.names import name_and_version_of_key
from registry.promotion_endings import end_promotion
from registry.promotion_line import PromotionLine
from registry.repository import LineageRepository
from registry.statuses import VersionStatus
from registry.verdicts import ended_undecided

processor = BatchProcessor(event_type=EventType.SQS)

ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
MAX_INPUT_CHARS = 256 * 1024  # Step Functions' limit on an execution's input


def close_ended_execution(detail: dict[str, Any], repository: LineageRepository, sfn: Any) -> str:
    """What was left of the ended execution, closed; returns what was done, for the log."""
    status = str(detail.get("status", ""))
    execution = str(detail.get("name", ""))
    if status not in ENDED or not execution:
        return f"nothing to do for status {status!r}"
    subject = name_and_version_of_key(str(_execution_input(detail, sfn).get("key", "")))
    if subject is None:
        return "not a model upload"
    name, version = subject
    held = (repository.lock_holder(name) or {}).get("execution") == execution
    marked_failed = False
    if status != "SUCCEEDED":
        marked_failed = end_promotion(
            repository,
            sfn,
            name,
            version,
            execution,
            ended_undecided(status),
            VersionStatus.FAILED,
        )
    else:  # ReleaseLock ran; were it lost, the line goes on all the same
        PromotionLine(repository, sfn).leave(name, execution)
    if held:
        repository.record_audit(
            AuditEvent(
                name,
                version,
                execution,
                AuditStep.UNLOCK,
                AuditOutcome.RELEASED,
                f"released when its execution ended {status}",
            )
        )
    return f"{name} {version}: lock {'released' if held else 'not held'}, " + (
        "marked failed" if marked_failed else "status unchanged"
    )


def _execution_input(detail: dict[str, Any], sfn: Any) -> dict[str, Any]:
    """The execution's input: in the event when it fits, else from Step Functions."""
    text = detail.get("input")
    if not isinstance(text, str) or not (detail.get("inputDetails") or {}).get("included", True):
        text = sfn.describe_execution(executionArn=detail["executionArn"]).get("input", "{}")
    if len(text) > MAX_INPUT_CHARS:
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return document if isinstance(document, dict) else {}


def close(record: SQSRecord) -> str:
    event = record.json_body
    done = close_ended_execution(
        event.get("detail") or {}, lineage_repository(), aws.client("stepfunctions")
    )
    logger.info("execution ended", extra={"execution": event.get("resources"), "done": done})
    return done


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=close, processor=processor, context=context
    )
