"""Workflow steps StartCanary and CheckCanary."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3

from functions.canary.judgement import CanaryLimits, canary_problems
from functions.canary.metrics import serving_stats
from functions.constants import (
    CANARY_MAX_ERROR_RATE,
    CANARY_MAX_P99_MS,
    CANARY_MAX_SCHEMA_REJECTION_RATE,
    METRICS_NAMESPACE,
)
from functions.exceptions import CanaryFailedError
from functions.lineage.clients import lineage_repository
from functions.lineage.repository import AuditEvent
from functions.workflow_state import candidate, execution


@cache
def _cloudwatch() -> Any:
    return boto3.client("cloudwatch")


def start(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name, version = candidate(event)
    share = float(event["staged"]["canary"]["share"])
    stable = lineage_repository().start_canary(name, version, share)
    reason = (
        f"{share:.0%} of live traffic goes to {version}; {stable} keeps the rest"
        if stable
        else "no live version to compare with: the canary is skipped"
    )
    lineage_repository().record_audit(
        AuditEvent(
            name, version, execution(event), "7-canary", "canary" if stable else "skipped", reason
        )
    )
    return {"stable": stable, "started_at": datetime.now(UTC).isoformat(), "share": share}


def limits_from_environment() -> CanaryLimits:
    defaults = CanaryLimits()
    return CanaryLimits(
        max_error_rate=float(os.environ.get(CANARY_MAX_ERROR_RATE, defaults.max_error_rate)),
        max_schema_rejection_rate=float(
            os.environ.get(CANARY_MAX_SCHEMA_REJECTION_RATE, defaults.max_schema_rejection_rate)
        ),
        max_p99_ms=float(os.environ.get(CANARY_MAX_P99_MS, defaults.max_p99_ms)),
    )


def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Raise CanaryFailedError with every problem; the workflow then restores the pointer."""
    name, version = candidate(event)
    canary = event["canary"]
    if not canary.get("stable"):
        return {"verdict": "skipped"}
    namespace = os.environ.get(METRICS_NAMESPACE, "Slipway")
    started = datetime.fromisoformat(canary["started_at"])
    now = datetime.now(UTC)
    cloudwatch = _cloudwatch()
    stats = serving_stats(cloudwatch, namespace, name, version, started, now)
    stable = serving_stats(cloudwatch, namespace, name, canary["stable"], started, now)
    problems = canary_problems(stats, stable, limits_from_environment())
    summary = (
        f"{stats.invocations:.0f} requests to {version}, {stable.invocations:.0f} to "
        f"{canary['stable']}"
    )
    if problems:
        raise CanaryFailedError(f"canary of {version} failed ({summary}): " + "; ".join(problems))
    lineage_repository().record_audit(
        AuditEvent(
            name, version, execution(event), "7-canary-check", "passed", f"canary passed: {summary}"
        )
    )
    return {"verdict": "passed", "requests": stats.invocations}
