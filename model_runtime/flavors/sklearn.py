"""scikit-learn models saved with skops, loaded only when every type is allow-listed.

skops (unlike pickle) refuses unknown types unless the caller trusts them; this module
trusts nothing beyond skops' own defaults and the short list below, and names whatever else
the file asks for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model_runtime.exceptions import ForbiddenModelTypeError, ModelLoadError
from model_runtime.flavors.compatibility import require_same_release
from model_runtime.manifest import Signature
from model_runtime.model_input import ModelInput

# Types skops does not trust by default but that plain scikit-learn pipelines contain.
EXTRA_TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "numpy.dtype",
        "numpy.float64",
        "numpy.int64",
        # Fitted trees (decision trees, random forests, gradient boosting) store this.
        "sklearn.tree._tree.Tree",
    }
)


def load_estimator(model_path: Path) -> Any:
    """Load a skops file, refusing any type outside the allow-list by name."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=model_path)
    except Exception as exc:
        raise ModelLoadError(f"{model_path.name} is not a readable skops file: {exc}") from None
    forbidden = sorted(set(untrusted) - EXTRA_TRUSTED_TYPES)
    if forbidden:
        raise ForbiddenModelTypeError(
            f"{model_path.name} references types outside the allow-list: {', '.join(forbidden)}"
        )
    try:
        estimator = sio.load(model_path, trusted=list(untrusted))
    except Exception as exc:
        raise ModelLoadError(f"{model_path.name} could not be loaded: {exc}") from None
    if not hasattr(estimator, "predict"):
        raise ModelLoadError(
            f"{model_path.name} holds a {type(estimator).__name__} with no predict method"
        )
    return estimator


def check_compatibility(built_with: dict[str, str]) -> None:
    # scikit-learn only promises that a model loads in the version that saved it; estimators
    # change their fitted attributes between minor releases, so 1.8 and 1.9 differ too.
    require_same_release("scikit-learn", built_with, parts=2)


def load(model_path: Path, bundle_root: Path, signature: Signature) -> Any:
    """Load a skops file; the estimator gets what it was fitted on: a DataFrame with the
    training dtypes if it was fitted on one, else an array."""
    estimator = load_estimator(model_path)
    as_frame = signature.model_input == "dataframe"

    def predict(model_input: ModelInput) -> list[Any]:
        features = model_input.frame if as_frame else model_input.array
        return np.asarray(estimator.predict(features)).tolist()

    return predict
