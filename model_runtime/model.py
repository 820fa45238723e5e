"""A loaded model: the manifest's signature in front of the flavor's predict function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model_runtime.bundle import OpenedBundle
from model_runtime.exceptions import InputExampleMismatchError, InvalidInputError
from model_runtime.flavors import Predict, load_predict_function
from model_runtime.manifest import Signature

_NUMERIC = {"float64": np.float64, "float32": np.float32, "int64": np.int64, "int32": np.int32}
FLOAT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    digest: str
    signature: Signature
    _predict: Predict
    load_ms: float = 0.0  # download, verification and load time, reported to callers

    def predict(self, inputs: list[Any]) -> list[Any]:
        """Predict for rows (lists in signature order) or records (dicts keyed by feature)."""
        return self._predict(to_feature_matrix(self.signature, inputs))


def load_model(bundle: OpenedBundle) -> LoadedModel:
    """Load the bundle's model with its flavor; the bundle must already be verified."""
    manifest = bundle.manifest
    return LoadedModel(
        name=manifest.name,
        version=manifest.version,
        digest=bundle.digest,
        signature=manifest.signature,
        _predict=load_predict_function(manifest.flavor, bundle.model_path),
    )


def check_input_example(model: LoadedModel, bundle: OpenedBundle) -> list[Any]:
    """Predict the manifest's input example and insist on its recorded expected output."""
    example = bundle.manifest.input_example
    actual = model.predict(example.inputs)
    if not outputs_match(actual, example.expected_output):
        raise InputExampleMismatchError(
            f"model predicts {actual} for its input example, manifest.json expects "
            f"{example.expected_output}"
        )
    return actual


def outputs_match(actual: list[Any], expected: list[Any]) -> bool:
    if len(actual) != len(expected):
        return False
    for got, want in zip(actual, expected, strict=True):
        if isinstance(got, list) and isinstance(want, list):
            if not outputs_match(got, want):
                return False
        elif isinstance(got, float) or isinstance(want, float):
            try:
                if abs(float(got) - float(want)) > FLOAT_TOLERANCE * max(1.0, abs(float(want))):
                    return False
            except (TypeError, ValueError):
                return False
        elif got != want:
            return False
    return True


def to_feature_matrix(signature: Signature, inputs: list[Any]) -> np.ndarray:
    """Turn request rows or records into the 2-D array the model was trained on."""
    features = signature.inputs
    names = [feature.name for feature in features]
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInputError("'inputs' must be a non-empty list of rows or records")
    rows: list[list[Any]] = []
    for index, item in enumerate(inputs):
        if isinstance(item, dict):
            missing = [name for name in names if name not in item]
            unknown = sorted(set(item) - set(names))
            if missing or unknown:
                raise InvalidInputError(
                    f"inputs[{index}]: missing features {missing}, unknown features {unknown}; "
                    f"expected {names}"
                )
            rows.append([item[name] for name in names])
        elif isinstance(item, list):
            if len(item) != len(names):
                raise InvalidInputError(
                    f"inputs[{index}] has {len(item)} values, the model takes {len(names)}: {names}"
                )
            rows.append(item)
        else:
            raise InvalidInputError(f"inputs[{index}] must be a list or an object keyed by feature")
    dtypes = {feature.dtype for feature in features}
    if dtypes <= set(_NUMERIC):
        for index, row in enumerate(rows):
            for name, value in zip(names, row, strict=True):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise InvalidInputError(
                        f"inputs[{index}].{name} must be a number, got {value!r}"
                    )
        dtype = np.float64 if len(dtypes) > 1 else _NUMERIC[next(iter(dtypes))]
        return np.asarray(rows, dtype=dtype)
    return np.asarray(rows, dtype=object)
