"""Model flavors: how a model file in a bundle becomes a predict function.

Each flavor module has ``load(model_path, bundle_root, signature) -> Predict`` and
``check_compatibility(runtime_versions)``. Heavy libraries (scikit-learn, onnxruntime) are
imported only when a bundle of that flavor is loaded, so a cold start pays only for what it
serves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_runtime.exceptions import ModelLoadError
from model_runtime.manifest import Signature

if TYPE_CHECKING:
    from model_runtime.model_input import ModelInput

# A flavor's predict function takes checked input and picks the form its model wants:
# ``model_input.frame`` (a DataFrame), ``.array`` (a 2-D array) or ``.rows`` (JSON rows).
Predict = Callable[["ModelInput"], list[Any]]
FLAVORS = {
    "sklearn": "sklearn",
    "onnx": "onnx_flavor",
    "python": "python_flavor",
    "xgboost": "xgboost_flavor",
    "lightgbm": "lightgbm_flavor",
}


# Flavors whose library an endpoint installs only when cdk.json asks for it
# (extra_libraries), by the distribution to ask for.
OPTIONAL_LIBRARIES = {"xgboost": "xgboost-cpu", "lightgbm": "lightgbm"}


def _module(flavor: str) -> Any:
    if flavor not in FLAVORS:
        raise ModelLoadError(f"unknown flavor {flavor!r}; known: {', '.join(FLAVORS)}")
    return importlib.import_module(f"model_runtime.flavors.{FLAVORS[flavor]}")


def load_predict_function(
    flavor: str, model_path: Path, bundle_root: Path, signature: Signature
) -> Predict:
    """The flavor's predict function for a verified bundle's model file."""
    return _module(flavor).load(model_path, bundle_root, signature)  # type: ignore[no-any-return]


def check_compatibility(flavor: str, built_with: dict[str, str]) -> None:
    """Refuse a bundle built with library versions this runtime cannot honour."""
    _module(flavor).check_compatibility(built_with)
