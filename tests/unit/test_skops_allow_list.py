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
from sklearn.experimental import enable_iterative_imputer  # noqa: F401

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
CATEGORICAL_FRAME = pd.DataFrame(
    {"size": X[:, 0], "city": pd.Categorical(["oslo", "lima", "oslo", "rome"] * 15)}
)


def case(make, data=X, labels=Y):
    return pytest.param(make, data, labels, id=_name(make()))


def _name(estimator) -> str:
    """An id naming what differs between cases: the steps, the algorithm, the function."""
    if isinstance(estimator, pipeline.Pipeline):
        return "+".join(_name(step) for _, step in estimator.steps)
    detail = [
        str(getattr(value, "__name__", value))
        for key, value in estimator.get_params(deep=False).items()
        if key
        in ("algorithm", "metric", "p", "solver", "func", "score_func", "categorical_features")
        and not isinstance(value, list)
    ]
    return "-".join([type(estimator).__name__, *detail])


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
        lambda: ensemble.HistGradientBoostingClassifier(
            max_iter=3, categorical_features="from_dtype"
        ),
        data=CATEGORICAL_FRAME,
    ),
    case(
        lambda: ensemble.HistGradientBoostingRegressor(max_iter=3, categorical_features=[1]),
        data=np.column_stack([X[:, 0], np.arange(60) % 3]),
        labels=Y_NUMBER,
    ),
    case(
        lambda: pipeline.make_pipeline(impute.IterativeImputer(max_iter=3), linear_model.Ridge()),
        X_MISSING,
        Y_NUMBER,
    ),
    case(lambda: neighbors.KNeighborsClassifier(3, algorithm="ball_tree")),
    case(lambda: neighbors.KNeighborsClassifier(3, algorithm="kd_tree", metric="manhattan")),
    case(lambda: neighbors.KNeighborsRegressor(3, algorithm="ball_tree", p=3), labels=Y_NUMBER),
    case(lambda: neural_network.MLPRegressor(solver="sgd", max_iter=5), labels=Y_NUMBER),
    case(
        lambda: pipeline.make_pipeline(
            feature_selection.SelectKBest(feature_selection.f_regression, k=2),
            linear_model.Ridge(),
        ),
        labels=Y_NUMBER,
    ),
    case(
        lambda: pipeline.make_pipeline(
            feature_selection.SelectKBest(feature_selection.chi2, k=2),
            linear_model.LogisticRegression(),
        )
    ),
    *(
        case(
            lambda ufunc=ufunc: pipeline.make_pipeline(
                preprocessing.FunctionTransformer(ufunc), linear_model.LogisticRegression()
            )
        )
        for ufunc in (np.sqrt, np.exp, np.abs, np.square)
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


def test_every_curated_type_is_one_a_round_tripped_estimator_needs(tmp_path: Path):
    # GIVEN every estimator the round-trip test loads
    needed: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index, param in enumerate(CASES):
            make, data, labels = param.values
            path = tmp_path / f"{index}.skops"
            sio.dump(make().fit(data, labels), path)
            needed |= set(sio.get_untrusted_types(file=path))
    # WHEN their files are asked which types they need beyond skops' defaults
    # THEN every curated entry is among them: none is trusted without a round trip
    assert sorted(EXTRA_TRUSTED_TYPES - needed) == [], sorted(EXTRA_TRUSTED_TYPES - needed)


def test_only_scikit_learns_own_partials_are_trusted(tmp_path: Path):
    from functools import partial

    from sklearn.utils.validation import check_array

    # GIVEN a pipeline holding a partial of scikit-learn's check_array, and one holding a
    # partial of another callable (a numpy ufunc, itself trusted when not wrapped)
    def fitted(func):
        return pipeline.make_pipeline(
            preprocessing.FunctionTransformer(func), linear_model.LogisticRegression()
        ).fit(X, Y)

    safe, unsafe = tmp_path / "safe.skops", tmp_path / "unsafe.skops"
    sio.dump(fitted(partial(check_array, ensure_all_finite=False)), safe)
    sio.dump(fitted(partial(np.log1p, dtype="float64")), unsafe)
    # WHEN both are loaded
    # THEN the first loads and predicts; the second is refused, naming the wrapped function
    assert (
        load_estimator(safe).predict(X[:3]).tolist() == fitted(np.asarray).predict(X[:3]).tolist()
    )
    with pytest.raises(
        ForbiddenModelTypeError,
        match=r"functools\.partial \(a partial of numpy\.log1p; only partials of "
        r"sklearn\.utils\.validation\.check_array are trusted\)",
    ):
        load_estimator(unsafe)
