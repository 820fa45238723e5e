"""Real ingredients of the monitor job's tests: an iris bundle with (or without) its baseline,
captured requests and feedback in the shapes the endpoint and Firehose write them."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
import tarfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from examples.iris.train import EVALUATION_CSV, FEATURES, TARGET, TRAIN_CSV
from model_runtime.monitoring.baseline import BASELINE_FILE, build_baseline, dumps
from registry.monitoring_reports import capture_hour_prefix

IRIS_ROWS = [
    {**{f: float(r[f]) for f in FEATURES}, TARGET: int(r[TARGET])}
    for r in csv.DictReader(TRAIN_CSV.open())
]


def iris_baseline(manifest: dict[str, Any]) -> bytes:
    """The baseline of the shipped iris training data and its evaluation labels."""
    import pandas as pd

    from model_runtime.manifest import Signature

    signature = Signature.model_validate(manifest["signature"])
    frame = pd.DataFrame([{f: r[f] for f in FEATURES} for r in IRIS_ROWS])
    labels = [int(r[TARGET]) for r in csv.DictReader(EVALUATION_CSV.open())]
    return dumps(build_baseline(frame, list(signature.inputs), labels, list(signature.outputs)))


def rebundle(
    source: Path,
    target: Path,
    *,
    baseline: bool,
    name: str | None = None,
    version: str | None = None,
) -> Path:
    """The bundle at ``source`` with its baseline file (listed and digested in the manifest
    like every file), or without one: a bundle packaged before bundles carried it; under
    another name or version if asked."""
    with tarfile.open(source) as tar:
        members = {m.name.removeprefix("./"): tar.extractfile(m).read() for m in tar if m.isfile()}
    manifest = json.loads(members.pop("manifest.json"))
    manifest.update({k: v for k, v in (("name", name), ("version", version)) if v})
    members.pop(BASELINE_FILE, None)
    manifest["files"].pop(BASELINE_FILE, None)
    if baseline:
        members[BASELINE_FILE] = iris_baseline(manifest)
        manifest["files"][BASELINE_FILE] = hashlib.sha256(members[BASELINE_FILE]).hexdigest()
    members = {"manifest.json": json.dumps(manifest).encode(), **members}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    target.write_bytes(buffer.getvalue())
    return target


def iris_requests(
    count: int, seed: int, shift: dict[str, float] | None = None, rows_per_request: int = 1
) -> list[dict[str, Any]]:
    """Requests of rows drawn from the training data, ``shift`` added to some columns;
    each with its true species (``label``), which the tests' model answers."""
    rng = random.Random(seed)
    requests = []
    for n in range(count):
        rows = [rng.choice(IRIS_ROWS) for _ in range(rows_per_request)]
        requests.append(
            {
                "request_id": f"req-{seed}-{n}",
                "inputs": [
                    [round(r[f] + (shift or {}).get(f, 0.0), 3) for f in FEATURES] for r in rows
                ],
                "labels": [r[TARGET] for r in rows],
            }
        )
    return requests


def capture_lines(
    requests: Iterable[dict[str, Any]], model: str, version: str, at: datetime
) -> list[dict[str, Any]]:
    """The endpoint's capture log lines of these requests, answered with their labels."""
    return [
        {
            "message": "capture",
            "capture_format": 1,
            "request_id": r["request_id"],
            "model": model,
            "version": version,
            "environment": "unit",
            "time_ms": int(at.timestamp() * 1000),
            "traffic": "live",
            "inputs": r["inputs"],
            "outputs": r["labels"],
            "rows": len(r["inputs"]),
            "excluded": [],
            "truncated": False,
        }
        for r in requests
    ]


def firehose_object(lines: list[dict[str, Any]]) -> bytes:
    """What Firehose delivers: the extracted messages, one JSON object a line, gzipped."""
    return gzip.compress("".join(json.dumps(line) + "\n" for line in lines).encode())


def put_capture(
    s3: Any, bucket: str, lines: list[dict[str, Any]], at: datetime, n: int | str = 0
) -> str:
    key = f"{capture_hour_prefix(at)}slipway-capture-1-{at:%Y-%m-%d-%H-%M-%S}-{n}.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=firehose_object(lines))
    return key


def register_live(
    s3: Any,
    table: Any,
    bucket: str,
    bundle: Path,
    *,
    name: str,
    version: str,
    evaluation: dict[str, Any],
    work: Path,
    at: str = "2026-12-07T10:30:00+00:00",
) -> None:
    """``bundle`` uploaded, registered as the promotion workflow registers it (its manifest,
    the object version), scored as Evaluate records it, and made the model's live version."""
    import hashlib

    from model_runtime.bundle import open_bundle
    from registry import items
    from registry.repository import LineageRepository, UploadedBundle
    from registry.statuses import Stage

    repository = LineageRepository(table)
    key = f"models/{name}/{version}/bundle.tar.gz"
    answer = s3.put_object(Bucket=bucket, Key=key, Body=bundle.read_bytes())
    manifest = open_bundle(bundle, work / f"open-{name}-{version}").manifest
    document = manifest.model_dump(mode="json", exclude_none=True)
    document.update(name=name, version=version)
    where = UploadedBundle(
        bucket,
        key,
        answer["VersionId"],
        hashlib.sha256(bundle.read_bytes()).hexdigest(),
        bundle.stat().st_size,
    )
    repository.register_version(document, where, execution=f"exec-{version}")
    repository.update_version(name, version, evaluation_result=evaluation)
    table.put_item(Item=items.pointer_item(name, Stage.LIVE, version, None, "exec", at))


class MonitoredAccount:
    """The AWS a monitor job runs against, as moto gives it in process: a versioned artifact
    bucket (as DataStack makes it), the lineage table, and a rule on the default bus that
    catches the job's events in a queue (``caught``)."""

    def __init__(self, bucket: str, table: Any) -> None:
        import boto3

        from registry.monitoring_reports import EVENT_SOURCE
        from registry.repository import LineageRepository

        self.s3 = boto3.client("s3")
        self.s3.create_bucket(Bucket=bucket)
        self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self.table = table
        self.repository = LineageRepository(table)
        self.events = boto3.client("events")
        self.sqs = boto3.client("sqs")
        self.queue = self.sqs.create_queue(QueueName="caught")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])
        self.events.put_rule(Name="monitoring", EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
        self.events.put_targets(
            Rule="monitoring", Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}]
        )

    def caught(self) -> list[dict[str, Any]]:
        """The events the job published since the last call."""
        found = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return found
            for message in got["Messages"]:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
