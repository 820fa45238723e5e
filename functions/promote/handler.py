"""Workflow step Promote: the live pointer moves to the registered version, audited."""

from __future__ import annotations

from typing import Any

from functions.lineage.clients import lineage_repository
from functions.lineage.repository import AuditEvent


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name, version = event["registered"]["name"], event["registered"]["version"]
    repository = lineage_repository()
    previous = repository.promote(name, version, event["execution_name"])
    repository.record_audit(
        AuditEvent(
            name=name,
            version=version,
            execution=event["execution_name"],
            step="3-promote",
            outcome="live",
            reason=f"live pointer moved from {previous or 'nothing'} to {version}",
        ),
        detail={"from": previous, "to": version},
    )
    return {"name": name, "version": version, "previous_version": previous}
