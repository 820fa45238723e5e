"""Train an iris classifier on the shipped CSVs and package it as a Slipway bundle.

    python -m examples.iris.train --out out/bundle.tar.gz --version 1

Change data/train.csv and both the model and the recorded dataset sha256 change.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from examples.common import example_main
from model_runtime.manifest import Manifest
from slipway import package_model

HERE = Path(__file__).parent
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TARGET = "species"
TRAIN_CSV = HERE / "data" / "train.csv"
EVALUATION_CSV = HERE / "data" / "evaluation.csv"


def read_csv(path: Path, feature_names: list[str] = FEATURES) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="") as handle:
        records = list(csv.DictReader(handle))
    features = np.asarray([[float(r[f]) for f in feature_names] for r in records], dtype=np.float64)
    labels = np.asarray([int(r[TARGET]) for r in records], dtype=np.int64)
    return features, labels


def train_and_package(
    out: Path,
    *,
    name: str = "iris",
    version: str = "1",
    train_csv: Path = TRAIN_CSV,
    evaluation_csv: Path = EVALUATION_CSV,
    c: float = 1.0,
    threshold: float = 0.8,
    feature_names: list[str] = FEATURES,
    recorded: tuple[Any, Any] | None = None,
) -> Manifest:
    """Fit a scaler + logistic regression pipeline (on arrays) and write its bundle.
    ``recorded``: what the lineage names for the two CSVs (e.g. the datasets
    ``fetch_dataset`` read from S3), default the files themselves."""
    x_train, y_train = read_csv(train_csv, feature_names)
    x_eval, y_eval = read_csv(evaluation_csv, feature_names)
    params = {"C": c, "max_iter": 500}
    estimator = make_pipeline(StandardScaler(), LogisticRegression(**params)).fit(x_train, y_train)
    return package_model(
        estimator,
        name=name,
        version=version,
        train=recorded[0] if recorded else train_csv,
        evaluation=recorded[1] if recorded else evaluation_csv,
        target=TARGET,
        metric="accuracy",
        threshold=threshold,
        params=params,
        metrics={"accuracy": float(accuracy_score(y_eval, estimator.predict(x_eval)))},
        out=out,
        code_path=HERE,
    )


if __name__ == "__main__":
    example_main(__doc__, "out/bundle.tar.gz", train_and_package)
