"""Judging a canary: the candidate's serving metrics against limits and the stable version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ServingStats:
    """What one version did while the canary baked."""

    invocations: float
    errors: float
    schema_rejections: float
    p99_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.invocations if self.invocations else 0.0

    @property
    def schema_rejection_rate(self) -> float:
        return self.schema_rejections / self.invocations if self.invocations else 0.0


@dataclass(frozen=True)
class CanaryLimits:
    """The environment's limits (``cdk.json`` canary settings, defaults in infra/config.py)."""

    max_error_rate: float
    max_schema_rejection_rate: float
    max_p99_ms: float


def canary_problems(
    candidate: ServingStats, stable: ServingStats, limits: CanaryLimits
) -> list[str]:
    """Every reason the candidate must not go live; empty when it may.

    A rate only counts against the candidate when it is over the limit *and* worse than the
    stable version's, so a bad day for every version does not block a release.
    """
    problems = []
    if candidate.error_rate > limits.max_error_rate and candidate.error_rate > stable.error_rate:
        problems.append(
            f"error rate {candidate.error_rate:.1%} (limit {limits.max_error_rate:.1%}, "
            f"stable {stable.error_rate:.1%})"
        )
    if (
        candidate.schema_rejection_rate > limits.max_schema_rejection_rate
        and candidate.schema_rejection_rate > stable.schema_rejection_rate
    ):
        problems.append(
            f"schema-rejection rate {candidate.schema_rejection_rate:.1%} (limit "
            f"{limits.max_schema_rejection_rate:.1%}, stable {stable.schema_rejection_rate:.1%})"
        )
    if (
        candidate.p99_ms is not None
        and candidate.p99_ms > limits.max_p99_ms
        and (stable.p99_ms is None or candidate.p99_ms > stable.p99_ms)
    ):
        problems.append(f"p99 latency {candidate.p99_ms:.0f} ms (limit {limits.max_p99_ms:.0f} ms)")
    return problems


@dataclass(frozen=True)
class ReadableWindow:
    """The part of a canary's bake whose metrics CloudWatch can already answer for."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def empty(self) -> bool:
        return self.end <= self.start


def readable_window(started: datetime, now: datetime, metrics_delay_seconds: int) -> ReadableWindow:
    """From the canary's start up to ``metrics_delay_seconds`` ago, never before the start.

    The endpoint's metrics are log lines CloudWatch turns into metrics some time after they
    were written. A window up to now would judge the last minutes on the requests already
    counted only: a bake would pass before its final minutes' failures were visible, and
    min_requests would be short of the traffic really served. So the bake is measured on
    what can be read: it ends ``metrics_delay_seconds`` after its time was served.
    """
    end = max(started, now - timedelta(seconds=metrics_delay_seconds))
    return ReadableWindow(started, end)
