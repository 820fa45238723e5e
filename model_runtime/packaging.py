"""Building bundles: the model, its signature and example, and lineage captured on the spot.

The bundle is written deterministically (sorted members, zero mtimes) so the same model,
data and code always give the same bytes, and the registry can tell a re-upload from a change.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import platform
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from model_runtime.extraction import sha256_file
from model_runtime.manifest import (
    MANIFEST_FILE,
    CodeVersion,
    DatasetRef,
    Evaluation,
    Feature,
    InputExample,
    Lineage,
    Manifest,
    Signature,
)

SKLEARN_MODEL_FILE = "model.skops"


def capture_code_version(path: Path) -> CodeVersion:
    """Repository, commit and dirty flag of the git working tree holding ``path``."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(path), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    try:
        top = git("rev-parse", "--show-toplevel")
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (subprocess.CalledProcessError, FileNotFoundError):
        return CodeVersion(repository=f"file://{path.resolve()}", commit="unknown", dirty=True)
    try:
        repository = git("remote", "get-url", "origin")
    except subprocess.CalledProcessError:
        repository = f"file://{top}"
    return CodeVersion(repository=repository, commit=commit, dirty=dirty)


def describe_dataset(path: Path, role: str, uri: str | None = None) -> DatasetRef:
    """sha256, row count (data rows of a CSV with a header) and URI of a dataset file."""
    with open(path, newline="") as handle:
        rows = max(sum(1 for _ in csv.reader(handle)) - 1, 0)
    return DatasetRef(
        role=role,  # type: ignore[arg-type]
        uri=uri or path.resolve().as_uri(),
        sha256=sha256_file(path),
        rows=rows,
    )


def build_sklearn_bundle(
    estimator: Any,
    *,
    name: str,
    version: str,
    feature_names: list[str],
    example_rows: list[list[Any]],
    out: Path,
    code: CodeVersion,
    datasets: list[DatasetRef],
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    evaluation: Evaluation | None = None,
    parent: str | None = None,
    output_dtype: str = "int64",
    extra_files: dict[str, Path] | None = None,
) -> Manifest:
    """Save ``estimator`` with skops and write a verified bundle to ``out``.

    ``extra_files`` (bundle path -> local file) ship beside the model, e.g. the evaluation
    CSV that the promotion gate scores the model on.
    """
    import skops.io as sio

    expected = np.asarray(estimator.predict(np.asarray(example_rows, dtype=np.float64))).tolist()
    extra = extra_files or {}
    with tempfile.TemporaryDirectory() as staging:
        model_path = Path(staging) / SKLEARN_MODEL_FILE
        sio.dump(estimator, model_path)
        manifest = Manifest(
            name=name,
            version=version,
            flavor="sklearn",
            model_file=SKLEARN_MODEL_FILE,
            signature=Signature(
                inputs=[Feature(name=feature, dtype="float64") for feature in feature_names],
                outputs=[Feature(name="prediction", dtype=output_dtype)],  # type: ignore[arg-type]
            ),
            input_example=InputExample(inputs=example_rows, expected_output=expected),
            files={
                SKLEARN_MODEL_FILE: sha256_file(model_path),
                **{path: sha256_file(local) for path, local in extra.items()},
            },
            lineage=Lineage(
                code=code,
                datasets=datasets,
                params=params or {},
                metrics=metrics or {},
                parent=parent,
            ),
            evaluation=evaluation,
            runtime=runtime_versions(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        contents = {path: local.read_bytes() for path, local in extra.items()}
        write_bundle(out, manifest, {SKLEARN_MODEL_FILE: model_path.read_bytes(), **contents})
    return manifest


def runtime_versions() -> dict[str, str]:
    """Python and library versions the bundle was built with."""
    versions = {"python": platform.python_version()}
    for package in ("scikit-learn", "skops", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def write_bundle(out: Path, manifest: Manifest, files: dict[str, bytes]) -> None:
    """Write manifest and files as a deterministic .tar.gz."""
    members = {MANIFEST_FILE: manifest.model_dump_json(indent=2).encode(), **files}
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(members):
            info = tarfile.TarInfo(path)
            info.size = len(members[path])
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(members[path]))
    out.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))


def manifest_json(manifest: Manifest) -> dict[str, Any]:
    return json.loads(manifest.model_dump_json())
