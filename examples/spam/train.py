"""A text classifier with string labels: TF-IDF on a message, "spam" or "ham".

    python -m examples.spam.train --out out/spam.tar.gz --version 1

The input is one string column; the endpoint answers with the labels themselves.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import Pipeline

from examples.common import Fitted, example_main
from model_runtime.manifest import Manifest
from slipway import package_model

HERE = Path(__file__).parent
TRAIN_CSV, EVALUATION_CSV = HERE / "data" / "train.csv", HERE / "data" / "evaluation.csv"


def fit() -> Fitted:
    """TF-IDF and a logistic regression fitted on the text column, with its macro F1."""
    train, evaluation = pd.read_csv(TRAIN_CSV), pd.read_csv(EVALUATION_CSV)
    model = Pipeline(
        [
            ("words", ColumnTransformer([("tfidf", TfidfVectorizer(ngram_range=(1, 2)), "text")])),
            ("model", LogisticRegression(max_iter=1000)),
        ]
    ).fit(train[["text"]], train["label"])
    score = f1_score(evaluation["label"], model.predict(evaluation[["text"]]), average="macro")
    return Fitted(model, ["text"], evaluation, metrics={"f1_macro": score})


def package(fitted: Fitted, out: Path, *, name: str = "spam", version: str = "1") -> Manifest:
    return package_model(
        fitted.model,
        name=name,
        version=version,
        train=TRAIN_CSV,
        evaluation=EVALUATION_CSV,
        target="label",
        metric="f1_macro",
        threshold=0.9,
        params={"ngram_range": [1, 2]},
        metrics=fitted.metrics,
        out=out,
        code_path=HERE,
    )


def train_and_package(out: Path, *, name: str = "spam", version: str = "1") -> Manifest:
    return package(fit(), out, name=name, version=version)


if __name__ == "__main__":
    example_main(__doc__, "out/spam.tar.gz", train_and_package)
