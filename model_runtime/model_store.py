"""Finding, fetching, verifying and caching the model a request asks for.

Stage pointers change, so they are cached for a few seconds; version items and bundles are
immutable, so they are cached by version and digest for the life of the container.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from model_runtime.bundle import open_bundle
from model_runtime.exceptions import DigestMismatchError, ModelNotFoundError
from model_runtime.model import LoadedModel, load_model
from registry.statuses import Stage

if TYPE_CHECKING:  # botocore is heavy; a store is handed a repository ready-made
    from registry.repository import LineageRepository


class ModelSource(Protocol):
    """What the serving routes need from wherever models come from."""

    def pointer(self, name: str, stage: Stage) -> dict[str, Any]: ...

    def version_item(self, name: str, version: str) -> dict[str, Any]: ...

    def model(
        self, name: str, *, stage: Stage = Stage.LIVE, version: str | None = None
    ) -> LoadedModel: ...


class ModelStore:
    def __init__(
        self,
        repository: LineageRepository,
        s3: Any,
        cache_dir: Path,
        *,
        pointer_ttl_seconds: float,
        model_cache_bytes: int,
    ) -> None:
        self._repository = repository
        self._s3 = s3
        self._cache_dir = cache_dir
        self._pointer_ttl = pointer_ttl_seconds
        self._pointers: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._random = random.random
        self._versions: dict[tuple[str, str], dict[str, Any]] = {}
        # digest -> (model, bundle bytes); least recently used first
        self._models: OrderedDict[str, tuple[LoadedModel, int]] = OrderedDict()
        self._model_cache_bytes = model_cache_bytes
        self._lock = threading.Lock()

    def pointer(self, name: str, stage: Stage) -> dict[str, Any]:
        """A stage pointer, cached for ``pointer_ttl_seconds``."""
        cached = self._pointers.get((name, stage))
        if cached and time.monotonic() - cached[0] < self._pointer_ttl:
            return cached[1]
        pointer = self._repository.get_pointer(name, stage)
        if pointer is None:
            raise ModelNotFoundError(f"model {name!r} has no {stage} version")
        self._pointers[(name, stage)] = (time.monotonic(), pointer)
        return pointer

    def version_for_stage(self, name: str, stage: Stage) -> str:
        """The version to serve: a live canary takes its share of requests at random."""
        pointer = self.pointer(name, stage)
        canary = pointer.get("canary_version")
        if canary and self._random() < float(pointer.get("canary_weight", 0)):
            return str(canary)
        return str(pointer["version"])

    def version_item(self, name: str, version: str) -> dict[str, Any]:
        item = self._versions.get((name, version))
        if item is None:
            item = self._repository.get_version(name, version)
            if item is None:
                raise ModelNotFoundError(f"model {name!r} has no version {version!r}")
            self._versions[(name, version)] = item
        return item

    def model(
        self, name: str, *, stage: Stage = Stage.LIVE, version: str | None = None
    ) -> LoadedModel:
        """The loaded model for a stage (default live) or an exact version."""
        version = version or self.version_for_stage(name, stage)
        bundle = self.version_item(name, version)["bundle"]
        digest = bundle["digest"]
        with self._lock:
            cached = self._models.get(digest)
            if cached is not None:
                self._models.move_to_end(digest)
                return cached[0]
            model, size = self._load(bundle)
            self._models[digest] = (model, size)
            self._evict()
        return model

    def _evict(self) -> None:
        """Drop least recently used models beyond the byte budget (the newest always stays)."""
        while len(self._models) > 1 and self.cached_bytes > self._model_cache_bytes:
            self._models.popitem(last=False)

    @property
    def cached_bytes(self) -> int:
        return sum(size for _, size in self._models.values())

    @property
    def cached_versions(self) -> list[str]:
        return [model.version for model, _ in self._models.values()]

    def _load(self, bundle: dict[str, Any]) -> tuple[LoadedModel, int]:
        started = time.perf_counter()
        digest = bundle["digest"]
        archive = self._cache_dir / "bundles" / f"{digest}.tar.gz"
        extracted = self._cache_dir / "models" / digest
        while True:  # at most twice: a damaged copy in /tmp, then a fresh download
            fresh = not archive.exists()
            if fresh:
                self._download(bundle, archive)
            try:
                opened = open_bundle(archive, extracted, expected_digest=digest)
                break
            except DigestMismatchError:
                archive.unlink()  # bytes that are not the registry's never stay under its digest
                if fresh:
                    raise
        model = load_model(opened)
        size = sum((opened.root / path).stat().st_size for path in opened.manifest.files)
        return dataclasses.replace(model, load_ms=(time.perf_counter() - started) * 1000), size

    def _download(self, bundle: dict[str, Any], archive: Path) -> None:
        """Download to a partial file and rename: a crash never leaves a half bundle."""
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_suffix(".partial")
        self._s3.download_file(
            bundle["bucket"],
            bundle["key"],
            str(partial),
            ExtraArgs=version_args(bundle["s3_version_id"]),
        )
        partial.rename(archive)


def version_args(s3_version_id: str) -> dict[str, str]:
    """Objects in an unversioned bucket report the version id "null", which S3 won't take."""
    return {"VersionId": s3_version_id} if s3_version_id and s3_version_id != "null" else {}
