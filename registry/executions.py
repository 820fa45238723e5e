"""Naming promotion executions: one per uploaded object version, found again by the CLI.

Step Functions refuses a second execution with the same name, which is what makes
redelivered upload events harmless; and since a name is a pure function of the upload,
``slipway status NAME VERSION`` describes the newest upload's execution (and the version's
retries) by name instead of listing the state machine's executions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
DIGEST_CHARS = 24


@dataclass(frozen=True)
class UploadEvent:
    """One uploaded object version: what starts a promotion."""

    bucket: str
    key: str
    version_id: str
    size: int

    @classmethod
    def registered(cls, item: Mapping[str, Any]) -> UploadEvent:
        """The upload a registered version item was promoted from (its ``bundle``)."""
        bundle = item["bundle"]
        return cls(bundle["bucket"], bundle["key"], bundle["s3_version_id"], int(bundle["size"]))


def execution_name(upload: UploadEvent) -> str:
    """A readable name that is a pure function of (bucket, key, version id)."""
    return _named(upload, "")


def retry_execution_name(upload: UploadEvent, attempt: int) -> str:
    """The name of the ``attempt``-th retry of an upload's promotion: another pure function
    of the upload, in the same shape (``slipway status`` finds it like the first)."""
    return _named(upload, f"\nretry {attempt}")


def _named(upload: UploadEvent, salt: str) -> str:
    digest = hashlib.sha256(
        f"{upload.bucket}\n{upload.key}\n{upload.version_id}{salt}".encode()
    ).hexdigest()[:DIGEST_CHARS]
    parts = upload.key.split("/")
    label = execution_label(parts[1], parts[2]) if len(parts) >= 3 else "upload"
    return f"{label}-{digest}"


def execution_label(name: str, version: str) -> str:
    """The readable prefix of every execution name for (name, version)."""
    return _UNSAFE.sub("-", f"{name}-{version}")[:50].strip("-")


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the standard workflow execution ``name``."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
