"""Starting one promotion execution per uploaded object version, however often we hear of it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent
from botocore.exceptions import ClientError

from functions.exceptions import InvalidEventError
from registry.executions import UploadEvent, execution_arn, execution_name
from registry.workflow_state import ExecutionInput


def upload_from_eventbridge(event: dict[str, Any]) -> UploadEvent:
    """Read the S3 'Object Created' EventBridge event (as delivered in an SQS body)."""
    try:
        created = S3EventBridgeNotificationEvent(event).detail
        return UploadEvent(
            bucket=created.bucket.name,
            key=created.object.key,
            version_id=created.object.raw_event.get("version-id") or "null",
            size=int(created.object.size or 0),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidEventError(f"not an S3 Object Created event: missing {exc}") from None


def execution_input(upload: UploadEvent) -> ExecutionInput:
    """The document an upload's execution starts with (the workflow adds its policy)."""
    return ExecutionInput(
        bucket=upload.bucket,
        key=upload.key,
        version_id=upload.version_id,
        size=upload.size,
        execution_name=execution_name(upload),
    )


def start_promotion(
    sfn: Any, state_machine_arn: str, upload: UploadEvent, name: str | None = None
) -> str:
    """Start the execution for ``upload`` (or find the one already started); return its ARN.
    ``name`` is the upload's own execution name unless given (a retry's)."""
    payload = execution_input(upload).model_dump_json()
    name = name or execution_name(upload)
    try:
        response = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)
    except ClientError as exc:
        # A finished execution with this name means the event was handled before.
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        return execution_arn(state_machine_arn, name)
    return str(response["executionArn"])
