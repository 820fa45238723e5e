"""scikit-learn models saved with skops, loaded only when every type is allow-listed.

skops (unlike pickle) refuses unknown types unless the caller trusts them. This module
trusts skops' own defaults (scikit-learn's estimators and transformers, numpy ufuncs), the
curated list below (helper types that common estimators store once fitted, each checked by
a round-trip test), and the types an environment adds by name in ``cdk.json``
(``trusted_model_types``); it names whatever else a file asks for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model_runtime.exceptions import ForbiddenModelTypeError, ModelLoadError
from model_runtime.flavors.compatibility import require_same_release
from model_runtime.flavors.skops_partials import (
    PARTIAL_TYPE,
    SAFE_PARTIAL_FUNCTIONS,
    unsafe_partials,
)
from model_runtime.manifest import Signature
from model_runtime.model_input import ModelInput

# Types skops does not trust by default but that fitted scikit-learn models commonly store
# (tests/unit/test_skops_allow_list.py round-trips an estimator needing each, and fails for
# an entry no round-tripped estimator needs).
EXTRA_TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # a dtype kept as an object (numpy's scalars themselves skops trusts already)
        "numpy.dtype",
        # trees: decision trees, random forests, extra trees, gradient boosting
        "sklearn.tree._tree.Tree",
        # HistGradientBoosting*; with native categorical support it also keeps
        # partial(check_array, ...), a partial trusted by skops_partials.py alone
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.utils.validation.check_array",
        # IterativeImputer (scikit-learn's experimental module) and its per-feature triplets
        "sklearn.impute._iterative.IterativeImputer",
        "sklearn.impute._iterative._ImputerTriplet",
        # nearest neighbours (the KD tree and its metric)
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        # CalibratedClassifierCV
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        # MLP*
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        # ColumnTransformer's named transformers
        "sklearn.utils._bunch.Bunch",
        # SelectKBest and friends keep their score function
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.f_regression",
        "sklearn.feature_selection._univariate_selection.chi2",
        # SplineTransformer
        "scipy.interpolate._bsplines.BSpline",
        # the array-API shim some transformers keep a reference to
        "scipy._lib.array_api_compat.numpy._aliases.asarray",
    }
)


def trusted_types() -> frozenset[str]:
    """The allow-list: the curated types and those this environment trusts by name."""
    from model_runtime.serving.settings import get_runtime_settings

    return EXTRA_TRUSTED_TYPES | get_runtime_settings().trusted_types()


def load_estimator(model_path: Path, trusted: frozenset[str] | None = None) -> Any:
    """Load a skops file, refusing any type outside the allow-list by name."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=model_path)
    except Exception as exc:
        raise ModelLoadError(f"{model_path.name} is not a readable skops file: {exc}") from None
    allowed = trusted if trusted is not None else trusted_types()
    forbidden = sorted(set(untrusted) - allowed)
    if PARTIAL_TYPE in forbidden:
        # scikit-learn's own partials are trusted, no others (skops_partials.py says why)
        unsafe = unsafe_partials(model_path)
        forbidden.remove(PARTIAL_TYPE)
        if unsafe:
            forbidden.append(
                f"{PARTIAL_TYPE} ({'; '.join(sorted(set(unsafe)))}; only partials of "
                f"{', '.join(sorted(SAFE_PARTIAL_FUNCTIONS))} are trusted)"
            )
    if forbidden:
        raise ForbiddenModelTypeError(
            f"{model_path.name} references types outside the allow-list: "
            f"{', '.join(forbidden)} (an environment may trust more by name: "
            "trusted_model_types in cdk.json)"
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
