"""One call from a fitted model and its data to a bundle: what training scripts, notebooks
and ``slipway package`` use.

    from slipway import package_model
    package_model(pipeline, name="house-prices", version="3", train=train_df,
                  evaluation=test_df, target="price", metric="rmse", threshold=40_000,
                  out=Path("bundle.tar.gz"))

It infers the signature from the data (typed columns, nullable where data is missing; a
DataFrame input for an estimator fitted on one), takes the input example from the evaluation
rows, records lineage (code commit, dataset digests, the model's parameters), ships the
evaluation data inside the bundle for the promotion gate, and saves the model in its
flavor's safe format. It also writes the monitoring baseline (``monitoring/baseline.json``):
a profile of the training data per input column and of the model's outputs on the
evaluation data, digest-checked like every other file.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from model_runtime.columns import infer_columns, output_column, records
from model_runtime.csv_data import read_frame
from model_runtime.extraction import sha256_file
from model_runtime.manifest import Column, DatasetRef, Evaluation, Manifest
from model_runtime.packaging import (
    BaselineData,
    build_onnx_bundle,
    build_python_bundle,
    build_sklearn_bundle,
    capture_code_version,
    describe_dataset,
)
from model_runtime.s3_datasets import FetchedDataset, fetch_dataset, is_s3_uri
from registry.exam import METRICS, direction_of

EVALUATION_FILE = "data/evaluation.csv"
CLASSIFICATION_DEFAULT, REGRESSION_DEFAULT = "accuracy", "rmse"


def package_model(
    model: Any,
    *,
    name: str,
    version: str,
    train: Any,
    target: str,
    out: Path | str,
    evaluation: Any = None,
    metric: str | None = None,
    threshold: float | None = None,
    columns: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    parent: str | None = None,
    flavor: str | None = None,
    code_path: Path | str = ".",
    example_rows: int = 3,
    s3_client: Any = None,
) -> Manifest:
    """Write the bundle of ``model`` to ``out`` and return its manifest.

    ``model`` is a fitted estimator (scikit-learn, XGBoost, LightGBM), an ``.onnx`` file, a
    ``.skops`` file, or a folder with ``predictor.py``. ``train`` and ``evaluation`` are
    DataFrames or CSV files holding the feature columns and ``target``; without
    ``evaluation`` the promotion gate has nothing to score, and the bundle is refused by it.
    Either may also be an ``s3://bucket/key[?versionId=]`` URI (read once, with
    ``s3_client`` or boto3's default one) or what ``fetch_dataset`` returned for the data
    the model was trained on (not read again): the lineage then names the object version.
    ``columns`` gives a column's type by name where the data cannot tell (``"int"``, or a
    full column spec as a dict).
    """
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="slipway-package-") as work:
        staging = Path(work)
        train_frame, train_ref, _ = _dataset(train, "train", staging, s3_client)
        datasets = [train_ref]
        eval_frame, eval_file = None, None
        if evaluation is not None:
            eval_frame, eval_ref, eval_file = _dataset(evaluation, "evaluation", staging, s3_client)
            datasets.append(eval_ref)
        _require_target(train_frame, target, "train")
        if eval_frame is not None:
            _require_target(eval_frame, target, "evaluation")
        estimator, kind = _load(model, flavor)
        features = _feature_names(estimator, train_frame, target)
        input_columns = infer_columns(
            train_frame[features],
            also_missing_in=eval_frame[features] if eval_frame is not None else None,
            explicit=columns,
        )
        output = output_column(train_frame[target])
        example_source = eval_frame if eval_frame is not None else train_frame
        facts: dict[str, Any] = {
            "name": name,
            "version": version,
            "columns": input_columns,
            "output": output,
            "model_input": "dataframe" if _fitted_on_a_frame(estimator) else "array",
            "example_rows": records(example_source.head(example_rows), input_columns),
            "code": capture_code_version(Path(code_path)),
            "datasets": datasets,
            "params": dict(params) if params is not None else _params(estimator),
            "metrics": dict(metrics or {}),
            "parent": parent,
            # the monitoring baseline: what the monitor job compares live traffic with
            "baseline": BaselineData(
                train=train_frame[features],
                evaluation=eval_frame[features] if eval_frame is not None else None,
            ),
        }
        if eval_file is not None:
            chosen = metric or _default_metric(output)
            if chosen not in METRICS:
                raise ValueError(f"metric {chosen!r} is not one of {', '.join(METRICS)}")
            if threshold is None:
                raise ValueError("give the metric's threshold: the gate refuses a bundle below it")
            facts["evaluation"] = Evaluation(
                dataset=EVALUATION_FILE,
                target=target,
                metric=chosen,  # type: ignore[arg-type]
                threshold=threshold,
                direction=direction_of(chosen),
            )
            facts["extra_files"] = {EVALUATION_FILE: eval_file}
        return _build(kind, estimator, out, facts)


def _dataset(data: Any, role: str, staging: Path, s3_client: Any) -> tuple[Any, DatasetRef, Path]:
    """(DataFrame, lineage reference, CSV file) of training or evaluation data.

    A file is hashed as it is; a DataFrame by the CSV it is written as, which is what the
    bundle ships when it is the evaluation data. An S3 object is downloaded once into the
    staging folder; a fetched one is read from where it was fetched to.
    """
    import pandas as pd

    if is_s3_uri(data):
        data = fetch_dataset(
            data,
            role=role,  # type: ignore[arg-type]
            directory=staging / f"s3-{role}",
            s3_client=s3_client,
        )
    if isinstance(data, FetchedDataset):
        # read locally again (never downloaded again): what is packaged must be what the
        # lineage names, not a file edited since it was fetched
        if not data.path.is_file() or sha256_file(data.path) != data.ref.sha256:
            raise ValueError(
                f"{role} data {data.path} is not what was fetched from {data.ref.uri} "
                "(changed or gone since): fetch it again"
            )
        return read_frame(data.path), data.ref.model_copy(update={"role": role}), data.path
    if isinstance(data, pd.DataFrame):
        path = staging / f"{role}.csv"
        data.to_csv(path, index=False)
        return data, describe_dataset(path, role, uri=f"dataframe:{role}"), path
    path = Path(data)
    if not path.is_file():
        raise FileNotFoundError(f"{role} data {path} is not a file")
    return read_frame(path), describe_dataset(path, role), path


def _require_target(frame: Any, target: str, role: str) -> None:
    if target not in frame.columns:
        raise ValueError(f"the {role} data has no column {target!r}; it has {list(frame.columns)}")


def _load(model: Any, flavor: str | None) -> tuple[Any, str]:
    """(the model, its flavor): files are read the way their flavor reads them."""
    if isinstance(model, str | Path):
        path = Path(model)
        if path.is_dir():
            return path, "python"
        if flavor == "onnx" or path.suffix == ".onnx":
            return path, "onnx"
        if flavor in (None, "sklearn") and path.suffix == ".skops":
            from model_runtime.flavors.sklearn import load_estimator

            return load_estimator(path), "sklearn"
        if flavor == "xgboost" or (flavor is None and path.suffix in (".ubj", ".json")):
            import xgboost

            booster = xgboost.Booster()
            booster.load_model(str(path))
            return booster, "xgboost"
        if flavor == "lightgbm":
            import lightgbm

            return lightgbm.Booster(model_file=str(path)), "lightgbm"
        raise ValueError(
            f"{path}: expected a .skops file, an .onnx file, an XGBoost .ubj/.json file, a "
            "LightGBM model file (with flavor='lightgbm') or a folder with predictor.py"
        )
    if flavor is not None:
        return model, flavor
    module = type(model).__module__.split(".")[0]
    if module in ("xgboost", "lightgbm"):
        return model, module
    if hasattr(model, "predict") and hasattr(model, "get_params"):
        return model, "sklearn"
    raise ValueError(f"cannot tell the flavor of a {type(model).__name__}; pass flavor=")


def _feature_names(estimator: Any, frame: Any, target: str) -> list[str]:
    """The estimator's own column order where it knows it, else the data's."""
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is None:  # a native booster read from its file
        fitted = getattr(estimator, "feature_names", None)
        if fitted is None and callable(getattr(estimator, "feature_name", None)):
            fitted = estimator.feature_name()
        if fitted and all(str(name).startswith(("f", "Column_")) for name in fitted):
            fitted = None  # generated names (f0, Column_0): the model never saw real ones
    names = [str(name) for name in fitted] if fitted is not None else None
    if names is None:
        names = [str(column) for column in frame.columns if column != target]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ValueError(f"the model was fitted on columns the data lacks: {missing}")
    return names


def _fitted_on_a_frame(estimator: Any) -> bool:
    return getattr(estimator, "feature_names_in_", None) is not None


def _default_metric(output: Column) -> str:
    return REGRESSION_DEFAULT if output.type == "float" else CLASSIFICATION_DEFAULT


def _params(estimator: Any) -> dict[str, Any]:
    """The estimator's parameters that JSON can carry (nested estimators are left out)."""
    if not hasattr(estimator, "get_params"):
        return {}
    plain: dict[str, Any] = {}
    for key, value in estimator.get_params(deep=False).items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        plain[key] = value
    return plain


def _build(kind: str, model: Any, out: Path, facts: dict[str, Any]) -> Manifest:
    if kind == "sklearn":
        return build_sklearn_bundle(model, out=out, **facts)
    if kind == "onnx":
        return build_onnx_bundle(Path(model), out=out, **facts)
    if kind == "python":
        with tempfile.TemporaryDirectory() as staging:
            folder = Path(staging) / "predictor"
            shutil.copytree(model, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            return build_python_bundle(folder, out=out, **facts)
    from model_runtime.packaging import build_native_bundle

    return build_native_bundle(kind, model, out=out, **facts)
