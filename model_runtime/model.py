"""A loaded model: the manifest's signature in front of the flavor's predict function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model_runtime.bundle import OpenedBundle
from model_runtime.exceptions import InputExampleMismatchError, InvalidInputError
from model_runtime.flavors import Predict, check_compatibility, load_predict_function
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
    check_compatibility(manifest.flavor, manifest.runtime)
    return LoadedModel(
        name=manifest.name,
        version=manifest.version,
        digest=bundle.digest,
        signature=manifest.signature,
        _predict=load_predict_function(
            manifest.flavor, bundle.model_path, bundle.root, manifest.signature
        ),
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


def _check_value(index: int, name: str, dtype: str, value: Any) -> None:
    if dtype in _NUMERIC:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and dtype.startswith("int") and isinstance(value, float):
            ok = value.is_integer()
        expected = "an integer" if dtype.startswith("int") else "a number"
    elif dtype == "bool":
        ok, expected = isinstance(value, bool), "true or false"
    else:
        ok, expected = isinstance(value, str), "a string"
    if not ok:
        raise InvalidInputError(f"inputs[{index}].{name} must be {expected}, got {value!r}")


def to_feature_matrix(signature: Signature, inputs: list[Any]) -> np.ndarray:
    """Turn request rows or records into the 2-D array the model was trained on.

    Every value is checked against its feature's dtype, so a client learns which value of
    which row is wrong instead of getting a model's internal error.
    """
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
            row = [item[name] for name in names]
        elif isinstance(item, list):
            if len(item) != len(names):
                raise InvalidInputError(
                    f"inputs[{index}] has {len(item)} values, the model takes {len(names)}: {names}"
                )
            row = item
        else:
            raise InvalidInputError(f"inputs[{index}] must be a list or an object keyed by feature")
        for feature, value in zip(features, row, strict=True):
            _check_value(index, feature.name, feature.dtype, value)
        rows.append(row)
    dtypes = {feature.dtype for feature in features}
    if not dtypes <= set(_NUMERIC):
        _check_representable(features, rows)
        return np.asarray(rows, dtype=object)
    dtype = _NUMERIC[next(iter(dtypes))] if len(dtypes) == 1 else np.float64
    try:
        with np.errstate(over="ignore"):
            matrix = np.asarray(rows, dtype=dtype)
        if matrix.dtype.kind != "f" or np.isfinite(matrix).all():
            return matrix
    except OverflowError:
        pass
    # rare, so located only now: the common path pays one vectorised check
    _check_representable(features, rows, cast_to=dtype)
    raise InvalidInputError(f"inputs hold a number that {np.dtype(dtype).name} cannot hold")


def _check_representable(features: list[Any], rows: list[list[Any]], cast_to: Any = None) -> None:
    """NaN and infinities are not numbers a model was trained on, and a value too large for
    the type it is cast to (``cast_to``, else its feature's own) would silently become one:
    both are the client's to fix."""
    for index, row in enumerate(rows):
        for feature, value in zip(features, row, strict=True):
            if feature.dtype not in _NUMERIC or isinstance(value, bool):
                continue
            dtype = np.dtype(cast_to or _NUMERIC[feature.dtype])
            if dtype.kind == "f":
                fits = value == value and abs(value) <= float(np.finfo(dtype).max)  # NaN != NaN
            else:
                info = np.iinfo(dtype)
                fits = info.min <= value <= info.max
            if not fits:
                raise InvalidInputError(
                    f"inputs[{index}].{feature.name} is {_shown(value)}: not a finite number "
                    f"that {dtype.name} can hold"
                )


def _shown(value: float) -> str:
    """A value for an error message; a huge integer is described, not spelled out."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return repr(value)
