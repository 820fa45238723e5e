"""A loaded model: the manifest's signature in front of the flavor's predict function."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from model_runtime.bundle import OpenedBundle
from model_runtime.exceptions import InputExampleMismatchError
from model_runtime.flavors import Predict, check_compatibility, load_predict_function
from model_runtime.manifest import Signature
from model_runtime.model_input import ModelInput

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
        """Predict for rows (lists in signature order) or records (dicts keyed by column)."""
        return self._predict(ModelInput.from_request(self.signature, inputs))

    def predict_checked(self, model_input: ModelInput) -> list[Any]:
        """Predict for input already checked against this model's signature."""
        return self._predict(model_input)


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
                got_number, want_number = float(got), float(want)
            except (TypeError, ValueError):
                return False
            if not (math.isfinite(got_number) and math.isfinite(want_number)):
                return False  # NaN is no number: "within tolerance" of anything, were it
            if abs(got_number - want_number) > FLOAT_TOLERANCE * max(1.0, abs(want_number)):
                return False
        elif got != want:
            return False
    return True
