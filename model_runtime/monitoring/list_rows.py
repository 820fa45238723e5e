"""Rows sent as lists (``[[5.1, "eu", null], ...]``), kept as they are read and turned into
columns once per reader (``settle``): the form in which a forked reader sends its rows back
(window_readers.py), and from which the window's DataFrame is built.

A column of floats (missing values among them) becomes float64, one of integers int64,
anything else stays as it came. A reader's columns pickle as arrays (a list of lists of
Python values takes twice as long to send), each reader settles its own rows at the same
time as the others, and the frame is built from columns instead of from rows. Only columns
that did not come out as numbers everywhere are inferred, by pandas, from their values as
they came.

The frame is the one ``pd.DataFrame(rows, columns=names)`` would build, dtypes and values
(tests/unit/test_list_rows.py holds it to that over generated rows): a column that is int64
in one reader's rows and float64 in another's joins as float64, as pandas infers it; a
column whose values are numbers in some and text in others is inferred from every value,
with its missing values as they came.

    rows = ListRows()
    rows.extend([[1.5, "eu"], [2.0, None]])   # a batch
    rows.append([3, "us"])                     # or a row
    rows.settle()                              # columns (all rows of one width)
    rows.join(another_readers_rows)
    frame = rows.frame(["x", "region"])
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class _Columns:
    """A batch of rows of one width as columns: float64 (``holes``: where a None was), int64,
    or object (the values as they came)."""

    columns: list[np.ndarray]
    holes: list[np.ndarray | None]
    count: int

    @classmethod
    def of(cls, rows: list[list[Any]], width: int) -> _Columns:
        from pandas.api.types import infer_dtype

        columns, holes = [], []
        for values in zip(*rows, strict=True):
            column = np.fromiter(values, dtype=object, count=len(values))
            hole = None
            kind = infer_dtype(column, skipna=False)
            if kind == "floating":
                column = column.astype(np.float64)
            elif kind == "integer":
                # beyond int64 it stays as it came, for pandas to decide (uint64 or object)
                with contextlib.suppress(OverflowError):
                    column = column.astype(np.int64)
            elif infer_dtype(column, skipna=True) == "floating":  # floats and None
                hole = np.equal(column, None)
                column = column.astype(np.float64)
            columns.append(column)
            holes.append(hole)
        return cls(columns, holes, len(rows))

    @property
    def width(self) -> int:
        return len(self.columns)

    def values(self, position: int) -> np.ndarray:
        """Column ``position``'s values as they came (Python objects)."""
        column = self.columns[position]
        if column.dtype == object:
            return column
        values = column.astype(object)
        hole = self.holes[position]
        if hole is not None:
            values[hole] = None
        return values

    def rows(self) -> list[list[Any]]:
        columns = [self.values(j) for j in range(self.width)]
        return [list(row) for row in zip(*columns, strict=True)]


class ListRows:
    """Rows sent as lists, in the order they came; see the module's docstring."""

    def __init__(self) -> None:
        self._parts: list[_Columns | list[list[Any]]] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def extend(self, rows: list[list[Any]]) -> None:
        """A batch of rows, kept as they are until ``settle``."""
        if not rows:
            return
        if not self._parts or type(self._parts[-1]) is not list:
            self._parts.append([])
        self._parts[-1].extend(rows)  # type: ignore[union-attr]
        self.count += len(rows)

    def append(self, row: list[Any]) -> None:
        self.extend([row])

    def settle(self) -> None:
        """The rows kept as they came made into columns, when they are all of one width (a
        window with rows of other widths keeps them as rows, for ``frame`` to pad or cut)."""
        if all([type(part) is not list for part in self._parts]):
            return  # settled already
        rows = self._rows()
        width = len(rows[0]) if rows else 0
        if width and all([len(row) == width for row in rows]):
            self._parts = [_Columns.of(rows, width)]

    def join(self, other: ListRows) -> None:
        """``other``'s rows after these (another reader's)."""
        self._parts.extend(other._parts)
        self.count += other.count

    def _rows(self) -> list[list[Any]]:
        parts = self._parts
        return [row for part in parts for row in (part if type(part) is list else part.rows())]

    def frame(self, names: Sequence[str]) -> Any:
        """The rows as a DataFrame, one column per name: a row shorter than ``names`` is
        padded with missing values, a longer one cut (the endpoint refused both; a record is
        data)."""
        import pandas as pd

        names = list(names)
        parts = self._parts
        width = len(names)
        if not self.count:
            return pd.DataFrame(columns=names)
        if len(set(names)) == width and all(
            [type(part) is _Columns and part.width == width for part in parts]
        ):
            batches: list[_Columns] = parts  # type: ignore[assignment]
            columns = {name: _joined(batches, j) for j, name in enumerate(names)}
            return pd.DataFrame(columns).infer_objects()
        rows = self._rows()
        if any([len(row) != width for row in rows]):
            rows = [[*row[:width], *[None] * (width - len(row))] for row in rows]
        return pd.DataFrame(rows, columns=names)


def _joined(batches: list[_Columns], position: int) -> np.ndarray:
    """Column ``position`` of every batch: numbers joined as numbers (int64 and float64 make
    float64, as pandas infers them), else every value as it came, for pandas to infer."""
    columns = [batch.columns[position] for batch in batches]
    if all([column.dtype != object for column in columns]):
        return np.concatenate(columns)
    return np.concatenate([batch.values(position) for batch in batches])
