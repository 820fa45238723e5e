"""The gate's metric judgement, on the real iris model and data."""

from __future__ import annotations

import pytest

from model_runtime.bundle import open_bundle
from model_runtime.evaluation import evaluate, require_passing
from model_runtime.exceptions import EvaluationFailedError, InvalidEvaluationDataError
from model_runtime.model import load_model


@pytest.fixture
def opened(iris_bundle, tmp_path):
    bundle = open_bundle(iris_bundle[0], tmp_path / "b")
    return bundle, load_model(bundle)


def test_scores_the_candidate_on_the_bundled_dataset(opened):
    bundle, model = opened
    spec = bundle.manifest.evaluation
    result = evaluate(spec, bundle.root / spec.dataset, model, None, margin=0.0)
    assert result.rows == 30
    assert result.value == pytest.approx(bundle.manifest.lineage.metrics["accuracy"])
    require_passing(result)


def test_threshold_and_champion_failures_say_why(opened):
    bundle, model = opened
    spec = bundle.manifest.evaluation.model_copy(update={"threshold": 1.5})
    result = evaluate(spec, bundle.root / spec.dataset, model, None, margin=0.0)
    with pytest.raises(EvaluationFailedError, match=r"misses the threshold \(>= 1.5\)"):
        require_passing(result)
    spec = bundle.manifest.evaluation
    against_itself = evaluate(spec, bundle.root / spec.dataset, model, model, margin=0.01)
    with pytest.raises(EvaluationFailedError, match="does not beat live version 1"):
        require_passing(against_itself)


def test_missing_columns_are_named(opened, tmp_path):
    bundle, model = opened
    csv = tmp_path / "bad.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidEvaluationDataError, match="lacks columns"):
        evaluate(bundle.manifest.evaluation, csv, model, None, margin=0.0)
