"""Train the iris pipeline, export it to ONNX with skl2onnx, and bundle the .onnx file.

python -m examples.iris_onnx.train --out out/iris-onnx.tar.gz --version 1
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from examples.iris.train import FEATURES, HERE, TARGET, read_csv
from model_runtime.manifest import Evaluation, Manifest
from model_runtime.packaging import build_onnx_bundle, capture_code_version, describe_dataset


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
    train_csv, evaluation_csv = HERE / "data" / "train.csv", HERE / "data" / "evaluation.csv"
    x_train, y_train = read_csv(train_csv)
    x_eval, _ = read_csv(evaluation_csv)
    estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        x_train, y_train
    )
    with tempfile.TemporaryDirectory() as work:
        onnx_file = export_onnx(estimator, len(FEATURES), Path(work) / "model.onnx")
        return build_onnx_bundle(
            onnx_file,
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
            params={"max_iter": 500, "exported_with": "skl2onnx", "opset": 17},
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
    parser.add_argument("--out", type=Path, default=Path("out/iris-onnx.tar.gz"))
    parser.add_argument("--version", default="1")
    args = parser.parse_args()
    manifest = train_and_package(args.out, version=args.version)
    print(f"wrote {args.out}: {manifest.name} {manifest.version} (onnx)")


if __name__ == "__main__":
    main()
