"""ListRows builds, from readers' settled columns, the frame pandas builds from all the rows
at once."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model_runtime.monitoring.list_rows import ListRows

NAMES = ["a", "b", "c"]

# what a decoded JSON row can hold, with the kinds a column changes between
VALUES = st.one_of(
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.just(math.nan),  # JSON's NaN, which the slow reader accepts
    st.integers(-(2**70), 2**70),
    st.integers(-5, 5),
    st.booleans(),
    st.sampled_from(["eu", "us", "", "1.5"]),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["k"]), st.integers(0, 3), max_size=1),
)
# columns that keep one kind within a batch, as real traffic does, with missing values
KINDS = [
    st.floats(-1e6, 1e6, allow_nan=False),
    st.integers(-1000, 1000),
    st.sampled_from(["basic", "pro", "team"]),
    st.booleans(),
]


@st.composite
def batches(draw: st.DrawFn, width: int = 3) -> list[list[list[object]]]:
    """Batches of rows: each column drawn from one kind per batch (with missing values at
    times), from any value, or now and then rows of another width."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        count = draw(st.integers(1, 6))
        kinds = [draw(st.sampled_from([*KINDS, VALUES])) for _ in range(width)]
        kinds = [st.none() | kind if draw(st.booleans()) else kind for kind in kinds]
        rows = []
        for _ in range(count):
            row = [draw(kind) for kind in kinds]
            if draw(st.integers(0, 20)) == 0:
                row = row[: draw(st.integers(0, width + 1))] + [None] * draw(st.integers(0, 1))
            rows.append(row)
        out.append(rows)
    return out


def expected(all_rows: list[list[object]], names: list[str]) -> pd.DataFrame:
    width = len(names)
    padded = [[*row[:width], *[None] * (width - len(row))] for row in all_rows]
    return pd.DataFrame(padded, columns=names)


def built(parts: list[list[list[object]]], names: list[str]) -> pd.DataFrame:
    """Each batch read by a reader of its own, settled, then joined in order."""
    rows = ListRows()
    for batch in parts:
        reader = ListRows()
        reader.extend(batch)
        reader.settle()
        rows.join(reader)
    return rows.frame(names)


@settings(max_examples=400)
@given(batches())
def test_the_frame_is_the_one_pandas_builds_from_all_rows(parts: list[list[list[object]]]) -> None:
    all_rows = [row for batch in parts for row in batch]
    got = built(parts, NAMES)
    pd.testing.assert_frame_equal(got, expected(all_rows, NAMES))
    # values as they came where pandas keeps objects: None stays None, ints stay ints
    want = expected(all_rows, NAMES)
    for name in NAMES:
        if want[name].dtype == object:
            assert [type(v) for v in got[name]] == [type(v) for v in want[name]]


def test_numbers_join_as_pandas_infers_them() -> None:
    """int64 in one reader's rows and float64 (with a missing value) in another's: float64;
    ints alone stay int64; floats and text in one column: the values as they came."""
    frame = built([[[1, 1, 1.5], [2, 2, 2.5]], [[3.5, 3, None], [None, 4, "x"]]], NAMES)
    assert frame.dtypes.tolist() == [np.float64, np.int64, object]
    assert frame["a"].isna().tolist() == [False, False, False, True]
    assert frame["c"].tolist() == [1.5, 2.5, None, "x"]
    pd.testing.assert_frame_equal(
        frame, expected([[1, 1, 1.5], [2, 2, 2.5], [3.5, 3, None], [None, 4, "x"]], NAMES)
    )


def test_rows_of_other_widths_and_single_rows_keep_their_order() -> None:
    rows = ListRows()
    rows.extend([[1.0, "eu", 3]])
    rows.append([2.0, "us"])  # short: padded
    rows.extend([[3.0, "ap", 5, 99], [4.0, "eu", 6]])  # a long one: cut
    rows.append([5.0, "us", 7])
    rows.settle()  # rows of several widths stay rows
    settled = ListRows()
    settled.extend([[6.0, "ap", 8]])
    settled.settle()
    rows.join(settled)
    assert len(rows) == 6
    frame = rows.frame(NAMES)
    assert frame["a"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert frame["b"].tolist() == ["eu", "us", "ap", "eu", "us", "ap"]
    assert frame["c"].isna().tolist() == [False, True, False, False, False, False]


def test_big_integers_are_left_to_pandas() -> None:
    frame = built([[[2**63 + 1, 1, 1], [2**63 + 2, 2**70, 2]]], NAMES)
    assert frame.dtypes.tolist() == [np.uint64, object, np.int64]
    assert frame["b"].tolist() == [1, 2**70]


def test_no_rows_is_an_empty_frame_of_the_names() -> None:
    empty = ListRows()
    empty.settle()
    assert empty.frame(NAMES).columns.tolist() == NAMES
    assert len(empty.frame(NAMES)) == 0


@pytest.mark.parametrize("names", [["a", "a", "c"], ["a", "b"]])
def test_repeated_or_fewer_names_fall_back_to_pandas(names: list[str]) -> None:
    parts = [[[1.0, "x", 2], [2.0, None, 3]]]
    pd.testing.assert_frame_equal(built(parts, names), expected(parts[0], names))


def test_settled_rows_pickle_as_arrays() -> None:
    """What a forked reader sends back: numbers as arrays, not a list of Python values."""
    import pickle

    rows = ListRows()
    rows.extend([[float(i), i, "eu"] for i in range(1000)])
    rows.settle()
    back = pickle.loads(pickle.dumps(rows, protocol=5))
    assert [c.dtype for c in back._parts[0].columns] == [np.float64, np.int64, object]
    pd.testing.assert_frame_equal(back.frame(NAMES), rows.frame(NAMES))
