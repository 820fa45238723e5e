"""The console's pages over the real registry API (its handler, against moto): models,
versions, one version, one dataset; 404s and registry refusals as pages; no URL that
leaves the console."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest

from registry import items
from registry.executions import execution_arn
from registry.repository import UploadedBundle
from slipway.local.moto_patches import abort_stopped_executions
from tests.unit.console_support import InProcessRegistry, Page, running_console
from tests.unit.gate import live, token_waiting_machine

IRIS_REPORT = {
    "model": "iris",
    "version": "good",
    "verdict": "drift",
    "window": {
        "start": "2026-12-06T09:00:00Z",
        "end": "2026-12-07T09:00:00Z",
        "hours": 24,
        "end_key": "2026-12-07T09-00-00Z",
    },
    "max_psi": 0.31,
    "top_columns": [{"column": "petal_length", "psi": 0.31, "drifted": True}],
    "report": "s3://bucket/monitoring/iris/good/2026-12-07T09-00-00Z.json",
}


@pytest.fixture
def registry(gate, monkeypatch):
    """The registry API over the gate's table, with a state machine to name."""
    from registry.environment import STATE_MACHINE_ARN

    machine, _ = token_waiting_machine("console-pages")
    monkeypatch.setenv(STATE_MACHINE_ARN, machine)
    return InProcessRegistry()


@pytest.fixture
def iris_live(gate, bundles):
    """iris 'good' taken through the whole gate by the declared workflow: live."""
    return live(gate, bundles["good"], "good")


def register(gate: Any, manifest: Any, name: str, version: str) -> None:
    """A version registered as Register does (item, dataset and code edges, summary)."""
    document = manifest.model_dump(mode="json", exclude_none=True)
    document.update(name=name, version=version)
    bundle = UploadedBundle("bucket", f"models/{name}/{version}/bundle.tar.gz", "v1", "d" * 64, 1)
    gate.repository.register_version(document, bundle, f"exec-{name}-{version}")


def rows(page: Page, attribute: str) -> list[str]:
    return [attrs[attribute] for tag, attrs in page.elements if tag == "tr" and attribute in attrs]


def test_the_models_page_shows_each_model_live_and_latest(gate, registry, iris_live, iris_bundle):
    # GIVEN iris live at 'good', and house with one version registered, none live
    register(gate, iris_bundle[1], "house", "1")
    with running_console(registry) as browser:
        # WHEN the models page is opened
        answer = browser.get("/")
    # THEN each model is a row with its live and newest versions, one registry call made
    assert answer.status_code == 200, answer.text
    page = Page(answer.text)
    page.one("table", id="models")
    assert rows(page, "data-model") == ["house", "iris"]
    iris_row = re.search(r'<tr data-model="iris">(.*?)</tr>', answer.text, re.S)[1]
    assert 'href="/models/iris/versions/good"' in iris_row
    house_row = re.search(r'<tr data-model="house">(.*?)</tr>', answer.text, re.S)[1]
    assert 'href="/models/house/versions/1"' in house_row and "none" in house_row
    assert [call for call in registry.calls if call[1].startswith("/v1/models")] == [
        ("GET", "/v1/models?limit=50")
    ]


def test_the_models_page_pages_by_fifty(gate, registry):
    for number in range(51):
        gate.repository._table.put_item(
            Item=items.model_summary_item(f"model-{number:02d}", "1", "2026-12-07T09:00:00Z")
        )
    with running_console(registry) as browser:
        first = Page(browser.get("/").text)
        (next_link,) = first.find_all("a", rel="next")
        second = browser.get(next_link["href"])
    assert len(rows(first, "data-model")) == 50
    assert next_link["href"].startswith("/?next_token=")
    assert rows(Page(second.text), "data-model") == ["model-50"]
    assert not Page(second.text).find_all("a", rel="next")


def test_the_versions_page_lists_newest_first_in_natural_order(gate, registry, iris_bundle):
    for version in ("1", "2", "10"):
        register(gate, iris_bundle[1], "house", version)
    with running_console(registry) as browser:
        answer = browser.get("/models/house")
    assert answer.status_code == 200, answer.text
    page = Page(answer.text)
    page.one("table", id="versions")
    assert rows(page, "data-version") == ["10", "2", "1"]
    assert "registered" in page.text and page.find_all("caption")


def test_the_version_page_has_its_gate_lineage_audit_monitoring_and_actions(
    gate, registry, iris_live
):
    gate.repository.put_monitor_report(IRIS_REPORT)
    with running_console(registry) as browser:
        answer = browser.get("/models/iris/versions/good")
    assert answer.status_code == 200, answer.text
    page = Page(answer.text)
    for section in ("gate", "lineage", "audit", "monitoring", "attestations", "actions"):
        page.one("section", id=section)
    assert len(page.find_all("h1")) == 1
    events = [a for t, a in page.elements if t == "li" and "data-outcome" in a]
    assert ("promote", "live") in {(e["data-step"], e["data-outcome"]) for e in events}
    page.one("ol", id="audit-timeline")
    # a live version can be rolled back from its page
    page.one("a", href="/models/iris/rollback")
    # the lineage graph links its datasets to their pages
    datasets = [a for t, a in page.elements if t == "a" and "data-dataset" in a]
    assert datasets and all(a["href"] == f"/datasets/{a['data-dataset']}" for a in datasets)
    assert "No monitor report yet" not in answer.text


def test_the_dataset_page_lists_the_versions_trained_on_it_and_which_are_live(
    gate, registry, iris_live
):
    version = gate.repository.get_version("iris", "good")
    sha256 = version["lineage"]["datasets"][0]["sha256"]
    with running_console(registry) as browser:
        answer = browser.get(f"/datasets/{sha256}")
    assert answer.status_code == 200, answer.text
    page = Page(answer.text)
    page.one("table", id="dataset-versions")
    (row,) = page.find_all("tr", data_version="good")
    assert row["data-live"] == "true"
    page.one("a", href="/models/iris/versions/good")


def test_unknown_things_are_404_pages(gate, registry):
    with running_console(registry) as browser:
        unknown_version = browser.get("/models/iris/versions/nope")
        unknown_model = browser.get("/models/nobody")
        bad_name = browser.get("/models/Not_A_Name")
        bad_digest = browser.get("/datasets/xyz")
        no_page = browser.get("/nowhere")
    for answer in (unknown_version, unknown_model, bad_name, bad_digest, no_page):
        assert answer.status_code == 404, answer.text
        assert 'role="alert"' in answer.text and "Traceback" not in answer.text
    # the registry's own words, not a guess
    assert "has no registered version 'nope'" in Page(unknown_version.text).text
    assert "model 'nobody' is not registered" in Page(unknown_model.text).text


def test_a_registry_refusal_is_a_page_with_its_status_and_detail(gate, registry):
    with running_console(registry) as browser:
        answer = browser.get("/?next_token=not-a-token")
    assert answer.status_code == 400
    assert "next_token was not issued by this registry" in Page(answer.text).text


def test_no_page_refers_to_anything_outside_the_console(gate, registry, iris_live):
    gate.repository.put_monitor_report(IRIS_REPORT)
    sha256 = gate.repository.get_version("iris", "good")["lineage"]["datasets"][0]["sha256"]
    with running_console(registry) as browser:
        pages = {
            path: browser.get(path)
            for path in (
                "/",
                "/models/iris",
                "/models/iris/versions/good",
                f"/datasets/{sha256}",
                "/models/iris/versions/good/reject",
                "/models/iris/rollback",
                "/models/iris/versions/nope",
            )
        }
    own = re.compile(r"^(/(?!/)|#|\?)")  # a path of the console, a fragment, a query
    for path, answer in pages.items():
        page = Page(answer.text)
        outside = [url for url in page.urls if not own.match(url)]
        assert not outside, (path, outside)
        # what the Content-Security-Policy would block anyway: inline script and style
        assert page.inline_scripts == 0 and page.style_attributes == 0, path
        assert not re.search(r"<style|url\(\s*['\"]?https?:", answer.text), path


def test_while_the_gate_runs_the_version_page_offers_to_refresh_itself(
    gate, iris_bundle, monkeypatch
):
    from registry.environment import STATE_MACHINE_ARN

    # GIVEN a version whose promotion execution is still running
    register(gate, iris_bundle[1], "house", "1")
    machine, _ = token_waiting_machine("console-running")
    monkeypatch.setenv(STATE_MACHINE_ARN, machine)
    abort_stopped_executions()  # as the embedded cloud has it: AWS reports ABORTED at once
    sfn = boto3.client("stepfunctions")
    sfn.start_execution(stateMachineArn=machine, name="exec-house-1", input="{}")
    with running_console(InProcessRegistry()) as browser:
        running_text = browser.get("/models/house/versions/1").text
        running = Page(running_text)
        sfn.stop_execution(
            executionArn=execution_arn(machine, "exec-house-1"), error="Stopped", cause="test"
        )
        stopped = Page(browser.get("/models/house/versions/1").text)
    # THEN the running one carries the marker the script reloads by, and a checkbox to stop it
    (marker,) = [a for t, a in running.elements if "data-refresh-seconds" in a]
    assert marker["data-refresh-seconds"] == "5"
    checkbox = running.one("input", id="auto-refresh")
    assert checkbox["type"] == "checkbox" and running.one("label", **{"for": "auto-refresh"})
    running.one("script", src="/static/console.js")
    # AND the gate says the promotion runs (not only the steps)
    assert 'class="gate-summary"' in running_text and "running</span>" in running_text
    # AND a gate that ended does not reload
    assert not [a for t, a in stopped.elements if "data-refresh-seconds" in a]


def test_the_versions_page_is_newest_first_across_pages(gate, registry, iris_bundle):
    # GIVEN 60 versions, which the registry lists in key order ("10" before "9")
    for version in range(1, 61):
        register(gate, iris_bundle[1], "house", str(version))
    with running_console(registry) as browser:
        first = Page(browser.get("/models/house").text)
        second_answer = browser.get("/models/house?page=2")
        beyond = browser.get("/models/house?page=3")
    # THEN the first page holds the newest 50, the second the oldest 10, linked both ways
    assert rows(first, "data-version") == [str(v) for v in range(60, 10, -1)]
    second = Page(second_answer.text)
    assert rows(second, "data-version") == [str(v) for v in range(10, 0, -1)]
    (older,) = first.find_all("a", rel="next")
    assert older["href"] == "/models/house?page=2"
    (newer,) = second.find_all("a", rel="prev")
    assert newer["href"] == "/models/house?page=1"
    assert beyond.status_code == 404


def test_a_damaged_version_is_listed_with_what_it_has(gate, registry, iris_bundle):
    # GIVEN a version item whose lineage and evaluation are not maps (written by hand)
    register(gate, iris_bundle[1], "house", "1")
    gate.repository.update_version("house", "1", lineage="oops", evaluation_result=[1, 2])
    with running_console(registry) as browser:
        answer = browser.get("/models/house")
    assert answer.status_code == 200, answer.text
    assert rows(Page(answer.text), "data-version") == ["1"]


def test_the_version_page_says_why_its_gate_shows_no_step(gate, registry, iris_bundle):
    # GIVEN a version whose execution Step Functions does not keep (or never ran)
    register(gate, iris_bundle[1], "house", "1")
    with running_console(registry) as browser:
        page = browser.get("/models/house/versions/1").text
    # THEN the gate section says why every step shows as not reached
    assert 'class="gate-summary"' in page
    assert "no longer keeps this version" in page
