"""`slipway versions` lines: the monitoring baseline's summary where the version has one."""

from __future__ import annotations

from slipway.cli import _version_line


def test_a_version_with_a_baseline_says_how_much_it_profiles() -> None:
    row = {
        "version": "3",
        "status": "live",
        "registered_at": "2026-12-07T10:00:00+00:00",
        "baseline": {"file": "monitoring/baseline.json", "rows": 1000, "columns": 5},
    }
    assert _version_line(row) == (
        "3: live (registered 2026-12-07T10:00:00+00:00), baseline: 1000 rows, 5 columns"
    )


def test_a_version_packaged_before_monitoring_shows_no_baseline() -> None:
    assert _version_line({"version": "1", "status": "rejected"}) == "1: rejected"
