"""Credit default with XGBoost, saved in XGBoost's own format (UBJSON, not pickle).

    python -m examples.credit_xgboost.train --out out/credit.tar.gz --version 1

Numbers with gaps: XGBoost takes missing values as they are.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import xgboost
from sklearn.metrics import accuracy_score

from examples.common import Fitted, example_main
from model_runtime.manifest import Manifest
from slipway import package_model

HERE = Path(__file__).parent
TRAIN_CSV, EVALUATION_CSV = HERE / "data" / "train.csv", HERE / "data" / "evaluation.csv"
TARGET = "defaulted"
FEATURES = ["income", "debt_ratio", "age", "late_payments"]


def fit() -> Fitted:
    """An XGBoost classifier fitted on the training DataFrame, with its accuracy."""
    train, evaluation = pd.read_csv(TRAIN_CSV), pd.read_csv(EVALUATION_CSV)
    params = {"n_estimators": 60, "max_depth": 3, "learning_rate": 0.1}
    model = xgboost.XGBClassifier(**params, random_state=0).fit(train[FEATURES], train[TARGET])
    accuracy = accuracy_score(evaluation[TARGET], model.predict(evaluation[FEATURES]))
    return Fitted(model, FEATURES, evaluation, metrics={"accuracy": accuracy}, params=params)


def package(
    fitted: Fitted, out: Path, *, name: str = "credit-xgboost", version: str = "1"
) -> Manifest:
    return package_model(
        fitted.model,
        name=name,
        version=version,
        train=TRAIN_CSV,
        evaluation=EVALUATION_CSV,
        target=TARGET,
        metric="accuracy",
        threshold=0.6,
        params=fitted.params,
        metrics=fitted.metrics,
        out=out,
        code_path=HERE,
    )


def train_and_package(out: Path, *, name: str = "credit-xgboost", version: str = "1") -> Manifest:
    return package(fit(), out, name=name, version=version)


if __name__ == "__main__":
    example_main(__doc__, "out/credit-xgboost.tar.gz", train_and_package)
