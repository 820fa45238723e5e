"""Monitoring on the embedded cloud, for real: live models answer requests through their
Function URL, the endpoint captures them, CloudWatch Logs and Firehose deliver them to the
bucket, feedback takes the same path, the deployed monitor job judges them, its alarm changes
state, and its event reaches an EventBridge rule the test made.

GIVEN two live models with baselines, one sent the traffic it was trained on and one the same
traffic with one column shifted, and labels for some requests; WHEN the job runs; THEN the
shifted column is named, the live metric computed, the alarm fires and the event arrives;
the unshifted model raises nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from examples.iris.train import FEATURES
from registry.monitoring_reports import EVENT_SOURCE
from registry.names import CAPTURE_PREFIX, FEEDBACK_PREFIX
from slipway.cli import app
from tests.monitoring_fixtures import iris_requests, rebundle
from tests.workflow.conftest import point_cli_at
from tests.workflow.signed_http import local_http

runner = CliRunner()
SHIFTED = "petal_length"
REQUESTS = 150  # the local environment's min_rows is 50; capture_rate 1.0


def live(deployed, iris_bundle, tmp_path, name: str) -> None:
    bundle = rebundle(iris_bundle[0], tmp_path / f"{name}.tar.gz", baseline=True, name=name)
    execution = deployed.push(bundle, name, "1")
    assert deployed.wait_for_execution(execution)["status"] == "SUCCEEDED"


def predict(deployed, name: str, requests: list[dict[str, Any]]) -> list[str]:
    """Each request through the model's Function URL; the request ids its answers carry."""
    ids = []
    for request in requests:
        answer = local_http.post(
            f"{deployed.endpoint}/v1/models/{name}/predict",
            content=json.dumps({"inputs": request["inputs"]}),
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-request-id"] == answer.json()["request_id"]
        ids.append(answer.json()["request_id"])
    return ids


def delivered(deployed, prefix: str, model: str) -> int:
    """Captured rows (or labels) of ``model`` delivered under ``prefix`` so far."""
    from model_runtime.monitoring.capture_files import read_records

    s3 = deployed.client("s3")
    listed = s3.list_objects_v2(Bucket=deployed.bucket, Prefix=prefix).get("Contents", [])
    bodies = (s3.get_object(Bucket=deployed.bucket, Key=o["Key"])["Body"].read() for o in listed)
    count = 0
    for record in read_records(bodies):
        if record.get("model") == model:
            count += len(record.get("labels") or record.get("inputs") or [])
    return count


def wait_for_delivery(deployed, prefix: str, model: str, count: int, timeout: float = 60) -> None:
    """Until ``count`` rows (or labels) of ``model`` are in the bucket: the log group, the
    subscription filter and Firehose deliver them in their own time."""
    deadline = time.monotonic() + timeout
    while (found := delivered(deployed, prefix, model)) < count:
        assert time.monotonic() < deadline, f"{found} of {count} delivered under {prefix}"
        time.sleep(0.5)


def monitor(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["monitor", *args, "--env", "local", "--json"])
    assert result.exit_code in (0, 1), (result.output, result.exception)
    return json.loads(result.stdout)


def alarm_state(deployed, metric: str) -> str:
    (alarm,) = [
        a
        for a in deployed.client("cloudwatch").describe_alarms()["MetricAlarms"]
        if a.get("MetricName") == metric
        and {"Name": "environment", "Value": "local"} in a.get("Dimensions", [])
    ]
    return str(alarm["StateValue"])


@pytest.fixture
def caught(deployed):
    """An EventBridge rule for the job's events, delivering to a queue of the test's own."""
    events, sqs = deployed.client("events"), deployed.client("sqs")
    queue = sqs.create_queue(QueueName="monitoring-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    events.put_rule(Name="monitoring-events", EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
    events.put_targets(
        Rule="monitoring-events",
        Targets=[{"Id": "queue", "Arn": arn["Attributes"]["QueueArn"]}],
    )

    def receive() -> list[dict[str, Any]]:
        found = []
        while True:
            got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            if not got.get("Messages"):
                return found
            for message in got["Messages"]:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    yield receive
    events.remove_targets(Rule="monitoring-events", Ids=["queue"])
    events.delete_rule(Name="monitoring-events")
    sqs.delete_queue(QueueUrl=queue)


def test_a_planted_shift_is_named_alarmed_and_announced_and_steady_traffic_is_not(
    deployed, iris_bundle, tmp_path, monkeypatch, caught
):
    point_cli_at(deployed, tmp_path, monkeypatch)
    live(deployed, iris_bundle, tmp_path, "steady")
    live(deployed, iris_bundle, tmp_path, "shifting")

    # GIVEN steady traffic only, and labels for some of it
    predict(deployed, "steady", iris_requests(REQUESTS, seed=11))
    wait_for_delivery(deployed, CAPTURE_PREFIX, "steady", REQUESTS)

    # WHEN the job judges every live model (as the schedule does)
    function = deployed.outputs["MonitorFunctionName"]
    answer = json.loads(
        deployed.client("lambda").invoke(FunctionName=function, Payload=b"{}")["Payload"].read()
    )

    # THEN the steady model is ok, nothing is announced, and the alarm says OK: a run over
    # every model writes the environment's VersionsDrifting count, zero included (Maximum
    # over five minutes, missing data ignored), and the embedded cloud judges the alarm as
    # that datapoint arrives, so it leaves INSUFFICIENT_DATA for OK (no other model of this
    # deployment has enough captured rows for a verdict, so none counts as drifting)
    (steady,) = [r for r in answer["reports"] if r["model"] == "steady"]
    assert steady["verdict"] == "ok", steady
    assert caught() == []
    assert alarm_state(deployed, "VersionsDrifting") == "OK"

    # GIVEN the other model's traffic with one column shifted, and labels for some of it
    requests = iris_requests(REQUESTS, seed=12, shift={SHIFTED: 2.5})
    ids = predict(deployed, "shifting", requests)
    labels = [
        {"request_id": request_id, "row": 0, "label": request["labels"][0]}
        for request_id, request in zip(ids[:60], requests[:60], strict=True)
    ]
    sent = local_http.post(
        f"{deployed.endpoint}/v1/models/shifting/feedback",
        content=json.dumps({"labels": labels}),
    )
    assert sent.status_code == 202, sent.text
    wait_for_delivery(deployed, CAPTURE_PREFIX, "shifting", REQUESTS)
    wait_for_delivery(deployed, FEEDBACK_PREFIX, "shifting", len(labels))

    # WHEN the job runs again, over every model
    answer = json.loads(
        deployed.client("lambda").invoke(FunctionName=function, Payload=b"{}")["Payload"].read()
    )

    # THEN the shifted column is named, and only it among the inputs
    (shifting,) = [r for r in answer["reports"] if r["model"] == "shifting"]
    # drift, and (the shifted rows fool the model) quality: the verdict is the worse of them
    assert shifting["verdict"] in ("drift", "quality"), shifting
    inputs_drifted = [c for c in shifting["drifted_columns"] if c in FEATURES]
    assert inputs_drifted == [SHIFTED]
    # the live metric is computed from the labels, against the version's evaluation score
    quality = shifting["quality"]
    assert quality["metric"] == "accuracy" and quality["labelled_rows"] == 60
    assert quality["live_value"] is not None and quality["evaluation_value"] is not None
    # the steady model still raises nothing
    (steady,) = [r for r in answer["reports"] if r["model"] == "steady"]
    assert steady["verdict"] == "ok"
    # the alarm fires, and the event reaches the rule, naming the column and the report
    assert alarm_state(deployed, "VersionsDrifting") == "ALARM"
    (event,) = [e for e in caught() if e["detail-type"] == "Model Drift Detected"]
    assert event["detail"]["model"] == "shifting" and event["detail"]["environment"] == "local"
    assert SHIFTED in [c["column"] for c in event["detail"]["columns"]]
    report_key = event["detail"]["report"].split(f"s3://{deployed.bucket}/", 1)[1]
    report = json.loads(
        deployed.client("s3").get_object(Bucket=deployed.bucket, Key=report_key)["Body"].read()
    )
    assert report["columns"][0]["column"] == SHIFTED

    # and people read the same through the registry API
    shown = monitor("shifting")
    assert shown["reports"][0]["verdict"] == shifting["verdict"]
    assert shown["reports"][0]["top_columns"][0]["column"] == SHIFTED
    text = runner.invoke(app, ["monitor", "shifting", "--env", "local"])
    verdict = shifting["verdict"].upper()
    assert text.exit_code == 0 and text.stdout.startswith(f"shifting 1: {verdict}")
    assert f"{SHIFTED}: PSI" in text.stdout
    # and the version's lineage lists its reports
    lineage = runner.invoke(app, ["lineage", "shifting", "1", "--env", "local", "--json"])
    assert lineage.exit_code == 0, lineage.output
    (newest, *_) = json.loads(lineage.stdout)["monitoring"]
    assert (
        newest["verdict"] == shifting["verdict"] and newest["report"] == event["detail"]["report"]
    )


def test_monitor_run_judges_one_model_now(deployed, iris_bundle, tmp_path, monkeypatch):
    point_cli_at(deployed, tmp_path, monkeypatch)
    live(deployed, iris_bundle, tmp_path, "asked")
    predict(deployed, "asked", iris_requests(REQUESTS, seed=11))
    wait_for_delivery(deployed, CAPTURE_PREFIX, "asked", REQUESTS)

    answer = monitor("run", "asked")

    assert [(r["model"], r["verdict"]) for r in answer["reports"]] == [("asked", "ok")]
    assert answer["failures"] == []
    text = runner.invoke(app, ["monitor", "run", "asked", "--env", "local"])
    assert text.exit_code == 0 and "asked 1 (live): OK" in text.stdout
