"""Fit class centroids on the shipped iris data, write them beside predictor.py, bundle the
folder.

    python -m examples.iris_python.train --out out/iris-python.tar.gz --version 1
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from examples.common import example_main
from examples.iris.train import EVALUATION_CSV, HERE, TARGET, TRAIN_CSV, read_csv
from model_runtime.manifest import Manifest
from slipway import package_model

PREDICTOR = Path(__file__).parent / "predictor"


def train_and_package(
    out: Path, *, name: str = "iris-python", version: str = "1", predictor: Path = PREDICTOR
) -> Manifest:
    """Fit the centroids and bundle them with ``predictor`` (a folder with predictor.py)."""
    x_train, y_train = read_csv(TRAIN_CSV)
    centroids = [
        {"label": int(label), "center": x_train[y_train == label].mean(axis=0).tolist()}
        for label in sorted(set(y_train.tolist()))
    ]
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "predictor"
        shutil.copytree(predictor, folder, ignore=shutil.ignore_patterns("__pycache__"))
        (folder / "centroids.json").write_text(json.dumps(centroids, indent=2))
        return package_model(
            folder,
            name=name,
            version=version,
            train=TRAIN_CSV,
            evaluation=EVALUATION_CSV,
            target=TARGET,
            metric="accuracy",
            threshold=0.8,
            params={"algorithm": "nearest-centroid"},
            out=out,
            code_path=HERE,
        )


if __name__ == "__main__":
    example_main(__doc__, "out/iris-python.tar.gz", train_and_package)
