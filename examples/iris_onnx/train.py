"""Train the iris pipeline, export it to ONNX with skl2onnx, and bundle the .onnx file.

python -m examples.iris_onnx.train --out out/iris-onnx.tar.gz --version 1
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from examples.common import example_main
from examples.iris.train import EVALUATION_CSV, FEATURES, HERE, TARGET, TRAIN_CSV, read_csv
from model_runtime.manifest import Manifest
from slipway import package_model


def export_onnx(estimator: object, features: int, path: Path) -> Path:
    """A single [rows, features] float input, as the onnx flavor expects."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onnx_model = to_onnx(
        estimator,
        initial_types=[("features", FloatTensorType([None, features]))],
        options={id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None,
        target_opset=17,
    )
    path.write_bytes(onnx_model.SerializeToString())
    return path


def train_and_package(out: Path, *, name: str = "iris-onnx", version: str = "1") -> Manifest:
    x_train, y_train = read_csv(TRAIN_CSV)
    estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        x_train, y_train
    )
    params = {"max_iter": 500, "exported_with": "skl2onnx", "opset": 17}
    with tempfile.TemporaryDirectory() as work:
        onnx_file = export_onnx(estimator, len(FEATURES), Path(work) / "model.onnx")
        return package_model(
            onnx_file,
            name=name,
            version=version,
            train=TRAIN_CSV,
            evaluation=EVALUATION_CSV,
            target=TARGET,
            metric="accuracy",
            threshold=0.8,
            params=params,
            out=out,
            code_path=HERE,
        )


if __name__ == "__main__":
    example_main(__doc__, "out/iris-onnx.tar.gz", train_and_package)
