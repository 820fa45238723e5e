"""Drift statistics against known distributions and constructed data."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model_runtime.manifest import Column
from model_runtime.monitoring.baseline import build_baseline, dumps, parse_baseline
from model_runtime.monitoring.drift import (
    DEFAULT_PSI_ALARM,
    EPSILON,
    STABLE_BELOW,
    Thresholds,
    band,
    compare,
    noise_floor,
    psi,
)
from registry.monitoring_settings import MonitoringSettings


def baseline_of(frame: pd.DataFrame, columns: list[Column], outputs=None, output_columns=()):
    return parse_baseline(dumps(build_baseline(frame, columns, outputs, list(output_columns))))


def numbers_and_categories():
    """A baseline of 0..99 with no missing values (x), and categories a and b (c)."""
    frame = pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50})
    columns = [
        Column(name="x", type="float", nullable=True),
        Column(name="c", type="string", nullable=True),
    ]
    return baseline_of(frame, columns)


def shares(draw_from: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(draw_from, min_size=2, max_size=12).map(lambda xs: np.array(xs) / sum(xs))


POSITIVE = st.floats(min_value=0.01, max_value=100)


def test_psi_of_identical_shares_is_zero() -> None:
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0


def test_psi_of_a_two_bin_change_is_the_closed_form() -> None:
    # (c1 - b1) ln(c1/b1) + (c2 - b2) ln(c2/b2) with b = (0.5, 0.5), c = (0.8, 0.2)
    expected = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)
    assert psi([0.5, 0.5], [0.8, 0.2]) == pytest.approx(expected)
    assert expected == pytest.approx(0.4159, abs=1e-4)


def test_an_empty_bin_counts_as_epsilon() -> None:
    expected = (0.5 - EPSILON) * math.log(0.5 / EPSILON) + (0.5 - 1.0) * math.log(0.5 / 1.0)
    assert psi([0.0, 1.0], [0.5, 0.5]) == pytest.approx(expected)


@settings(max_examples=200, deadline=None)
@given(shares(POSITIVE), st.data())
def test_psi_is_non_negative_symmetric_and_zero_only_for_equal_shares(b, data) -> None:
    c = data.draw(
        st.lists(POSITIVE, min_size=len(b), max_size=len(b)).map(lambda xs: np.array(xs) / sum(xs))
    )
    value = psi(b, c)
    assert value >= 0
    assert value == pytest.approx(psi(c, b))  # symmetric: swapping baseline and current
    assert psi(b, b) == 0
    if not np.allclose(b, c, atol=1e-9):
        assert value > 0


def test_bands() -> None:
    assert [band(v) for v in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3)] == [
        "stable",
        "stable",
        "moderate",
        "moderate",
        "major",
        "major",
    ]


def test_noise_floor_shrinks_with_more_rows() -> None:
    assert noise_floor(10, 100_000, 100) > 0.25
    assert noise_floor(10, 100_000, 1_000_000) < 0.001
    assert noise_floor(1, 10, 10) == math.inf


NUMERIC = [Column(name="x", type="float", nullable=True)]


def test_a_half_standard_deviation_shift_is_detected_and_no_shift_is_not() -> None:
    rng = np.random.default_rng(1)
    baseline = baseline_of(pd.DataFrame({"x": rng.normal(0, 1, 100_000)}), NUMERIC)
    same = compare(baseline, pd.DataFrame({"x": rng.normal(0, 1, 50_000)}))
    shifted = compare(baseline, pd.DataFrame({"x": rng.normal(0.5, 1, 50_000)}))
    assert not same.drifted
    assert same.columns[0].band == "stable"
    assert shifted.drifted_columns == ["x"]
    assert 0.18 < shifted.columns[0].psi < 0.3  # the binned Jeffreys divergence, about 0.25
    assert shifted.columns[0].reasons == [f"psi {shifted.columns[0].psi:.3f} >= 0.1"]


def test_psi_of_a_known_category_change_equals_the_closed_form() -> None:
    baseline = baseline_of(
        pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50}), [Column(name="c", type="string")]
    )
    result = compare(baseline, pd.DataFrame({"c": ["a"] * 80 + ["b"] * 20}))
    assert result.columns[0].psi == pytest.approx(psi([0.5, 0.5], [0.8, 0.2]), abs=1e-6)
    assert result.columns[0].unseen_share == 0


def test_missing_rate_and_unseen_share_are_exact() -> None:
    # GIVEN a baseline of 0..99 with no missing values, and categories a, b
    baseline = numbers_and_categories()
    # WHEN 10 rows come: 3 missing x, 2 of the 7 others out of range; 1 missing c, 3 unseen
    current = pd.DataFrame(
        {
            "x": [np.nan, None, np.nan, -1.0, 150.0, 5.0, 6.0, 7.0, 8.0, 9.0],
            "c": [None, "z", "y", "z", "a", "a", "b", "b", "a", "b"],
        }
    )
    result = {item.column: item for item in compare(baseline, current).columns}
    # THEN
    assert result["x"].missing_rate_current == pytest.approx(0.3)
    assert result["x"].missing_rate_change == pytest.approx(0.3)
    assert result["x"].unseen_share == pytest.approx(2 / 7)
    assert result["c"].missing_rate_current == pytest.approx(0.1)
    assert result["c"].unseen_share == pytest.approx(3 / 9)
    assert "missing rate rose by 0.300 (>= 0.1)" in result["x"].reasons
    assert "unseen share 0.333 >= 0.1" in result["c"].reasons


def test_unseen_is_unknown_when_the_baseline_did_not_list_every_value() -> None:
    values = [f"v{i}" for i in range(40)]
    baseline = baseline_of(pd.DataFrame({"c": values * 3}), [Column(name="c", type="category")])
    result = compare(baseline, pd.DataFrame({"c": ["new"] * 10}))
    assert result.columns[0].unseen_share is None


def test_compare_is_invariant_to_row_order() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(list("abc"), 2000)})
    columns = [Column(name="x", type="float"), Column(name="c", type="string")]
    baseline = baseline_of(frame, columns)
    current = pd.DataFrame({"x": rng.normal(0.3, 1, 3000), "c": rng.choice(list("abcd"), 3000)})
    shuffled = current.sample(frac=1, random_state=3).reset_index(drop=True)
    assert compare(baseline, current).as_json() == compare(baseline, shuffled).as_json()


def test_a_small_window_of_the_same_data_does_not_alarm_on_chance() -> None:
    rng = np.random.default_rng(4)
    baseline = baseline_of(pd.DataFrame({"x": rng.normal(size=100_000)}), NUMERIC)
    alarms = 0
    for _ in range(50):
        result = compare(baseline, pd.DataFrame({"x": rng.normal(size=100)}))
        alarms += result.drifted
        assert result.columns[0].noise_floor > DEFAULT_PSI_ALARM
    assert alarms <= 1


def test_new_absent_and_excluded_columns_are_reported_not_judged() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0], "ssn": ["1", "2"]})
    columns = [Column(name=n, type="float") for n in ("a", "b")] + [
        Column(name="ssn", type="string")
    ]
    baseline = baseline_of(frame, columns)
    current = pd.DataFrame({"a": [1.0, 2.0], "added": [3, 4]})
    result = compare(baseline, current, excluded={"ssn"})
    statuses = {item.column: item.status for item in result.columns}
    assert statuses == {"a": "compared", "b": "absent", "ssn": "excluded", "added": "new"}
    assert not result.drifted


def test_output_drift() -> None:
    frame = pd.DataFrame({"x": np.arange(100.0)})
    labels = ["yes"] * 50 + ["no"] * 50
    baseline = baseline_of(frame, NUMERIC, labels, [Column(name="prediction", type="string")])
    outputs = pd.DataFrame({"prediction": ["yes"] * 90 + ["no"] * 10})
    result = compare(baseline, frame, outputs)
    assert result.drifted_outputs == ["prediction"]
    assert result.drifted_columns == []
    assert result.as_json()["outputs"][0]["psi"] == pytest.approx(
        psi([0.5, 0.5], [0.9, 0.1]), abs=1e-6
    )


def test_text_length_drift() -> None:
    frame = pd.DataFrame({"text": [f"message number {i} " + "word " * (i % 7) for i in range(500)]})
    baseline = baseline_of(frame, [Column(name="text", type="string")])
    longer = pd.DataFrame({"text": ["word " * 40] * 200})
    result = compare(baseline, longer)
    assert result.columns[0].kind == "text"
    assert result.columns[0].unseen_share == 1.0
    assert result.drifted


def test_datetime_columns_are_judged_on_missing_rate_only() -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2026-01-01", "2026-01-02"] * 50)})
    baseline = baseline_of(frame, [Column(name="t", type="datetime", nullable=True)])
    later = pd.DataFrame({"t": ["2027-05-01T00:00:00Z"] * 80 + [None] * 20})
    item = compare(baseline, later).columns[0]
    assert item.psi is None and item.unseen_share is None
    assert item.reasons == ["missing rate rose by 0.200 (>= 0.1)"]


def test_thresholds_come_from_settings() -> None:
    # GIVEN an environment's monitoring section as cdk.json carries it
    section = {"psi_alarm": 0.25, "min_rows": 100, "missing_rate_alarm": 0.5, "unseen_alarm": 0.4}
    # WHEN it is read as the job reads it (validated settings), or passed as it is
    settings = MonitoringSettings.model_validate(section)
    # THEN each of the three alarms is the environment's
    expected = Thresholds(psi_alarm=0.25, missing_rate_alarm=0.5, unseen_alarm=0.4)
    assert Thresholds.of(settings) == expected
    assert Thresholds.of(section) == expected
    assert Thresholds.of(MonitoringSettings()) == Thresholds()
    assert Thresholds.of(0.2).psi_alarm == 0.2
    assert Thresholds.of(None).psi_alarm == DEFAULT_PSI_ALARM == STABLE_BELOW


def test_the_environments_alarms_decide_what_drifted() -> None:
    # GIVEN 3 of 10 values missing and 3 of 9 categories unseen (as above)
    baseline = numbers_and_categories()
    current = pd.DataFrame(
        {
            "x": [np.nan] * 3 + [5.0, 15.0, 35.0, 45.0, 65.0, 85.0, 95.0],
            "c": [None, "z", "y", "z", "a", "a", "b", "b", "a", "b"],
        }
    )
    # WHEN an environment tolerates more of all three (c's PSI is 2.8, its unseen values
    # filling the empty "other" bin)
    lenient = MonitoringSettings(psi_alarm=5, missing_rate_alarm=0.35, unseen_alarm=0.5)
    result = {item.column: item for item in compare(baseline, current, None, lenient).columns}
    # THEN neither column drifts; at the defaults both do
    assert not result["x"].drifted and not result["c"].drifted
    strict = {item.column: item for item in compare(baseline, current).columns}
    assert strict["x"].reasons == ["missing rate rose by 0.300 (>= 0.1)"]
    assert "unseen share 0.333 >= 0.1" in strict["c"].reasons
    # and at 0.3 exactly the missing rate reaches the alarm
    at = MonitoringSettings(missing_rate_alarm=0.3, unseen_alarm=0.5)
    x = next(i for i in compare(baseline, current, None, at).columns if i.column == "x")
    assert x.reasons == ["missing rate rose by 0.300 (>= 0.3)"]


@pytest.mark.parametrize("key", ["missing_rate_alarm", "unseen_alarm"])
@pytest.mark.parametrize("value", [0, -0.1, 1.5, "high"])
def test_an_alarm_out_of_range_is_refused_by_name(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        MonitoringSettings.model_validate({key: value})
    with pytest.raises(ValueError, match=key):
        Thresholds.of({key: value})


def test_an_unknown_threshold_is_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="missing_alarm"):
        Thresholds.of({"missing_alarm": 0.5})


def test_an_empty_window_compares_without_crashing() -> None:
    baseline = baseline_of(pd.DataFrame({"x": [1.0, 2.0]}), NUMERIC)
    result = compare(baseline, pd.DataFrame({"x": pd.Series([], dtype=float)}))
    assert result.columns[0].psi is None
    assert not result.drifted


def test_a_million_rows_by_ten_columns_in_well_under_two_seconds() -> None:
    import time

    rng = np.random.default_rng(5)
    n = 1_000_000
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
    frame["c0"] = rng.choice(list("abcde"), n)
    frame["c1"] = rng.choice(list("uvw"), n)
    columns = [Column(name=f"x{i}", type="float") for i in range(8)] + [
        Column(name=c, type="string") for c in ("c0", "c1")
    ]
    baseline = baseline_of(frame.head(100_000), columns)
    started = time.process_time()
    compare(baseline, frame)
    assert time.process_time() - started < 2.0


BASELINES = {
    "numeric": (pd.Series(np.arange(50.0)), Column(name="col", type="float", nullable=True)),
    "categorical": (pd.Series(["a", "b", "c"] * 10), Column(name="col", type="string")),
    "text": (
        pd.Series([f"a message of some {i} words" for i in range(60)]),
        Column(name="col", type="string"),
    ),
    "datetime": (
        pd.Series(pd.to_datetime(["2026-01-01", "2026-02-01"] * 5)),
        Column(name="col", type="datetime"),
    ),
}
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["2026-01-01T00:00:00Z", "a", "not a date"]),
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(BASELINES)), st.lists(ANY_VALUE, max_size=30))
def test_compare_judges_any_captured_values_without_crashing(kind, values) -> None:
    series, column = BASELINES[kind]
    baseline = baseline_of(pd.DataFrame({"col": series}), [column])
    assert baseline.columns["col"].kind == kind
    result = compare(baseline, pd.DataFrame({"col": pd.Series(values, dtype=object)}))
    item = result.columns[0]
    assert item.psi is None or item.psi >= 0
    assert item.unseen_share is None or 0 <= item.unseen_share <= 1
    assert 0 <= item.missing_rate_current <= 1
    json.dumps(result.as_json(), allow_nan=False)  # the report is plain JSON


@pytest.mark.parametrize("alarm", [0, -1, 11, True, float("nan")])
def test_a_psi_alarm_given_alone_is_checked_like_the_settings_one(alarm) -> None:
    with pytest.raises(ValueError):
        Thresholds.of(alarm)
