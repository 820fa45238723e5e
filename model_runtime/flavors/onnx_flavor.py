"""ONNX models through onnxruntime; the graph's declared inputs must fit the signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model_runtime.exceptions import ModelLoadError
from model_runtime.flavors.compatibility import require_same_release
from model_runtime.manifest import Signature
from model_runtime.model_input import ModelInput

_TENSOR_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}


def check_compatibility(built_with: dict[str, str]) -> None:
    require_same_release("onnxruntime", built_with)


def load(model_path: Path, bundle_root: Path, signature: Signature) -> Any:
    """A session whose single input takes the feature matrix [rows, features]."""
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelLoadError(f"{model_path.name} is not a loadable ONNX model: {exc}") from None
    inputs = session.get_inputs()
    features = len(signature.inputs)
    if len(inputs) != 1:
        names = [graph_input.name for graph_input in inputs]
        raise ModelLoadError(
            f"{model_path.name} declares inputs {names}; Slipway feeds one [rows, {features}] "
            "tensor (export the model with a single feature-matrix input)"
        )
    (graph_input,) = inputs
    shape = graph_input.shape
    if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != features):
        raise ModelLoadError(
            f"{model_path.name} input {graph_input.name!r} has shape {shape}; the signature "
            f"has {features} features, so it must be [rows, {features}]"
        )
    if graph_input.type not in _TENSOR_TYPES:
        raise ModelLoadError(
            f"{model_path.name} input {graph_input.name!r} is {graph_input.type}; supported: "
            f"{', '.join(_TENSOR_TYPES)}"
        )
    dtype = _TENSOR_TYPES[graph_input.type]
    output_name = session.get_outputs()[0].name

    def predict(model_input: ModelInput) -> list[Any]:
        feed = {graph_input.name: model_input.array.astype(dtype)}
        (result,) = session.run([output_name], feed)
        return np.asarray(result).tolist()

    return predict
