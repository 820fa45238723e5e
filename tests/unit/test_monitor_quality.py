"""Live quality and the report's verdict: labels joined by request id and row, scored with the
gate's metric, compared with the version's evaluation score."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model_runtime.monitoring.capture_files import capture_frames
from model_runtime.monitoring.quality import collect_labels, join_keyed, live_quality
from model_runtime.monitoring.report import verdict
from registry.monitoring_reports import Verdict

CAPTURES = [
    {
        "message": "capture",
        "model": "m",
        "version": "1",
        "request_id": rid,
        "inputs": i,
        "outputs": o,
    }
    for rid, i, o in [
        ("a", [[1.0], [2.0], [3.0]], [0, 1, 2]),
        ("b", [[4.0]], [1]),
        ("c", [[5.0]], [None]),  # no answer for that row
    ]
]


def test_labels_of_both_forms_are_collected_per_model_and_a_later_one_corrects():
    records = [
        {
            "message": "feedback",
            "model": "m",
            "labels": [{"request_id": "a", "row": 1, "label": 0}],
        },
        {"model": "m", "request_id": "a", "row": 1, "label": 1},  # a correction, in bulk
        {"model": "m", "request_id": "b", "label": 0},  # row defaults to 0
        {"model": "other", "request_id": "a", "label": 5},
        {"model": "m", "request_id": "x", "row": -1, "label": 1},  # not a row
        {"model": "m", "request_id": "y", "row": 0},  # no label
        {"message": "capture", "model": "m", "request_id": "z"},
    ]
    labels = collect_labels(records, {"m"})
    assert labels == {"m": {("a", 1): 1, ("b", 0): 0}}


def test_join_takes_the_labelled_rows_by_request_and_row_and_reads_labels_as_the_model_answers():
    (frames,) = capture_frames(CAPTURES, model="m", signatures={"1": (["x"], ["y"])}).values()
    labels = {("a", 0): "0", ("a", 2): 1, ("b", 0): 1, ("c", 0): 1, ("zz", 0): 1}
    truths, predictions = join_keyed(frames.keys, frames.outputs["y"], labels)
    # a: rows 0 and 2 (a label sent as text reads as the model's number); b: its row 0;
    # c answered nothing; zz was never captured
    assert predictions == [0, 2, 1]
    assert truths == [0, 1, 1]


def test_live_metric_against_the_evaluation_score():
    evaluation = {"metric": "accuracy", "value": 0.9}
    good = live_quality(evaluation, [1] * 30, [1] * 30, 0.05)
    assert good.live_value == 1.0 and good.drop == pytest.approx(-0.1) and not good.degraded
    worse = live_quality(evaluation, [1] * 30, [1] * 25 + [0] * 5, 0.05)
    assert worse.drop == pytest.approx(0.9 - 25 / 30) and worse.degraded
    few = live_quality(evaluation, [1] * 5, [0] * 5, 0.05)
    assert few.live_value == 0.0 and not few.degraded  # too few labels to judge
    errors = live_quality({"metric": "rmse", "value": 1.0}, [1.0] * 30, [3.0] * 30, 0.5)
    assert errors.direction == "minimize" and errors.drop == pytest.approx(1.0) and errors.degraded


def test_no_metric_or_no_label_gives_no_quality_and_bad_labels_say_why():
    assert live_quality(None, [1], [1], 0.05) is None
    assert live_quality({"metric": "accuracy", "value": 1}, [], [], 0.05) is None
    broken = live_quality({"metric": "rmse", "value": 1.0}, ["a"] * 30, [1.0] * 30, 0.05)
    assert broken.live_value is None and broken.error and not broken.degraded


@given(
    has_baseline=st.booleans(),
    rows=st.integers(0, 1000),
    drifted=st.booleans(),
    degraded=st.booleans(),
)
def test_the_verdict_is_the_worst_that_applies(has_baseline, rows, drifted, degraded):
    said = verdict(
        has_baseline=has_baseline, rows=rows, min_rows=100, drifted=drifted, degraded=degraded
    )
    if degraded:
        assert said is Verdict.QUALITY
    elif not has_baseline:
        assert said is Verdict.NO_BASELINE
    elif rows < 100:
        assert said is Verdict.NO_TRAFFIC
    else:
        assert said is (Verdict.DRIFT if drifted else Verdict.OK)


def test_a_report_of_many_drifted_columns_keeps_its_summary_and_event_small():
    import json
    from datetime import UTC, datetime

    from model_runtime.jobs.monitor import events_of
    from model_runtime.monitoring.report import (
        NAMED_DRIFTED,
        Window,
        build_report,
        summary,
    )
    from registry.monitoring_reports import Role
    from registry.monitoring_settings import MonitoringSettings

    # GIVEN 2000 drifted columns with 256-character names (what a baseline may profile)
    columns = [
        {"column": f"{i:04d}" + "x" * 252, "psi": 1.0 + i / 10_000, "drifted": True}
        for i in range(2000)
    ]
    end = datetime(2026, 12, 7, tzinfo=UTC)
    report = build_report(
        model="wide",
        version="1",
        role=Role.LIVE,
        environment="unit",
        window=Window.ending(end, 24),
        settings=MonitoringSettings(),
        requests=500,
        rows=500,
        baseline_present=True,
        drift={"columns": columns, "outputs": []},
        quality=None,
        truncated=None,
        location="s3://b/k",
        generated_at=end,
    )
    # THEN the report names every one, its summary and its event the most drifted only
    assert report["drifted_count"] == 2000 and len(report["drifted_columns"]) == 2000
    kept = summary(report)
    assert len(kept["drifted_columns"]) == NAMED_DRIFTED and kept["drifted_count"] == 2000
    assert len(json.dumps(kept)) < 100_000  # a DynamoDB item holds 400 KB
    (event,) = events_of(report)
    detail = json.loads(event["Detail"])
    assert len(detail["columns"]) == NAMED_DRIFTED and detail["drifted_count"] == 2000
    assert detail["columns"][0]["column"].startswith("1999")  # the most drifted first
    assert len(event["Detail"]) < 64_000  # an EventBridge entry holds 256 KB
