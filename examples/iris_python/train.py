"""Fit class centroids on the shipped iris data, write them beside predictor.py, bundle the folder.

python -m examples.iris_python.train --out out/iris-python.tar.gz --version 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from examples.iris.train import FEATURES, HERE, TARGET, read_csv
from model_runtime.manifest import Evaluation, Manifest
from model_runtime.packaging import build_python_bundle, capture_code_version, describe_dataset

PREDICTOR = Path(__file__).parent / "predictor"


def train_and_package(out: Path, *, name: str = "iris-python", version: str = "1") -> Manifest:
    train_csv, evaluation_csv = HERE / "data" / "train.csv", HERE / "data" / "evaluation.csv"
    x_train, y_train = read_csv(train_csv)
    x_eval, _ = read_csv(evaluation_csv)
    centroids = [
        {"label": int(label), "center": x_train[y_train == label].mean(axis=0).tolist()}
        for label in sorted(set(y_train.tolist()))
    ]
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "predictor"
        shutil.copytree(PREDICTOR, folder, ignore=shutil.ignore_patterns("__pycache__"))
        (folder / "centroids.json").write_text(json.dumps(centroids, indent=2))
        return build_python_bundle(
            folder,
            out=out,
            name=name,
            version=version,
            feature_names=FEATURES,
            example_rows=x_eval[:3].tolist(),
            code=capture_code_version(HERE),
            datasets=[
                describe_dataset(train_csv, "train"),
                describe_dataset(evaluation_csv, "evaluation"),
            ],
            params={"algorithm": "nearest-centroid"},
            evaluation=Evaluation(
                dataset="data/evaluation.csv",
                target=TARGET,
                metric="accuracy",
                threshold=0.8,
                direction="maximize",
            ),
            extra_files={"data/evaluation.csv": evaluation_csv},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("out/iris-python.tar.gz"))
    parser.add_argument("--version", default="1")
    args = parser.parse_args()
    manifest = train_and_package(args.out, version=args.version)
    print(f"wrote {args.out}: {manifest.name} {manifest.version} (python)")


if __name__ == "__main__":
    main()
