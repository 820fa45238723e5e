"""What XGBoost and LightGBM models share in a bundle: a sidecar naming the task and the
classes, since the native model files keep raw scores, not the labels a client wants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model_runtime.exceptions import ModelLoadError
from registry.strict_json import StrictJsonError, load_strict_json

SIDECAR = "model-options.json"
MAX_SIDECAR_BYTES = 64 * 1024  # a task and a list of classes; anything larger is not options


def read_options(bundle_root: Path) -> dict[str, Any]:
    path = bundle_root / SIDECAR
    if not path.is_file():
        raise ModelLoadError(f"the bundle has no {SIDECAR} (task and classes of the model)")
    size = path.stat().st_size
    if size > MAX_SIDECAR_BYTES:
        raise ModelLoadError(f"{SIDECAR} has {size} bytes; the limit is {MAX_SIDECAR_BYTES}")
    try:
        options = load_strict_json(path.read_bytes())
    except StrictJsonError as exc:
        raise ModelLoadError(f"{SIDECAR}: {exc}") from None
    if not isinstance(options, dict):
        raise ModelLoadError(f"{SIDECAR} must be a JSON object")
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
