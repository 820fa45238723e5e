"""The console's renderers: the gate diagram, the lineage graph and the monitor charts, fed
the registry API's own answers (a version registered from a real manifest and read back
through the registry app over moto; monitor summaries from the monitor job's builder), and
parsed back as XML: every rendering must be well-formed, escaped, bounded and the same for
the same input."""

from __future__ import annotations

import copy
import json
import random
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from functions.registry_api.app import create_app, get_repository
from model_runtime.manifest import MAX_DATASETS, Manifest
from model_runtime.monitoring.drift import ColumnDrift, DriftResult, Thresholds, band
from model_runtime.monitoring.quality import QualityResult
from model_runtime.monitoring.report import Window, build_report, summary
from registry import items
from registry.monitoring_reports import Role
from registry.monitoring_settings import MonitoringSettings
from registry.repository import LineageRepository
from registry.workflow import PROMOTION, Task, walk
from slipway.console import humanize
from slipway.console.gate_diagram import gate_diagram
from slipway.console.lineage_graph import lineage_graph
from slipway.console.monitor_charts import MAX_COLUMNS, MAX_REPORTS, monitor_charts
from tests.conftest import create_lineage_table

HOSTILE = "<script>alert(\"x\")</script>' onmouseover='alert(1)"
BUNDLE = {
    "bucket": "artifacts",
    "key": "models/iris/3/bundle.tar.gz",
    "version_id": "v1",
    "digest": "f" * 64,
    "size": 1234,
}
RECEIVED = {
    "environment": "staging",
    "account": "333333333333",
    "statement_sha256": "d" * 64,
    "status": "live",
    "issued_at": "2026-12-07T10:00:00.000+00:00",
    "verified_at": "2026-12-07T10:01:00.000+00:00",
    "envelope": json.dumps({"payload": "e30=", "signature": "c2ln"}),
    "chain": [{"environment": "dev", "statement_sha256": "e" * 64}],
}


# -- parsing -----------------------------------------------------------------------------------


def parse(markup: str) -> ET.Element:
    """The rendering as XML: a fragment that does not parse is a defect (inline SVG must be
    well-formed, and the HTML around it is written to be too)."""
    return ET.fromstring(f"<root>{markup}</root>")


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def text_of(element: ET.Element) -> str:
    return "".join(element.itertext())


def svgs(root: ET.Element) -> list[ET.Element]:
    return list(root.iter("svg"))


def hrefs(root: ET.Element) -> list[str]:
    return [e.get("href") for e in root.iter() if e.get("href") is not None]


# -- realistic inputs --------------------------------------------------------------------------


@pytest.fixture
def registry():
    """The registry API in process over moto, as the console's unit tests call it."""
    with mock_aws():
        table = create_lineage_table()
        repository = LineageRepository(table)
        app = create_app()
        app.dependency_overrides[get_repository] = lambda: repository
        yield TestClient(app), table, repository


def manifest_of(iris_bundle: tuple[Path, Manifest], **lineage: Any) -> dict[str, Any]:
    """A real manifest of a trained iris bundle, version 3, its lineage changed as given and
    checked again by the manifest's own schema."""
    data = json.loads(iris_bundle[1].model_dump_json())
    data["version"] = "3"
    data["lineage"].update(lineage)
    return json.loads(Manifest.model_validate(data).model_dump_json())


def described(registry: Any, manifest: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    """``GET /v1/models/iris/versions/3`` of a version registered from ``manifest``."""
    client, table, _ = registry
    item = items.version_item(manifest, BUNDLE, "exec-1", "2026-12-07T09:00:00.000+00:00")
    table.put_item(Item={**item, **items.to_dynamo(attributes)})
    answer = client.get(f"/v1/models/{manifest['name']}/versions/{manifest['version']}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def declared_steps() -> list[Task]:
    return [node for node in walk(PROMOTION.nodes) if isinstance(node, Task)]


def gate_of(states: dict[str, str], **fields: Any) -> dict[str, Any]:
    """A gate answer over the workflow's declared steps: the states given, the rest not
    reached."""
    steps = []
    for task in declared_steps():
        state = states.get(task.state, "not-reached")
        steps.append(
            {
                "step": task.state,
                "description": task.description,
                "state": state,
                "started_at": None if state == "not-reached" else "2026-12-07T09:00:00+00:00",
                "ended_at": "2026-12-07T09:00:01+00:00" if state in ("passed", "failed") else None,
                "duration_ms": 1234 if state in ("passed", "failed") else None,
                "reason": None,
                "attempts": 1,
            }
        )
    return {
        "model": "iris",
        "version": "3",
        "execution": "iris-3-0123456789abcdef01234567",
        "status": "RUNNING",
        "started_at": "2026-12-07T09:00:00+00:00",
        "ended_at": None,
        "history_truncated": False,
        "steps": steps,
        **fields,
    }


def column(name: str, psi: float | None, drifted: bool = False) -> ColumnDrift:
    return ColumnDrift(
        column=name,
        kind="numeric",
        status="compared",
        rows=500,
        psi=psi,
        band=band(psi) if psi is not None else None,
        missing_rate_baseline=0.0,
        missing_rate_current=0.0,
        drifted=drifted,
    )


def monitor_summary(
    hour: int, psis: dict[str, float | None], live: float | None = None, version: str = "3"
) -> dict[str, Any]:
    """A monitor report's summary, as the monitor job builds and stores it."""
    settings = MonitoringSettings()
    drift = DriftResult(
        rows=500,
        thresholds=Thresholds(),
        columns=[column(n, p, (p or 0) >= settings.psi_alarm) for n, p in psis.items()],
        outputs=[],
    )
    quality = None
    if live is not None:
        quality = QualityResult(
            metric="accuracy",
            direction="maximize",
            labelled_rows=200,
            live_value=live,
            evaluation_value=0.96,
            drop=0.96 - live,
            degraded=0.96 - live > 0.1,
        )
    end = datetime(2026, 12, 7, tzinfo=UTC) + timedelta(hours=hour)
    report = build_report(
        model="iris",
        version=version,
        role=Role.LIVE,
        environment="local",
        window=Window.ending(end, 24),
        settings=settings,
        requests=400,
        rows=500,
        baseline_present=True,
        drift=drift.as_json(),
        quality=quality,
        truncated=None,
        location=f"s3://artifacts/monitoring/iris/{version}/x.json",
        generated_at=end,
    )
    return summary(report)


def stored_reports(registry: Any, summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reports as the version's description returns them (newest first, at most 5),
    or, beyond 5, as ``GET /v1/models/iris/monitoring`` returns them."""
    client, _, repository = registry
    for one in summaries:
        repository.put_monitor_report(one)
    answer = client.get("/v1/models/iris/monitoring", params={"version": "3", "limit": 100})
    assert answer.status_code == 200, answer.text
    return answer.json()["reports"]


# -- humanize ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ms", "words"),
    [
        (0, "0 ms"),
        (850, "850 ms"),
        (1234, "1.2 s"),
        (42_000, "42 s"),
        (180_000, "3 min"),
        (3_900_000, "1 h 5 min"),
        (7_200_000, "2 h"),
        (90_000_000, "1 d 1 h"),
        (None, "—"),
        (-5, "—"),
        ("soon", "—"),
        (float("nan"), "—"),
        (True, "—"),
    ],
)
def test_durations_read_as_people_say_them(ms, words):
    assert humanize.duration(ms) == words


def test_times_are_shown_in_utc_and_other_text_as_it_is():
    assert humanize.timestamp("2026-12-07T10:01:05.123+01:00") == "2026-12-07 09:01:05 UTC"
    assert humanize.timestamp("2026-12-07T10:01:05Z") == "2026-12-07 10:01:05 UTC"
    assert humanize.timestamp("yesterday") == "yesterday"
    assert humanize.timestamp(None) == "—"


def test_text_drops_what_xml_and_utf_8_cannot_hold():
    cleaned = humanize.text("a\x00b\x1bc\ud800d")
    assert cleaned.encode("utf-8")  # a lone surrogate would fail here
    ET.fromstring(f"<t>{cleaned}</t>")


# -- gate diagram ------------------------------------------------------------------------------


def test_the_gate_is_an_ordered_list_of_the_declared_steps_with_their_states_in_words():
    gate = gate_of(
        {
            "Validate": "passed",
            "VerifyProvenance": "passed",
            "Register": "passed",
            "AcquireLock": "passed",
            "Evaluate": "failed",
        }
    )
    gate["steps"][4]["reason"] = "accuracy 0.70 is below the threshold 0.80"
    gate["steps"][4]["attempts"] = 3

    root = parse(gate_diagram(gate))

    (listing,) = root.iter("ol")
    assert listing.get("class") == "gate" and listing.get("aria-label") == "Gate steps"
    steps = listing.findall("li")
    assert [s.get("data-step") for s in steps] == [t.state for t in declared_steps()]
    assert all("step" in s.get("class").split() for s in steps)
    states = {s.get("data-step"): s.get("data-state") for s in steps}
    assert states["Validate"] == "passed" and states["Evaluate"] == "failed"
    assert states["Promote"] == "not-reached"
    evaluate = steps[4]
    words = text_of(evaluate)
    assert "Failed" in words and "took 1.2 s" in words and "3 attempts" in words
    assert "accuracy 0.70 is below the threshold 0.80" in words
    # the state is in words; the icon repeats it and is hidden from screen readers
    (icon,) = by_class(evaluate, "step-icon")
    assert icon.get("aria-hidden") == "true"
    assert text_of(by_class(evaluate, "step-state")[0]) == "Failed"
    assert "Not reached" in text_of(steps[-1])


def test_a_waiting_step_says_what_it_waits_for():
    gate = gate_of({"Validate": "passed", "WaitForApproval": "waiting"})
    waiting = next(s for s in gate["steps"] if s["step"] == "WaitForApproval")
    waiting["reason"] = "a person to approve or reject it"
    waiting["duration_ms"] = 180_000

    root = parse(gate_diagram(gate, summary=True))

    (step,) = [li for li in root.iter("li") if li.get("data-step") == "WaitForApproval"]
    assert step.get("data-state") == "waiting" and "step-waiting" in step.get("class")
    assert "Waiting for: a person to approve or reject it" in text_of(step)
    assert "for 3 min" in text_of(step)
    assert "Promotion running" in text_of(root).replace("\n", " ")


def test_a_gate_step_functions_no_longer_keeps_says_so_and_shows_the_declared_steps():
    gate = gate_of({}, execution=None, status=None, started_at=None, gone=True)

    root = parse(gate_diagram(gate, summary=True))

    assert {li.get("data-state") for li in root.iter("li")} == {"not-reached"}
    assert "no longer keeps" in text_of(root)


def test_gate_text_is_escaped_and_odd_answers_render_without_raising():
    gate = gate_of({"Validate": "failed"})
    gate["steps"][0]["reason"] = HOSTILE
    gate["steps"][0]["step"] = HOSTILE
    gate["steps"].extend([None, "Register", {"state": "exploded"}, {"step": 5, "attempts": "x"}])
    gate["execution"] = HOSTILE
    gate["history_truncated"] = True

    markup = str(gate_diagram(gate, summary=True))

    assert "<script>" not in markup and "onmouseover='" not in markup
    root = parse(markup)
    first = root.find(".//li")
    assert first.get("data-step") == HOSTILE  # attribute escaping round-trips exactly
    assert HOSTILE in text_of(first)
    odd = [li for li in root.iter("li") if li.get("data-state") == "exploded"]
    assert odd and "step-unknown" in odd[0].get("class") and "Unknown" in text_of(odd[0])
    assert "longer than the console reads" in text_of(root)
    for damaged in ({}, {"steps": "none"}, {"steps": [], "status": 7}, None, []):
        parse(gate_diagram(damaged, summary=True))  # type: ignore[arg-type]


def test_the_steps_alone_by_default_the_page_says_the_rest():
    root = parse(gate_diagram(gate_of({}, gone=True, history_truncated=True)))
    assert [e.tag for e in root[0]] == ["ol"]


def test_the_gate_shows_at_most_sixty_steps():
    gate = gate_of({})
    gate["steps"] = gate["steps"] * 10
    assert len(parse(gate_diagram(gate)).findall(".//li")) == 60


# -- lineage graph -----------------------------------------------------------------------------


def graph_of(root: ET.Element) -> ET.Element:
    (svg,) = svgs(root)
    return svg


def test_the_lineage_graph_draws_code_datasets_parent_and_attestation_into_the_version(
    registry, iris_bundle
):
    manifest = manifest_of(iris_bundle, parent="2")
    version = described(registry, manifest, received_attestation=RECEIVED)

    root = parse(lineage_graph(version))

    svg = graph_of(root)
    assert svg.get("role") == "group" and svg.get("aria-label").startswith("Lineage graph")
    nodes = [g for g in svg.iter("g") if "node" in g.get("class", "").split()]
    kinds = [next(c for c in g.get("class").split() if c.startswith("node-")) for g in nodes]
    datasets = manifest["lineage"]["datasets"]
    digests = list(dict.fromkeys(d["sha256"] for d in datasets))
    assert kinds == [
        "node-code",
        "node-parent",
        "node-attestation",
        *["node-dataset"] * len(digests),
        "node-version",
    ]
    code = manifest["lineage"]["code"]
    assert code["commit"][:10] in text_of(nodes[0])
    assert text_of(nodes[0].find("title")).startswith(f"Code: {code['repository']}")
    # every dataset is a focusable link to the console's dataset page, named for people
    links = [a for a in svg.iter("a") if a.get("data-dataset")]
    assert [a.get("data-dataset") for a in links] == digests
    assert [a.get("href") for a in links] == [f"/datasets/{d}" for d in digests]
    assert all(a.get("aria-label", "").startswith("Dataset (") for a in links)
    assert digests[0][:12] in text_of(links[0]) and digests[0] not in "".join(
        t.text or "" for t in links[0].iter("text")
    )
    (parent,) = [a for a in svg.iter("a") if a.get("href", "").startswith("/models/")]
    assert parent.get("href") == "/models/iris/versions/2"
    assert "Attested by staging" in text_of(nodes[2]) and "dev" in text_of(nodes[2].find("title"))
    assert "iris 3" in text_of(nodes[-1])
    # one edge per input, each ending at the version node's left side, with an arrowhead
    edges = by_class(svg, "edge")
    assert len(edges) == len(nodes) - 1
    version_x = nodes[-1].get("transform").split("(")[1].split()[0]
    assert {e.get("d").split()[-2] for e in edges} == {str(int(version_x) - 2)}
    assert all(e.get("marker-end") == "url(#lineage-arrow)" for e in edges)
    # the text equivalent lists the same inputs, with the same links
    (listing,) = by_class(root, "lineage-list")
    assert len(listing.findall("li")) == len(nodes) - 1
    assert sorted(hrefs(listing)) == sorted(a.get("href") for a in svg.iter("a"))


def test_one_dataset_used_to_train_and_to_evaluate_is_one_node(registry, iris_bundle):
    data = json.loads(iris_bundle[1].model_dump_json())["lineage"]["datasets"][0]
    manifest = manifest_of(
        iris_bundle, datasets=[data, {**data, "role": "evaluation", "uri": "s3://b/eval.csv"}]
    )
    root = parse(lineage_graph(described(registry, manifest)))
    (link,) = [a for a in root.iter("a") if a.get("data-dataset")]
    assert "train, evaluation" in text_of(link)
    assert "s3://b/eval.csv" in text_of(link.find(".//title"))


def test_a_dirty_checkout_is_marked_in_words(registry, iris_bundle):
    manifest = manifest_of(iris_bundle, code={"repository": "r", "commit": "abc", "dirty": True})
    root = parse(lineage_graph(described(registry, manifest)))
    (code,) = by_class(root, "node-code")
    assert "dirty" in code.get("class").split()
    assert "dirty" in text_of(code) and "uncommitted changes" in text_of(code)


def test_hostile_lineage_text_is_shown_never_followed(registry, iris_bundle):
    data = json.loads(iris_bundle[1].model_dump_json())["lineage"]["datasets"][0]
    hostile_datasets = [
        {**data, "uri": "javascript:alert(document.cookie)"},
        {**data, "uri": HOSTILE, "sha256": "a" * 64},
    ]
    manifest = manifest_of(
        iris_bundle,
        code={"repository": HOSTILE, "commit": '"><svg onload=alert(1)>', "dirty": False},
        datasets=hostile_datasets,
        parent="2",
    )
    version = described(registry, manifest)

    markup = str(lineage_graph(version))

    assert "<script>" not in markup and "<svg onload" not in markup
    root = parse(markup)
    # links go to the console's own pages only; the URI is text
    assert all(h.startswith(("/datasets/", "/models/")) for h in hrefs(root))
    assert "javascript:alert(document.cookie)" in text_of(root)
    assert HOSTILE in text_of(root)
    assert not [e for e in root.iter() if any(k.startswith("on") for k in e.attrib)]


def test_a_parent_that_is_not_a_version_name_is_not_a_link():
    version = {"name": "iris", "version": "3", "lineage": {"parent": "../../admin"}}
    root = parse(lineage_graph(version))
    assert hrefs(root) == [] and "../../admin" in text_of(root)


def test_the_graph_is_bounded_and_long_text_keeps_its_whole_in_the_title():
    # GIVEN a damaged item holding more datasets than a manifest may, one with a long URI
    long_uri = "s3://bucket/" + "very-long-folder/" * 40 + "train.csv"
    datasets = [
        {"role": "train", "uri": long_uri if i == 0 else f"s3://b/{i}.csv", "sha256": f"{i:064x}"}
        for i in range(MAX_DATASETS + 10)
    ]
    version = {"name": "iris", "version": "3", "lineage": {"datasets": datasets}}

    root = parse(lineage_graph(version))

    links = [a for a in graph_of(root).iter("a") if a.get("data-dataset")]
    assert len(links) == MAX_DATASETS
    assert "10 more datasets not shown" in text_of(root)
    first_lines = [t.text for t in links[0].iter("text")]
    assert long_uri not in first_lines and any(line.endswith("…") for line in first_lines)
    assert long_uri in text_of(links[0].find(".//title"))


def test_the_same_version_draws_the_same_graph(registry, iris_bundle):
    version = described(
        registry, manifest_of(iris_bundle, parent="2"), received_attestation=RECEIVED
    )
    shuffled = dict(reversed(list(copy.deepcopy(version).items())))
    assert lineage_graph(version) == lineage_graph(shuffled)


@pytest.mark.parametrize(
    "damaged",
    [
        {},
        None,
        {"lineage": None},
        {"lineage": {"datasets": "all of them", "code": ["x"], "parent": 7}},
        {"lineage": {"datasets": [None, 1, {"sha256": None}, {"rows": "many"}]}},
        {"name": "\x00\x01", "version": "\ud800", "received_attestation": {"chain": "x"}},
    ],
)
def test_old_or_damaged_versions_render_a_well_formed_graph(damaged):
    markup = lineage_graph(damaged)  # type: ignore[arg-type]
    markup.encode("utf-8")
    graph_of(parse(markup))


# -- monitor charts ----------------------------------------------------------------------------


def test_no_report_is_one_sentence():
    assert text_of(parse(monitor_charts([]))) == "No monitor report yet."


def test_reports_chart_the_worst_columns_psi_per_window_with_a_table_of_the_same_numbers(
    registry,
):
    summaries = [
        monitor_summary(0, {"petal_length": 0.02, "sepal_width": 0.05}, live=0.95),
        monitor_summary(1, {"petal_length": 0.12, "sepal_width": 0.04}, live=0.91),
        monitor_summary(2, {"petal_length": 0.31, "sepal_width": None}, live=0.80),
    ]
    reports = stored_reports(registry, summaries)
    assert [r["verdict"] for r in reports] == ["quality", "drift", "ok"]  # newest first

    root = parse(monitor_charts(reports))

    psi_chart, quality_chart = svgs(root)[0], None
    charts = [s for s in svgs(root) if s.get("role") == "img"]
    psi_chart, quality_chart = charts
    assert "PSI" in psi_chart.get("aria-label") and "live accuracy" in quality_chart.get(
        "aria-label"
    )
    # the bands and their thresholds, in words on the chart too
    assert by_class(psi_chart, "band-moderate") and by_class(psi_chart, "band-major")
    assert {text_of(t) for t in by_class(psi_chart, "band-label")} == {
        "0.1 moderate",
        "0.25 major",
    }
    series = [g for g in psi_chart.iter("g") if "series" in g.get("class", "").split()]
    assert len(series) == 2
    # the worst column first, one marker per window that has a value, oldest left
    petal = [text_of(c.find("title")) for c in series[0].iter("circle")]
    assert petal == [
        "petal_length: PSI 0.020",
        "petal_length: PSI 0.120",
        "petal_length: PSI 0.310",
    ]
    xs = [float(c.get("cx")) for c in series[0].iter("circle")]
    assert xs == sorted(xs)
    assert len(list(series[1].iter("circle"))) == 2  # no PSI in the last window: no marker
    # the tables: the same numbers, oldest first, the verdict in words
    (psi_table,) = by_class(root, "monitor-psi")
    cells = [[text_of(c) for c in tr] for tr in psi_table.iter("tr")]
    assert cells[0] == ["Window end", "petal_length", "sepal_width"]
    assert cells[1][1:] == ["0.020 (stable)", "0.050 (stable)"]
    assert cells[3][1:] == ["0.310 (major)", "—"]
    (table,) = by_class(root, "monitor-reports")
    rows = table.findall("./tbody/tr")
    assert [r.get("data-verdict") for r in rows] == ["ok", "drift", "quality"]
    assert "Quality drop" in text_of(rows[2]) and "0.800" in text_of(rows[2])
    assert "0.960" in text_of(rows[2])  # the evaluation score
    assert "Quality drop" in text_of(by_class(root, "monitor-headline")[0])
    assert table.find("caption") is not None and psi_table.find("caption") is not None


def test_without_labels_there_is_no_quality_chart(registry):
    reports = stored_reports(registry, [monitor_summary(0, {"a": 0.5})])
    root = parse(monitor_charts(reports))
    assert len([s for s in svgs(root) if s.get("role") == "img"]) == 1


def test_charts_are_bounded_to_the_newest_reports_and_the_worst_columns(registry):
    psis = {f"column_{i:02d}": i / 100 for i in range(15)}
    reports = stored_reports(registry, [monitor_summary(h, psis) for h in range(25)])
    assert len(reports) == 25

    root = parse(monitor_charts(reports))

    (chart,) = [s for s in svgs(root) if s.get("role") == "img"]
    series = [g for g in chart.iter("g") if "series" in g.get("class", "").split()]
    # the summary keeps 10 columns; each is a line of at most 20 windows
    assert len(series) == MAX_COLUMNS
    assert all(len(list(g.iter("circle"))) == MAX_REPORTS for g in series)
    rows = by_class(root, "monitor-reports")[0].findall("./tbody/tr")
    assert len(rows) == MAX_REPORTS
    newest = datetime(2026, 12, 7, tzinfo=UTC) + timedelta(hours=24)
    assert text_of(rows[-1][0]).endswith(f"{newest:%Y-%m-%d %H:%M:%S} UTC (24 h)")


def test_many_columns_in_a_damaged_summary_still_chart_ten():
    report = monitor_summary(0, {})
    report["top_columns"] = [{"column": f"c{i}", "psi": i / 10} for i in range(30)]
    (chart,) = svgs(parse(monitor_charts([report])))[:1]
    series = [g for g in chart.iter("g") if "series" in g.get("class", "").split()]
    assert len(series) == MAX_COLUMNS
    assert "c29" in text_of(series[0])  # the worst first


def test_a_psi_beyond_the_scale_sits_on_the_top_edge_and_says_so():
    report = monitor_summary(0, {"a": 250.0})
    (chart,) = svgs(parse(monitor_charts([report])))[:1]
    (point,) = chart.iter("circle")
    assert "clipped" in point.get("class") and "above the chart's scale" in text_of(point)


def test_the_same_reports_in_any_order_draw_the_same_charts(registry):
    reports = stored_reports(
        registry, [monitor_summary(h, {"a": h / 10, "b": 0.05}, live=0.9) for h in range(6)]
    )
    shuffled = reports[:]
    random.Random(7).shuffle(shuffled)
    assert monitor_charts(reports) == monitor_charts(shuffled)


def test_hostile_column_names_are_escaped_everywhere():
    report = monitor_summary(0, {HOSTILE: 0.4}, live=0.5)
    report["quality"]["metric"] = HOSTILE
    report["verdict"] = HOSTILE

    markup = str(monitor_charts([report]))

    assert "<script>" not in markup and "onmouseover='" not in markup
    root = parse(markup)
    assert HOSTILE in text_of(root)
    assert not [e for e in root.iter() if any(k.startswith("on") for k in e.attrib)]


@pytest.mark.parametrize(
    "damaged",
    [
        [None, "x", 3],
        [{}],
        [{"window": "yesterday", "top_columns": "a", "quality": [1]}],
        [{"window": {"end": None}, "top_columns": [{"column": "a", "psi": "high"}, None]}],
        [{"top_columns": [{"column": "a", "psi": float("nan")}], "rows": "many"}],
        [{"quality": {"live_value": 0.5, "evaluation_value": 0.5}}],
    ],
)
def test_old_or_damaged_reports_render_without_raising(damaged):
    markup = monitor_charts(damaged)
    parse(markup)
