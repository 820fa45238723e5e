"""SQS-triggered handler: each message body is an S3 'Object Created' EventBridge event.

Powertools' BatchProcessor reports only the records that failed, so SQS retries those and
the rest are done; a message that keeps failing moves to the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.ingest.executions import start_promotion, upload_from_eventbridge
from functions.observability import logger
from registry import aws
from registry.environment import STATE_MACHINE_ARN, required

processor = BatchProcessor(event_type=EventType.SQS)


def start_promotion_for(record: SQSRecord) -> str:
    upload = upload_from_eventbridge(record.json_body)
    arn = start_promotion(aws.client("stepfunctions"), required(STATE_MACHINE_ARN), upload)
    logger.info("promotion started", extra={"key": upload.key, "execution": arn})
    return arn


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=start_promotion_for, processor=processor, context=context
    )
