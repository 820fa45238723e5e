"""From a request's JSON rows to what the model was fitted on, checking every value first.

Each value is checked against its column's type (and whether the column may be null), so a
client learns which value of which row is wrong instead of getting a model's internal error:
``inputs[3].city: expected a string, received a number (12)``. Then the rows become what the
flavor asks for: a pandas DataFrame with the dtypes the model was fitted with, a 2-D numpy
array, or the rows themselves (the python flavor).

All-numeric signatures without missing values (the common case, and every format-1 bundle)
take a vectorised path: one numpy conversion and one finiteness check for the whole batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

import numpy as np

from model_runtime.exceptions import InvalidInputError
from model_runtime.manifest import Column, Signature

_NUMPY_NUMERIC = {
    "float64",
    "float32",
    "float16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint64",
    "uint32",
    "uint16",
    "uint8",
}
_STRING_DTYPES = ("str", "string", "string[python]", "string[pyarrow]")
_EXPECTED = {
    "float": "a number",
    "int": "an integer",
    "bool": "true or false",
    "string": "a string",
    "category": "a string",
    "datetime": "an ISO 8601 date-time string",
}


def received(value: Any) -> str:
    """A JSON value's type, as a client would name it, with the value when it is short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({_shown(value)})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})" if len(value) <= 40 else "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _shown(value: float) -> str:
    """A value for an error message; a huge integer is described, not spelled out."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return repr(value)


def _fits(column: Column, value: Any) -> bool:
    kind = column.type
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            return False
        dtype = _numpy_dtype(column)
        return dtype.kind != "f" or abs(value) <= float(np.finfo(dtype).max)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if isinstance(value, float) and not (_finite(value) and value.is_integer()):
            return False
        dtype = _numpy_dtype(column)
        info = np.iinfo(dtype if dtype.kind in "iu" else np.int64)
        return info.min <= value <= info.max
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "category":
        return _of_kind(category_kind(column), value)
    if kind == "string":
        return isinstance(value, str)
    if not isinstance(value, str):
        return False
    parsed = _datetime(value)
    return parsed is not None and _within_unit(column, parsed)


def category_kind(column: Column) -> str:
    """What a category column's values are, from its categories: pandas keeps integer, float
    or bool categories as they are (``pd.Categorical([0, 1])``), so a client sends those."""
    categories = column.categories or []
    if categories and all(isinstance(c, bool) for c in categories):
        return "bool"
    if categories and all(isinstance(c, int) and not isinstance(c, bool) for c in categories):
        return "int"
    if categories and all(
        isinstance(c, int | float) and not isinstance(c, bool) for c in categories
    ):
        return "float"
    return "string"


def _of_kind(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        return False
    return kind == "float" or isinstance(value, int) or value.is_integer()


def _expected(column: Column) -> str:
    if column.type == "category":
        return _EXPECTED[category_kind(column)]
    return _EXPECTED[column.type]


def _known_category(index: int, column: Column, value: Any) -> None:
    """A category the model never saw is refused where the column may not be missing; in a
    nullable column it is missing to the model, as pandas makes it."""
    if column.nullable or not column.categories or value in column.categories:
        return
    known = column.categories
    shown = ", ".join(repr(c) for c in known[:_CATEGORIES_SHOWN])
    more = f", … ({len(known)} in all)" if len(known) > _CATEGORIES_SHOWN else ""
    raise InvalidInputError(
        f"inputs[{index}].{column.name}: expected one of the model's categories [{shown}{more}], "
        f"received {received(value)}, a category the model never saw (the column may not be "
        "missing, so it cannot stand for one)"
    )


_CATEGORIES_SHOWN = 10


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _datetime(value: str) -> datetime | None:
    """An ISO 8601 date-time as naive UTC: a value with an offset is converted, not cut
    ("T00:00+05:00" is 19:00 the day before); one without is taken as it is."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


_EPOCH = datetime(1970, 1, 1)
_NS_LIMIT_US = (2**63 - 1) // 1000  # datetime64[ns] holds about 1677-09-21 to 2262-04-11


def _unit(column: Column) -> str:
    """The resolution of a datetime column's fitted dtype (``datetime64[us, UTC]``: us)."""
    dtype = column.dtype or ""
    if dtype.startswith("datetime64[") and dtype.endswith("]"):
        return dtype[len("datetime64[") : -1].split(",")[0].strip()
    return "ns"


def _time_zone(column: Column) -> str | None:
    """The time zone of a time-zone-aware datetime column (``datetime64[ns, UTC]``)."""
    dtype = column.dtype or ""
    if "," in dtype and dtype.endswith("]"):
        return dtype[dtype.index(",") + 1 : -1].strip()
    return None


def _within_unit(column: Column, value: datetime) -> bool:
    """Python's datetimes (years 1 to 9999) fit every unit from seconds to microseconds; only
    nanoseconds hold less, and numpy wraps what does not fit instead of refusing it."""
    if _unit(column) != "ns":
        return True
    delta = value - _EPOCH
    microseconds = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return -_NS_LIMIT_US <= microseconds <= _NS_LIMIT_US


def check_value(index: int, column: Column, value: Any) -> None:
    if value is None:
        if column.nullable:
            return
        raise InvalidInputError(
            f"inputs[{index}].{column.name}: expected {_expected(column)}, received null "
            "(the column may not be missing)"
        )
    if not _fits(column, value):
        raise InvalidInputError(
            f"inputs[{index}].{column.name}: expected {_expected(column)}, "
            f"received {received(value)}{_why_not(column, value)}"
        )
    if column.type == "category":
        _known_category(index, column, value)


def _why_not(column: Column, value: Any) -> str:
    """Why a value of the right kind still does not fit: not finite, or out of range."""
    if column.type == "datetime" and isinstance(value, str) and _datetime(value) is not None:
        return f", outside what datetime64[{_unit(column)}] holds (1677-09-21 to 2262-04-11)"
    if column.type not in ("float", "int") or isinstance(value, bool):
        return ""
    if not isinstance(value, int | float):
        return ""
    if not _finite(value):
        return ", which is not finite"
    if column.type == "int" and isinstance(value, float) and not value.is_integer():
        return ""
    return f", outside what {_numpy_dtype(column).name} holds"


def ordered_rows(signature: Signature, inputs: Any) -> list[list[Any]]:
    """Rows (arrays by position, or objects by column name) as lists in signature order."""
    names = [column.name for column in signature.inputs]
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInputError("'inputs' must be a non-empty list of rows or records")
    rows: list[list[Any]] = []
    for index, item in enumerate(inputs):
        if isinstance(item, dict):
            missing = [name for name in names if name not in item]
            unknown = sorted(set(item) - set(names))
            if missing or unknown:
                raise InvalidInputError(
                    f"inputs[{index}]: missing columns {missing}, unknown columns {unknown}; "
                    f"expected {names}"
                )
            rows.append([item[name] for name in names])
        elif isinstance(item, list):
            if len(item) != len(names):
                raise InvalidInputError(
                    f"inputs[{index}] has {len(item)} values, the model takes {len(names)}: {names}"
                )
            rows.append(item)
        else:
            raise InvalidInputError(f"inputs[{index}] must be a list or an object keyed by column")
    return rows


class ModelInput:
    """Checked request rows, and what each kind of model wants from them (built lazily)."""

    def __init__(self, signature: Signature, rows: list[list[Any]]) -> None:
        self.signature = signature
        self.rows = rows

    @classmethod
    def from_request(cls, signature: Signature, inputs: Any) -> ModelInput:
        rows = ordered_rows(signature, inputs)
        if _plain_numbers(signature):
            matrix = _numeric_matrix(signature, rows)
            checked = cls(signature, rows)
            checked.__dict__["array"] = matrix  # the vectorised check built it already
            return checked
        for index, row in enumerate(rows):
            for column, value in zip(signature.inputs, row, strict=True):
                check_value(index, column, value)
        return cls(signature, rows)

    def __len__(self) -> int:
        return len(self.rows)

    @cached_property
    def array(self) -> np.ndarray:
        """A 2-D array: numeric when every column is (missing values as NaN), else object."""
        columns = self.signature.inputs
        if all(c.type in ("float", "int", "bool") for c in columns):
            if (
                all(not c.nullable for c in columns)
                and len({_numpy_dtype(c) for c in columns}) == 1
            ):
                return np.asarray(self.rows, dtype=_numpy_dtype(columns[0]))
            nan = float("nan")
            return np.asarray(
                [[nan if v is None else v for v in row] for row in self.rows], dtype=np.float64
            )
        converters = [_object_converter(column) for column in columns]
        converted = [
            [convert(v) for convert, v in zip(converters, row, strict=True)] for row in self.rows
        ]
        array = np.empty((len(converted), len(columns)), dtype=object)
        array[:] = converted
        return array

    @cached_property
    def frame(self) -> Any:
        """A pandas DataFrame with the columns' fitted dtypes (missing values as pandas has
        them after reading a CSV: NaN, or NA for nullable extension dtypes)."""
        import pandas as pd

        inputs = self.signature.inputs
        layout = _frame_layout(tuple((c.type, c.dtype, c.nullable) for c in inputs))
        values = list(zip(*self.rows, strict=True))
        blocks: list[tuple[Any, np.ndarray]] = [
            # (columns, rows), as blocks are; None becomes NaN in a float dtype
            (np.array([values[p] for p in positions], dtype=dtype), placement)
            for dtype, positions, placement in layout.shared
        ]
        for position, placement in layout.single:
            array = _series(pd, inputs[position], list(values[position]))
            blocks.append(
                (array.reshape(1, -1) if isinstance(array, np.ndarray) else array, placement)
            )
        return _frame_of(pd, tuple(column.name for column in inputs), len(self.rows), blocks)


def _plain_numbers(signature: Signature) -> bool:
    return all(
        column.type in ("float", "int") and not column.nullable for column in signature.inputs
    )


def _numpy_dtype(column: Column) -> np.dtype[Any]:
    """The numpy dtype behind a column's fitted dtype (pandas' Int32 holds int32 values)."""
    name = (column.dtype or "").lower()
    if name in _NUMPY_NUMERIC or name == "bool":
        return np.dtype(name)
    return np.dtype(
        {"float": np.float64, "int": np.int64, "bool": np.bool_}.get(column.type, object)
    )


def _numeric_matrix(signature: Signature, rows: list[list[Any]]) -> np.ndarray:
    """One conversion for the whole batch; a value that does not fit is located only then.

    Columns of one dtype are converted together. Columns of different dtypes are converted
    one by one, each to its own dtype, so a value is always checked against the range of the
    column it belongs to (an int64 column holds no 2**70, a float32 one no 1e39), and then
    the model gets them as float64s, as before.
    """
    columns = signature.inputs
    for index, row in enumerate(rows):
        for column, value in zip(columns, row, strict=True):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (column.type == "int" and isinstance(value, float) and not value.is_integer())
            ):
                check_value(index, column, value)
    dtypes = [_numpy_dtype(column) for column in columns]
    if len(set(dtypes)) == 1:
        return _converted(columns, rows, dtypes[0])
    matrix = np.empty((len(rows), len(columns)), dtype=np.float64)
    for position, (column, dtype) in enumerate(zip(columns, dtypes, strict=True)):
        values = [[row[position]] for row in rows]
        matrix[:, position] = _converted([column], values, dtype)[:, 0]
    return matrix


def _converted(columns: list[Column], rows: list[list[Any]], dtype: np.dtype[Any]) -> np.ndarray:
    """``rows`` as one array of ``dtype``, or the first value it cannot hold, named."""
    try:
        # numpy raises for a Python int out of range, but only warns when a float overflows
        # float32 or does not fit an integer dtype: make those raise too
        with np.errstate(over="raise", invalid="raise"):
            matrix = np.asarray(rows, dtype=dtype)
        if matrix.dtype.kind != "f" or np.isfinite(matrix).all():
            return matrix
    except (OverflowError, FloatingPointError):
        pass
    _locate_unrepresentable(columns, rows, dtype)
    raise InvalidInputError(f"inputs hold a number that {np.dtype(dtype).name} cannot hold")


def _locate_unrepresentable(columns: list[Column], rows: list[list[Any]], cast_to: Any) -> None:
    """NaN, infinities and values too large for the type they are cast to are the client's
    to fix: name the first one."""
    for index, row in enumerate(rows):
        for column, value in zip(columns, row, strict=True):
            dtype = np.dtype(cast_to)
            if dtype.kind == "f":
                fits = _finite(value) and abs(value) <= float(np.finfo(dtype).max)
            else:
                info = np.iinfo(dtype)
                fits = info.min <= value <= info.max
            if not fits:
                raise InvalidInputError(
                    f"inputs[{index}].{column.name} is {_shown(value)}: not a finite number "
                    f"that {dtype.name} can hold"
                )


def _object_converter(column: Column) -> Callable[[Any], Any]:
    """A value for an object array: missing as NaN (what a CSV read by pandas holds)."""
    if column.type == "datetime":
        return lambda v: np.nan if v is None else np.datetime64(_naive(v))
    return lambda v: np.nan if v is None else v


def _naive(value: str) -> datetime:
    """A checked date-time string as naive UTC."""
    parsed = _datetime(value)
    assert parsed is not None  # checked before
    return parsed


def _extension(dtype: str | None) -> bool:
    """pandas' own dtypes that hold missing values themselves: Int64, Float64, boolean and
    the string dtypes (``str`` is pandas 3's default for text)."""
    return bool(dtype) and (dtype[0].isupper() or dtype == "boolean" or dtype in _STRING_DTYPES)  # type: ignore[index]


def _block_dtype(kind: str, dtype: str | None, nullable: bool) -> np.dtype[Any] | None:
    """The numpy dtype a column of this type, fitted dtype and nullability is given, where
    numpy converts its checked values itself (a missing value as NaN in a float dtype); None
    where pandas' own array, an object array or a datetime conversion is needed."""
    if kind in ("category", "datetime", "string") or _extension(dtype) or dtype == "object":
        return None
    if kind == "bool":
        return None if nullable else np.dtype(bool)
    if nullable or kind == "float":
        fitted = dtype in _NUMPY_NUMERIC and np.dtype(dtype).kind == "f"
        return np.dtype(dtype if fitted else "float64")
    return np.dtype(dtype if dtype in _NUMPY_NUMERIC else "int64")


def _series(pd: Any, column: Column, values: list[Any]) -> Any:
    """One column as the model saw it when it was fitted: a numpy array where the fitted
    dtype is numpy's (the cheapest thing a DataFrame is built from), else pandas' own."""
    block_dtype = _block_dtype(column.type, column.dtype, column.nullable)
    if block_dtype is not None:
        return np.array(values, dtype=block_dtype)
    if column.type == "category":
        if not column.categories:
            return pd.Categorical(values)
        known = set(column.categories)
        # a category the model never saw (in a nullable column) is missing to it, as pandas
        # would make it
        return pd.Categorical(
            [v if v in known else None for v in values], categories=column.categories
        )
    if column.type == "datetime":
        times = np.array(
            [np.datetime64("NaT") if v is None else np.datetime64(_naive(v)) for v in values],
            dtype=f"datetime64[{_unit(column)}]",
        )
        zone = _time_zone(column)
        if zone is None:
            return times
        return pd.DatetimeIndex(times).tz_localize("UTC").tz_convert(zone).array
    if column.dtype == "object":
        # what pandas reads from a CSV column of mixed or gapped Python values (True, False
        # and blanks, say): the values themselves and NaN, never pandas' NA, which estimators
        # fitted on NaN cannot compare ("boolean value of NA is ambiguous")
        return np.array([np.nan if v is None else v for v in values], dtype=object)
    # pandas' own array: the fitted extension dtype, or with none recorded pandas' default
    # for text and for nullable booleans, as a CSV would give
    if _extension(column.dtype):
        name = column.dtype
    else:
        name = "str" if column.type == "string" else "boolean"
    dtype = _pandas_dtype(name)
    # the extension array's own constructor: pd.array looks the type up again, twice as slow
    return dtype.construct_array_type()._from_sequence(values, dtype=dtype)


class _FrameLayout(NamedTuple):
    """A signature's DataFrame blocks: numpy columns of one dtype share a 2-D block built
    from their values in one call; every other column is a block of its own."""

    shared: tuple[tuple[np.dtype[Any], tuple[int, ...], np.ndarray], ...]
    single: tuple[tuple[int, np.ndarray], ...]


@lru_cache(maxsize=256)
def _frame_layout(columns: tuple[tuple[str, str | None, bool], ...]) -> _FrameLayout:
    """The layout for columns given as (type, dtype, nullable), worked out once."""
    by_dtype: dict[np.dtype[Any], list[int]] = {}
    single = []
    for position, column in enumerate(columns):
        block_dtype = _block_dtype(*column)
        if block_dtype is None:
            single.append((position, np.array([position], dtype=np.intp)))
        else:
            by_dtype.setdefault(block_dtype, []).append(position)
    shared = tuple(
        (dtype, tuple(positions), np.array(positions, dtype=np.intp))
        for dtype, positions in by_dtype.items()
    )
    return _FrameLayout(shared, tuple(single))


def _frame_of(
    pd: Any, names: tuple[str, ...], rows: int, blocks: list[tuple[Any, np.ndarray]]
) -> Any:
    """The DataFrame ``pd.DataFrame(dict(zip(names, arrays)))`` would build, built from its
    blocks.

    ``pd.DataFrame`` infers and checks every column again, which made a one-row frame cost
    more than the rest of a request (bench/serving.py); the blocks here are already of their
    final dtype and length, which is all ``create_dataframe_from_blocks`` asks. Its two
    Index objects are views of cached ones: a model may rename its input's columns Index,
    and that must not reach the next request's frame.
    """
    from pandas.api.internals import create_dataframe_from_blocks

    return create_dataframe_from_blocks(
        blocks, _row_index(rows).view(), _column_index(names).view()
    )


@lru_cache(maxsize=64)
def _pandas_dtype(name: str) -> Any:
    """A dtype by name, looked up once: pandas searches its registry on every lookup."""
    from pandas.api.types import pandas_dtype

    return pandas_dtype(name)


@lru_cache(maxsize=256)
def _column_index(names: tuple[str, ...]) -> Any:
    """A signature's column labels (an Index infers its dtype each time it is built, which
    cost a third of the frame)."""
    import pandas as pd

    return pd.Index(names)


@lru_cache(maxsize=16)
def _row_index(rows: int) -> Any:
    """The rows' labels, 0 to rows - 1 (a RangeIndex costs more to build than to view)."""
    import pandas as pd

    return pd.RangeIndex(rows)
