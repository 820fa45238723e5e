"""How `slipway monitor` shows reports: the verdict first, the worst columns, a chart."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slipway.errors import CliError
from slipway.monitor_view import SPARKS, render, render_run, sparkline, window_hours


def report(end: str, verdict: str, psi: float | None, live: float | None = None) -> dict:
    return {
        "verdict": verdict,
        "role": "live",
        "window": {"start": "s", "end": end, "hours": 24},
        "rows": 300,
        "requests": 300,
        "max_psi": psi,
        "top_columns": [
            {
                "column": "petal_length",
                "status": "compared",
                "psi": psi,
                "band": "major",
                "drifted": True,
                "missing_rate_baseline": 0.0,
                "missing_rate_current": 0.05,
                "unseen_share": 0.4,
            },
            {"column": "ssn", "status": "excluded"},
        ],
        "quality": None
        if live is None
        else {
            "metric": "accuracy",
            "live_value": live,
            "labelled_rows": 40,
            "evaluation_value": 0.95,
            "drop": 0.95 - live,
            "degraded": live < 0.9,
        },
        "drifted_columns": ["petal_length"],
        "report": f"s3://b/monitoring/iris/1/{end}.json",
    }


def test_the_verdict_comes_first_then_the_worst_columns_then_the_charts():
    answer = {
        "model": "iris",
        "version": "1",
        "reports": [
            report("t3", "drift", 0.9, 0.5),
            report("t2", "ok", 0.05, 0.96),
            report("t1", "ok", 0.01),
        ],
    }
    lines = render(answer, None)
    assert "iris 1: DRIFT" in lines[0]
    assert "petal_length: PSI 0.900 major drifted; missing 0.0% -> 5.0%; unseen 40.0%" in lines[2]
    assert "ssn: excluded" in lines[3]
    assert "live accuracy 0.500 on 40 labelled rows" in lines[4] and "degraded" in lines[4]
    assert lines[5].startswith("max PSI, last 3 reports: ▁▁█")
    assert lines[6] == "accuracy, last 3 reports:  █▁"  # no label in the oldest window
    assert lines[-1] == "report: s3://b/monitoring/iris/1/t3.json"


def test_a_quality_drop_with_drift_says_both():
    answer = {"model": "iris", "version": "1", "reports": [report("t", "quality", 0.9, 0.5)]}
    assert "iris 1: QUALITY and DRIFT[/]" in render(answer, None)[0]
    quiet = {**report("t", "quality", 0.01, 0.5), "drifted_columns": []}
    assert "iris 1: QUALITY[/] (" in render({**answer, "reports": [quiet]}, None)[0]


def test_no_report_or_none_of_that_window_says_how_to_get_one():
    answer = {"model": "iris", "version": "1", "reports": [report("t", "ok", 0.1)]}
    (line,) = render(answer, 6)
    assert "no monitor report yet over a 6 h window" in line and "slipway monitor run iris" in line


def test_a_run_prints_each_versions_verdict_and_failures():
    answer = {
        "window": {"start": "a", "end": "b"},
        "reports": [{**report("b", "drift", 0.5), "model": "iris", "version": "1"}],
        "failures": [{"model": "house", "version": "2", "error": "NoSuchVersion: gone"}],
        "truncated": None,
    }
    lines = render_run(answer)
    assert lines[0] == "window a -> b"
    assert "iris 1 (live): DRIFT[/]; drifted: petal_length" in lines[1]
    assert "house 2: failed[/]: NoSuchVersion: gone" in lines[3]


@pytest.mark.parametrize(
    ("text", "hours"), [("24h", 24), ("7d", 168), ("31d", 744), ("744h", 744), (None, None)]
)
def test_windows_are_hours_or_days(text, hours):
    assert window_hours(text) == hours


@pytest.mark.parametrize("text", ["0h", "24", "1w", "-3h", "745h", "32d", "9999d"])
def test_other_windows_are_refused(text):
    # the job judges at most 31 days: a longer window has no report to show
    with pytest.raises(CliError, match="--window"):
        window_hours(text)


def test_the_window_is_filtered_by_the_registry_not_after_the_newest_few(monkeypatch):
    """`--window 6h --last 2` shows the newest two 6-hour reports even when newer reports of
    the schedule's window fill the first page (the CLI's own filter used to find none)."""
    from fastapi.testclient import TestClient
    from moto import mock_aws
    from typer.testing import CliRunner

    import slipway.invoke
    import slipway.target
    from functions.registry_api.app import create_app, get_repository
    from registry import items
    from registry.repository import LineageRepository
    from registry.statuses import Stage
    from slipway.cli import app
    from tests.conftest import create_lineage_table

    with mock_aws():
        table = create_lineage_table()
        repository = LineageRepository(table)
        table.put_item(Item=items.pointer_item("iris", Stage.LIVE, "1", None, "e", "t"))
        for end, hours, verdict in [
            ("2026-12-07T01-00-00Z", 6, "drift"),
            ("2026-12-07T02-00-00Z", 6, "ok"),
            *[(f"2026-12-07T{h:02}-00-00Z", 24, "ok") for h in range(3, 10)],
        ]:
            summary = report(end, verdict, 0.3) | {"model": "iris", "version": "1"}
            summary["window"] = {"start": "s", "end": end, "hours": hours, "end_key": end}
            repository.put_monitor_report(summary)
        api = create_app()
        api.dependency_overrides[get_repository] = lambda: repository
        client = TestClient(api)
        asked: list[str] = []

        def registry_api(target, method, path, body=None):
            asked.append(path)
            answer = client.request(method, path)
            assert answer.status_code == 200, answer.text
            return answer.json()

        monkeypatch.setattr(slipway.target, "resolve_target", lambda env: None)
        monkeypatch.setattr(slipway.invoke, "call_registry", registry_api)
        shown = CliRunner().invoke(
            app, ["monitor", "show", "iris", "--window", "6h", "--last", "2", "--json"]
        )

    assert shown.exit_code == 0, shown.output
    (path,) = asked
    assert "window=6h" in path and "limit=2" in path
    ends = [r["window"]["end"] for r in json.loads(shown.stdout)["reports"]]
    assert ends == ["2026-12-07T02-00-00Z", "2026-12-07T01-00-00Z"]


@given(st.lists(st.one_of(st.none(), st.floats(0, 10)), min_size=1, max_size=50))
def test_a_sparkline_has_one_mark_per_report_lowest_and_highest_at_the_ends(values):
    line = sparkline(values)
    known = [v for v in values if v is not None]
    if not known:
        assert line == ""
        return
    assert len(line) == len(values)
    assert all(c == " " for c, v in zip(line, values, strict=True) if v is None)
    if max(known) > min(known):
        assert line[values.index(max(known))] == SPARKS[-1]
        assert line[values.index(min(known))] == SPARKS[0]


def test_a_live_metric_without_a_verdict_says_why():
    from slipway.monitor_view import quality_line

    quality = {
        "metric": "accuracy",
        "live_value": 0.9,
        "labelled_rows": 25,
        "evaluation_value": 0.95,
        "drop": 0.05,
        "degraded": False,
        "note": "within sampling noise",
    }
    assert quality_line(quality).endswith(" - within sampling noise")
    assert quality_line({**quality, "degraded": True}).endswith(" - degraded")
