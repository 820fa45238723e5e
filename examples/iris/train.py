"""Train an iris classifier on the shipped CSVs and package it as a Slipway bundle.

    python -m examples.iris.train --out out/bundle.tar.gz --version 1

Change data/train.csv and both the model and the recorded dataset sha256 change.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model_runtime.manifest import Evaluation, Manifest
from model_runtime.packaging import build_sklearn_bundle, capture_code_version, describe_dataset

HERE = Path(__file__).parent
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TARGET = "species"


def read_csv(path: Path, feature_names: list[str] = FEATURES) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="") as handle:
        records = list(csv.DictReader(handle))
    features = np.asarray([[float(r[f]) for f in feature_names] for r in records], dtype=np.float64)
    labels = np.asarray([int(r[TARGET]) for r in records], dtype=np.int64)
    return features, labels


TRAIN_CSV = HERE / "data" / "train.csv"
EVALUATION_CSV = HERE / "data" / "evaluation.csv"


def shipped_data_facts(name: str, version: str, params: dict[str, Any]) -> dict[str, Any]:
    """What every iris example records: the shipped data's lineage, three example rows, and
    the gate's evaluation on the bundled evaluation CSV."""
    return {
        "name": name,
        "version": version,
        "feature_names": FEATURES,
        "example_rows": read_csv(EVALUATION_CSV)[0][:3].tolist(),
        "code": capture_code_version(HERE),
        "datasets": [
            describe_dataset(TRAIN_CSV, "train"),
            describe_dataset(EVALUATION_CSV, "evaluation"),
        ],
        "params": params,
        "evaluation": Evaluation(
            dataset="data/evaluation.csv",
            target=TARGET,
            metric="accuracy",
            threshold=0.8,
            direction="maximize",
        ),
        "extra_files": {"data/evaluation.csv": EVALUATION_CSV},
    }


def example_main(doc: str, default_out: str, package: Any) -> None:
    """The command line every example shares: --out and --version."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--out", type=Path, default=Path(default_out))
    parser.add_argument("--version", default="1")
    args = parser.parse_args()
    manifest = package(args.out, version=args.version)
    print(f"wrote {args.out}: {manifest.name} {manifest.version} ({manifest.flavor})")


def train_and_package(
    out: Path,
    *,
    name: str = "iris",
    version: str = "1",
    train_csv: Path = HERE / "data" / "train.csv",
    evaluation_csv: Path = HERE / "data" / "evaluation.csv",
    c: float = 1.0,
    threshold: float = 0.8,
    feature_names: list[str] = FEATURES,
) -> Manifest:
    """Fit a scaler + logistic regression pipeline and write its bundle to ``out``."""
    x_train, y_train = read_csv(train_csv, feature_names)
    x_eval, y_eval = read_csv(evaluation_csv, feature_names)
    params = {"C": c, "max_iter": 500}
    estimator = make_pipeline(StandardScaler(), LogisticRegression(**params)).fit(x_train, y_train)
    accuracy = float(accuracy_score(y_eval, estimator.predict(x_eval)))
    return build_sklearn_bundle(
        estimator,
        name=name,
        version=version,
        feature_names=feature_names,
        example_rows=x_eval[:3].tolist(),
        out=out,
        code=capture_code_version(HERE),
        datasets=[
            describe_dataset(train_csv, "train"),
            describe_dataset(evaluation_csv, "evaluation"),
        ],
        params=params,
        metrics={"accuracy": accuracy},
        evaluation=Evaluation(
            dataset=f"data/{evaluation_csv.name}",
            target=TARGET,
            metric="accuracy",
            threshold=threshold,
            direction="maximize",
        ),
        extra_files={f"data/{evaluation_csv.name}": evaluation_csv},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "bundle.tar.gz")
    parser.add_argument("--name", default="iris")
    parser.add_argument("--version", default="1")
    parser.add_argument("--train", type=Path, default=HERE / "data" / "train.csv")
    args = parser.parse_args()
    manifest = train_and_package(
        args.out, name=args.name, version=args.version, train_csv=args.train
    )
    print(
        f"wrote {args.out}: {manifest.name} {manifest.version}, "
        f"accuracy {manifest.lineage.metrics['accuracy']:.3f}"
    )


if __name__ == "__main__":
    main()
