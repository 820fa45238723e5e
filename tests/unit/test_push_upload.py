"""`slipway push` reports the object version its own upload wrote, even when other pushes
write the same key at the same time (issue 13, finding 9)."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from rich.console import Console

from slipway.bundle_upload import UPLOAD_PART_BYTES, upload_bundle

BUCKET, KEY = "push-bucket", "models/iris/1/bundle.tar.gz"


@pytest.fixture
def s3():
    with mock_aws():
        # botocore's default CRC32 chunked upload makes moto slow over megabytes
        client = boto3.client("s3", config=Config(request_checksum_calculation="when_required"))
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def test_concurrent_pushes_each_report_their_own_object_version(s3, tmp_path: Path):
    # GIVEN six different bundles pushed to one key at once, two of them multipart
    bundles = []
    for index in range(6):
        size = UPLOAD_PART_BYTES + 1024 if index < 2 else 1024 + index
        path = tmp_path / f"b{index}.tar.gz"
        path.write_bytes(os.urandom(size))
        bundles.append(path)
    reported: dict[Path, str] = {}

    def push(path: Path) -> None:
        reported[path] = upload_bundle(s3, path, BUCKET, KEY, Console(), quiet=True)

    threads = [threading.Thread(target=push, args=(path,)) for path in bundles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN the version each reports holds exactly that push's bytes
    assert len(set(reported.values())) == len(bundles)
    for path, version in reported.items():
        body = s3.get_object(Bucket=BUCKET, Key=KEY, VersionId=version)["Body"].read()
        assert hashlib.sha256(body).digest() == hashlib.sha256(path.read_bytes()).digest()


def test_a_failed_multipart_upload_leaves_no_parts_behind(s3, tmp_path: Path, monkeypatch):
    path = tmp_path / "big.tar.gz"
    path.write_bytes(os.urandom(UPLOAD_PART_BYTES + 1))

    def network_gone(**kwargs):
        raise ConnectionError("the network went away")

    monkeypatch.setattr(s3, "complete_multipart_upload", network_gone)
    with pytest.raises(ConnectionError):
        upload_bundle(s3, path, BUCKET, KEY, Console(), quiet=True)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
