"""package_model on real DataFrames: the bundle it writes serves its own input example and
passes its own gate, whatever the columns' dtypes (integer categories, nullable booleans
read from a CSV, pandas' missing-value markers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from model_runtime.bundle import open_bundle
from model_runtime.evaluation import evaluate, require_passing
from model_runtime.model import check_input_example, load_model
from registry.statuses import NotComparablePolicy
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
    result = evaluate(spec, bundle.root / spec.dataset, model, None, margin=0.0)
    require_passing(result, NotComparablePolicy.REFUSE)


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


def test_a_nullable_bool_column_read_from_a_csv_reaches_the_model_as_it_was_fitted(tmp_path):
    # GIVEN a CSV whose bool column has blanks (pandas reads it as object: True, False, NaN)
    rng = np.random.default_rng(1)
    flags = rng.choice(["True", "False", ""], 90)
    numbers = rng.normal(size=90)
    lines = ["flag,x,label"] + [
        f"{flag},{x:.3f},{'yes' if flag == 'True' else 'no'}"
        for flag, x in zip(flags, numbers, strict=True)
    ]
    csv = tmp_path / "data.csv"
    csv.write_text("\n".join(lines) + "\n")
    frame = pd.read_csv(csv)
    assert frame["flag"].dtype == object
    # AND a pipeline that imputes then one-hot encodes it, fitted on that frame
    flag = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder())
    prepare = ColumnTransformer([("flag", flag, ["flag"])], remainder="passthrough")
    model = make_pipeline(prepare, LogisticRegression()).fit(frame[["flag", "x"]], frame["label"])
    # WHEN it is packaged from the CSV and a request row has a null flag
    bundle, loaded = packaged(model, frame, tmp_path, train=csv, evaluation=csv)
    assert bundle.manifest.signature.inputs[0].model_dump(exclude_none=True) == {
        "name": "flag",
        "type": "bool",
        "nullable": True,
        "dtype": "object",
    }
    rows = [{"flag": None, "x": 0.5}, {"flag": True, "x": -1.0}, {"flag": False, "x": 2.0}]
    # THEN the model gets NaN, as when it was fitted, and answers as it does on the CSV's frame
    expected = model.predict(pd.DataFrame({"flag": [np.nan, True, False], "x": [0.5, -1.0, 2.0]}))
    assert loaded.predict(rows) == expected.tolist()
    check_input_example(loaded, bundle)
    passes_its_gate(bundle, loaded)


def test_the_gate_reads_missing_values_as_packaging_does(tmp_path):
    # GIVEN evaluation data whose gaps are written NA, nan, null and N/A (pandas' markers)
    rng = np.random.default_rng(2)
    size = 80
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=size),
            "s": rng.choice(["red", "blue"], size),
            "label": rng.choice(["p", "q"], size),
        }
    )
    lines = ["a,s,label"] + [
        f"{a:.3f},{s},{label}" for a, s, label in frame.itertuples(index=False, name=None)
    ]
    lines[2] = "NA,NA,q"
    lines[3] = "nan,null,p"
    lines[4] = "N/A,,q"
    csv = tmp_path / "data.csv"
    csv.write_text("\n".join(lines) + "\n")
    read = pd.read_csv(csv)
    strings = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="none"),
        OneHotEncoder(handle_unknown="ignore"),
    )
    prepare = ColumnTransformer(
        [("s", strings, ["s"]), ("a", SimpleImputer(), ["a"])], remainder="drop"
    )
    model = make_pipeline(prepare, LogisticRegression()).fit(read[["a", "s"]], read["label"])
    # WHEN it is packaged from the CSV and the gate scores the bundle on it
    bundle, loaded = packaged(model, read, tmp_path, train=csv, evaluation=csv)
    assert [c.nullable for c in bundle.manifest.signature.inputs] == [True, True]
    spec = bundle.manifest.evaluation
    result = evaluate(spec, bundle.root / spec.dataset, loaded, None, margin=0.0)
    # THEN every marker is missing to the gate too, and its score is the model's own on the frame
    own = float((model.predict(read[["a", "s"]]) == read["label"]).mean())
    assert result.rows == size and result.value == own
