"""Request rows against typed columns: every wrong value named by row, column, expected and
received type; missing values only where a column allows them; the model gets the dtypes
it was fitted with."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from model_runtime.exceptions import InvalidInputError
from model_runtime.manifest import Column, Signature, parse_manifest
from model_runtime.model_input import ModelInput

OUTPUT = [Column(name="prediction", type="int", dtype="int64")]


def signature(*columns: Column, model_input: str = "array") -> Signature:
    return Signature(inputs=list(columns), outputs=OUTPUT, model_input=model_input)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            Column(name="f", type="int", dtype="int64"),
            1.5,
            "expected an integer, received a number (1.5)",
        ),
        (Column(name="f", type="float"), True, "expected a number, received a boolean (true)"),
        (Column(name="f", type="string"), 3, "expected a string, received a number (3)"),
        (Column(name="f", type="bool"), "yes", "expected true or false, received a string ('yes')"),
        (
            Column(name="f", type="float"),
            None,
            "expected a number, received null (the column may not be missing)",
        ),
        (Column(name="f", type="datetime"), "soon", "expected an ISO 8601 date-time string"),
        (Column(name="f", type="string"), ["a"], "expected a string, received an array"),
        (
            Column(name="f", type="float", dtype="float32"),
            1e39,
            "is 1e\\+39: not a finite number that float32 can hold",
        ),
        (
            Column(name="f", type="int", dtype="int32"),
            2**31,
            "is 2147483648: not a finite number that int32 can hold",
        ),
        (Column(name="f", type="int", dtype="int64"), 10**30, "is an integer of about 31 digits"),
        (
            Column(name="f", type="float", dtype="float64"),
            float("nan"),
            "is nan: not a finite number",
        ),
        (
            Column(name="f", type="float", nullable=True),
            float("inf"),
            "received a number \\(inf\\), which is not finite",
        ),
        (
            Column(name="f", type="int", nullable=True, dtype="Int32"),
            2**40,
            "outside what int32 holds",
        ),
    ],
)
def test_a_value_that_does_not_fit_its_column_is_named(column, value, message):
    with pytest.raises(InvalidInputError, match=r"inputs\[0\]\.f"):
        ModelInput.from_request(signature(column), [[value]])
    with pytest.raises(InvalidInputError) as raised:
        ModelInput.from_request(signature(column), [[value]])
    assert re.search(message, str(raised.value)) or message in str(raised.value), raised.value


def test_rows_by_position_and_records_by_name_give_the_same_input():
    sig = signature(Column(name="city", type="string"), Column(name="rooms", type="int"))
    by_position = ModelInput.from_request(sig, [["Oslo", 3]])
    by_name = ModelInput.from_request(sig, [{"rooms": 3, "city": "Oslo"}])
    assert by_position.rows == by_name.rows == [["Oslo", 3]]
    with pytest.raises(
        InvalidInputError, match=r"missing columns \['rooms'\], unknown columns \['room'\]"
    ):
        ModelInput.from_request(sig, [{"city": "Oslo", "room": 3}])


def test_missing_values_become_what_pandas_reads_from_a_csv():
    # GIVEN a model fitted on a DataFrame with a string, an int and a float column with gaps
    sig = signature(
        Column(name="city", type="string", nullable=True, dtype="str"),
        Column(name="floors", type="int", nullable=True, dtype="Int64"),
        Column(name="area", type="float", nullable=True, dtype="float64"),
        Column(name="listed", type="datetime", dtype="datetime64[ns]"),
        Column(
            name="grade", type="category", nullable=True, dtype="category", categories=["a", "b"]
        ),
        model_input="dataframe",
    )
    rows = [
        ["Oslo", 2, 80.5, "2026-01-02T03:04:05", "a"],
        [None, None, None, "2026-02-03", "c"],
    ]
    # WHEN a request with nulls arrives
    frame = ModelInput.from_request(sig, rows).frame
    # THEN the frame has the fitted dtypes, missing values as pandas has them
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        "city": "str",
        "floors": "Int64",
        "area": "float64",
        "listed": "datetime64[us]" if "us" in str(frame.dtypes["listed"]) else "datetime64[ns]",
        "grade": "category",
    }
    assert frame["city"].isna().tolist() == [False, True]
    assert frame["floors"].isna().tolist() == [False, True]
    assert math.isnan(frame["area"][1])
    assert frame["grade"].isna().tolist() == [
        False,
        True,
    ]  # an unseen category is missing where the column may be


def test_an_array_model_gets_numbers_when_every_column_is_one():
    sig = signature(
        Column(name="a", type="int", dtype="int64"), Column(name="b", type="float", nullable=True)
    )
    array = ModelInput.from_request(sig, [[1, None], [2, 3.5]]).array
    assert array.dtype == np.float64 and math.isnan(array[0, 1])
    mixed = signature(
        Column(name="city", type="string"), Column(name="n", type="int", dtype="int32")
    )
    assert ModelInput.from_request(mixed, [["Oslo", 3]]).array.tolist() == [["Oslo", 3]]
    with pytest.raises(InvalidInputError, match=r"inputs\[1\]\.n: expected an integer"):
        ModelInput.from_request(mixed, [["Oslo", 3], ["Bergen", 2**31]])


def test_format_1_features_are_read_as_columns(iris_bundle):
    _, manifest = iris_bundle
    data = manifest.model_dump(mode="json")
    data["format_version"] = 1
    data["signature"] = {
        "inputs": [{"name": c.name, "dtype": "float64"} for c in manifest.signature.inputs],
        "outputs": [{"name": "prediction", "dtype": "int64"}],
    }
    import json

    legacy = parse_manifest(json.dumps(data))
    assert [c.type for c in legacy.signature.inputs] == ["float"] * 4
    assert legacy.signature.model_input == "array"
    data["signature"]["inputs"][0]["unit"] = "cm"
    with pytest.raises(Exception, match="unit"):
        parse_manifest(json.dumps(data))


def test_pandas_is_imported_only_when_a_model_takes_a_frame():
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from model_runtime.manifest import Column, Signature\n"
        "from model_runtime.model_input import ModelInput\n"
        "out = [Column(name='y', type='int')]\n"
        "sig = Signature(inputs=[Column(name='a', type='string', nullable=True)], outputs=out)\n"
        "ModelInput.from_request(sig, [['x'], [None]]).array\n"
        "assert 'pandas' not in sys.modules, 'an array model imported pandas'\n"
        "ModelInput.from_request(sig, [['x']]).frame\n"
        "assert 'pandas' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


@pytest.mark.parametrize(
    ("columns", "row", "message"),
    [
        (
            [Column(name="x", type="float"), Column(name="n", type="int", dtype="int64")],
            [1.0, 2**70],
            r"inputs\[0\]\.n is an integer of about 22 digits: not a finite number that int64",
        ),
        (
            [Column(name="x", type="float"), Column(name="n", type="int", dtype="int64")],
            [1.0, 1e300],
            r"inputs\[0\]\.n is 1e\+300: not a finite number that int64 can hold",
        ),
        (
            [
                Column(name="n", type="int", dtype="int32"),
                Column(name="x", type="float", dtype="float64"),
            ],
            [2**40, 1.0],
            r"inputs\[0\]\.n is 1099511627776: not a finite number that int32 can hold",
        ),
        (
            [
                Column(name="x", type="float", dtype="float32"),
                Column(name="n", type="int", dtype="int64"),
            ],
            [1e39, 1],
            r"inputs\[0\]\.x is 1e\+39: not a finite number that float32 can hold",
        ),
    ],
)
def test_columns_of_different_dtypes_are_each_checked_against_their_own(columns, row, message):
    # GIVEN a signature whose numeric columns have different dtypes
    mixed = signature(*columns)
    nullable = signature(*(c.model_copy(update={"nullable": True}) for c in columns))
    # WHEN a value fits float64 but not its own column's dtype
    # THEN it is refused, as the nullable path refuses it too
    with pytest.raises(InvalidInputError, match=message):
        ModelInput.from_request(mixed, [row])
    with pytest.raises(InvalidInputError, match=r"inputs\[0\]\.[nx]: expected"):
        ModelInput.from_request(nullable, [row])


def test_columns_of_different_dtypes_still_give_the_model_one_float_matrix():
    # GIVEN [float32, int64] columns and values that fit each
    mixed = signature(
        Column(name="x", type="float", dtype="float32"), Column(name="n", type="int", dtype="int64")
    )
    # WHEN a batch arrives
    array = ModelInput.from_request(mixed, [[1.5, 2**40], [2.0, -3]]).array
    # THEN the model gets float64 values, every one exact
    assert array.dtype == np.float64
    assert array.tolist() == [[1.5, 2.0**40], [2.0, -3.0]]


def test_a_date_time_outside_what_nanoseconds_hold_is_refused_not_wrapped():
    # GIVEN a model fitted on datetime64[ns] values, and one fitted on microseconds
    ns = signature(
        Column(name="t", type="datetime", dtype="datetime64[ns]"), model_input="dataframe"
    )
    us = signature(
        Column(name="t", type="datetime", dtype="datetime64[us]"), model_input="dataframe"
    )
    # WHEN a request holds a date after 2262 (numpy would wrap it to 1816)
    # THEN it is a 422 for the nanosecond model, naming the value and the range
    with pytest.raises(
        InvalidInputError,
        match=r"inputs\[0\]\.t: expected an ISO 8601 date-time string, received a string "
        r"\('9999-12-31'\), outside what datetime64\[ns\] holds \(1677-09-21 to 2262-04-11\)",
    ):
        ModelInput.from_request(ns, [["9999-12-31"]])
    with pytest.raises(InvalidInputError, match=r"inputs\[1\]\.t"):
        ModelInput.from_request(ns, [["2026-01-01"], ["1500-01-01"]])
    # AND the microsecond model holds it as it is
    frame = ModelInput.from_request(us, [["9999-12-31"]]).frame
    assert str(frame["t"][0]) == "9999-12-31 00:00:00"


def test_a_date_time_with_an_offset_is_converted_to_utc():
    import pandas as pd

    # GIVEN a model fitted on naive date-times, and one fitted on UTC ones
    naive = signature(
        Column(name="t", type="datetime", dtype="datetime64[ns]"), model_input="dataframe"
    )
    aware = signature(
        Column(name="t", type="datetime", dtype="datetime64[ns, UTC]"), model_input="dataframe"
    )
    rows = [["2026-01-02T00:00+05:00"], ["2026-01-02T00:00Z"], ["2026-01-02T00:00"]]
    # WHEN the same wall-clock time arrives with different offsets
    naive_frame = ModelInput.from_request(naive, rows).frame
    aware_frame = ModelInput.from_request(aware, rows).frame
    # THEN each is converted to UTC, not cut (a value without an offset is taken as UTC)
    assert naive_frame["t"].tolist() == [
        pd.Timestamp("2026-01-01T19:00"),
        pd.Timestamp("2026-01-02T00:00"),
        pd.Timestamp("2026-01-02T00:00"),
    ]
    assert str(aware_frame["t"].dtype) == "datetime64[ns, UTC]"
    assert aware_frame["t"][0] == pd.Timestamp("2026-01-01T19:00", tz="UTC")
    array = ModelInput.from_request(naive, rows).array
    assert array[0, 0] == np.datetime64("2026-01-01T19:00")


def test_a_category_the_model_never_saw_is_refused_where_the_column_may_not_be_missing():
    # GIVEN a category column that may not be missing, with many categories
    letters = [f"c{i}" for i in range(12)]
    sig = signature(
        Column(name="g", type="category", dtype="category", categories=letters),
        model_input="dataframe",
    )
    # WHEN a request holds a category outside them
    # THEN it is a 422 naming the value and (some of) the known categories
    with pytest.raises(
        InvalidInputError,
        match=r"inputs\[1\]\.g: expected one of the model's categories \['c0', 'c1', .*'c9', "
        r"… \(12 in all\)\], received a string \('zz'\), a category the model never saw",
    ):
        ModelInput.from_request(sig, [["c0"], ["zz"]])
    assert ModelInput.from_request(sig, [["c11"]]).frame["g"].tolist() == ["c11"]


@pytest.mark.parametrize(
    ("categories", "good", "bad", "expected"),
    [
        ([0, 1, 2], 2, "2", "an integer"),
        ([0.5, 1.5], 1.5, "1.5", "a number"),
        ([False, True], True, 1, "true or false"),
        (["a", "b"], "a", 0, "a string"),
    ],
)
def test_a_category_takes_values_of_its_categories_own_kind(categories, good, bad, expected):
    # GIVEN a category column whose categories are integers, floats, booleans or strings
    sig = signature(
        Column(name="g", type="category", dtype="category", categories=categories),
        model_input="dataframe",
    )
    # WHEN a value of that kind arrives THEN the model gets it as its category
    frame = ModelInput.from_request(sig, [[good]]).frame
    assert frame["g"].tolist() == [good] and list(frame["g"].cat.categories) == categories
    # AND a value of another kind is named with the kind expected
    with pytest.raises(InvalidInputError, match=rf"inputs\[0\]\.g: expected {expected}, received"):
        ModelInput.from_request(sig, [[bad]])


def test_the_frame_is_the_one_pandas_would_build_from_the_same_columns():
    # GIVEN a signature of every kind of column, numpy dtypes interleaved so that columns of
    # one dtype share a block out of order
    import pandas as pd

    from model_runtime.model_input import _series

    columns = [
        Column(name="area", type="float", dtype="float64"),
        Column(name="rooms", type="int", dtype="int64"),
        Column(name="city", type="string", nullable=True, dtype="str"),
        Column(name="depth", type="float", nullable=True, dtype="float32"),
        Column(name="floors", type="int", nullable=True, dtype="Int64"),
        Column(name="price", type="float", dtype="float64"),
        Column(name="garage", type="bool", dtype="bool"),
        Column(name="pool", type="bool", nullable=True, dtype="boolean"),
        Column(name="note", type="string", nullable=True, dtype="object"),
        Column(name="grade", type="category", dtype="category", categories=["a", "b"]),
        Column(name="listed", type="datetime", dtype="datetime64[ns]"),
        Column(name="sold", type="datetime", nullable=True, dtype="datetime64[ns, UTC]"),
        Column(name="year", type="int", dtype="int64"),
        Column(name="text", type="string"),
    ]
    sig = signature(*columns, model_input="dataframe")
    rows = [
        [80.5, 3, "Oslo", 1.5, 2, 1e6, True, None, "ok", "a", "2026-01-02", None, 1990, "y"],
        [
            60.0,
            2,
            None,
            None,
            None,
            2e5,
            False,
            True,
            None,
            "b",
            "2026-02-03T04:05",
            "2026-03-01",
            2001,
            "x",
        ],
    ]
    # WHEN the request becomes a frame
    frame = ModelInput.from_request(sig, rows).frame
    # THEN it equals the frame pandas builds from the same columns, dtypes, index and all
    arrays = [_series(pd, column, [row[i] for row in rows]) for i, column in enumerate(columns)]
    expected = pd.DataFrame(
        {c.name: pd.Series(a, dtype=a.dtype) for c, a in zip(columns, arrays, strict=True)}
    )
    assert str(frame["note"].dtype) == "object"  # as fitted, not inferred as pandas' str
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    assert list(frame.columns) == [column.name for column in columns]
    # AND it behaves like one: selection, rows, copies
    pd.testing.assert_frame_equal(frame[["year", "area"]], expected[["year", "area"]])
    assert frame.iloc[1]["year"] == 2001 and frame.copy().equals(expected)


def test_a_model_renaming_its_inputs_columns_does_not_reach_the_next_request():
    sig = signature(Column(name="a", type="float"), model_input="dataframe")
    first = ModelInput.from_request(sig, [[1.0]]).frame
    first.columns.name = "features"  # what a model may do to the frame it is given
    assert ModelInput.from_request(sig, [[2.0]]).frame.columns.name is None
