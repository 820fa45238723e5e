"""package_model on real DataFrames: the bundle it writes serves its own input example and
passes its own gate, whatever the columns' dtypes (integer categories, nullable booleans
read from a CSV, pandas' missing-value markers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from model_runtime.bundle import open_bundle
from model_runtime.evaluation import evaluate, require_passing
from model_runtime.model import check_input_example, load_model
from slipway import package_model


def packaged(model, frame: pd.DataFrame, tmp_path: Path, **options):
    """Package ``model`` fitted on ``frame`` (target ``label``), open and load the bundle."""
    package_model(
        model,
        name="frames",
        version="1",
        train=options.pop("train", frame),
        evaluation=options.pop("evaluation", frame),
        target="label",
        metric="accuracy",
        threshold=0.5,
        out=tmp_path / "bundle.tar.gz",
        **options,
    )
    bundle = open_bundle(tmp_path / "bundle.tar.gz", tmp_path / "opened")
    return bundle, load_model(bundle)


def passes_its_gate(bundle, model) -> None:
    spec = bundle.manifest.evaluation
    require_passing(evaluate(spec, bundle.root / spec.dataset, model, None, margin=0.0))


def test_a_model_fitted_on_integer_categories_serves_them(tmp_path):
    # GIVEN a pipeline fitted on a DataFrame with an integer pd.Categorical column
    rng = np.random.default_rng(0)
    group = rng.integers(0, 3, 120)
    frame = pd.DataFrame(
        {
            "g": pd.Categorical(group),
            "x": rng.normal(size=120),
            "label": np.where(group == 2, "a", "b"),
        }
    )
    prepare = ColumnTransformer([("g", OneHotEncoder(), ["g"])], remainder="passthrough")
    model = make_pipeline(prepare, LogisticRegression()).fit(frame[["g", "x"]], frame["label"])
    # WHEN it is packaged
    bundle, loaded = packaged(model, frame, tmp_path)
    # THEN its column records integer categories, and its own input example reproduces
    column = bundle.manifest.signature.inputs[0]
    assert (column.type, column.categories) == ("category", [0, 1, 2])
    check_input_example(loaded, bundle)
    # AND a request with integers is served as the model itself predicts, and the gate passes
    rows = [{"g": 2, "x": 0.1}, {"g": 0, "x": -0.3}]
    assert (
        loaded.predict(rows)
        == model.predict(pd.DataFrame(rows).astype({"g": frame["g"].dtype})).tolist()
    )
    passes_its_gate(bundle, loaded)
