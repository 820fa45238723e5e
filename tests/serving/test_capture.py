"""Data capture and feedback: the log lines a subscription filter hands to Firehose."""

from __future__ import annotations

import json

import pytest

from model_runtime.serving import capture
from registry.monitoring_settings import (
    MAX_CAPTURE_LINE_BYTES,
    MONITORING,
    monitoring_settings,
)
from tests.serving import test_handler
from tests.serving.test_handler import call, function_url_event

pytestmark = [pytest.mark.serving, pytest.mark.usefixtures("live_iris")]
live_iris = test_handler.live_iris  # the live iris model in moto, for every test here
ROW = [5.1, 3.5, 1.4, 0.2]


@pytest.fixture
def capture_settings(monkeypatch):
    """Set the endpoint's monitoring variable as infra would, for one test."""

    def apply(settings: dict) -> None:
        monkeypatch.setenv(MONITORING, json.dumps(settings))
        monitoring_settings.cache_clear()
        capture._capture_of.cache_clear()

    yield apply
    monkeypatch.delenv(MONITORING, raising=False)
    monitoring_settings.cache_clear()
    capture._capture_of.cache_clear()


def lines_of(out: str, message: str) -> list[dict]:
    return [
        record
        for record in (json.loads(line) for line in out.splitlines() if line.startswith("{"))
        if record.get("message") == message
    ]


def test_a_captured_live_request_names_its_request_id_version_inputs_and_outputs(
    capture_settings, capsys
):
    capture_settings({"capture_rate": 1.0})
    status, headers, body = call(
        function_url_event("/v1/models/iris/predict", json.dumps({"inputs": [ROW, ROW]}))
    )
    assert status == 200
    (line,) = lines_of(capsys.readouterr().out, "capture")
    assert line["request_id"] == body["request_id"] == headers["x-request-id"]
    assert (line["model"], line["version"], line["environment"]) == ("iris", "1", "rehearsal")
    assert line["inputs"] == [ROW, ROW] and line["outputs"] == body["outputs"]
    assert (line["rows"], line["truncated"], line["excluded"]) == (2, False, [])
    assert line["traffic"] == "live" and line["capture_format"] == 1
    assert abs(line["time_ms"] / 1000 - __import__("time").time()) < 60


def test_staging_and_pinned_requests_and_a_zero_rate_capture_nothing(capture_settings, capsys):
    capture_settings({"capture_rate": 1.0})
    body = json.dumps({"inputs": [ROW]})
    call(function_url_event("/v1/models/iris/versions/1/predict", body))
    assert lines_of(capsys.readouterr().out, "capture") == []
    capture_settings({"capture_rate": 1.0, "models": {"iris": {"capture_rate": 0.0}}})
    call(function_url_event("/v1/models/iris/predict", body))
    assert lines_of(capsys.readouterr().out, "capture") == []


def test_a_capture_rate_samples_about_that_share(capture_settings, capsys):
    capture_settings({"capture_rate": 0.25})
    body = json.dumps({"inputs": [ROW]})
    for _ in range(400):
        call(function_url_event("/v1/models/iris/predict", body))
    captured = len(lines_of(capsys.readouterr().out, "capture"))
    assert 50 <= captured <= 150  # binomial(400, 0.25): mean 100, sd 8.7


def test_excluded_columns_never_reach_the_line(capture_settings, capsys):
    capture_settings({"capture_rate": 1.0, "models": {"iris": {"exclude": ["sepal_width"]}}})
    record = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    call(function_url_event("/v1/models/iris/predict", json.dumps({"inputs": [record, ROW]})))
    out = capsys.readouterr().out
    (line,) = lines_of(out, "capture")
    assert line["inputs"][0] == {k: v for k, v in record.items() if k != "sepal_width"}
    assert line["inputs"][1] == [5.1, None, 1.4, 0.2]  # by position: null, not shifted
    assert line["excluded"] == ["sepal_width"]
    assert "3.5" not in json.dumps(line["inputs"])


def test_an_excluded_column_spelt_in_another_case_is_still_left_out(capture_settings, capsys):
    # GIVEN a setting that names iris's sepal_width in capitals, and a column no model has
    capture_settings(
        {"capture_rate": 1.0, "models": {"iris": {"exclude": ["SEPAL_Width", "no_such"]}}}
    )
    record = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    # WHEN rows come by name and by position
    call(function_url_event("/v1/models/iris/predict", json.dumps({"inputs": [record, ROW]})))
    # THEN the column's values never reach the line, which names it as the signature does
    (line,) = lines_of(capsys.readouterr().out, "capture")
    assert "sepal_width" not in line["inputs"][0]
    assert line["inputs"][1] == [5.1, None, 1.4, 0.2]
    assert "3.5" not in json.dumps(line["inputs"])
    assert line["excluded"] == ["no_such", "sepal_width"]


def test_a_request_too_big_for_one_log_event_captures_its_first_rows(
    capture_settings, capsys, monkeypatch
):
    capture_settings({"capture_rate": 1.0})
    rows = [[5.1 + i / 1e6, 3.5, 1.4, 0.2] for i in range(1000)]
    monkeypatch.setattr(capture, "MAX_CAPTURE_LINE_BYTES", 4000)  # 1000 rows take ~30 KB
    call(function_url_event("/v1/models/iris/predict", json.dumps({"inputs": rows})))
    out = capsys.readouterr().out
    (line,) = lines_of(out, "capture")
    raw = next(text for text in out.splitlines() if '"message":"capture"' in text)
    assert len(raw.encode()) <= 4000
    assert (line["rows"], line["truncated"]) == (1000, True)
    assert 50 < len(line["inputs"]) == len(line["outputs"]) < 1000
    assert line["inputs"] == rows[: len(line["inputs"])]
    assert MAX_CAPTURE_LINE_BYTES < 256 * 1024  # CloudWatch Logs' event limit


def test_the_line_budget_keeps_rows_and_outputs_paired(capture_settings):
    capture_settings({"capture_rate": 1.0})
    rows = [["x" * 1000] for _ in range(500)]  # about 500 KB: over one event
    text = capture._rows_and_outputs(rows, list(range(500)), 100_000)
    part = json.loads("{" + text[1:] + "}")
    assert part["truncated"] is True
    assert len(part["inputs"]) == len(part["outputs"]) == 99  # 1,008 bytes a pair
    assert len(text) <= 100_000
    whole = json.loads("{" + capture._rows_and_outputs([[1]], [2], 1000)[1:] + "}")
    assert whole == {"inputs": [[1]], "outputs": [2], "truncated": False}


def test_feedback_is_one_line_of_labels_for_earlier_requests(capsys):
    labels = [
        {"request_id": "6f9b0c1e-test-request", "row": 0, "label": 2},
        {"request_id": "6f9b0c1e-test-request", "row": 1, "label": "setosa"},
        {"request_id": "abc", "label": None},
    ]
    status, _, body = call(
        function_url_event("/v1/models/iris/feedback", json.dumps({"labels": labels}))
    )
    assert (status, body) == (202, {"model": "iris", "accepted": 3})
    (line,) = lines_of(capsys.readouterr().out, "feedback")
    assert line["labels"][2] == {"request_id": "abc", "row": 0, "label": None}
    assert (line["model"], line["environment"]) == ("iris", "rehearsal")


@pytest.mark.parametrize(
    ("labels", "status", "detail"),
    [
        ([{"request_id": "a b", "label": 1}], 400, "labels.0.request_id"),
        ([{"request_id": "a", "label": 1, "extra": 1}], 400, "unknown field"),
        ([{"request_id": "a", "label": {"nested": 1}}], 400, "labels.0.label"),
        ([{"request_id": "a", "row": -1, "label": 1}], 400, "labels.0.row"),
        ([{"request_id": "a", "label": "x" * 257}], 400, "labels.0.label"),
        ([{"request_id": "a", "label": 1}] * 1001, 400, "at most 1000"),
        ([{"request_id": "a" * 64, "label": "\u2028" * 256}] * 1000, 413, "fewer labels"),
        ([], 400, "at least 1"),
    ],
)
def test_bad_feedback_is_refused_with_the_reason_and_writes_nothing(capsys, labels, status, detail):
    answer_status, _, problem = call(
        function_url_event("/v1/models/iris/feedback", json.dumps({"labels": labels}))
    )
    assert answer_status == status
    assert detail in problem["detail"]
    assert lines_of(capsys.readouterr().out, "feedback") == []


def test_a_thousand_labels_of_lambda_request_ids_go_in_one_line(capsys):
    labels = [
        {"request_id": f"6f9b0c1e-0000-4000-8000-{i:012d}", "row": i % 7, "label": i % 3}
        for i in range(1000)
    ]
    status, _, body = call(
        function_url_event("/v1/models/iris/feedback", json.dumps({"labels": labels}))
    )
    assert (status, body) == (202, {"model": "iris", "accepted": 1000})
    (line,) = lines_of(capsys.readouterr().out, "feedback")
    assert line["labels"] == labels


def test_feedback_for_a_model_not_served_live_is_404(capsys):
    body = json.dumps({"labels": [{"request_id": "a", "label": 1}]})
    status, _, _ = call(function_url_event("/v1/models/nosuch/feedback", body))
    assert status == 404
    assert lines_of(capsys.readouterr().out, "feedback") == []
    status, _, _ = call(function_url_event("/v1/models/iris/feedback", '{"labels": [NaN]}'))
    assert status == 400


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param("settings", id="the monitoring variable is not valid settings"),
        pytest.param("line", id="writing the capture line fails"),
    ],
)
def test_a_capture_that_fails_costs_the_line_not_the_answer(
    capture_settings, capsys, monkeypatch, breakage
):
    import io

    from model_runtime.serving.metrics import logger

    logged = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", logged)
    # GIVEN a live model whose capture cannot be written
    if breakage == "settings":
        capture_settings({"capture_rate": 1.0})
        monkeypatch.setenv(MONITORING, '{"capture_rate": 2}')  # over 1.0: refused
        monitoring_settings.cache_clear()
        capture._capture_of.cache_clear()
    else:
        capture_settings({"capture_rate": 1.0})

        def fail(*_: object) -> str:
            raise RuntimeError("the line cannot be built")

        monkeypatch.setattr(capture, "_rows_and_outputs", fail)
    # WHEN a client asks for a prediction
    status, headers, body = call(
        function_url_event("/v1/models/iris/predict", json.dumps({"inputs": [ROW]}))
    )
    # THEN it gets its answer; the failure is logged and no capture line is written
    assert status == 200, body
    assert body["outputs"] and body["request_id"] == headers["x-request-id"]
    assert lines_of(capsys.readouterr().out, "capture") == []
    (error,) = [json.loads(line) for line in logged.getvalue().splitlines()]
    assert error["message"] == "could not capture a request of iris 1"


def test_every_answer_names_its_request_errors_and_feedback_too():
    # GIVEN the endpoint in Lambda: the id is the invocation's
    context_id = test_handler.LambdaContext().aws_request_id
    for event, status in (
        (function_url_event("/v1/models/iris/predict", json.dumps({"inputs": [ROW]})), 200),
        (function_url_event("/v1/models/iris/predict", json.dumps({"inputs": [[1.0]]})), 422),
        (function_url_event("/v1/models/nosuch/predict", json.dumps({"inputs": [ROW]})), 404),
        (function_url_event("/v1/models/iris/predict", "{not json"), 400),
        (
            function_url_event(
                "/v1/models/iris/feedback",
                json.dumps({"labels": [{"request_id": "a", "label": 1}]}),
            ),
            202,
        ),
    ):
        # WHEN it answers, whatever the answer
        answer_status, headers, _ = call(event)
        # THEN the answer carries the request id
        assert (answer_status, headers.get("x-request-id")) == (status, context_id)


def test_without_lambda_each_request_gets_its_own_id_in_header_body_and_capture(
    capture_settings, capsys
):
    from fastapi.testclient import TestClient

    from model_runtime.serving.handler import app

    capture_settings({"capture_rate": 1.0})
    client = TestClient(app)  # as under `slipway serve`: no Lambda context
    answers = [client.post("/v1/models/iris/predict", json={"inputs": [ROW]}) for _ in range(3)]
    ids = [a.headers["x-request-id"] for a in answers]
    assert [a.json()["request_id"] for a in answers] == ids
    assert [line["request_id"] for line in lines_of(capsys.readouterr().out, "capture")] == ids
    assert len(set(ids)) == 3
    missing = client.post("/v1/models/nosuch/predict", json={"inputs": [ROW]})
    assert missing.status_code == 404 and missing.headers["x-request-id"] not in ids
