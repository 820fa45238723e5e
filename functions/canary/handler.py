"""Workflow steps StartCanary and CheckCanary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from functions.canary.judgement import (
    CanaryLimits,
    ServingStats,
    canary_problems,
    readable_window,
)
from functions.canary.metrics import serving_stats
from functions.exceptions import CanaryFailedError
from functions.observability import logger
from registry import aws, environment
from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.exceptions import CanaryStillBakingError
from registry.repository import LineageRepository
from registry.statuses import CanaryVerdict
from registry.workflow import WAIT_INTERVAL_SECONDS
from registry.workflow_state import CanaryChecked, CanaryPolicy, CanaryStarted, PromotionState


def start_canary(state: PromotionState, repository: LineageRepository) -> CanaryStarted:
    name, version = state.candidate()
    share = state.policy.canary.share
    stable = repository.start_canary(name, version, share, state.execution_name)
    # no bake at all when there is nothing to compare with; else nothing is judged before the
    # first requests' metrics can be read
    policy = state.policy.canary
    first_check = (
        policy.metrics_delay_seconds + min(policy.bake_seconds, WAIT_INTERVAL_SECONDS)
        if stable
        else 0
    )
    reason = (
        f"{share:.0%} of live traffic goes to {version}; {stable} keeps the rest"
        if stable
        else "no live version to compare with: the canary is skipped"
    )
    repository.record_audit(
        AuditEvent(
            name,
            version,
            state.execution_name,
            AuditStep.CANARY_START,
            AuditOutcome.CANARY if stable else AuditOutcome.SKIPPED,
            reason,
        )
    )
    return CanaryStarted(
        stable=stable,
        started_at=datetime.now(UTC).isoformat(),
        share=share,
        first_check_seconds=first_check,
    )


def limits_of(policy: CanaryPolicy) -> CanaryLimits:
    return CanaryLimits(
        max_error_rate=policy.max_error_rate,
        max_schema_rejection_rate=policy.max_schema_rejection_rate,
        max_p99_ms=policy.max_p99_ms,
    )


def describe(stats: ServingStats) -> str:
    return (
        f"{stats.invocations:.0f} requests ({stats.errors:.0f} errors, "
        f"{stats.schema_rejections:.0f} schema rejections)"
    )


def check_canary(
    state: PromotionState,
    repository: LineageRepository,
    cloudwatch: Any,
    environment_name: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> CanaryChecked:
    """Judge the canary once it baked its time and had enough client requests, or at once
    when enough requests already show a problem. Until then CanaryStillBakingError: the
    workflow looks again a few seconds later. CanaryFailedError with every problem; the
    workflow then restores the pointer. Only ``environment_name``'s series count: the
    environment's own endpoints' requests. Time is counted on the metrics that can be read:
    up to the policy's metrics_delay_seconds ago (judgement.readable_window)."""
    name, version = state.candidate()
    canary: CanaryStarted = state.require("canary")
    if not canary.stable:
        return CanaryChecked(verdict=CanaryVerdict.SKIPPED)
    policy = state.policy.canary
    window = readable_window(
        datetime.fromisoformat(canary.started_at), now(), policy.metrics_delay_seconds
    )
    if window.empty:
        raise CanaryStillBakingError(
            f"canary of {version}: its first metrics can be read "
            f"{policy.metrics_delay_seconds} s after it started"
        )
    elapsed = window.seconds
    stats, stable = (
        serving_stats(cloudwatch, environment_name, name, v, window.start, window.end)
        for v in (version, canary.stable)
    )
    problems = canary_problems(stats, stable, limits_of(policy))
    summary = f"{describe(stats)} to {version}, {describe(stable)} to {canary.stable}"
    enough = stats.invocations >= policy.min_requests
    if problems and enough:
        early = f" early, after {elapsed:.0f} s" if elapsed < policy.bake_seconds else ""
        raise CanaryFailedError(
            f"canary of {version} failed{early} ({summary}): " + "; ".join(problems)
        )
    if elapsed < policy.bake_seconds or not enough:
        if elapsed >= policy.max_bake_seconds:
            raise CanaryFailedError(
                f"canary of {version} had {stats.invocations:.0f} client requests in "
                f"{elapsed:.0f} s; it needs {policy.min_requests} to be judged "
                "(canary min_requests and max_bake_minutes in cdk.json)"
            )
        late = (
            f" (read up to {policy.metrics_delay_seconds} s ago)"
            if policy.metrics_delay_seconds
            else ""
        )
        raise CanaryStillBakingError(
            f"canary of {version} after {elapsed:.0f} s of {policy.bake_seconds} s{late}: {summary}"
        )
    repository.record_audit(
        AuditEvent(
            name,
            version,
            state.execution_name,
            AuditStep.CANARY_CHECK,
            AuditOutcome.PASSED,
            f"canary passed: {summary}",
        )
    )
    return CanaryChecked(verdict=CanaryVerdict.PASSED, requests=stats.invocations)


@logger.inject_lambda_context
def start(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return start_canary(PromotionState.parse(event), aws.lineage_repository()).dump()


@logger.inject_lambda_context
def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = PromotionState.parse(event)
    return check_canary(
        state,
        aws.lineage_repository(),
        aws.client("cloudwatch"),
        environment.required(environment.ENVIRONMENT_NAME),
    ).dump()
