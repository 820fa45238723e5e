"""Every example from training to live predictions in the embedded cloud: the endpoint's
answers for the evaluation rows (missing values included) are the local model's own."""

from __future__ import annotations

import importlib
from pathlib import Path

import httpx
import pandas as pd
import pytest

from model_runtime.bundle import open_bundle
from model_runtime.columns import records
from model_runtime.model import load_model, outputs_match

EXAMPLES = {
    "house": ("examples.house_prices.train", "house-prices"),
    "spam": ("examples.spam.train", "spam"),
    "churn": ("examples.churn.train", "churn"),
    "xgboost": ("examples.credit_xgboost.train", "credit-xgboost"),
    "python": ("examples.iris_python.train", "iris-python"),
}


def rows_of(module: object, bundle_root: Path, manifest) -> list[dict]:
    """Evaluation rows the client sends: records by column name, JSON null where missing."""
    frame = pd.read_csv(bundle_root / manifest.evaluation.dataset)
    return records(frame.head(40), manifest.signature.inputs)


def ship(deployed, tmp_path: Path, module: str, name: str, version: str, **options):
    train = importlib.import_module(module)
    bundle = tmp_path / f"{name}-{version}.tar.gz"
    manifest = train.train_and_package(bundle, name=name, version=version, **options)
    described = deployed.wait_for_execution(deployed.push(bundle, name, version), timeout=240)
    return bundle, manifest, described


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_an_example_goes_live_and_answers_as_the_local_model(deployed, tmp_path, example):
    module, name = EXAMPLES[example]
    name = f"ex-{name}"
    bundle, manifest, described = ship(deployed, tmp_path, module, name, "1")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    local = load_model(open_bundle(bundle, tmp_path / "local"))
    rows = rows_of(module, tmp_path / "local", manifest)
    answer = httpx.post(
        f"{deployed.endpoint}/v1/models/{name}/predict", json={"inputs": rows}, timeout=120
    )
    assert answer.status_code == 200, answer.text
    assert outputs_match(answer.json()["outputs"], local.predict(rows))
    assert answer.headers["x-model-version"] == "1"


def test_a_version_with_one_more_feature_replaces_the_live_one_and_a_worse_one_does_not(
    deployed, tmp_path
):
    module, name = "examples.house_prices.train", "ex-house-features"
    _, _, first = ship(deployed, tmp_path, module, name, "1")
    assert first["status"] == "SUCCEEDED", first.get("cause")
    # version 2 takes a column version 1 never had, and predicts better
    _, second_manifest, second = ship(deployed, tmp_path, module, name, "2", extended=True)
    assert second["status"] == "SUCCEEDED", second.get("cause")
    assert deployed.repository.get_pointer(name)["version"] == "2"
    evaluation = deployed.repository.get_version(name, "2")["evaluation_result"]
    assert evaluation["live_version"] == "1" and evaluation["comparable"] is True
    assert evaluation["value"] < evaluation["live_value"]  # rmse: lower is better
    assert len(second_manifest.signature.inputs) == 5
    # version 3: the same columns as 2, a much weaker model
    _, _, third = ship(deployed, tmp_path, module, name, "3", extended=True, max_iter=10)
    assert third["status"] == "FAILED"
    assert third["cause"].startswith("EvaluationFailedError: rmse ")
    assert "does not beat live version 2" in third["cause"]
    assert deployed.repository.get_pointer(name)["version"] == "2"
