"""What XGBoost and LightGBM models share in a bundle: a sidecar naming the task and the
classes, since the native model files keep raw scores, not the labels a client wants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from model_runtime.exceptions import ModelLoadError

SIDECAR = "model-options.json"


def read_options(bundle_root: Path) -> dict[str, Any]:
    path = bundle_root / SIDECAR
    if not path.is_file():
        raise ModelLoadError(f"the bundle has no {SIDECAR} (task and classes of the model)")
    try:
        options = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{SIDECAR} is not JSON: {exc}") from None
    if options.get("task") not in ("classification", "regression"):
        raise ModelLoadError(f"{SIDECAR}: task must be 'classification' or 'regression'")
    return options


def labels_of(scores: Any, options: dict[str, Any]) -> list[Any]:
    """Predictions as the client wants them: classes for a classifier (from probabilities
    or raw class scores), numbers for a regressor."""
    values = np.asarray(scores)
    if options["task"] == "regression":
        return values.astype(float).reshape(len(values)).tolist()
    classes = options.get("classes") or []
    if values.ndim == 2:
        index = values.argmax(axis=1)
    elif options.get("scores") == "index":
        index = values.astype(int)
    else:  # the probability of the second class
        index = (values > 0.5).astype(int)
    return [classes[i] if i < len(classes) else int(i) for i in index.tolist()]
