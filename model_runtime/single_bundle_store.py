"""A model store over one local bundle, for ``slipway serve`` and tests: no AWS at all.

It answers for the bundle's own name, as both its live and staging version, through the same
routes and checks as the registry-backed store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model_runtime.bundle import open_bundle
from model_runtime.exceptions import ModelNotFoundError
from model_runtime.model import LoadedModel, load_model
from registry.statuses import Stage


class SingleBundleStore:
    def __init__(self, archive: Path, work_dir: Path) -> None:
        opened = open_bundle(archive, work_dir / "bundle")
        self.manifest = opened.manifest
        self._model = load_model(opened)

    def _check(self, name: str, version: str | None = None) -> None:
        if name != self.manifest.name:
            raise ModelNotFoundError(
                f"model {name!r} is not served here; this serves {self.manifest.name!r}"
            )
        if version is not None and version != self.manifest.version:
            raise ModelNotFoundError(f"model {name!r} has no version {version!r}")

    def pointer(self, name: str, stage: Stage) -> dict[str, Any]:
        self._check(name)
        return {"version": self.manifest.version}

    def version_for_stage(self, name: str, stage: Stage) -> str:
        self._check(name)
        return self.manifest.version

    def version_item(self, name: str, version: str) -> dict[str, Any]:
        self._check(name, version)
        return {
            "flavor": self.manifest.flavor,
            "signature": json.loads(self.manifest.signature.model_dump_json()),
        }

    def model(
        self, name: str, *, stage: Stage = Stage.LIVE, version: str | None = None
    ) -> LoadedModel:
        self._check(name, version)
        return self._model
