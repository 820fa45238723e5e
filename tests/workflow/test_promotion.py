"""The whole loop in the embedded cloud: upload -> EventBridge -> SQS -> ingest -> Step Functions
-> Validate / Register / Promote -> endpoint over HTTP. Nothing here is mocked by us."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from examples.iris.train import train_and_package
from model_runtime.extraction import sha256_file
from registry.executions import UploadEvent, execution_name
from slipway.local.credentials import LocalCredentials, SigV4Auth
from tests.workflow.signed_http import local_http


def name_of_execution(deployed, key: str, version_id: str, size: int) -> str:
    return execution_name(UploadEvent(deployed.bucket, key, version_id, size))


@pytest.fixture(scope="package")
def live_v1(deployed, iris_bundle):
    """iris 1 uploaded and promoted; the first thing every scenario below builds on."""
    path, manifest = iris_bundle
    version_id = deployed.upload(path, "iris", "1")
    name = name_of_execution(
        deployed, "models/iris/1/bundle.tar.gz", version_id, path.stat().st_size
    )
    described = deployed.wait_for_execution(name)
    return {"execution": described, "version_id": version_id, "manifest": manifest, "path": path}


def test_upload_is_validated_registered_promoted_and_served(deployed, live_v1):
    manifest, path = live_v1["manifest"], live_v1["path"]
    # the execution succeeded
    assert live_v1["execution"]["status"] == "SUCCEEDED", live_v1["execution"]
    # the version is registered with its lineage
    item = deployed.repository.get_version("iris", "1")
    assert item["status"] == "live"
    assert item["bundle"]["digest"] == sha256_file(path)
    assert item["bundle"]["s3_version_id"] == live_v1["version_id"]
    assert item["lineage"]["code"]["commit"] == manifest.lineage.code.commit
    assert [d["sha256"] for d in item["lineage"]["datasets"]] == [
        d.sha256 for d in manifest.lineage.datasets
    ]
    train_sha = manifest.lineage.datasets[0].sha256
    assert ("iris", "1") in {
        (edge["name"], edge["version"])
        for edge in deployed.repository.versions_using_dataset(train_sha)
    }
    # the live pointer moved, and the move is audited
    assert deployed.repository.get_pointer("iris")["version"] == "1"
    steps = [(e["step"], e["outcome"]) for e in deployed.repository.audit_history("iris", "1")]
    assert steps == [
        ("provenance", "skipped"),  # local takes direct uploads
        ("register", "registered"),
        ("stage", "staged"),
        ("approval", "approved"),
        ("promote", "live"),
    ]
    # the environment's own asymmetric key (deployed by CloudFormation) signed both events
    attested = deployed.repository.attestations("iris", "1")
    assert [a["occasion"] for a in attested] == ["approved", "live"]
    # evaluation and smoke-test results are stored on the version
    assert item["evaluation_result"]["metric"] == "accuracy"
    assert item["evaluation_result"]["meets_threshold"] is True
    assert item["smoke_test_result"]["version"] == "1"
    assert deployed.repository.get_pointer("iris", "staging")["version"] == "1"
    # the endpoint answers over HTTP with the model's own prediction for its input example
    response = local_http.post(
        f"{deployed.endpoint}/v1/models/iris/predict",
        content=json.dumps({"inputs": manifest.input_example.inputs}),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "model": "iris",
        "version": "1",
        "outputs": manifest.input_example.expected_output,
        "request_id": response.headers["x-request-id"],  # what feedback names it by
    }
    assert response.headers["x-model-version"] == "1"


def test_the_same_s3_event_delivered_ten_times_starts_one_execution(deployed, live_v1):
    # GIVEN the EventBridge event S3 emitted for iris 1, delivered again (ten times) to the queue
    path = live_v1["path"]
    event = {
        "version": "0",
        "id": "0d1e2f3a-redelivered",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{deployed.bucket}"],
        "detail": {
            "bucket": {"name": deployed.bucket},
            "object": {
                "key": "models/iris/1/bundle.tar.gz",
                "size": path.stat().st_size,
                "version-id": live_v1["version_id"],
            },
        },
    }
    sqs = deployed.client("sqs")
    queue_url = next(url for url in sqs.list_queues()["QueueUrls"] if "IngestPipelineQueue" in url)
    before = deployed.executions("")
    # WHEN it arrives ten more times
    for _ in range(10):
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))

    # THEN every message is received and handled (the poller delivers after SendMessage
    # returns, so wait for that before judging what they did). A record ingest failed stays in
    # flight until its visibility timeout and is retried later; it started nothing either.
    def queue_counts() -> tuple[int, int]:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])[
            "Attributes"
        ]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    deadline = time.monotonic() + 60
    while queue_counts()[0] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert queue_counts()[0] == 0, "redelivered messages were never received"
    settled = time.monotonic() + 20
    while queue_counts()[1] and time.monotonic() < settled:
        time.sleep(0.2)
    # AND no execution was started: the original is the only one for that object version
    assert len(deployed.executions("")) == len(before)
    expected = name_of_execution(
        deployed, "models/iris/1/bundle.tar.gz", live_v1["version_id"], path.stat().st_size
    )
    assert [e["name"] for e in before if e["name"] == expected] == [expected]


def tampered(path: Path, out: Path, version: str) -> Path:
    """A copy of ``path`` renamed to ``version`` whose model file no longer matches its sha256."""
    with tarfile.open(path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    manifest = json.loads(files["manifest.json"])
    manifest["version"] = version
    files["manifest.json"] = json.dumps(manifest).encode()
    files["model.skops"] += b"tampered"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    out.write_bytes(gzip.compress(buffer.getvalue()))
    return out


def test_a_corrupt_bundle_is_rejected_with_a_reason_and_the_live_model_stays(
    deployed, live_v1, tmp_path
):
    # GIVEN iris 1 is live, and a bundle for iris 2 whose model file was altered
    bad = tampered(live_v1["path"], tmp_path / "bad.tar.gz", "2")
    # WHEN it is uploaded
    version_id = deployed.upload(bad, "iris", "2")
    name = name_of_execution(
        deployed, "models/iris/2/bundle.tar.gz", version_id, bad.stat().st_size
    )
    described = deployed.wait_for_execution(name)
    # THEN the promotion fails with a readable reason, recorded in the audit trail
    assert described["status"] == "FAILED"
    assert described["error"] == "PromotionRejected"
    assert described["cause"].startswith("CorruptBundleError: model.skops has sha256")
    (rejection,) = deployed.repository.audit_history("iris", "2")
    assert rejection["outcome"] == "rejected"
    assert rejection["reason"] == described["cause"]
    # AND nothing about the live model changed
    assert deployed.repository.get_version("iris", "2") is None
    assert deployed.repository.get_pointer("iris")["version"] == "1"


def test_garbage_under_the_models_prefix_is_rejected_not_lost(deployed, live_v1):
    key = "models/iris/3/bundle.tar.gz"
    version_id = deployed.client("s3").put_object(
        Bucket=deployed.bucket, Key=key, Body=b"not a bundle"
    )["VersionId"]
    described = deployed.wait_for_execution(name_of_execution(deployed, key, version_id, 12))
    assert described["status"] == "FAILED"
    assert described["cause"].startswith("CorruptBundleError: bundle is not a readable .tar.gz")
    assert deployed.repository.audit_history("iris", "3")[0]["outcome"] == "rejected"
    assert deployed.repository.get_pointer("iris")["version"] == "1"


def test_same_bytes_again_is_a_no_op_and_other_bytes_are_refused(deployed, live_v1, tmp_path):
    path = live_v1["path"]
    # the same bytes uploaded again: a new object version, a new execution, nothing changes
    again = deployed.upload(path, "iris", "1")
    described = deployed.wait_for_execution(
        name_of_execution(deployed, "models/iris/1/bundle.tar.gz", again, path.stat().st_size)
    )
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["registered"]["outcome"] == "duplicate"
    # a different model under the same version: refused, the registered bytes stay
    other = tmp_path / "other.tar.gz"
    train_and_package(other, name="iris", version="1", c=0.05)
    version_id = deployed.upload(other, "iris", "1")
    described = deployed.wait_for_execution(
        name_of_execution(deployed, "models/iris/1/bundle.tar.gz", version_id, other.stat().st_size)
    )
    assert described["status"] == "FAILED"
    assert described["cause"].startswith("VersionConflictError: iris 1 is already registered")
    assert deployed.repository.get_version("iris", "1")["bundle"]["digest"] == sha256_file(path)
    assert deployed.repository.get_pointer("iris")["version"] == "1"


def test_a_second_version_replaces_the_first_on_the_endpoint(deployed, live_v1, tmp_path):
    second = tmp_path / "iris-4.tar.gz"
    manifest = train_and_package(second, name="iris", version="4", c=0.5)
    version_id = deployed.upload(second, "iris", "4")
    described = deployed.wait_for_execution(
        name_of_execution(
            deployed, "models/iris/4/bundle.tar.gz", version_id, second.stat().st_size
        )
    )
    assert described["status"] == "SUCCEEDED"
    assert deployed.repository.get_pointer("iris")["previous_version"] == "1"
    assert deployed.repository.get_version("iris", "1")["status"] == "archived"
    # the endpoint caches pointers for a few seconds; within that the old version may answer
    deadline = time.monotonic() + 15
    while True:
        answer = local_http.post(
            f"{deployed.endpoint}/v1/models/iris/predict",
            content=json.dumps({"inputs": manifest.input_example.inputs}),
            timeout=60,
        )
        if answer.headers.get("x-model-version") == "4" or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert answer.headers["x-model-version"] == "4"
    assert answer.json()["outputs"] == manifest.input_example.expected_output
    # the exact-version route still serves version 1
    old = local_http.post(
        f"{deployed.endpoint}/v1/models/iris/versions/1/predict",
        content=json.dumps({"inputs": manifest.input_example.inputs}),
        timeout=60,
    )
    assert old.headers["x-model-version"] == "1"


def test_the_embedded_clouds_ports_answer_only_this_machine(deployed):
    # GIVEN the embedded cloud's AWS endpoint and a Function URL port
    # WHEN a page that rebinds its name to 127.0.0.1 calls them THEN both refuse
    aws = deployed.session.cloud.endpoint_url
    foreign = {"host": "rebind.example"}
    assert local_http.get(f"{aws}/2015-03-31/functions", headers=foreign).status_code == 403
    endpoint = f"{deployed.endpoint}/health"
    assert local_http.get(endpoint, headers=foreign, timeout=60).status_code == 403
    # AND this machine's clients are answered, when they sign with this start's key
    assert deployed.client("lambda").list_functions()["Functions"]
    assert local_http.get(endpoint, timeout=60).status_code == 200


def test_the_embedded_cloud_answers_only_its_per_start_key(deployed):
    aws, endpoint = deployed.session.cloud.endpoint_url, f"{deployed.endpoint}/health"
    # GIVEN a local process that does not know the key: unsigned, or signed with another
    stranger = boto3.client(
        "lambda",
        endpoint_url=aws,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    # THEN the moto endpoint and the Function URL ports refuse it
    with pytest.raises(ClientError) as refused:
        stranger.list_functions()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert httpx.get(f"{aws}/2015-03-31/functions", timeout=60).status_code == 403
    unsigned = httpx.get(endpoint, timeout=60)
    assert unsigned.status_code == 403 and "signed with the key" in unsigned.text
    other = LocalCredentials.generate()
    assert httpx.get(endpoint, auth=SigV4Auth(other), timeout=60).status_code == 403


def test_a_version_trained_and_evaluated_on_one_csv_is_registered(deployed, live_v1, tmp_path):
    # one file for both roles gave Register two writes of one edge in one transaction
    from examples.iris.train import TRAIN_CSV

    same = tmp_path / "iris-5.tar.gz"
    train_and_package(same, name="iris", version="5", evaluation_csv=TRAIN_CSV)
    version_id = deployed.upload(same, "iris", "5")
    described = deployed.wait_for_execution(
        name_of_execution(deployed, "models/iris/5/bundle.tar.gz", version_id, same.stat().st_size)
    )
    item = deployed.repository.get_version("iris", "5")
    assert item is not None, described
    (train,) = {d["sha256"] for d in item["lineage"]["datasets"]}
    edges = deployed.repository.versions_using_dataset(train)
    assert [e["role"] for e in edges if e["version"] == "5"] == ["train, evaluation"]
