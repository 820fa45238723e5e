"""Data capture on the embedded cloud: a request through the Function URL becomes a line in
the endpoint's log group, the subscription filter hands it to Firehose, and Firehose writes it
under capture/ (feedback under feedback/), as the templates say it does in AWS."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from examples.iris.train import train_and_package
from tests.workflow.signed_http import local_http

pytestmark = pytest.mark.workflow
ROW = [5.1, 3.5, 1.4, 0.2]


def delivered(deployed, prefix: str, needle: str, timeout: float = 10) -> list[dict]:
    """Every JSON line under ``prefix`` in the objects that mention ``needle``."""
    s3 = deployed.client("s3")
    deadline = time.monotonic() + timeout
    while True:
        found = []
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=deployed.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=deployed.bucket, Key=item["Key"])["Body"].read()
                assert item["Key"].endswith(".gz"), item["Key"]  # GZIP, as configured
                text = gzip.decompress(body).decode()
                if needle in text:
                    found += [json.loads(line) for line in text.splitlines()]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_live_request_and_its_feedback_land_in_the_bucket(deployed, tmp_path):
    bundle = tmp_path / "capture-iris-1.tar.gz"
    train_and_package(bundle, name="capture-iris", version="1")
    assert (
        deployed.wait_for_execution(deployed.push(bundle, "capture-iris", "1"))["status"]
        == "SUCCEEDED"
    )
    url = f"{deployed.endpoint}/v1/models/capture-iris/predict"
    answer = local_http.post(url, json={"inputs": [ROW]})
    assert answer.status_code == 200, answer.text
    request_id = answer.json()["request_id"]
    assert answer.headers["x-request-id"] == request_id

    lines = delivered(deployed, "capture/", request_id)
    (line,) = [line for line in lines if line.get("request_id") == request_id]
    assert all(line["message"] == "capture" for line in lines)  # no other log line passes
    assert (line["model"], line["version"], line["environment"]) == ("capture-iris", "1", "local")
    assert line["inputs"] == [ROW] and line["outputs"] == answer.json()["outputs"]

    # staging traffic is never captured: the live endpoint refuses the staging route (the
    # candidate function serves it to the gate, and has no Function URL and no capture path)
    staging = local_http.post(f"{url}?stage=staging", json={"inputs": [ROW]})
    assert staging.status_code == 404 and "promotion gate" in staging.json()["detail"]
    # a pinned version is served and not captured: a live request sent after it is, and once
    # that is in the bucket the pinned one would be too (one endpoint's log lines reach
    # Firehose in order)
    pinned = local_http.post(
        f"{deployed.endpoint}/v1/models/capture-iris/versions/1/predict", json={"inputs": [ROW]}
    )
    assert pinned.status_code == 200, pinned.text
    after = local_http.post(f"{url}?stage=live", json={"inputs": [ROW]}).json()["request_id"]
    assert delivered(deployed, "capture/", after)  # ?stage=live is live traffic
    assert delivered(deployed, "capture/", pinned.json()["request_id"], timeout=0) == []

    feedback = local_http.post(
        f"{deployed.endpoint}/v1/models/capture-iris/feedback",
        json={"labels": [{"request_id": request_id, "label": 0}]},
    )
    assert feedback.status_code == 202, feedback.text
    (labels,) = delivered(deployed, "feedback/", request_id)
    assert labels["labels"] == [{"request_id": request_id, "row": 0, "label": 0}]
    assert labels["model"] == "capture-iris"
