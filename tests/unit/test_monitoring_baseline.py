"""The baseline profile: built from each example's kind of data, and read back strictly."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examples import datasets
from model_runtime.columns import infer_columns, output_column
from model_runtime.manifest import Column
from model_runtime.monitoring.baseline import (
    MAX_BASELINE_BYTES,
    MAX_BINS,
    MAX_TOP_VALUES,
    BaselineError,
    build_baseline,
    check_fits_signature,
    dumps,
    parse_baseline,
)


def built(frame: pd.DataFrame, target: str | None = None, outputs=None) -> dict:
    features = frame.drop(columns=[target]) if target else frame
    columns = infer_columns(features)
    output = [output_column(frame[target])] if target else []
    document = build_baseline(features, columns, outputs, output)
    parse_baseline(dumps(document))  # whatever is built reads back
    return document


def test_numeric_columns_get_decile_bins_min_max_and_missing_rate() -> None:
    # GIVEN 1000 evenly spread values, 10% of them missing
    values = np.arange(1000, dtype=float)
    values[::10] = np.nan
    document = built(pd.DataFrame({"x": values}))
    profile = document["columns"]["x"]
    # THEN ten bins of (nearly) equal share, the range and the missing rate
    assert profile["kind"] == "numeric"
    assert profile["missing_rate"] == pytest.approx(0.1)
    assert (profile["min"], profile["max"]) == (1.0, 999.0)
    assert len(profile["edges"]) == MAX_BINS - 1
    assert profile["shares"] == pytest.approx([0.1] * 10, abs=0.002)


def test_few_distinct_numbers_give_fewer_bins_with_exact_shares() -> None:
    document = built(pd.DataFrame({"rooms": [1, 1, 1, 2, 2, 3] * 50}))
    profile = document["columns"]["rooms"]
    assert profile["edges"] == [1.0, 2.0]
    assert profile["shares"] == pytest.approx([0.5, 1 / 3, 1 / 6])


def test_house_prices_city_is_categorical_and_numbers_numeric() -> None:
    frame = datasets.house_prices(500, 0)
    outputs = frame["price"].tolist()
    document = built(frame, "price", outputs)
    city = document["columns"]["city"]
    assert city["kind"] == "categorical"
    assert sum(city["shares"].values()) + city["other_share"] == pytest.approx(1)
    assert city["shares"] == pytest.approx(frame["city"].value_counts(normalize=True).to_dict())
    assert {document["columns"][c]["kind"] for c in ("area_m2", "rooms", "year_built")} == {
        "numeric"
    }
    assert document["outputs"]["prediction"]["kind"] == "numeric"  # a regressor's values
    assert document["output_rows"] == 500


def test_spam_messages_are_text_profiled_by_length() -> None:
    frame = pd.read_csv(datasets.data_dir("spam") / "train.csv")
    document = built(frame, "label", frame["label"].tolist())
    text = document["columns"]["text"]
    assert text["kind"] == "text"
    lengths = frame["text"].str.len()
    assert (text["min"], text["max"]) == (lengths.min(), lengths.max())
    assert sum(text["length_shares"]) == pytest.approx(1)
    # a classifier's labels are categorical
    assert document["outputs"]["prediction"]["shares"] == pytest.approx(
        frame["label"].value_counts(normalize=True).to_dict()
    )


def test_churn_nullable_integers_and_booleans() -> None:
    frame = datasets.churn(400, 0)
    document = built(frame, "churned", frame["churned"].tolist())
    tenure = document["columns"]["tenure_months"]
    assert tenure["kind"] == "numeric"
    assert tenure["missing_rate"] == pytest.approx(frame["tenure_months"].isna().mean())
    paperless = document["columns"]["paperless"]
    assert paperless["kind"] == "categorical"
    assert set(paperless["shares"]) == {"true", "false"}
    assert document["outputs"]["prediction"]["kind"] == "categorical"
    assert set(document["outputs"]["prediction"]["shares"]) == {"0", "1"}


def test_credit_float_columns() -> None:
    frame = datasets.credit(300, 0)
    document = built(frame, "defaulted")
    assert {p["kind"] for p in document["columns"].values()} == {"numeric"}
    assert document["outputs"] == {}


def test_every_kind_of_missing_value_counts_as_missing() -> None:
    frame = pd.DataFrame({"s": pd.Series(["a", None, np.nan, pd.NA, "b", "a"], dtype=object)})
    document = build_baseline(frame, [Column(name="s", type="string", nullable=True)], None, [])
    profile = document["columns"]["s"]
    assert profile["missing_rate"] == pytest.approx(0.5)
    assert profile["shares"] == pytest.approx({"a": 2 / 3, "b": 1 / 3})


def test_many_categories_keep_the_top_twenty_and_the_rest_as_other() -> None:
    values = [f"c{i}" for i in range(30) for _ in range(30 - i)] * 10
    frame = pd.DataFrame({"c": values})
    document = build_baseline(frame, [Column(name="c", type="category")], None, [])
    profile = document["columns"]["c"]
    assert len(profile["shares"]) == MAX_TOP_VALUES
    assert list(profile["shares"])[:2] == ["c0", "c1"]
    rest = sum(30 - i for i in range(20, 30)) / sum(30 - i for i in range(30))
    assert profile["other_share"] == pytest.approx(rest)


def test_datetimes_keep_missing_rate_and_range() -> None:
    stamps = pd.to_datetime(["2026-01-01", None, "2026-03-01"])
    document = build_baseline(
        pd.DataFrame({"t": stamps}), [Column(name="t", type="datetime", nullable=True)], None, []
    )
    profile = document["columns"]["t"]
    assert profile["kind"] == "datetime"
    assert profile["missing_rate"] == pytest.approx(1 / 3)
    assert profile["min"] == pd.Timestamp("2026-01-01", tz="UTC").timestamp()


def test_multi_valued_outputs_are_profiled_per_position() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    probabilities = [[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]]
    document = build_baseline(
        frame, [Column(name="x", type="float")], probabilities, [Column(name="p", type="float")]
    )
    assert list(document["outputs"]) == ["p[0]", "p[1]"]
    assert document["outputs"]["p[0]"]["min"] == 0.1


def test_columns_the_frame_lacks_are_left_out() -> None:
    columns = [Column(name="a", type="float"), Column(name="b", type="float")]
    document = build_baseline(pd.DataFrame({"a": [1.0]}), columns, None, [])
    assert list(document["columns"]) == ["a"]


def test_an_all_missing_column_has_no_bins() -> None:
    frame = pd.DataFrame({"a": [np.nan, np.nan]})
    document = build_baseline(frame, [Column(name="a", type="float", nullable=True)], None, [])
    assert document["columns"]["a"] == {
        "kind": "numeric",
        "missing_rate": 1.0,
        "edges": [],
        "shares": [],
    }
    parse_baseline(dumps(document))


# ---------------------------------------------------------------------------- parsing

GOOD = {
    "format": 1,
    "rows": 10,
    "columns": {
        "x": {
            "kind": "numeric",
            "missing_rate": 0.0,
            "min": 0.0,
            "max": 2.0,
            "edges": [1.0],
            "shares": [0.5, 0.5],
        },
        "c": {"kind": "categorical", "missing_rate": 0.1, "shares": {"a": 0.6}, "other_share": 0.4},
    },
    "outputs": {},
}


def mutated(**changes) -> bytes:
    document = json.loads(json.dumps(GOOD))
    for path, value in changes.items():
        target = document
        *parents, last = path.split("__")
        for part in parents:
            target = target[part]
        target[last] = value
    return json.dumps(document).encode()


def test_a_good_baseline_reads() -> None:
    baseline = parse_baseline(json.dumps(GOOD))
    assert baseline.summary() == {"rows": 10, "columns": 2, "outputs": 0}


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        (mutated(columns__x__shares=[0.5, 0.4]), "sum to"),
        (mutated(columns__x__edges=[1.0, 0.5], columns__x__shares=[0.3, 0.3, 0.4]), "increase"),
        (mutated(columns__x__shares=[1.0]), "shares for 1 edges"),
        (mutated(columns__x__edges=list(range(10)), columns__x__shares=[0.1] * 11), "edges"),
        (mutated(columns__c__shares={f"v{i}": 0.01 for i in range(21)}), "shares"),
        (mutated(columns__c__other_share=0.5), "sum to"),
        (mutated(columns__x__missing_rate=1.5), "missing_rate"),
        (mutated(columns__x__kind="histogram"), "columns.x"),
        (mutated(columns__x__extra=1), "unknown field"),
        (mutated(rows=-1), "rows"),
        (mutated(format=2), "format"),
        (b'{"format": 1, "format": 1}', "twice"),
        (b'{"format": 1, "rows": NaN}', "NaN"),
        (b"[" * 100_000, "nest"),
        (b"not json", "not valid JSON"),
    ],
)
def test_a_malformed_baseline_is_refused_naming_the_file_and_the_problem(
    raw: bytes, names: str
) -> None:
    with pytest.raises(BaselineError, match=r"monitoring/baseline\.json") as error:
        parse_baseline(raw)
    assert names in str(error.value)


def test_an_oversized_baseline_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(BaselineError, match="bytes; the limit is"):
        parse_baseline(b" " * (MAX_BASELINE_BYTES + 1))


def test_too_many_columns_are_refused() -> None:
    profile = {"kind": "datetime", "missing_rate": 0.0}
    raw = json.dumps({"format": 1, "rows": 1, "columns": {f"c{i}": profile for i in range(2001)}})
    with pytest.raises(BaselineError, match="columns"):
        parse_baseline(raw)


def test_columns_must_be_inputs_of_the_signature() -> None:
    baseline = parse_baseline(json.dumps(GOOD))
    check_fits_signature(baseline, ["x", "c", "more"])
    with pytest.raises(BaselineError, match="not inputs of the signature: 'c'"):
        check_fits_signature(baseline, ["x"])


def test_outputs_must_be_outputs_of_the_signature() -> None:
    profile = {"kind": "categorical", "missing_rate": 0.0, "shares": {"a": 1.0}}
    document = {**GOOD, "outputs": {"prediction": profile, "prediction[1]": profile}}
    baseline = parse_baseline(json.dumps(document))
    check_fits_signature(baseline, ["x", "c"], ["prediction"])
    with pytest.raises(BaselineError, match=r"output\(s\) the signature does not have: 'pre"):
        check_fits_signature(baseline, ["x", "c"], ["label"])
    sneaky = {**GOOD, "outputs": {"prediction[x]": profile}}
    with pytest.raises(BaselineError, match=r"'prediction\[x\]'"):
        check_fits_signature(parse_baseline(json.dumps(sneaky)), ["x", "c"], ["prediction"])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_json_is_read_or_refused_with_a_baseline_error(value) -> None:
    with contextlib.suppress(BaselineError):
        parse_baseline(json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_read_or_refused_with_a_baseline_error(raw: bytes) -> None:
    with contextlib.suppress(BaselineError):
        parse_baseline(raw)


CELL = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["2026-01-01", "2026-01-01T10:00:00+02:00", "x y z w"]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["float", "int", "bool", "string", "category", "datetime"]),
    st.lists(CELL, max_size=40),
)
def test_any_training_values_of_any_type_build_a_baseline_that_reads_back(kind, values) -> None:
    frame = pd.DataFrame({"c": pd.Series(values, dtype=object)})
    column = Column(name="c", type=kind, nullable=True)
    output = Column(name="p", type=kind)
    document = build_baseline(frame, [column], values, [output])
    parse_baseline(dumps(document))
    assert document["rows"] == len(values)


def test_the_widest_baseline_the_builder_writes_is_one_the_parser_accepts() -> None:
    # GIVEN 2,100 string columns of 20 distinct 100-character values (and a long name)
    rows = 40
    values = [f"{i:02d}" + "v" * 98 for i in range(20)] * 2
    frame = pd.DataFrame({f"c{i}": values for i in range(2100)})
    frame["n" * 300] = values
    columns = [Column(name=str(name), type="category") for name in frame.columns]
    # WHEN its baseline is built
    raw = dumps(build_baseline(frame.head(rows), columns, None, []))
    # THEN it reads back: the first 2,000 columns profiled, the long name left out
    assert len(raw) <= MAX_BASELINE_BYTES
    baseline = parse_baseline(raw)
    assert len(baseline.columns) == 2000
    assert "n" * 300 not in baseline.columns


def test_category_values_too_long_to_keep_are_profiled_by_length() -> None:
    values = ["x" * 150, "y" * 160] * 10
    document = build_baseline(
        pd.DataFrame({"c": values}), [Column(name="c", type="category")], None, []
    )
    profile = parse_baseline(dumps(document)).columns["c"]
    assert profile.kind == "text"
    assert (profile.min, profile.max) == (150, 160)


def test_an_output_name_too_long_for_the_baseline_is_left_out() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    long_name = [Column(name="p" * 300, type="float")]
    document = build_baseline(frame, [Column(name="x", type="float")], [0.5, 0.7], long_name)
    assert parse_baseline(dumps(document)).outputs == {}
