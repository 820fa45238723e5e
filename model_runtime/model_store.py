"""Finding, fetching, verifying and caching the model a request asks for.

Stage pointers change, so they are cached for a few seconds; version items and bundles are
immutable, so they are cached by version and digest for the life of the container — in
memory within a byte budget, and on disk within the function's /tmp: requests for many
exact versions would otherwise fill /tmp, after which every load fails.

On disk, a model in memory keeps its extracted folder (a python-flavor model may read it);
a model that left memory keeps only its downloaded archive, so it reloads without a
download. Archives go first, least recently used first; then models, never the newest.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from model_runtime.bundle import open_bundle
from model_runtime.exceptions import (
    ArchiveLimitExceededError,
    CandidateOnlyError,
    DigestMismatchError,
    ModelNotFoundError,
    PythonFlavorNotAllowedError,
)
from model_runtime.model import LoadedModel, load_model
from model_runtime.serving.settings import get_storage_settings
from registry.s3_versions import version_args
from registry.statuses import WAS_LIVE, ServingRole, Stage, VersionStatus

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
        role: ServingRole,
        allow_python: bool = True,
        disk_budget_bytes: int | None = None,
    ) -> None:
        """``disk_budget_bytes`` defaults to what this function's /tmp can hold;
        ``allow_python`` False refuses python-flavor bundles (their code would run here)."""
        self._role = role
        self._allow_python = allow_python
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
        storage = get_storage_settings()
        self._disk_budget = (
            storage.disk_budget_bytes if disk_budget_bytes is None else disk_budget_bytes
        )
        self._max_bundle_bytes = min(
            storage.extraction_limits().max_total_bytes, self._disk_budget // 2
        )
        # digest -> bytes on disk: downloaded archives, and extracted folders of loaded models
        self._archives: OrderedDict[str, int] = OrderedDict()
        self._extracted: dict[str, int] = {}
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
        """The version to serve: a live canary takes its share of requests at random (on a
        live endpoint, only once it was approved)."""
        if stage is Stage.STAGING and self._role is ServingRole.LIVE:
            raise CandidateOnlyError(
                f"this endpoint serves live traffic; {name}'s staging version is served only "
                "to the promotion gate, by the candidate function"
            )
        pointer = self.pointer(name, stage)
        canary = pointer.get("canary_version")
        takes_this_request = canary and self._random() < float(pointer.get("canary_weight", 0))
        if takes_this_request and (
            self._role is ServingRole.CANDIDATE
            or self._passed_the_gate(name, str(canary), canary=True)
        ):
            return str(canary)
        return str(pointer["version"])

    def _passed_the_gate(self, name: str, version: str, *, canary: bool = False) -> bool:
        """Whether a live endpoint may load ``version``: it is or was live (for rollbacks
        and pinned clients), or it is the approved canary. A cached item that does not say
        so is read again: its status may have moved since."""
        allowed = WAS_LIVE | ({VersionStatus.APPROVED} if canary else set())
        if self.version_item(name, version).get("status") in allowed:
            return True
        self._versions.pop((name, version), None)
        return self.version_item(name, version).get("status") in allowed

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
        exact_on_live = version is not None and self._role is ServingRole.LIVE
        if exact_on_live and not self._passed_the_gate(name, str(version)):
            raise ModelNotFoundError(
                f"model {name!r} version {version!r} has not been live; this endpoint "
                "serves by exact version only versions that are or were live"
            )
        version = version or self.version_for_stage(name, stage)
        item = self.version_item(name, version)
        if item.get("flavor") == "python" and not self._allow_python:
            raise PythonFlavorNotAllowedError(
                f"{name} {version} is a python-flavor model; this endpoint does not run "
                "bundles' own code (allow_python in cdk.json)"
            )
        bundle = item["bundle"]
        digest = bundle["digest"]
        with self._lock:
            cached = self._models.get(digest)
            if cached is not None:
                self._models.move_to_end(digest)
                if digest in self._archives:
                    self._archives.move_to_end(digest)
                return cached[0]
            self._check_fits(bundle)
            # Room for this bundle's archive and the most its extraction may write.
            self._evict_disk(
                self._disk_budget - int(bundle.get("size", 0)) - self._max_bundle_bytes
            )
            model, size = self._load(bundle)
            self._models[digest] = (model, size)
            self._evict()
        return model

    def _check_fits(self, bundle: dict[str, Any]) -> None:
        """A bundle larger than the disk allows is refused before it is downloaded."""
        size = int(bundle.get("size", 0))
        if size > self._max_bundle_bytes:
            raise ArchiveLimitExceededError(
                f"bundle of {size} bytes exceeds the {self._max_bundle_bytes} bytes this "
                "endpoint's /tmp can hold; give the endpoint more ephemeral_storage_mb"
            )

    def _evict(self) -> None:
        """Drop least recently used models beyond the memory budget, then files beyond the
        disk budget (the newest model always stays)."""
        while len(self._models) > 1 and self.cached_bytes > self._model_cache_bytes:
            self._forget_model(next(iter(self._models)))
        self._evict_disk(self._disk_budget)

    def _evict_disk(self, budget: int) -> None:
        newest = next(reversed(self._models), None)
        while self.disk_bytes > budget:
            archive = next((d for d in self._archives if d != newest), None)
            if archive is not None:
                self._archive_path(archive).unlink(missing_ok=True)
                del self._archives[archive]
            elif len(self._models) > 1:
                self._forget_model(next(iter(self._models)))
            else:
                return

    def _forget_model(self, digest: str) -> None:
        del self._models[digest]
        shutil.rmtree(self._extracted_path(digest), ignore_errors=True)
        self._extracted.pop(digest, None)

    @property
    def cached_bytes(self) -> int:
        return sum(size for _, size in self._models.values())

    @property
    def disk_bytes(self) -> int:
        """Bytes of bundles this store keeps in /tmp."""
        return sum(self._archives.values()) + sum(self._extracted.values())

    @property
    def cached_versions(self) -> list[str]:
        return [model.version for model, _ in self._models.values()]

    def _load(self, bundle: dict[str, Any]) -> tuple[LoadedModel, int]:
        started = time.perf_counter()
        digest = bundle["digest"]
        archive = self._archive_path(digest)
        extracted = self._extracted_path(digest)
        while True:  # at most twice: a damaged copy in /tmp, then a fresh download
            fresh = not archive.exists()
            if fresh:
                self._download(bundle, archive)
            self._archives[digest] = archive.stat().st_size
            self._archives.move_to_end(digest)
            try:
                opened = open_bundle(
                    archive,
                    extracted,
                    expected_digest=digest,
                    limits=dataclasses.replace(
                        get_storage_settings().extraction_limits(),
                        max_total_bytes=self._max_bundle_bytes,
                    ),
                )
                break
            except DigestMismatchError:
                self._drop_archive(digest)  # bytes not the registry's never stay under its digest
                if fresh:
                    raise
            except BaseException:
                self._drop_archive(digest)  # a bundle that cannot be opened only takes room
                raise
        self._extracted[digest] = _tree_bytes(extracted)
        try:
            model = load_model(opened)
        except BaseException:
            shutil.rmtree(extracted, ignore_errors=True)
            self._extracted.pop(digest, None)
            raise
        size = sum((opened.root / path).stat().st_size for path in opened.manifest.files)
        return dataclasses.replace(model, load_ms=(time.perf_counter() - started) * 1000), size

    def _archive_path(self, digest: str) -> Path:
        return self._cache_dir / "bundles" / f"{digest}.tar.gz"

    def _extracted_path(self, digest: str) -> Path:
        return self._cache_dir / "models" / digest

    def _drop_archive(self, digest: str) -> None:
        self._archive_path(digest).unlink(missing_ok=True)
        self._archives.pop(digest, None)

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


def _tree_bytes(root: Path) -> int:
    return sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(root)
        for name in names
    )
