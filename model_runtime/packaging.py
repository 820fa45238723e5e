"""Building bundles: the model, its signature and example, and lineage captured on the spot.

The bundle is written deterministically (sorted members, zero mtimes) so the same model,
data and code always give the same bytes, and the registry can tell a re-upload from a change.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import platform
import shutil
import subprocess
import tarfile
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model_runtime.csv_data import count_csv_rows
from model_runtime.exceptions import IncompatibleBundleError, InvalidInputError
from model_runtime.extraction import sha256_file
from model_runtime.flavors import load_predict_function
from model_runtime.flavors.compatibility import installed_version
from model_runtime.flavors.native_boosting import SIDECAR
from model_runtime.manifest import (
    FORMAT_1_DTYPES,
    MANIFEST_FILE,
    CodeVersion,
    Column,
    DatasetRef,
    Evaluation,
    InputExample,
    Lineage,
    Manifest,
    Signature,
)
from model_runtime.model_input import ModelInput
from model_runtime.monitoring.baseline import BASELINE_FILE, build_baseline, dumps
from model_runtime.url_credentials import scrub_credentials

SKLEARN_MODEL_FILE = "model.skops"
ONNX_MODEL_FILE = "model.onnx"
PYTHON_MODEL_FILE = "predictor.py"
XGBOOST_MODEL_FILE = "model.ubj"
LIGHTGBM_MODEL_FILE = "model.txt"
# the model's outputs are profiled on at most this many evaluation rows (a fixed sample)
BASELINE_PREDICTION_ROWS = 10_000


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
        repository = scrub_credentials(git("remote", "get-url", "origin"))
    except subprocess.CalledProcessError:
        repository = f"file://{top}"
    return CodeVersion(repository=repository, commit=commit, dirty=dirty)


def describe_dataset(path: Path, role: str, uri: str | None = None) -> DatasetRef:
    """sha256, row count (data rows of a CSV with a header) and URI of a dataset file."""
    return DatasetRef(
        role=role,  # type: ignore[arg-type]
        uri=scrub_credentials(uri) if uri else path.resolve().as_uri(),
        sha256=sha256_file(path),
        rows=count_csv_rows(path),
    )


@dataclass(frozen=True)
class BundleFacts:
    """Everything a bundle records besides its model files.

    The signature is ``columns`` and ``output`` when given (format 2: typed, nullable,
    records as examples); else one ``feature_dtype`` for every name in ``feature_names``.
    """

    name: str
    version: str
    example_rows: list[Any]
    code: CodeVersion
    datasets: list[DatasetRef]
    feature_names: list[str] = field(default_factory=list)
    columns: list[Column] | None = None
    output: Column | None = None
    model_input: str = "array"
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    evaluation: Evaluation | None = None
    parent: str | None = None
    feature_dtype: str = "float64"
    output_dtype: str = "int64"
    extra_files: dict[str, Path] = field(default_factory=dict)
    baseline: BaselineData | None = None

    def signature(self) -> Signature:
        columns = self.columns or [
            Column(name=name, type=FORMAT_1_DTYPES[self.feature_dtype], dtype=self.feature_dtype)  # type: ignore[arg-type]
            for name in self.feature_names
        ]
        output = self.output or Column(
            name="prediction",
            type=FORMAT_1_DTYPES[self.output_dtype],
            dtype=self.output_dtype,  # type: ignore[arg-type]
        )
        return Signature(inputs=columns, outputs=[output], model_input=self.model_input)  # type: ignore[arg-type]


@dataclass(frozen=True)
class BaselineData:
    """The data a bundle's monitoring baseline profiles: the training inputs, and the rows
    whose predictions profile the outputs (the evaluation data, else the training data)."""

    train: Any
    evaluation: Any = None

    def document(self, predict: Any, signature: Signature) -> dict[str, Any]:
        from model_runtime.columns import records

        source = self.evaluation if self.evaluation is not None else self.train
        names = [column.name for column in signature.inputs]
        if len(source) > BASELINE_PREDICTION_ROWS:
            source = source.sample(n=BASELINE_PREDICTION_ROWS, random_state=0)
        try:
            rows = ModelInput.from_request(signature, records(source, signature.inputs))
        except InvalidInputError as exc:
            # the gate judges the evaluation data; the baseline then profiles the inputs alone
            warnings.warn(
                f"{BASELINE_FILE}: the model's outputs are not profiled, the rows do not fit "
                f"its signature: {exc}",
                stacklevel=2,
            )
            return build_baseline(self.train[names], signature.inputs, None, signature.outputs)
        outputs = predict(rows)
        return build_baseline(self.train[names], signature.inputs, outputs, signature.outputs)


def build_bundle(
    flavor: str, model_files: dict[str, Path], model_file: str, facts: BundleFacts, out: Path
) -> Manifest:
    """Write a bundle whose input example's expected output comes from the flavor itself.

    The model is loaded from a staged copy of the bundle's files exactly as the runtime will
    load it, so the recorded expected output is what the runtime must reproduce.
    """
    files = {**model_files, **facts.extra_files}
    signature = facts.signature()
    with tempfile.TemporaryDirectory() as staging:
        root = Path(staging)
        for path, local in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, root / path)
        predict = load_predict_function(flavor, root / model_file, root, signature)
        expected = predict(ModelInput.from_request(signature, facts.example_rows))
        # generated files: listed in files like the others, so their digests are checked too
        generated: dict[str, bytes] = {}
        if facts.baseline is not None:
            generated[BASELINE_FILE] = dumps(facts.baseline.document(predict, signature))
    manifest = Manifest(
        name=facts.name,
        version=facts.version,
        flavor=flavor,  # type: ignore[arg-type]
        model_file=model_file,
        signature=signature,
        input_example=InputExample(inputs=facts.example_rows, expected_output=expected),
        files={
            **{path: sha256_file(local) for path, local in files.items()},
            **{path: hashlib.sha256(data).hexdigest() for path, data in generated.items()},
        },
        lineage=Lineage(
            code=facts.code,
            datasets=facts.datasets,
            params=facts.params,
            metrics=facts.metrics,
            parent=facts.parent,
        ),
        evaluation=facts.evaluation,
        runtime=runtime_versions(flavor),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    contents = {path: local.read_bytes() for path, local in files.items()}
    write_bundle(out, manifest, {**contents, **generated})
    return manifest


def build_sklearn_bundle(estimator: Any, *, out: Path, **facts: Any) -> Manifest:
    """Save a fitted scikit-learn estimator with skops and bundle it."""
    import skops.io as sio

    with tempfile.TemporaryDirectory() as staging:
        model_path = Path(staging) / SKLEARN_MODEL_FILE
        sio.dump(estimator, model_path)
        return build_bundle(
            "sklearn",
            {SKLEARN_MODEL_FILE: model_path},
            SKLEARN_MODEL_FILE,
            BundleFacts(**facts),
            out,
        )


def build_onnx_bundle(onnx_file: Path, *, out: Path, **facts: Any) -> Manifest:
    """Bundle an .onnx file whose single input is the [rows, features] matrix."""
    return build_bundle(
        "onnx", {ONNX_MODEL_FILE: onnx_file}, ONNX_MODEL_FILE, BundleFacts(**facts), out
    )


def build_python_bundle(predictor_dir: Path, *, out: Path, **facts: Any) -> Manifest:
    """Bundle a folder holding predictor.py (class Predictor) and whatever files it loads."""
    if not (predictor_dir / PYTHON_MODEL_FILE).is_file():
        raise FileNotFoundError(f"{predictor_dir} has no {PYTHON_MODEL_FILE}")
    files = {
        path.relative_to(predictor_dir).as_posix(): path
        for path in sorted(predictor_dir.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    return build_bundle("python", files, PYTHON_MODEL_FILE, BundleFacts(**facts), out)


def build_native_bundle(kind: str, model: Any, *, out: Path, **facts: Any) -> Manifest:
    """Save an XGBoost or LightGBM model in its own format (UBJSON, LightGBM text), with a
    sidecar naming its task and classes, and bundle it."""
    options = _boosting_options(model)
    with tempfile.TemporaryDirectory() as staging:
        folder = Path(staging)
        if kind == "xgboost":
            booster = model.get_booster() if hasattr(model, "get_booster") else model
            model_file = XGBOOST_MODEL_FILE
            booster.save_model(str(folder / model_file))
        elif kind == "lightgbm":
            booster = getattr(model, "booster_", model)
            model_file = LIGHTGBM_MODEL_FILE
            booster.save_model(str(folder / model_file))
        else:
            raise ValueError(f"{kind} is not a native boosting flavor")
        (folder / SIDECAR).write_text(json.dumps(options, indent=2, sort_keys=True))
        files = {model_file: folder / model_file, SIDECAR: folder / SIDECAR}
        return build_bundle(kind, files, model_file, BundleFacts(**facts), out)


def _boosting_options(model: Any) -> dict[str, Any]:
    """Task and classes of a fitted XGBoost or LightGBM model (scikit-learn API or Booster)."""
    classes = getattr(model, "classes_", None)
    if classes is not None:
        return {"task": "classification", "classes": [_plain(c) for c in classes]}
    objective = str(
        getattr(model, "objective", None)
        or (model.params.get("objective") if hasattr(model, "params") else "")
        or ""
    )
    if objective.startswith(("binary", "multi")) or objective in ("multiclass", "softmax"):
        return {"task": "classification", "classes": []}
    return {"task": "regression"}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


_FLAVOR_LIBRARIES = {
    "sklearn": ("scikit-learn", "skops", "numpy"),
    "onnx": ("onnxruntime", "numpy"),
    "python": ("numpy",),
    "xgboost": ("xgboost", "numpy"),
    "lightgbm": ("lightgbm", "numpy"),
}


def runtime_versions(flavor: str) -> dict[str, str]:
    """Python and the flavor's library versions the bundle was built (and checked) with."""
    versions = {"python": platform.python_version()}
    for package in _FLAVOR_LIBRARIES[flavor]:
        try:
            versions[package] = installed_version(package)
        except IncompatibleBundleError:
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
