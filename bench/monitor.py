"""Monitoring speed and power: the drift part of the monitor job against Evidently.

    make bench-monitor        # creates Evidently's environment, then runs this

For one million current rows x 10 columns (8 numeric, 2 categorical) against a
100,000-row reference, all in one run on this machine:
1. our job, end to end: the current rows are written first (not timed) as capture files in
   the form Firehose delivers them (gzip, one JSON capture message per line, 40 objects);
   timed is reading those files, building the inputs' and outputs' frames, parsing the
   baseline (built with ``build_baseline`` from the reference) and comparing (``compare``);
2. Evidently's ``DataDriftPreset(method="psi")`` on the same two frames, in memory (its
   own environment, ``.venv-bench-evidently``); the ratio of the two times;
3. power and false alarms over 20 seeded runs each (same sizes, frames in memory: the
   statistics, not the reading): a planted shift, alternately a 0.5-standard-deviation mean
   shift in one numeric column or 20 points of one categorical column's mix moved from its
   commonest value to its rarest, counts as detected when ``compare`` names that column
   drifted; an unshifted run counts as a false alarm when it names anything.
Prints a table; the last line is a summary for tracking. Not a test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import orjson  # noqa: E402
import pandas as pd  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from model_runtime.manifest import Column  # noqa: E402
from model_runtime.monitoring.baseline import build_baseline, dumps, parse_baseline  # noqa: E402
from model_runtime.monitoring.capture_files import capture_frames, read_records  # noqa: E402
from model_runtime.monitoring.drift import Thresholds, compare  # noqa: E402

NUMERIC = [f"x{i}" for i in range(8)]
CATEGORICAL = {"plan": ["basic", "plus", "pro", "team", "free"], "region": ["eu", "us", "ap"]}
MIX = {"plan": [0.4, 0.25, 0.15, 0.1, 0.1], "region": [0.5, 0.3, 0.2]}
NAMES = [*NUMERIC, *CATEGORICAL]
COLUMNS = [Column(name=name, type="float") for name in NUMERIC] + [
    Column(name=name, type="string") for name in CATEGORICAL
]
OUTPUT = [Column(name="prediction", type="int")]
REFERENCE_ROWS, CURRENT_ROWS, OBJECTS, RUNS = 100_000, 1_000_000, 40, 20


def frame(rows: int, rng: np.random.Generator, shift: tuple[str, str] | None = None) -> Any:
    """Rows of the benchmark's distribution; ``shift`` = ("mean", column) or ("mix", column)."""
    data: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        mean, scale = float(i), 1.0 + i / 4  # columns of different scales
        if shift == ("mean", name):
            mean += 0.5 * scale
        data[name] = rng.normal(mean, scale, rows)
    for name, values in CATEGORICAL.items():
        shares = list(MIX[name])
        if shift == ("mix", name):
            shares[0] -= 0.2
            shares[-1] += 0.2
        data[name] = rng.choice(values, rows, p=shares)
    return pd.DataFrame(data)


def predictions(inputs: Any) -> np.ndarray:
    """A stand-in model's labels: what the endpoint would have answered."""
    return ((inputs["x0"] + inputs["x1"] / 2) > 0.5).to_numpy(dtype=np.int64)


def baseline_of(reference: Any) -> bytes:
    return dumps(build_baseline(reference, COLUMNS, predictions(reference).tolist(), OUTPUT))


def write_capture_files(current: Any, folder: Path) -> list[Path]:
    """The current rows as Firehose delivers captured requests: one capture message per
    request (one row each), one per line, gzip, ``OBJECTS`` objects."""
    outputs = predictions(current).tolist()
    rows = current[NAMES].astype(object).to_numpy().tolist()
    paths = []
    per_object = len(rows) // OBJECTS + 1
    for number, start in enumerate(range(0, len(rows), per_object)):
        lines = [
            orjson.dumps(
                {
                    "message": "capture",
                    "capture_format": 1,
                    "request_id": f"00000000-0000-4000-8000-{index:012d}",
                    "model": "bench",
                    "version": "1",
                    "environment": "bench",
                    "time_ms": 1733563200000 + index,
                    "traffic": "live",
                    "inputs": [rows[index]],
                    "outputs": [outputs[index]],
                    "rows": 1,
                    "excluded": [],
                    "truncated": False,
                }
            )
            for index in range(start, min(start + per_object, len(rows)))
        ]
        path = folder / f"capture-{number:03d}.gz"
        path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n", compresslevel=6))
        paths.append(path)
    return paths


def our_job(paths: list[Path], baseline_bytes: bytes, thresholds: Thresholds) -> tuple[float, Any]:
    """Seconds for reading the files, building frames, parsing the baseline and comparing."""
    started = time.perf_counter()
    baseline = parse_baseline(baseline_bytes)
    bodies = (path.read_bytes() for path in paths)
    window = capture_frames(
        read_records(bodies), model="bench", signatures={"1": (NAMES, ["prediction"])}
    )["1"]
    result = compare(baseline, window.inputs, window.outputs, thresholds, excluded=window.excluded)
    return time.perf_counter() - started, result


def evidently(python: Path, reference: Any, current: Any, folder: Path, repeats: int) -> dict:
    data = folder / "frames.npz"
    arrays = {"names": np.array(NAMES)}
    for part, table in (("reference", reference), ("current", current)):
        for name in NAMES:
            values = table[name].to_numpy()
            arrays[f"{part}_{name}"] = values.astype(str) if values.dtype == object else values
    np.savez(data, **arrays)
    command = [str(python), str(ROOT / "bench" / "evidently_drift.py"), str(data)]
    answer = subprocess.run(
        [*command, "--repeats", str(repeats)], check=True, capture_output=True, text=True
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])


def power(runs: int, thresholds: Thresholds) -> tuple[float, float, list[str]]:
    """(share of planted shifts detected, share of unshifted runs that alarmed, misses)."""
    detected, alarms, misses = 0, 0, []
    for seed in range(runs):
        rng = np.random.default_rng(1000 + seed)
        reference = frame(REFERENCE_ROWS, rng)
        baseline = parse_baseline(baseline_of(reference))
        # even seeds: a mean shift, through the numeric columns; odd: a mix change
        if seed % 2 == 0:
            kind, column = "mean", NUMERIC[(seed // 2) % len(NUMERIC)]
        else:
            kind, column = "mix", list(CATEGORICAL)[(seed // 2) % len(CATEGORICAL)]
        shifted = frame(CURRENT_ROWS, rng, shift=(kind, column))
        outputs = pd.DataFrame({"prediction": predictions(shifted)})
        result = compare(baseline, shifted, outputs, thresholds)
        if column in result.drifted_columns:
            detected += 1
        else:
            misses.append(f"{kind} {column}")
        same = frame(CURRENT_ROWS, rng)
        outputs = pd.DataFrame({"prediction": predictions(same)})
        alarms += compare(baseline, same, outputs, thresholds).drifted
    return detected / runs, alarms / runs, misses


def summary_line(figures: dict[str, float]) -> str:
    """The last line: ``key=value`` pairs in the order of ``figures``."""
    return " ".join(f"{key}={value:.3f}" for key, value in figures.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--evidently-python",
        type=Path,
        default=ROOT / ".venv-bench-evidently" / "bin" / "python",
    )
    parser.add_argument("--repeats", type=int, default=2, help="timed runs; the best counts")
    parser.add_argument("--runs", type=int, default=RUNS, help="seeded runs for power")
    parser.add_argument(
        "--psi-alarm",
        type=float,
        default=Thresholds().psi_alarm,
        help="the PSI that alarms (an environment's monitoring.psi_alarm)",
    )
    args = parser.parse_args()
    if not args.evidently_python.exists():
        sys.exit(f"no Evidently environment at {args.evidently_python}: run `make bench-monitor`")
    thresholds = Thresholds(psi_alarm=args.psi_alarm)
    console = Console(width=120)

    rng = np.random.default_rng(0)
    reference = frame(REFERENCE_ROWS, rng)
    current = frame(CURRENT_ROWS, rng, shift=("mean", "x3"))
    baseline_bytes = baseline_of(reference)
    with tempfile.TemporaryDirectory(prefix="slipway-bench-monitor-") as work:
        folder = Path(work)
        paths = write_capture_files(current, folder)
        size = sum(path.stat().st_size for path in paths)
        ours, result = min(
            (our_job(paths, baseline_bytes, thresholds) for _ in range(args.repeats)),
            key=lambda taken: taken[0],
        )
        theirs = evidently(args.evidently_python, reference, current, folder, args.repeats)
    detected, false_alarm, misses = power(args.runs, thresholds)

    table = Table(title=f"Drift, {CURRENT_ROWS:,} current rows x 10 vs {REFERENCE_ROWS:,}")
    for heading in ("", "seconds", "per million rows", "drifted columns"):
        table.add_column(heading)
    table.add_row(
        f"Slipway job ({len(paths)} gzip objects, {size / 1e6:.0f} MB, read + frames + PSI)",
        f"{ours:.2f}",
        f"{ours / (CURRENT_ROWS / 1e6):.2f}",
        ", ".join(result.drifted_columns + result.drifted_outputs),
    )
    table.add_row(
        "Evidently DataDriftPreset(method='psi'), in memory",
        f"{theirs['seconds']:.2f}",
        f"{theirs['seconds'] / (CURRENT_ROWS / 1e6):.2f}",
        ", ".join(theirs["drifted"]),
    )
    console.print(table)
    console.print(
        f"psi_alarm {thresholds.psi_alarm}: {args.runs} seeded runs each, planted shifts "
        f"detected {detected:.0%} (missed: {', '.join(misses) or 'none'}), "
        f"unshifted runs alarming {false_alarm:.0%}"
    )
    # the lead's serving benchmark adds capture_added_p50_ms in front of these
    figures = {
        "job_seconds_per_million_rows": ours / (CURRENT_ROWS / 1e6),
        "job_vs_evidently": ours / theirs["seconds"],
        "detected_shift": detected,
        "false_alarm": false_alarm,
    }
    print(summary_line(figures))


if __name__ == "__main__":
    main()
