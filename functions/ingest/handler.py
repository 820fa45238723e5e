"""SQS-triggered handler: each message body is an S3 'Object Created' EventBridge event."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import boto3

from functions.constants import STATE_MACHINE_ARN
from functions.ingest.executions import start_promotion, upload_from_eventbridge

logger = logging.getLogger()
logger.setLevel(logging.INFO)
_sfn = boto3.client("stepfunctions")
_state_machine_arn = os.environ.get(STATE_MACHINE_ARN, "")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Start one execution per record; report only the records that failed, for SQS to retry."""
    failures = []
    for record in event.get("Records", []):
        try:
            upload = upload_from_eventbridge(json.loads(record["body"]))
            arn = start_promotion(_sfn, _state_machine_arn, upload)
            logger.info("promotion for s3://%s/%s: %s", upload.bucket, upload.key, arn)
        except Exception:
            logger.exception("could not start a promotion for message %s", record.get("messageId"))
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}
