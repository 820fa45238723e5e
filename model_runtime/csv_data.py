"""How Slipway reads a CSV, in one place: packaging infers a bundle's columns from it and
the gate scores the model on it, so both must agree on which cells are missing.

pandas' rule decides (an empty cell, ``NA``, ``nan``, ``null``, ``N/A``, ``None``, ... are
missing), because a model fitted on ``pd.read_csv`` output saw exactly those as missing.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def count_csv_rows(path: Path) -> int:
    """Data rows of a CSV with a header (quoted line breaks stay inside their row): what
    lineage records as a dataset's ``rows``."""
    with open(path, newline="") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def read_frame(path: Path) -> Any:
    """The CSV as a DataFrame with pandas' own per-column type inference."""
    import pandas as pd

    return pd.read_csv(path)


def read_cells(path: Path) -> tuple[list[str], list[dict[str, str | None]]]:
    """(column names, rows as text cells by column name, a missing cell as None), by the
    same missing-value rule as :func:`read_frame`."""
    import pandas as pd

    frame = pd.read_csv(path, dtype=str)
    cells = frame.astype(object).where(frame.notna(), None)
    return [str(name) for name in frame.columns], cells.to_dict("records")
