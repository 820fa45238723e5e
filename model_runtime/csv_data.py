"""How Slipway reads a CSV, in one place: packaging infers a bundle's columns from it and
the gate scores the model on it, so both must agree on which cells are missing.

pandas' rule decides (an empty cell, ``NA``, ``nan``, ``null``, ``N/A``, ``None``, ... are
missing), because a model fitted on ``pd.read_csv`` output saw exactly those as missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


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
