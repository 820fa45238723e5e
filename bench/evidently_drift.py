"""Evidently's side of bench/monitor.py, run in Evidently's own environment.

    .venv-bench-evidently/bin/python bench/evidently_drift.py DATA.npz [--repeats N]

Reads the reference and current frames bench/monitor.py wrote (numpy arrays, no pickles),
builds them as pandas DataFrames (not timed), then times Evidently's
``DataDriftPreset(method="psi")`` on them in memory. Prints one JSON line: the best time of
the repeats, in seconds, and the columns Evidently called drifted.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def frames(path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = np.load(path, allow_pickle=False)
    names = [str(name) for name in data["names"]]

    def frame(part: str) -> pd.DataFrame:
        return pd.DataFrame({name: data[f"{part}_{name}"] for name in names})

    return frame("reference"), frame("current")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    reference, current = frames(args.data)
    best, drifted = float("inf"), []
    for _ in range(args.repeats):
        started = time.perf_counter()
        snapshot = Report([DataDriftPreset(method="psi")]).run(current, reference)
        best = min(best, time.perf_counter() - started)
        drifted = drifted_columns(snapshot.dict())
    print(json.dumps({"seconds": best, "drifted": drifted}))


def drifted_columns(result: dict) -> list[str]:
    """Columns whose drift metric passed Evidently's threshold (what its report shows)."""
    columns = []
    for metric in result.get("metrics", []):
        name = str(metric.get("metric_name", ""))
        config = metric.get("config", {})
        value = metric.get("value")
        column = config.get("column")
        threshold = config.get("threshold")
        judged = name.startswith("ValueDrift") and None not in (column, threshold)
        if judged and isinstance(value, int | float) and value >= threshold:
            columns.append(column)
    return columns


if __name__ == "__main__":
    main()
