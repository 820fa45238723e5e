"""Model flavors: how a model file in a bundle becomes something that predicts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from model_runtime.exceptions import ModelLoadError

Predict = Callable[[np.ndarray], list[Any]]


def load_predict_function(flavor: str, model_path: Path) -> Predict:
    """Return the flavor's predict function for the model file; heavy imports happen here."""
    if flavor == "sklearn":
        from model_runtime.flavors import sklearn

        return sklearn.load(model_path)
    raise ModelLoadError(
        f"flavor {flavor!r} is part of the manifest format but this runtime serves only "
        "'sklearn' bundles so far"
    )
