"""The model store: what it caches, for how long, and what it fetches again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from examples.iris.train import train_and_package
from model_runtime import model_store as model_store_module
from model_runtime.exceptions import (
    ArchiveLimitExceededError,
    CandidateOnlyError,
    ModelNotFoundError,
    PythonFlavorNotAllowedError,
)
from model_runtime.extraction import sha256_file
from model_runtime.model_store import ModelStore
from registry.repository import LineageRepository, UploadedBundle
from registry.statuses import ServingRole, Stage, VersionStatus
from tests.conftest import create_lineage_table


def register(repository: LineageRepository, s3: Any, path: Path, manifest: Any) -> None:
    """Upload a bundle to its key and register it, as the workflow would."""
    key = f"models/{manifest.name}/{manifest.version}/bundle.tar.gz"
    s3.put_object(Bucket="artifacts", Key=key, Body=path.read_bytes())
    uploaded = UploadedBundle("artifacts", key, "null", sha256_file(path), path.stat().st_size)
    repository.register_version(
        json.loads(manifest.model_dump_json()), uploaded, f"execution-{manifest.version}"
    )


@pytest.fixture
def registry(tmp_path: Path) -> Any:
    """Three registered iris versions in moto's S3 and DynamoDB, and a GetObject counter."""
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="artifacts")
        downloads: list[str] = []

        def count(params: dict[str, Any], **_: Any) -> None:
            downloads.append(params["Key"])

        s3.meta.events.register("provide-client-params.s3.GetObject", count)
        repository = LineageRepository(create_lineage_table())
        for version in ("1", "2", "3"):
            path = tmp_path / f"{version}.tar.gz"
            manifest = train_and_package(path, name="iris", version=version, c=float(version))
            register(repository, s3, path, manifest)
        yield repository, s3, downloads


def test_lru_by_bytes(registry, tmp_path):
    repository, s3, _ = registry
    one = ModelStore(
        repository,
        s3,
        tmp_path / "c",
        pointer_ttl_seconds=5,
        model_cache_bytes=10**9,
        role=ServingRole.CANDIDATE,
    )
    one.model("iris", version="1")
    size = one.cached_bytes
    # a budget for two models: the least recently used one leaves
    store = ModelStore(
        repository,
        s3,
        tmp_path / "c2",
        pointer_ttl_seconds=5,
        model_cache_bytes=2 * size + size // 2,
        role=ServingRole.CANDIDATE,
    )
    store.model("iris", version="1")
    store.model("iris", version="2")
    store.model("iris", version="1")  # 1 is now the most recently used
    store.model("iris", version="3")
    assert store.cached_versions == ["1", "3"]
    assert store.cached_bytes <= 2 * size + size // 2


def test_an_evicted_model_is_reloaded_from_tmp_without_downloading_again(registry, tmp_path):
    repository, s3, downloads = registry
    store = ModelStore(
        repository,
        s3,
        tmp_path / "cache",
        pointer_ttl_seconds=5,
        model_cache_bytes=1,
        role=ServingRole.CANDIDATE,
    )
    store.model("iris", version="1")
    store.model("iris", version="2")  # budget of one model: 1 leaves memory, not /tmp
    assert store.cached_versions == ["2"]
    reloaded = store.model("iris", version="1")
    assert reloaded.version == "1"
    assert downloads == ["models/iris/1/bundle.tar.gz", "models/iris/2/bundle.tar.gz"]
    digest = repository.get_version("iris", "1")["bundle"]["digest"]
    assert (tmp_path / "cache" / "bundles" / f"{digest}.tar.gz").is_file()


def test_stage_pointers_are_cached_for_their_ttl_then_read_again(registry, tmp_path, monkeypatch):
    repository, s3, _ = registry
    clock = {"now": 1000.0}
    monkeypatch.setattr(model_store_module.time, "monotonic", lambda: clock["now"])
    repository.promote("iris", "1", "execution-1")
    store = ModelStore(
        repository,
        s3,
        tmp_path / "cache",
        pointer_ttl_seconds=5,
        model_cache_bytes=10**9,
        role=ServingRole.CANDIDATE,
    )
    assert store.model("iris").version == "1"

    repository.promote("iris", "2", "execution-2")
    clock["now"] += 4.9
    assert store.model("iris").version == "1", "within the TTL the cached pointer answers"
    clock["now"] += 0.2
    assert store.model("iris").version == "2", "after the TTL the new live version answers"


def test_a_damaged_bundle_in_tmp_is_downloaded_again(registry, tmp_path):
    repository, s3, downloads = registry
    store = ModelStore(
        repository,
        s3,
        tmp_path / "cache",
        pointer_ttl_seconds=5,
        model_cache_bytes=1,
        role=ServingRole.CANDIDATE,
    )
    store.model("iris", version="1")
    digest = repository.get_version("iris", "1")["bundle"]["digest"]
    cached = tmp_path / "cache" / "bundles" / f"{digest}.tar.gz"
    cached.write_bytes(cached.read_bytes()[:-10])  # /tmp outlives the process that wrote it
    store.model("iris", version="2")  # evicts 1 from memory
    assert store.model("iris", version="1").version == "1"
    assert downloads.count("models/iris/1/bundle.tar.gz") == 2
    assert sha256_file(cached) == digest


def test_disk_eviction_keeps_the_newest_model_and_reloads_the_rest(registry, tmp_path):
    # GIVEN a store whose disk budget holds two bundles and a half
    repository, s3, downloads = registry
    probe = ModelStore(
        repository,
        s3,
        tmp_path / "p",
        pointer_ttl_seconds=5,
        model_cache_bytes=1,
        role=ServingRole.CANDIDATE,
    )
    probe.model("iris", version="1")
    footprint = probe.disk_bytes
    downloads.clear()
    store = ModelStore(
        repository,
        s3,
        tmp_path / "cache",
        pointer_ttl_seconds=5,
        model_cache_bytes=10**9,
        role=ServingRole.CANDIDATE,
        disk_budget_bytes=footprint * 5 // 2,
    )
    # WHEN three versions are loaded in turn
    for version in ("1", "2", "3"):
        assert store.model("iris", version=version).version == version
        # THEN the newest stays in memory with its files, within the budget
        assert store.cached_versions[-1] == version
        assert store.disk_bytes <= footprint * 5 // 2
    # AND an evicted version comes back, downloaded again
    assert store.model("iris", version="1").version == "1"
    assert downloads.count("models/iris/1/bundle.tar.gz") == 2


def test_a_bundle_larger_than_the_disk_is_refused_before_download(registry, tmp_path):
    # GIVEN a store whose disk cannot hold the iris bundle
    repository, s3, downloads = registry
    store = ModelStore(
        repository,
        s3,
        tmp_path / "cache",
        pointer_ttl_seconds=5,
        model_cache_bytes=10**9,
        role=ServingRole.CANDIDATE,
        disk_budget_bytes=1000,
    )
    # WHEN it is asked for THEN it refuses by name without a download
    with pytest.raises(ArchiveLimitExceededError, match="ephemeral_storage_mb"):
        store.model("iris", version="1")
    assert downloads == []
    assert not list((tmp_path / "cache").rglob("*.tar.gz"))


def live_endpoint_store(registry: Any, tmp_path: Path) -> ModelStore:
    repository, s3, _ = registry
    return ModelStore(
        repository,
        s3,
        tmp_path / "live",
        pointer_ttl_seconds=0,
        model_cache_bytes=10**9,
        role=ServingRole.LIVE,
    )


def test_a_live_endpoint_serves_no_version_that_was_not_live(registry, tmp_path):
    # GIVEN version 1 live, version 2 rejected by the gate, version 3 only registered
    repository, _, _ = registry
    repository.promote("iris", "1", "execution-1")
    repository.update_version("iris", "2", status=VersionStatus.REJECTED)
    store = live_endpoint_store(registry, tmp_path)
    # WHEN a client asks a live endpoint for each by exact version
    assert store.model("iris", version="1").version == "1"
    # THEN what did not go live is not loaded: its code never runs next to live models
    for never_live in ("2", "3"):
        with pytest.raises(ModelNotFoundError, match="has not been live"):
            store.model("iris", version=never_live)
    assert store.cached_versions == ["1"]


def test_a_live_endpoint_serves_no_staging_version(registry, tmp_path):
    repository, _, _ = registry
    repository.promote("iris", "1", "execution-1")
    repository.promote("iris", "2", "execution-2", stage=Stage.STAGING)
    with pytest.raises(CandidateOnlyError, match="served only to the promotion gate"):
        live_endpoint_store(registry, tmp_path).model("iris", stage=Stage.STAGING)


def test_a_version_that_was_live_stays_servable_for_rollbacks_and_pinned_clients(
    registry, tmp_path
):
    repository, _, _ = registry
    repository.promote("iris", "1", "execution-1")
    repository.promote("iris", "2", "execution-2")  # 1 is archived now
    assert repository.get_version("iris", "1")["status"] == VersionStatus.ARCHIVED
    assert live_endpoint_store(registry, tmp_path).model("iris", version="1").version == "1"


def test_a_canary_takes_live_traffic_only_once_approved(registry, tmp_path):
    # GIVEN version 1 live and version 2 given the whole canary share, not yet approved
    repository, _, _ = registry
    repository.promote("iris", "1", "execution-1")
    repository.acquire_lock("iris", "2", "execution-2", ttl_seconds=60)  # as its promotion does
    repository.start_canary("iris", "2", 1.0, "execution-2")
    store = live_endpoint_store(registry, tmp_path)
    # THEN live traffic stays on 1; once approved, 2 takes its share
    assert store.model("iris").version == "1"
    repository.update_version("iris", "2", status=VersionStatus.APPROVED)
    assert store.model("iris").version == "2"
    # AND when it goes live, a client pinning it is served (its cached item is read again)
    repository.promote("iris", "2", "execution-2")
    assert store.model("iris", version="2").version == "2"


def test_an_endpoint_that_runs_no_bundle_code_refuses_a_python_model(registry, tmp_path):
    # GIVEN a live python-flavor version
    from examples.iris_python.train import train_and_package as package_python

    repository, s3, downloads = registry
    path = tmp_path / "py.tar.gz"
    manifest = package_python(path, name="iris", version="py")
    register(repository, s3, path, manifest)
    repository.promote("iris", "py", "execution-py")
    # WHEN an endpoint that does not allow python is asked for it THEN it refuses, unloaded
    store = ModelStore(
        repository,
        s3,
        tmp_path / "strict",
        pointer_ttl_seconds=0,
        model_cache_bytes=10**9,
        role=ServingRole.LIVE,
        allow_python=False,
    )
    with pytest.raises(PythonFlavorNotAllowedError, match="allow_python"):
        store.model("iris")
    assert downloads == [] and store.cached_versions == []
