"""XGBoost and LightGBM bundles: real models packaged with package_model answer as the
model itself does, and a bundle recorded with another release line of its library is
refused while another patch release loads."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model_runtime.bundle import open_bundle
from model_runtime.exceptions import IncompatibleBundleError, ModelLoadError
from model_runtime.flavors.compatibility import installed_version
from model_runtime.flavors.native_boosting import SIDECAR
from model_runtime.model import check_input_example, load_model
from slipway import package_model
from tests.unit.test_flavors import rewrite_manifest


def data(size: int = 160, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 15, size),
            "age": rng.integers(18, 80, size),
            "debt": rng.uniform(0, 1, size).astype("float32"),
        }
    )
    frame["label"] = np.where(frame["income"] * (1 - frame["debt"]) > 30, "good", "bad")
    frame["amount"] = frame["income"] * 3 + frame["age"]
    return frame


FEATURES = ["income", "age", "debt"]


def packaged(model, frame: pd.DataFrame, target: str, metric: str, tmp_path: Path):
    out = tmp_path / "bundle.tar.gz"
    columns = [*FEATURES, target]
    threshold = 0.5 if metric == "accuracy" else 1e9
    package_model(
        model,
        name="boosted",
        version="1",
        train=frame[columns],
        evaluation=frame[columns],
        target=target,
        metric=metric,
        threshold=threshold,
        out=out,
    )
    return out


@pytest.fixture(scope="module")
def lightgbm_classifier_bundle(tmp_path_factory):
    import lightgbm

    frame = data()
    model = lightgbm.LGBMClassifier(n_estimators=20, min_child_samples=5, verbose=-1)
    model.fit(frame[FEATURES], frame["label"])
    return model, packaged(model, frame, "label", "accuracy", tmp_path_factory.mktemp("lgbm"))


@pytest.fixture(scope="module")
def xgboost_classifier_bundle(tmp_path_factory):
    import xgboost
    from sklearn.preprocessing import LabelEncoder

    frame = data()
    # XGBoost's scikit-learn API takes encoded labels; the bundle serves class indices
    encoded = LabelEncoder().fit_transform(frame["label"])
    frame = frame.assign(label=encoded)
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3)
    model.fit(frame[FEATURES], frame["label"])
    return model, packaged(model, frame, "label", "accuracy", tmp_path_factory.mktemp("xgb"))


def test_a_lightgbm_classifier_with_string_labels_serves_its_own_predictions(
    lightgbm_classifier_bundle, tmp_path
):
    # GIVEN a LightGBM classifier fitted on a DataFrame with string labels, packaged
    model, path = lightgbm_classifier_bundle
    # WHEN its bundle is opened and loaded
    bundle = open_bundle(path, tmp_path / "opened")
    loaded = load_model(bundle)
    # THEN it takes a DataFrame, reproduces its example, and answers what the model predicts
    assert bundle.manifest.flavor == "lightgbm"
    assert bundle.manifest.signature.model_input == "dataframe"
    check_input_example(loaded, bundle)
    rows = data(size=40, seed=7)[FEATURES]
    served = loaded.predict(rows.to_dict("records"))
    assert served == model.predict(rows).tolist()
    assert set(served) <= {"good", "bad"}


def test_a_lightgbm_regressor_fitted_on_an_array_serves_its_own_predictions(tmp_path):
    import lightgbm

    # GIVEN a LightGBM regressor fitted on a plain array
    frame = data()
    model = lightgbm.LGBMRegressor(n_estimators=30, min_child_samples=5, verbose=-1)
    model.fit(frame[FEATURES].to_numpy(dtype="float64"), frame["amount"])
    path = packaged(model, frame, "amount", "rmse", tmp_path)
    # WHEN it is loaded and asked for new rows
    bundle = open_bundle(path, tmp_path / "opened")
    loaded = load_model(bundle)
    rows = data(size=25, seed=3)[FEATURES]
    # THEN it takes an array and answers as the model does on the same numbers
    assert bundle.manifest.signature.model_input == "array"
    check_input_example(loaded, bundle)
    expected = model.predict(rows.to_numpy(dtype="float64"))
    assert np.allclose(loaded.predict(rows.values.tolist()), expected, rtol=1e-9)


def test_an_xgboost_classifier_serves_its_own_predictions(xgboost_classifier_bundle, tmp_path):
    model, path = xgboost_classifier_bundle
    bundle = open_bundle(path, tmp_path / "opened")
    loaded = load_model(bundle)
    rows = data(size=40, seed=7)[FEATURES]
    assert loaded.predict(rows.to_dict("records")) == model.predict(rows).tolist()


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("which", ["major", "minor"])
def test_a_bundle_of_another_release_line_is_refused_naming_both_versions(
    library, which, lightgbm_classifier_bundle, xgboost_classifier_bundle, tmp_path
):
    # GIVEN a real bundle whose manifest records another major or minor version
    _, path = {"xgboost": xgboost_classifier_bundle, "lightgbm": lightgbm_classifier_bundle}[
        library
    ]
    installed = installed_version(library)
    major, minor, *_ = (int(part) for part in installed.split(".")[:2])
    built = f"{major + 1}.{minor}.0" if which == "major" else f"{major}.{minor + 1}.0"

    def age(manifest):
        manifest["runtime"][library] = built

    other = rewrite_manifest(path, tmp_path / "other.tar.gz", age)
    # WHEN it is loaded THEN it is refused with both versions and what to rebuild with
    with pytest.raises(
        IncompatibleBundleError,
        match=re.escape(
            f"built with {library} {built}; this runtime has {library} {installed} "
            f"(release lines differ): rebuild it with {library} {major}.{minor}.x"
        ),
    ):
        load_model(open_bundle(other, tmp_path / "x"))


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_a_bundle_of_another_patch_release_loads(
    library, lightgbm_classifier_bundle, xgboost_classifier_bundle, tmp_path
):
    # GIVEN a real bundle recorded with another patch release of its library
    _, path = {"xgboost": xgboost_classifier_bundle, "lightgbm": lightgbm_classifier_bundle}[
        library
    ]
    major, minor, *_ = installed_version(library).split(".")

    def patch(manifest):
        manifest["runtime"][library] = f"{major}.{minor}.99"

    other = rewrite_manifest(path, tmp_path / "patch.tar.gz", patch)
    # WHEN it is loaded THEN it serves its input example
    bundle = open_bundle(other, tmp_path / "x")
    check_input_example(load_model(bundle), bundle)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (b"[1, 2]", "must be a JSON object"),
        (b'{"task": "regression", "task": "classification"}', "'task' appears twice"),
        (b'{"classes": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", "limit is"),
        (b"[" * 20_000 + b"]" * 20_000, "nest too deeply"),
    ],
)
def test_a_sidecar_that_is_not_plain_options_is_a_load_error(
    options, problem, lightgbm_classifier_bundle, tmp_path
):
    # GIVEN a real bundle whose model-options.json is hostile or malformed
    _, path = lightgbm_classifier_bundle
    bundle = open_bundle(path, tmp_path / "opened")
    (bundle.root / SIDECAR).write_bytes(options)
    # WHEN it is loaded THEN the refusal names the sidecar's problem, not a Python error
    with pytest.raises(ModelLoadError, match=re.escape(problem)):
        load_model(bundle)
