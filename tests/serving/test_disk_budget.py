"""/tmp stays within the endpoint's disk budget however many exact versions are asked for,
and every request still answers: full disks used to turn into 503s for every model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from examples.iris.train import train_and_package
from model_runtime.extraction import sha256_file
from model_runtime.model_store import ModelStore
from model_runtime.serving.handler import app
from registry.repository import LineageRepository, UploadedBundle
from registry.statuses import ServingRole
from tests.conftest import create_lineage_table
from tests.serving.test_handler import call, function_url_event

VERSIONS = [str(v) for v in range(1, 7)]


def disk_bytes(root: Path) -> int:
    return sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(root)
        for name in names
    )


@pytest.fixture
def six_versions(tmp_path):
    """Six registered iris versions in moto, and the bytes one of them takes in /tmp."""
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="artifacts")
        repository = LineageRepository(create_lineage_table())
        for version in VERSIONS:
            path = tmp_path / f"{version}.tar.gz"
            manifest = train_and_package(path, name="iris", version=version, c=float(version))
            key = f"models/iris/{version}/bundle.tar.gz"
            s3.put_object(Bucket="artifacts", Key=key, Body=path.read_bytes())
            uploaded = UploadedBundle(
                "artifacts", key, "null", sha256_file(path), path.stat().st_size
            )
            repository.register_version(json.loads(manifest.model_dump_json()), uploaded, version)
        probe = ModelStore(
            repository,
            s3,
            tmp_path / "probe",
            pointer_ttl_seconds=5,
            model_cache_bytes=10**9,
            role=ServingRole.CANDIDATE,
        )
        probe.model("iris", version="1")
        yield repository, s3, disk_bytes(tmp_path / "probe")


def test_exact_versions_in_turn_keep_tmp_under_the_budget_and_all_answer(six_versions, tmp_path):
    # GIVEN an endpoint whose disk holds about two and a half bundles
    repository, s3, one_bundle = six_versions
    budget = one_bundle * 5 // 2
    cache = tmp_path / "cache"
    app.state.model_store = ModelStore(
        repository,
        s3,
        cache,
        pointer_ttl_seconds=5,
        model_cache_bytes=10**9,
        role=ServingRole.CANDIDATE,  # memory is plenty: only the disk is short
        disk_budget_bytes=budget,
    )
    try:
        body = json.dumps({"inputs": [[5.1, 3.5, 1.4, 0.2]]})
        # WHEN six exact versions are asked for in turn, then the first again
        for version in [*VERSIONS, "1"]:
            path = f"/v1/models/iris/versions/{version}/predict"
            status, _, answer = call(function_url_event(path, body))
            # THEN each answers, and /tmp never holds more than the budget
            assert status == 200, answer
            assert answer["version"] == version
            assert disk_bytes(cache) <= budget, f"after version {version}"
        assert app.state.model_store.disk_bytes <= budget
    finally:
        app.state.model_store = None
