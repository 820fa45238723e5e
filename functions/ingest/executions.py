"""Starting one promotion execution per uploaded object version, however often we hear of it."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from functions.exceptions import InvalidEventError

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
DIGEST_CHARS = 24


@dataclass(frozen=True)
class UploadEvent:
    bucket: str
    key: str
    version_id: str
    size: int


def upload_from_eventbridge(event: dict[str, Any]) -> UploadEvent:
    """Read the S3 'Object Created' EventBridge event (as delivered in an SQS body)."""
    try:
        detail = event["detail"]
        obj = detail["object"]
        return UploadEvent(
            bucket=detail["bucket"]["name"],
            key=obj["key"],
            version_id=obj.get("version-id") or "null",
            size=int(obj.get("size", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidEventError(f"not an S3 Object Created event: missing {exc}") from None


def execution_name(upload: UploadEvent) -> str:
    """A readable name that is a pure function of (bucket, key, version id).

    Step Functions refuses a second execution with the same name, which is what makes
    redelivered events harmless.
    """
    digest = hashlib.sha256(
        f"{upload.bucket}\n{upload.key}\n{upload.version_id}".encode()
    ).hexdigest()[:DIGEST_CHARS]
    parts = upload.key.split("/")
    label = execution_label(parts[1], parts[2]) if len(parts) >= 3 else "upload"
    return f"{label}-{digest}"


def execution_label(name: str, version: str) -> str:
    """The readable prefix of every execution name for (name, version)."""
    return _UNSAFE.sub("-", f"{name}-{version}")[:50].strip("-")


def start_promotion(sfn: Any, state_machine_arn: str, upload: UploadEvent) -> str:
    """Start the execution for ``upload`` (or find the one already started); return its ARN."""
    name = execution_name(upload)
    payload = json.dumps(
        {
            "bucket": upload.bucket,
            "key": upload.key,
            "version_id": upload.version_id,
            "size": upload.size,
            "execution_name": name,
        },
        sort_keys=True,
    )
    try:
        response = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)
    except ClientError as exc:
        # A finished execution with this name means the event was handled before.
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
    return str(response["executionArn"])
