"""The embedded cloud reads embedded-metric-format lines the way CloudWatch Logs does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from functions.canary.metrics import serving_stats
from model_runtime.serving.metrics import Served, Traffic, emit_request_metrics
from registry.environment import ENVIRONMENT_NAME
from slipway.local.emf import metric_data_from_logs


@pytest.fixture(autouse=True)
def deployed(monkeypatch):
    """As infra deploys the endpoint: into an environment, by name."""
    monkeypatch.setenv(ENVIRONMENT_NAME, "rehearsal")


def test_serving_metrics_round_trip_into_metric_data(capsys):
    emit_request_metrics(Served("iris", "3", Traffic.LIVE), 422, 12.5, function_name="fn")
    logs = "START RequestId: x\n" + capsys.readouterr().out + 'not json\n{"no": 1}\n'
    ((namespace, data),) = metric_data_from_logs(logs).items()
    assert namespace == "Slipway"
    per_version = {d["MetricName"]: d for d in data if len(d["Dimensions"]) == 3}
    assert per_version["SchemaRejections"]["Value"] == 1.0
    assert per_version["Latency"]["Value"] == 12.5
    assert per_version["Latency"]["Unit"] == "Milliseconds"
    assert per_version["Invocations"]["Dimensions"] == [
        {"Name": "model", "Value": "iris"},
        {"Name": "version", "Value": "3"},
        {"Name": "environment", "Value": "rehearsal"},
    ]
    # AND the same request counts in the function's own series, every metric of it
    per_function = {d["MetricName"]: d for d in data if len(d["Dimensions"]) == 1}
    assert set(per_function) == set(per_version)
    assert per_function["Invocations"]["Dimensions"] == [{"Name": "function_name", "Value": "fn"}]


def test_a_5xx_no_model_answered_counts_in_the_functions_series_alone(capsys):
    # GIVEN a request that failed before any model was chosen (the registry unreachable)
    emit_request_metrics(None, 500, 3.0, "req-1", "slipway-prod-endpoint", "/v1/models/x/predict")
    line = capsys.readouterr().out
    # THEN CloudWatch extracts an Errors datapoint per function, and none per model version
    ((_, data),) = metric_data_from_logs(line).items()
    errors = [d for d in data if d["MetricName"] == "Errors"]
    assert errors == [
        {
            "MetricName": "Errors",
            "Value": 1.0,
            "Unit": "Count",
            "Timestamp": errors[0]["Timestamp"],
            "Dimensions": [{"Name": "function_name", "Value": "slipway-prod-endpoint"}],
        }
    ]
    record = json.loads(line)
    assert (record["message"], record["path"], record["status"]) == (
        "request",
        "/v1/models/x/predict",
        500,
    )


def test_broken_emf_lines_are_skipped():
    line = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N"}]}})
    assert metric_data_from_logs(line) == {}


def test_staging_and_pinned_traffic_stay_out_of_the_live_series(capsys):
    # the canary check and the dashboard read exactly (model, version, environment): live
    # traffic only
    emit_request_metrics(Served("iris", "3", Traffic.STAGING), 422, 1.0)
    emit_request_metrics(Served("iris", "3", Traffic.PINNED), 200, 1.0)
    ((_, data),) = metric_data_from_logs(capsys.readouterr().out).items()
    per_version = [d for d in data if len(d["Dimensions"]) != 1]  # the function's aside
    traffic = {d["Dimensions"][2]["Value"] for d in per_version if d["MetricName"] == "Invocations"}
    assert traffic == {"staging", "pinned"}
    assert all(len(d["Dimensions"]) == 4 for d in per_version)


@pytest.mark.parametrize(
    ("traffic", "status"),
    [
        (Traffic.LIVE, 200),
        (Traffic.LIVE, 503),
        (Traffic.STAGING, 422),
        (Traffic.PINNED, 200),
        (None, 500),  # no model answered
    ],
)
@pytest.mark.parametrize("request_id", ["6f9b0c1e-request", None])
def test_the_request_line_is_the_one_powertools_writes(capsys, traffic, status, request_id):
    # GIVEN the blob Powertools' EphemeralMetrics builds for one request's metrics
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    metrics = EphemeralMetrics(namespace="Slipway")
    if traffic is None:
        metrics.add_dimension("function_name", "slipway-endpoint")
    else:
        metrics.add_dimension("model", "iris")
        metrics.add_dimension("version", "3")
        if traffic is not Traffic.LIVE:
            metrics.add_dimension("traffic", traffic.value)
        metrics.add_dimension("environment", "rehearsal")
        metrics.add_dimensions(function_name="slipway-endpoint")  # a second dimension set
    metrics.add_metric("Invocations", MetricUnit.Count, 1)
    metrics.add_metric("Errors", MetricUnit.Count, 1 if status >= 500 else 0)
    metrics.add_metric("SchemaRejections", MetricUnit.Count, 1 if status == 422 else 0)
    metrics.add_metric("Latency", MetricUnit.Milliseconds, round(12.3456, 3))  # as the endpoint did
    if traffic is Traffic.LIVE:
        metrics.add_metadata("traffic", "live")  # a field of the record, not a dimension
    if traffic is None:
        metrics.add_metadata("message", "request")
        metrics.add_metadata("path", "/v1/models/iris/predict")
    else:
        metrics.add_metadata("message", "prediction")
    metrics.add_metadata("status", status)
    if request_id is not None:
        metrics.add_metadata("function_request_id", request_id)
    metrics.flush_metrics()
    powertools = json.loads(capsys.readouterr().out)
    # WHEN the endpoint writes its own
    served = None if traffic is None else Served("iris", "3", traffic)
    emit_request_metrics(
        served, status, 12.3456, request_id, "slipway-endpoint", "/v1/models/iris/predict"
    )
    ours = json.loads(capsys.readouterr().out)
    # THEN they are the same, key order included, but for the time
    assert abs(ours["_aws"].pop("Timestamp") - powertools["_aws"].pop("Timestamp")) < 5000
    assert list(ours) == list(powertools) and ours == powertools


def test_two_environments_lines_land_in_series_of_their_own(capsys, monkeypatch):
    """Environments may share an account and region (the embedded cloud's local and rehearsal
    always do): one's canary must never count the requests the other's endpoint served."""
    # GIVEN the same model version served in two environments: failing in rehearsal
    for environment, status, requests in (("local", 200, 3), ("rehearsal", 500, 5)):
        monkeypatch.setenv(ENVIRONMENT_NAME, environment)
        for _ in range(requests):
            served = Served("iris", "3", Traffic.LIVE)
            emit_request_metrics(served, status, 2.0, function_name=f"slipway-{environment}-ep")
    # WHEN CloudWatch extracts the lines (as the embedded cloud does)
    from slipway.local.moto_patches import teach_percentile_statistics

    teach_percentile_statistics()  # AWS has them; the canary reads p99
    logs = capsys.readouterr().out
    start = datetime.now(UTC) - timedelta(minutes=1)
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        for namespace, data in metric_data_from_logs(logs).items():
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
        end = datetime.now(UTC) + timedelta(minutes=1)
        # THEN each environment's canary reads its own requests, none of the other's
        local = serving_stats(cloudwatch, "local", "iris", "3", start, end)
        rehearsal = serving_stats(cloudwatch, "rehearsal", "iris", "3", start, end)
    assert (local.invocations, local.errors) == (3, 0)
    assert (rehearsal.invocations, rehearsal.errors) == (5, 5)
