"""The embedded cloud reads embedded-metric-format lines the way CloudWatch Logs does."""

from __future__ import annotations

import json

import pytest

from model_runtime.serving.metrics import Served, Traffic, emit_request_metrics
from slipway.local.emf import metric_data_from_logs


def test_serving_metrics_round_trip_into_metric_data(capsys):
    emit_request_metrics(Served("iris", "3", Traffic.LIVE), 422, 12.5)
    logs = "START RequestId: x\n" + capsys.readouterr().out + 'not json\n{"no": 1}\n'
    ((namespace, data),) = metric_data_from_logs(logs).items()
    assert namespace == "Slipway"
    by_name = {d["MetricName"]: d for d in data}
    assert by_name["SchemaRejections"]["Value"] == 1.0
    assert by_name["Latency"]["Value"] == 12.5
    assert by_name["Latency"]["Unit"] == "Milliseconds"
    assert by_name["Invocations"]["Dimensions"] == [
        {"Name": "model", "Value": "iris"},
        {"Name": "version", "Value": "3"},
    ]


def test_broken_emf_lines_are_skipped():
    line = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N"}]}})
    assert metric_data_from_logs(line) == {}


def test_staging_and_pinned_traffic_stay_out_of_the_live_series(capsys):
    # the canary check and the dashboard read exactly (model, version): live traffic only
    emit_request_metrics(Served("iris", "3", Traffic.STAGING), 422, 1.0)
    emit_request_metrics(Served("iris", "3", Traffic.PINNED), 200, 1.0)
    ((_, data),) = metric_data_from_logs(capsys.readouterr().out).items()
    traffic = {d["Dimensions"][2]["Value"] for d in data if d["MetricName"] == "Invocations"}
    assert traffic == {"staging", "pinned"}
    assert all(len(d["Dimensions"]) == 3 for d in data)


@pytest.mark.parametrize(
    ("traffic", "status"),
    [(Traffic.LIVE, 200), (Traffic.LIVE, 503), (Traffic.STAGING, 422), (Traffic.PINNED, 200)],
)
@pytest.mark.parametrize("request_id", ["6f9b0c1e-request", None])
def test_the_request_line_is_the_one_powertools_writes(capsys, traffic, status, request_id):
    # GIVEN the blob Powertools' EphemeralMetrics builds for one request's metrics
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    metrics = EphemeralMetrics(namespace="Slipway")
    metrics.add_dimension("model", "iris")
    metrics.add_dimension("version", "3")
    if traffic is not Traffic.LIVE:
        metrics.add_dimension("traffic", traffic.value)
    metrics.add_metric("Invocations", MetricUnit.Count, 1)
    metrics.add_metric("Errors", MetricUnit.Count, 1 if status >= 500 else 0)
    metrics.add_metric("SchemaRejections", MetricUnit.Count, 1 if status == 422 else 0)
    metrics.add_metric("Latency", MetricUnit.Milliseconds, round(12.3456, 3))  # as the endpoint did
    if traffic is Traffic.LIVE:
        metrics.add_metadata("traffic", "live")  # a field of the record, not a dimension
    metrics.add_metadata("message", "prediction")
    metrics.add_metadata("status", status)
    if request_id is not None:
        metrics.add_metadata("function_request_id", request_id)
    metrics.flush_metrics()
    powertools = json.loads(capsys.readouterr().out)
    # WHEN the endpoint writes its own
    emit_request_metrics(Served("iris", "3", traffic), status, 12.3456, request_id)
    ours = json.loads(capsys.readouterr().out)
    # THEN they are the same, key order included, but for the time
    assert abs(ours["_aws"].pop("Timestamp") - powertools["_aws"].pop("Timestamp")) < 5000
    assert list(ours) == list(powertools) and ours == powertools
