"""The gate's metric judgement, on the real iris model and data."""

from __future__ import annotations

import pytest

from model_runtime.bundle import open_bundle
from model_runtime.evaluation import evaluate, require_passing
from model_runtime.exceptions import EvaluationFailedError, InvalidEvaluationDataError
from model_runtime.model import load_model
from registry.statuses import NotComparablePolicy


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
    require_passing(result, NotComparablePolicy.REFUSE)


def test_threshold_and_champion_failures_say_why(opened):
    bundle, model = opened
    spec = bundle.manifest.evaluation.model_copy(update={"threshold": 1.5})
    result = evaluate(spec, bundle.root / spec.dataset, model, None, margin=0.0)
    with pytest.raises(EvaluationFailedError, match=r"misses the threshold \(>= 1.5\)"):
        require_passing(result, NotComparablePolicy.REFUSE)
    spec = bundle.manifest.evaluation
    against_itself = evaluate(spec, bundle.root / spec.dataset, model, model, margin=0.01)
    with pytest.raises(EvaluationFailedError, match="does not beat live version 1"):
        require_passing(against_itself, NotComparablePolicy.REFUSE)


def test_missing_columns_are_named(opened, tmp_path):
    bundle, model = opened
    csv = tmp_path / "bad.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidEvaluationDataError, match="lacks columns"):
        evaluate(bundle.manifest.evaluation, csv, model, None, margin=0.0)


def test_live_is_scored_on_its_own_columns_from_the_candidates_rows(tmp_path):
    # GIVEN a live DataFrame pipeline on (city, area) and a candidate that adds rooms
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from slipway import package_model

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "city": rng.choice(["paris", "lyon"], 200),
            "area": rng.uniform(20, 120, 200),
            "rooms": rng.integers(1, 6, 200),
        }
    )
    frame["label"] = np.where(frame["rooms"] > 3, "big", "small")

    def fitted(features: list[str]):
        numbers = [f for f in features if f != "city"]
        prepare = ColumnTransformer(
            [("city", OneHotEncoder(), ["city"]), ("numbers", "passthrough", numbers)]
        )
        return make_pipeline(prepare, LogisticRegression(max_iter=500)).fit(
            frame[features], frame["label"]
        )

    opened = {}
    for version, features in (("1", ["city", "area"]), ("2", ["city", "area", "rooms"])):
        package_model(
            fitted(features),
            name="rooms",
            version=version,
            train=frame[[*features, "label"]],
            evaluation=frame[[*features, "label"]],
            target="label",
            metric="accuracy",
            threshold=0.5,
            out=tmp_path / f"{version}.tar.gz",
        )
        bundle = open_bundle(tmp_path / f"{version}.tar.gz", tmp_path / version)
        opened[version] = (bundle, load_model(bundle))
    # WHEN the candidate is judged on its evaluation rows, which have a column live ignores
    bundle, candidate = opened["2"]
    spec = bundle.manifest.evaluation
    result = evaluate(spec, bundle.root / spec.dataset, candidate, opened["1"][1], margin=0.0)
    # THEN both are scored on the same rows, each through its own signature, string labels
    assert result.comparable and result.rows == 200
    assert result.value == 1.0 and result.live_value < 1.0
    require_passing(result, NotComparablePolicy.REFUSE)
    # AND the other way round, the old model's rows lack the column the new one needs
    old_bundle, old = opened["1"]
    spec = old_bundle.manifest.evaluation
    reverse = evaluate(spec, old_bundle.root / spec.dataset, old, candidate, margin=0.0)
    assert not reverse.comparable and "needs columns ['rooms']" in reverse.not_comparable_reason
    with pytest.raises(EvaluationFailedError, match="champion_not_comparable: refuse"):
        require_passing(reverse, NotComparablePolicy.REFUSE)
    require_passing(reverse, NotComparablePolicy.THRESHOLD_ONLY)
