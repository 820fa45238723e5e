"""Workflow step Register: the validated bundle becomes an immutable version with its edges."""

from __future__ import annotations

from typing import Any

from functions.lineage.clients import lineage_repository
from functions.lineage.repository import AuditEvent, UploadedBundle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    validated = event["validated"]
    manifest = validated["manifest"]
    bundle = UploadedBundle(
        bucket=event["bucket"],
        key=event["key"],
        s3_version_id=event["version_id"],
        digest=validated["digest"],
        size=validated["size"],
    )
    repository = lineage_repository()
    outcome = repository.register_version(manifest, bundle, event["execution_name"])
    repository.record_audit(
        AuditEvent(
            name=manifest["name"],
            version=manifest["version"],
            execution=event["execution_name"],
            step="2-register",
            outcome=outcome,
            reason="same bytes as the registered version"
            if outcome == "duplicate"
            else "version registered with its lineage",
        ),
        detail={"digest": bundle.digest, "s3_version_id": bundle.s3_version_id},
    )
    return {"outcome": outcome, "name": manifest["name"], "version": manifest["version"]}
