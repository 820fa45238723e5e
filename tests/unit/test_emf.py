"""The embedded cloud reads embedded-metric-format lines the way CloudWatch Logs does."""

from __future__ import annotations

import json

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
