"""Every example from training to live predictions in the embedded cloud: the endpoint's
answers for the evaluation rows (missing values included) are the local model's own, and
the fitted estimator's own predictions on the DataFrame it was evaluated on, so a dtype
conversion of the runtime cannot be wrong the same way on both sides."""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd
import pytest

from model_runtime.bundle import open_bundle
from model_runtime.columns import records
from model_runtime.model import load_model, outputs_match
from tests.workflow.signed_http import local_http

EXAMPLES = {
    "house": ("examples.house_prices.train", "house-prices"),
    "spam": ("examples.spam.train", "spam"),
    "churn": ("examples.churn.train", "churn"),
    "xgboost": ("examples.credit_xgboost.train", "credit-xgboost"),
    "python": ("examples.iris_python.train", "iris-python"),
}
ROWS = 40


def rows_of(module: object, bundle_root: Path, manifest) -> list[dict]:
    """Evaluation rows the client sends: records by column name, JSON null where missing."""
    frame = pd.read_csv(bundle_root / manifest.evaluation.dataset)
    return records(frame.head(ROWS), manifest.signature.inputs)


def ship(deployed, tmp_path: Path, module: str, name: str, version: str, **options):
    """Train, package and push an example; the fitted model too where the example exposes it."""
    train = importlib.import_module(module)
    bundle = tmp_path / f"{name}-{version}.tar.gz"
    fitted = train.fit(**options) if hasattr(train, "fit") else None
    if fitted is not None:
        manifest = train.package(fitted, bundle, name=name, version=version)
    else:
        manifest = train.train_and_package(bundle, name=name, version=version, **options)
    described = deployed.wait_for_execution(deployed.push(bundle, name, version), timeout=240)
    return bundle, manifest, described, fitted


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_an_example_goes_live_and_answers_as_the_local_model(deployed, tmp_path, example):
    # GIVEN an example trained, packaged and pushed, gone live
    module, name = EXAMPLES[example]
    name = f"ex-{name}"
    bundle, manifest, described, fitted = ship(deployed, tmp_path, module, name, "1")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    local = load_model(open_bundle(bundle, tmp_path / "local"))
    # WHEN its evaluation rows are sent to the endpoint as JSON records
    rows = rows_of(module, tmp_path / "local", manifest)
    answer = local_http.post(
        f"{deployed.endpoint}/v1/models/{name}/predict", json={"inputs": rows}, timeout=120
    )
    # THEN it answers as the bundle loaded locally does
    assert answer.status_code == 200, answer.text
    outputs = answer.json()["outputs"]
    assert outputs_match(outputs, local.predict(rows))
    assert answer.headers["x-model-version"] == "1"
    # AND as the fitted estimator does on the original DataFrame rows
    if fitted is not None:
        assert outputs_match(outputs, fitted.own_predictions(ROWS)), (
            outputs,
            fitted.own_predictions(ROWS),
        )
    else:
        assert example == "python"  # a predictor folder has no estimator of its own


def test_a_version_with_one_more_feature_replaces_the_live_one_and_a_worse_one_does_not(
    deployed, tmp_path
):
    module, name = "examples.house_prices.train", "ex-house-features"
    _, _, first, _ = ship(deployed, tmp_path, module, name, "1")
    assert first["status"] == "SUCCEEDED", first.get("cause")
    # version 2 takes a column version 1 never had, and predicts better
    _, second_manifest, second, _ = ship(deployed, tmp_path, module, name, "2", extended=True)
    assert second["status"] == "SUCCEEDED", second.get("cause")
    assert deployed.repository.get_pointer(name)["version"] == "2"
    evaluation = deployed.repository.get_version(name, "2")["evaluation_result"]
    assert evaluation["live_version"] == "1" and evaluation["comparable"] is True
    assert evaluation["value"] < evaluation["live_value"]  # rmse: lower is better
    assert len(second_manifest.signature.inputs) == 5
    # version 3: the same columns as 2, a much weaker model
    _, _, third, _ = ship(deployed, tmp_path, module, name, "3", extended=True, max_iter=10)
    assert third["status"] == "FAILED"
    assert third["cause"].startswith("EvaluationFailedError: rmse ")
    assert "does not beat live version 2" in third["cause"]
    assert deployed.repository.get_pointer(name)["version"] == "2"
