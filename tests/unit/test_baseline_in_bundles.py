"""Every bundle packaging writes carries its monitoring baseline, digest-checked like any
file; the examples' models (DataFrames with strings, missing values, text; arrays; ONNX,
python, XGBoost flavors) each get one that fits their signature."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from model_runtime.bundle import open_bundle
from model_runtime.exceptions import CorruptBundleError
from model_runtime.monitoring.baseline import BASELINE_FILE, check_fits_signature, parse_baseline

EXAMPLES = {
    "house_prices": ("categorical", "numeric"),
    "spam": ("text", "categorical"),
    "churn": ("numeric", "categorical"),
    "credit_xgboost": ("numeric", "categorical"),
    "iris": ("numeric", "categorical"),
    "iris_python": ("numeric", "categorical"),
}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_each_example_bundle_carries_a_baseline_of_its_signature(example: str, tmp_path: Path):
    # GIVEN an example trained and packaged as its script does
    trainer = importlib.import_module(f"examples.{example}.train")
    trainer.train_and_package(tmp_path / "bundle.tar.gz")
    # WHEN the bundle is opened (every listed file's digest checked)
    bundle = open_bundle(tmp_path / "bundle.tar.gz", tmp_path / "opened")
    # THEN it lists the baseline, which profiles every input and the predictions
    assert BASELINE_FILE in bundle.manifest.files
    baseline = parse_baseline((bundle.root / BASELINE_FILE).read_bytes())
    inputs = [column.name for column in bundle.manifest.signature.inputs]
    check_fits_signature(baseline, inputs)
    assert list(baseline.columns) == inputs
    input_kind, output_kind = EXAMPLES[example]
    assert input_kind in {profile.kind for profile in baseline.columns.values()}
    assert [profile.kind for profile in baseline.outputs.values()] == [output_kind]
    assert baseline.rows == bundle.manifest.lineage.datasets[0].rows
    assert baseline.output_rows > 0


def test_a_changed_baseline_fails_the_digest_check(tmp_path: Path):
    from examples.house_prices.train import train_and_package
    from model_runtime.packaging import write_bundle

    manifest = train_and_package(tmp_path / "bundle.tar.gz")
    opened = open_bundle(tmp_path / "bundle.tar.gz", tmp_path / "opened")
    files = {path: (opened.root / path).read_bytes() for path in manifest.files}
    document = json.loads(files[BASELINE_FILE])
    document["rows"] += 1
    files[BASELINE_FILE] = json.dumps(document).encode()
    write_bundle(tmp_path / "tampered.tar.gz", manifest, files)
    with pytest.raises(CorruptBundleError, match=r"monitoring/baseline\.json has sha256"):
        open_bundle(tmp_path / "tampered.tar.gz", tmp_path / "again")


def test_packaging_twice_gives_the_same_bytes(tmp_path: Path):
    from examples.churn.train import fit, package

    fitted = fit()
    first = package(fitted, tmp_path / "a.tar.gz")
    second = package(fitted, tmp_path / "b.tar.gz")
    assert first.files[BASELINE_FILE] == second.files[BASELINE_FILE]


def test_evaluation_rows_the_signature_refuses_leave_the_outputs_unprofiled(tmp_path: Path):
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from slipway import package_model

    # GIVEN evaluation data with a value the training data never had in a typed column
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(size=60), "label": [0, 1] * 30})
    evaluation = train.head(10).astype({"x": object})
    evaluation.loc[3, "x"] = "not a number"
    model = LogisticRegression().fit(train[["x"]], train["label"])
    # WHEN it is packaged (the gate will judge those rows; packaging does not refuse them)
    with pytest.warns(UserWarning, match="outputs are not profiled"):
        manifest = package_model(
            model,
            name="odd",
            version="1",
            train=train,
            evaluation=evaluation,
            target="label",
            threshold=0.1,
            out=tmp_path / "b.tar.gz",
        )
    # THEN the baseline profiles the inputs only
    bundle = open_bundle(tmp_path / "b.tar.gz", tmp_path / "o")
    baseline = parse_baseline((bundle.root / BASELINE_FILE).read_bytes())
    assert list(baseline.columns) == ["x"] and baseline.outputs == {}
    assert BASELINE_FILE in manifest.files
