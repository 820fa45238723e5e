"""Canary verdicts: over the limit and worse than stable, or it passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.canary.judgement import (
    CanaryLimits,
    ServingStats,
    canary_problems,
    readable_window,
)

LIMITS = CanaryLimits(max_error_rate=0.01, max_schema_rejection_rate=0.05, max_p99_ms=500)
HEALTHY = ServingStats(invocations=1000, errors=1, schema_rejections=2, p99_ms=40)


def test_a_healthy_candidate_passes():
    assert canary_problems(HEALTHY, HEALTHY, LIMITS) == []


def test_every_problem_is_named():
    bad = ServingStats(invocations=100, errors=5, schema_rejections=50, p99_ms=900)
    problems = canary_problems(bad, HEALTHY, LIMITS)
    assert [p.split(" ")[0] for p in problems] == ["error", "schema-rejection", "p99"]
    assert problems[0] == "error rate 5.0% (limit 1.0%, stable 0.1%)"


def test_a_rate_the_stable_version_shares_does_not_block():
    struggling = ServingStats(invocations=100, errors=5, schema_rejections=0, p99_ms=40)
    assert canary_problems(struggling, struggling, LIMITS) == []


def test_no_traffic_is_no_evidence_against_the_candidate():
    idle = ServingStats(invocations=0, errors=0, schema_rejections=0, p99_ms=None)
    assert canary_problems(idle, HEALTHY, LIMITS) == []


STARTED = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_the_window_read_ends_the_metrics_delay_before_now():
    # GIVEN metrics CloudWatch extracts from log lines up to two minutes late
    now = STARTED + timedelta(minutes=10)
    window = readable_window(STARTED, now, 120)
    # THEN the canary reads from its start up to two minutes ago: 8 minutes of its bake
    assert (window.start, window.end) == (STARTED, now - timedelta(seconds=120))
    assert window.seconds == 480 and not window.empty


def test_nothing_is_readable_before_the_delay_has_passed():
    window = readable_window(STARTED, STARTED + timedelta(seconds=90), 120)
    assert window.empty and window.end == STARTED  # never a window before the start


def test_without_a_delay_the_window_ends_now():
    # the embedded cloud writes a request's metrics as its invocation ends
    now = STARTED + timedelta(seconds=30)
    assert readable_window(STARTED, now, 0).end == now
