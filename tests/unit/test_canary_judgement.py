"""Canary verdicts: over the limit and worse than stable, or it passes."""

from __future__ import annotations

from functions.canary.judgement import CanaryLimits, ServingStats, canary_problems

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
