"""Churn with missing values: a plan that may be missing, integer counts with gaps.

    python -m examples.churn.train --out out/churn.tar.gz --version 1

HistGradientBoosting takes missing numbers as they are; the plan is imputed and one-hot
encoded. Clients send JSON null for a missing value.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from examples.common import Fitted, example_main
from model_runtime.manifest import Manifest
from slipway import package_model

HERE = Path(__file__).parent
TRAIN_CSV, EVALUATION_CSV = HERE / "data" / "train.csv", HERE / "data" / "evaluation.csv"
TARGET = "churned"
NUMBERS = ["tenure_months", "support_calls", "monthly_charges", "paperless"]


def fit() -> Fitted:
    """The pipeline fitted on the training CSV as pandas reads it, with its balanced accuracy."""
    train, evaluation = pd.read_csv(TRAIN_CSV), pd.read_csv(EVALUATION_CSV)
    features = ["plan", *NUMBERS]
    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        (
                            "plan",
                            make_pipeline(
                                SimpleImputer(strategy="most_frequent"),
                                OneHotEncoder(handle_unknown="ignore"),
                            ),
                            ["plan"],
                        )
                    ],
                    remainder="passthrough",
                ),
            ),
            ("model", HistGradientBoostingClassifier(max_iter=100, random_state=0)),
        ]
    ).fit(train[features], train[TARGET])
    score = balanced_accuracy_score(evaluation[TARGET], model.predict(evaluation[features]))
    return Fitted(model, features, evaluation, metrics={"balanced_accuracy": score})


def package(fitted: Fitted, out: Path, *, name: str = "churn", version: str = "1") -> Manifest:
    return package_model(
        fitted.model,
        name=name,
        version=version,
        train=TRAIN_CSV,
        evaluation=EVALUATION_CSV,
        target=TARGET,
        metric="balanced_accuracy",
        threshold=0.55,
        # counts with gaps are read as floats; clients send integers (or null)
        columns={"tenure_months": "int", "support_calls": "int"},
        metrics=fitted.metrics,
        out=out,
        code_path=HERE,
    )


def train_and_package(out: Path, *, name: str = "churn", version: str = "1") -> Manifest:
    return package(fit(), out, name=name, version=version)


if __name__ == "__main__":
    example_main(__doc__, "out/churn.tar.gz", train_and_package)
