"""The registry serves the monitor job's reports: newest first, the live version's by
default, and a version's newest ones in its description (its lineage)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from functions.registry_api.app import create_app, get_repository
from registry import items
from registry.repository import LineageRepository
from registry.statuses import Stage
from tests.conftest import create_lineage_table


def summary(version: str, end: str, verdict: str, hours: float = 24) -> dict:
    return {
        "model": "house",
        "version": version,
        "verdict": verdict,
        "window": {"start": "x", "end": end, "hours": hours, "end_key": end},
        "max_psi": 0.31,
        "top_columns": [{"column": "rooms", "psi": 0.31, "drifted": True}],
        "report": f"s3://b/monitoring/house/{version}/{end}.json",
    }


@pytest.fixture
def registry():
    with mock_aws():
        table = create_lineage_table()
        repository = LineageRepository(table)
        app = create_app()
        app.dependency_overrides[get_repository] = lambda: repository
        yield TestClient(app), repository, table


def test_reports_newest_first_of_the_live_version_by_default(registry):
    client, repository, table = registry
    for version, end, verdict in [
        ("2", "2026-12-07T08-00-00Z", "ok"),
        ("2", "2026-12-07T09-00-00Z", "drift"),
        ("1", "2026-12-07T09-30-00Z", "ok"),
        ("10", "2026-12-07T09-45-00Z", "ok"),  # never mistaken for version 1's
    ]:
        repository.put_monitor_report(summary(version, end, verdict))
    table.put_item(Item=items.pointer_item("house", Stage.LIVE, "2", None, "e", "t"))

    answer = client.get("/v1/models/house/monitoring").json()

    assert answer["version"] == "2"
    assert [r["verdict"] for r in answer["reports"]] == ["drift", "ok"]
    assert "pk" not in answer["reports"][0] and answer["reports"][0]["max_psi"] == 0.31
    one = client.get("/v1/models/house/monitoring?version=1&limit=5").json()
    assert [r["window"]["end"] for r in one["reports"]] == ["2026-12-07T09-30-00Z"]


def test_the_same_window_again_is_one_report(registry):
    _, repository, _ = registry
    repository.put_monitor_report(summary("1", "2026-12-07T09-00-00Z", "ok"))
    repository.put_monitor_report(summary("1", "2026-12-07T09-00-00Z", "drift"))
    (only,) = repository.monitor_reports("house", "1")
    assert only["verdict"] == "drift"


def test_no_live_version_or_an_unknown_version_is_a_404(registry):
    client, _, _ = registry
    assert client.get("/v1/models/house/monitoring").status_code == 404
    assert client.get("/v1/models/house/monitoring?version=7").status_code == 404
    assert client.get("/v1/models/house/monitoring?version=..").status_code == 400


def register(repository: LineageRepository, iris_bundle, version: str) -> None:
    from registry.repository import UploadedBundle

    _, manifest = iris_bundle
    document = manifest.model_dump(mode="json", exclude_none=True)
    document.update(name="house", version=version)
    repository.register_version(document, UploadedBundle("b", "k", "v", "d" * 64, 1), "exec")


def test_a_versions_description_carries_its_newest_reports(registry, iris_bundle):
    client, repository, _ = registry
    register(repository, iris_bundle, "2")
    for hour in range(7):
        repository.put_monitor_report(summary("2", f"2026-12-07T0{hour}-00-00Z", "ok"))

    described = client.get("/v1/models/house/versions/2").json()

    ends = [r["window"]["end"] for r in described["monitoring"]]
    assert ends == [f"2026-12-07T0{hour}-00-00Z" for hour in (6, 5, 4, 3, 2)]


def test_a_window_filter_finds_that_windows_newest_reports_past_the_others(registry, iris_bundle):
    # GIVEN hourly reports of the schedule's 24-hour window, and a person's 6-hour runs
    # between them (the newest report is a 24-hour one)
    client, repository, table = registry
    register(repository, iris_bundle, "2")
    table.put_item(Item=items.pointer_item("house", Stage.LIVE, "2", None, "e", "t"))
    for hour in range(24):
        repository.put_monitor_report(summary("2", f"2026-12-07T{hour:02}-00-00Z", "ok"))
    for hour in (3, 9, 15):
        end = f"2026-12-07T{hour:02}-30-00Z"
        repository.put_monitor_report(summary("2", end, "drift", hours=6.0))

    # WHEN the newest two over a 6-hour window are asked for
    answer = client.get("/v1/models/house/monitoring?window=6h&limit=2")

    # THEN they are found past the newer 24-hour ones, newest first, and nothing else
    assert answer.status_code == 200, answer.text
    reports = answer.json()["reports"]
    assert [r["window"]["end"] for r in reports] == ["2026-12-07T15-30-00Z", "2026-12-07T09-30-00Z"]
    daily = client.get("/v1/models/house/monitoring?window=1d&limit=100").json()["reports"]
    assert len(daily) == 24 and {r["window"]["hours"] for r in daily} == {24}
    assert client.get("/v1/models/house/monitoring?window=7d").json()["reports"] == []
    assert len(client.get("/v1/models/house/monitoring?limit=100").json()["reports"]) == 27


def test_a_window_filter_reads_a_bounded_number_of_reports(registry, monkeypatch):
    from registry import repository as repository_module

    _, repository, _ = registry
    monkeypatch.setattr(repository_module, "MONITOR_REPORTS_SCANNED", 5)
    repository.put_monitor_report(summary("2", "2026-12-07T00-30-00Z", "drift", hours=6))
    for hour in range(1, 7):
        repository.put_monitor_report(summary("2", f"2026-12-07T{hour:02}-00-00Z", "ok"))

    # the 6-hour report is the seventh newest: past what a filter reads
    assert repository.monitor_reports("house", "2", 10, window_hours=6) == []
    assert len(repository.monitor_reports("house", "2", 10, window_hours=24)) == 5


def test_a_window_filter_reads_pages_growing_from_about_the_limit(registry):
    _, repository, table = registry
    # GIVEN a 6-hour report behind 70 newer 24-hour ones
    repository.put_monitor_report(summary("2", "2026-12-01T00-00-00Z", "drift", hours=6))
    for n in range(70):
        repository.put_monitor_report(
            summary("2", f"2026-12-02T{n // 60:02}-{n % 60:02}-00Z", "ok")
        )
    queries: list[int] = []
    table.meta.client.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: queries.append(params["Limit"])
    )
    # WHEN the common window is asked for THEN one Query of a page near the limit answers
    assert len(repository.monitor_reports("house", "2", 20, window_hours=24)) == 20
    assert queries == [50]
    # AND a rare window is found on a second, larger page, not by reading a page per report
    queries.clear()
    (found,) = repository.monitor_reports("house", "2", 1, window_hours=6)
    assert found["verdict"] == "drift" and queries == [50, 100]


@pytest.mark.parametrize("window", ["0h", "24", "1w", "-3h", "745h", "32d", "1" * 17, " "])
def test_a_bad_window_is_a_400_that_says_what_a_window_is(registry, window):
    client, repository, table = registry
    table.put_item(Item=items.pointer_item("house", Stage.LIVE, "2", None, "e", "t"))
    repository.put_monitor_report(summary("2", "2026-12-07T00-00-00Z", "ok"))

    answer = client.get("/v1/models/house/monitoring", params={"window": window})

    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "window" in answer.json()["detail"]
