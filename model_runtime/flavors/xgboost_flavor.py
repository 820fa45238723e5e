"""XGBoost models from their own format (UBJSON or JSON; never pickle)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model_runtime.exceptions import ModelLoadError
from model_runtime.flavors.compatibility import require_same_release
from model_runtime.flavors.native_boosting import labels_of, read_options
from model_runtime.manifest import Signature
from model_runtime.model_input import ModelInput


def check_compatibility(built_with: dict[str, str]) -> None:
    # the model format loads across patch releases; XGBoost changes behaviour between minors
    require_same_release("xgboost", built_with, parts=2)


def load(model_path: Path, bundle_root: Path, signature: Signature) -> Any:
    import xgboost

    options = read_options(bundle_root)
    booster = xgboost.Booster()
    try:
        booster.load_model(str(model_path))
    except xgboost.core.XGBoostError as exc:
        raise ModelLoadError(f"{model_path.name} is not a loadable XGBoost model: {exc}") from None
    as_frame = signature.model_input == "dataframe"

    def predict(model_input: ModelInput) -> list[Any]:
        features = model_input.frame if as_frame else model_input.array.astype("float32")
        return labels_of(booster.inplace_predict(features), options)

    return predict
