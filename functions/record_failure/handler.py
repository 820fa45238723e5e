"""Workflow step RecordFailure: any failed step ends here with a readable, recorded reason."""

from __future__ import annotations

import json
from typing import Any

from functions.lineage.clients import lineage_repository
from functions.lineage.repository import AuditEvent

_KEY_PARTS = 4  # models/<name>/<version>/bundle.tar.gz


def failure_reason(error: dict[str, Any]) -> str:
    """'<ErrorType>: <message>' from a Step Functions error object (Cause is Lambda's JSON)."""
    error_type = error.get("Error") or "UnknownError"
    cause = error.get("Cause") or ""
    try:
        message = json.loads(cause).get("errorMessage", cause)
    except (json.JSONDecodeError, AttributeError):
        message = cause
    return f"{error_type}: {message}" if message else error_type


def subject_of(event: dict[str, Any]) -> tuple[str, str]:
    """(name, version) the failure belongs to: the manifest's if known, else the key's."""
    validated = event.get("validated") or {}
    manifest = validated.get("manifest") or {}
    if manifest.get("name") and manifest.get("version"):
        return manifest["name"], manifest["version"]
    parts = str(event.get("key", "")).split("/")
    if len(parts) == _KEY_PARTS and parts[0] == "models":
        return parts[1], parts[2]
    return "_unrecognised-uploads", str(event.get("key", "unknown"))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Audit the rejection, mark the version, stop its canary, release the lock."""
    reason = failure_reason(event.get("error") or {})
    name, version = subject_of(event)
    execution = str(event.get("execution_name") or "unknown-execution")
    repository = lineage_repository()
    registered = repository.get_version(name, version)
    if registered is not None and registered["execution"] == execution:
        repository.update_version(name, version, status="rejected", rejection_reason=reason)
    repository.clear_canary(name, version)
    repository.release_lock(name, execution)
    repository.record_audit(
        AuditEvent(
            name=name,
            version=version,
            execution=execution,
            step="9-rejected",
            outcome="rejected",
            reason=reason,
        ),
        detail={
            "bucket": event.get("bucket"),
            "key": event.get("key"),
            "s3_version_id": event.get("version_id"),
        },
    )
    return {"name": name, "version": version, "reason": reason}
