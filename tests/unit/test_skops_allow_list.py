"""The curated skops allow-list: estimators teams commonly ship load and predict after a
round trip through skops and Slipway's loader; other types are refused by name unless the
environment trusts them."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn import (
    calibration,
    compose,
    decomposition,
    ensemble,
    feature_extraction,
    feature_selection,
    impute,
    linear_model,
    naive_bayes,
    neighbors,
    neural_network,
    pipeline,
    preprocessing,
    svm,
    tree,
)

from model_runtime.exceptions import ForbiddenModelTypeError
from model_runtime.flavors.sklearn import EXTRA_TRUSTED_TYPES, load_estimator

RNG = np.random.RandomState(0)
X = RNG.rand(60, 4)
X_MISSING = X.copy()
X_MISSING[::7, 0] = np.nan
Y = (X[:, 0] > 0.5).astype(int)
Y_NUMBER = X[:, 1] * 3
TEXT = ["good movie", "bad film", "great plot", "awful acting"] * 15
FRAME = pd.DataFrame({"size": X[:, 0], "city": ["oslo", "lima", None, "rome"] * 15})


def case(make, data=X, labels=Y):
    return pytest.param(make, data, labels, id=type(make()).__name__)


CASES = [
    case(lambda: ensemble.RandomForestClassifier(n_estimators=3)),
    case(lambda: ensemble.ExtraTreesRegressor(n_estimators=3), labels=Y_NUMBER),
    case(lambda: ensemble.GradientBoostingClassifier(n_estimators=3)),
    case(lambda: ensemble.HistGradientBoostingClassifier(max_iter=3), data=X_MISSING),
    case(lambda: ensemble.HistGradientBoostingRegressor(max_iter=3), X_MISSING, Y_NUMBER),
    case(lambda: ensemble.AdaBoostClassifier(n_estimators=3)),
    case(
        lambda: ensemble.VotingClassifier(
            [("lr", linear_model.LogisticRegression()), ("nb", naive_bayes.GaussianNB())]
        )
    ),
    case(lambda: linear_model.LogisticRegression()),
    case(lambda: linear_model.Ridge(), labels=Y_NUMBER),
    case(lambda: linear_model.ElasticNet(), labels=Y_NUMBER),
    case(lambda: linear_model.SGDClassifier()),
    case(lambda: svm.SVC()),
    case(lambda: svm.LinearSVR(), labels=Y_NUMBER),
    case(lambda: neighbors.KNeighborsClassifier(3)),
    case(lambda: neighbors.KNeighborsRegressor(3), labels=Y_NUMBER),
    case(lambda: naive_bayes.MultinomialNB()),
    case(lambda: tree.DecisionTreeRegressor(), labels=Y_NUMBER),
    case(lambda: neural_network.MLPClassifier(max_iter=5)),
    case(lambda: calibration.CalibratedClassifierCV(linear_model.LogisticRegression(), cv=2)),
    case(
        lambda: pipeline.make_pipeline(
            impute.SimpleImputer(), preprocessing.StandardScaler(), linear_model.Ridge()
        ),
        X_MISSING,
        Y_NUMBER,
    ),
    case(
        lambda: pipeline.make_pipeline(
            impute.KNNImputer(), preprocessing.SplineTransformer(), linear_model.Ridge()
        ),
        X_MISSING,
        Y_NUMBER,
    ),
    case(
        lambda: pipeline.make_pipeline(
            preprocessing.FunctionTransformer(np.log1p),
            feature_selection.SelectKBest(k=2),
            decomposition.PCA(1),
            linear_model.LogisticRegression(),
        )
    ),
    case(
        lambda: pipeline.make_pipeline(
            feature_extraction.text.TfidfVectorizer(), linear_model.LogisticRegression()
        ),
        data=TEXT,
    ),
    case(
        lambda: pipeline.make_pipeline(
            compose.ColumnTransformer(
                [
                    ("n", preprocessing.StandardScaler(), ["size"]),
                    (
                        "c",
                        pipeline.make_pipeline(
                            impute.SimpleImputer(strategy="constant", fill_value="none"),
                            preprocessing.OneHotEncoder(handle_unknown="ignore"),
                        ),
                        ["city"],
                    ),
                ]
            ),
            linear_model.LogisticRegression(),
        ),
        data=FRAME,
    ),
]


@pytest.mark.parametrize(("make", "data", "labels"), CASES)
def test_a_common_estimator_round_trips_through_the_allow_list(make, data, labels, tmp_path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = make().fit(data, labels)
        path = tmp_path / "model.skops"
        sio.dump(fitted, path)
        loaded = load_estimator(path)
        assert (
            np.asarray(loaded.predict(data)).tolist() == np.asarray(fitted.predict(data)).tolist()
        )


def test_a_type_outside_the_list_is_named_and_an_environment_may_trust_it(tmp_path, monkeypatch):
    from model_runtime.serving import settings

    # GIVEN a fitted pipeline that refers to a type no allow-list knows (pathlib.Path here,
    # a team's own transformer in life)
    fitted = pipeline.make_pipeline(
        preprocessing.FunctionTransformer(np.log1p), linear_model.LogisticRegression()
    ).fit(X, Y)
    fitted.steps[0][1].inverse_func = Path
    path = tmp_path / "model.skops"
    sio.dump(fitted, path)
    untrusted = set(sio.get_untrusted_types(file=path)) - EXTRA_TRUSTED_TYPES
    assert untrusted, "the file should hold a type the curated list does not trust"
    settings.get_runtime_settings.cache_clear()
    with pytest.raises(ForbiddenModelTypeError, match=r"trusted_model_types in cdk\.json"):
        load_estimator(path)
    monkeypatch.setenv("SLIPWAY_TRUSTED_MODEL_TYPES", ",".join(sorted(untrusted)))
    settings.get_runtime_settings.cache_clear()
    try:
        assert load_estimator(path).predict(X[:2]).shape == (2,)
    finally:
        settings.get_runtime_settings.cache_clear()
