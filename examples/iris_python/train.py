"""Fit class centroids on the shipped iris data, write them beside predictor.py, bundle the
folder.

    python -m examples.iris_python.train --out out/iris-python.tar.gz --version 1
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from examples.iris.train import TRAIN_CSV, example_main, read_csv, shipped_data_facts
from model_runtime.manifest import Manifest
from model_runtime.packaging import build_python_bundle

PREDICTOR = Path(__file__).parent / "predictor"


def train_and_package(out: Path, *, name: str = "iris-python", version: str = "1") -> Manifest:
    x_train, y_train = read_csv(TRAIN_CSV)
    centroids = [
        {"label": int(label), "center": x_train[y_train == label].mean(axis=0).tolist()}
        for label in sorted(set(y_train.tolist()))
    ]
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "predictor"
        shutil.copytree(PREDICTOR, folder, ignore=shutil.ignore_patterns("__pycache__"))
        (folder / "centroids.json").write_text(json.dumps(centroids, indent=2))
        facts = shipped_data_facts(name, version, {"algorithm": "nearest-centroid"})
        return build_python_bundle(folder, out=out, **facts)


if __name__ == "__main__":
    example_main(__doc__, "out/iris-python.tar.gz", train_and_package)
