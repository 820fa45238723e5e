"""What a bundle's signature says each column is, read from the data a model was fitted on.

A pandas DataFrame's dtypes decide (a CSV is read with pandas first, so mixed-type files get
pandas' own per-column inference); a column with any missing value in the training or
evaluation data is nullable. Explicit types, given by column name, override what is
inferred, for the cases data cannot tell (an integer id with no missing values that may be
missing at serving time; a string column that is really a set of categories).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from model_runtime.manifest import COLUMN_TYPES, Column

STRING_DTYPES = ("str", "string", "string[python]", "string[pyarrow]")


class ColumnTypeError(ValueError):
    """A column's values do not have one type Slipway can describe; say it explicitly."""


def infer_column(name: str, series: Any, *, nullable: bool | None = None) -> Column:
    """The column a pandas Series is: its JSON type, whether it may be null, its dtype."""
    import pandas as pd
    from pandas.api import types

    dtype = series.dtype
    missing = bool(series.isna().any()) if nullable is None else nullable
    name_of_dtype = str(dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        categories = [_plain(value) for value in dtype.categories.tolist()]
        return Column(
            name=name, type="category", nullable=missing, dtype="category", categories=categories
        )
    if types.is_bool_dtype(dtype):
        return Column(
            name=name,
            type="bool",
            nullable=missing or name_of_dtype == "boolean",
            dtype=name_of_dtype,
        )
    if types.is_integer_dtype(dtype):
        extension = name_of_dtype[0].isupper()
        return Column(name=name, type="int", nullable=missing or extension, dtype=name_of_dtype)
    if types.is_float_dtype(dtype):
        return Column(name=name, type="float", nullable=missing, dtype=name_of_dtype)
    if types.is_datetime64_any_dtype(dtype):
        return Column(name=name, type="datetime", nullable=missing, dtype=name_of_dtype)
    if types.is_string_dtype(dtype):
        values = series.dropna()
        kinds = {type(value) for value in values}
        if kinds <= {str}:
            return Column(name=name, type="string", nullable=missing, dtype=name_of_dtype)
        if kinds <= {bool}:
            return Column(name=name, type="bool", nullable=missing, dtype="object")
        if kinds <= {int}:
            return Column(name=name, type="int", nullable=missing, dtype="object")
        if kinds <= {int, float}:
            return Column(name=name, type="float", nullable=missing, dtype="object")
        raise ColumnTypeError(
            f"column {name!r} mixes {sorted(k.__name__ for k in kinds)}: give its type "
            f"explicitly (one of {', '.join(COLUMN_TYPES)})"
        )
    raise ColumnTypeError(
        f"column {name!r} has dtype {name_of_dtype}, which Slipway cannot serve from JSON; "
        "convert it, or give its type explicitly"
    )


def infer_columns(
    frame: Any, *, also_missing_in: Any = None, explicit: Mapping[str, Any] | None = None
) -> list[Column]:
    """One column per DataFrame column, in order. A column is nullable if it has a missing
    value in ``frame`` or in ``also_missing_in`` (the evaluation data, say)."""
    explicit = dict(explicit or {})
    columns = []
    for name in frame.columns:
        given = explicit.pop(name, None)
        if isinstance(given, Column):
            columns.append(given)
            continue
        missing = bool(frame[name].isna().any())
        if also_missing_in is not None and name in also_missing_in:
            missing = missing or bool(also_missing_in[name].isna().any())
        inferred = infer_column(str(name), frame[name], nullable=missing)
        if isinstance(given, str):
            if given not in COLUMN_TYPES:
                raise ColumnTypeError(f"column {name!r}: {given!r} is not one of {COLUMN_TYPES}")
            keep = {"dtype": inferred.dtype} if given in ("float", "int", "bool") else {}
            inferred = Column(name=str(name), type=given, nullable=missing, **keep)
        elif isinstance(given, Mapping):
            inferred = Column.model_validate({"name": str(name), **given})
        columns.append(inferred)
    if explicit:
        raise ColumnTypeError(f"types given for columns the data does not have: {sorted(explicit)}")
    return columns


def output_column(labels: Any, name: str = "prediction") -> Column:
    """The prediction's column, from the training labels (string, integer, float, bool)."""
    column = infer_column(name, labels, nullable=False)
    return column.model_copy(update={"categories": None, "type": _output_type(column)})


def _output_type(column: Column) -> str:
    return "string" if column.type == "category" else column.type


def json_value(value: Any) -> Any:
    """A DataFrame cell as JSON carries it: NaN/NA as null, numpy scalars as Python,
    date-times as ISO 8601."""
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is part of the runtime
        pass
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def records(frame: Any, columns: list[Column]) -> list[dict[str, Any]]:
    """Rows of a DataFrame as JSON objects keyed by column name, in signature order (an
    integer column read as floats because of its gaps gives integers)."""
    names = [column.name for column in columns]
    integers = {column.name for column in columns if column.type == "int"}
    rows = []
    for row in frame[names].itertuples(index=False, name=None):
        record = {name: json_value(value) for name, value in zip(names, row, strict=True)}
        for name in integers:
            if isinstance(record[name], float) and record[name].is_integer():
                record[name] = int(record[name])
        rows.append(record)
    return rows


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
