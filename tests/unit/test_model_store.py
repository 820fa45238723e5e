"""The model store: least recently used models leave first when the byte budget is spent."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from examples.iris.train import train_and_package
from functions.lineage.repository import LineageRepository, UploadedBundle
from model_runtime.extraction import sha256_file
from model_runtime.model_store import ModelStore
from tests.conftest import create_lineage_table


def test_lru_by_bytes(tmp_path):
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="artifacts")
        repository = LineageRepository(create_lineage_table())
        for version in ("1", "2", "3"):
            path = tmp_path / f"{version}.tar.gz"
            manifest = train_and_package(path, name="iris", version=version, c=float(version))
            key = f"models/iris/{version}/bundle.tar.gz"
            s3.put_object(Bucket="artifacts", Key=key, Body=path.read_bytes())
            uploaded = UploadedBundle(
                "artifacts", key, "null", sha256_file(path), path.stat().st_size
            )
            repository.register_version(json.loads(manifest.model_dump_json()), uploaded, version)
        one = ModelStore(repository, s3, tmp_path / "c", model_cache_bytes=10**9)
        one.model("iris", version="1")
        size = one.cached_bytes
        # a budget for two models: the least recently used one leaves
        store = ModelStore(repository, s3, tmp_path / "c2", model_cache_bytes=2 * size + size // 2)
        store.model("iris", version="1")
        store.model("iris", version="2")
        store.model("iris", version="1")  # 1 is now the most recently used
        store.model("iris", version="3")
        assert store.cached_versions == ["1", "3"]
        assert store.cached_bytes <= 2 * size + size // 2
