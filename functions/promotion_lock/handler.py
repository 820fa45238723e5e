"""Workflow steps AcquireLock and ReleaseLock: one promotion per model at a time."""

from __future__ import annotations

import os
from typing import Any

from functions.constants import LOCK_TTL_SECONDS
from functions.lineage.clients import lineage_repository
from functions.workflow_state import candidate, execution


def acquire(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Raises PromotionLockedError while another execution holds it (the workflow retries)."""
    name, version = candidate(event)
    ttl = int(os.environ.get(LOCK_TTL_SECONDS, "7200"))
    lineage_repository().acquire_lock(name, version, execution(event), ttl)
    return {"held": True}


def release(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name, _ = candidate(event)
    return {"released": lineage_repository().release_lock(name, execution(event))}
