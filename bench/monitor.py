"""Monitoring speed and power: the monitor job against Evidently.

    make bench-monitor        # creates Evidently's environment, then runs this

For one million current rows x 10 columns (8 numeric, 2 categorical) against a
100,000-row reference, all in one run on this machine:
1. our job, end to end: the monitor job's handler (``model_runtime.jobs.monitor.handler``)
   invoked as EventBridge Scheduler invokes it, against AWS as moto gives it in process.
   Set up first (not timed): a scikit-learn pipeline fitted on the reference and packaged by
   ``package_model`` (whose bundle carries the baseline), uploaded to the versioned artifact
   bucket, registered with its evaluation score and made live; the million current rows as
   captured requests (one row each, answered by that model) spread over the default 24-hour
   window and delivered as Firehose delivers them at that traffic: a gzip object of capture
   messages every 5-minute buffer under ``capture/YYYY/MM/DD/HH/`` (written with
   tests/monitoring_fixtures.py's helpers); one request in 100 labelled through the
   endpoint's feedback (``feedback/``); a rule on the default bus catching the job's events.
   Timed is the whole run: S3 listing and reads of capture and feedback, the bundle fetched
   and digest-checked for its baseline (the container's cache emptied first), frames,
   drift, the label join and live metric, the report in S3 and the registry, metrics and
   events. The job's own limits apply: at the stack's 3008 MB one run holds 601,600 rows
   (``Limits.for_memory``), so it judges that many of the window's million, says
   ``truncated``, and ``job_seconds_per_million_rows`` is its time scaled by the rows it
   judged (``--memory-mb 10240``, Lambda's largest, holds the whole million: no scaling).
   moto answers in process: no network, but each call goes through botocore and moto's
   Python, which a real S3 GET's latency replaces;
2. Evidently's ``DataDriftPreset(method="psi")`` on the reference and the million current
   rows, in memory (its own environment, ``.venv-bench-evidently``); the ratio of the two
   per-million times;
3. power and false alarms over 20 seeded runs each (same sizes, frames in memory given to
   ``drift.compare`` directly, the job's statistics without its reading): a planted shift,
   alternately a 0.5-standard-deviation mean shift in one numeric column or 20 points of one
   categorical column's mix moved from its commonest value to its rarest, counts as detected
   when ``compare`` names that column drifted; an unshifted run counts as a false alarm when
   it names anything.
Prints a table; the last line is a summary for tracking. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from model_runtime.manifest import Column  # noqa: E402
from model_runtime.monitoring.baseline import build_baseline, dumps, parse_baseline  # noqa: E402
from model_runtime.monitoring.drift import Thresholds, compare  # noqa: E402
from registry.names import FEEDBACK_PREFIX, upload_key  # noqa: E402
from tests.monitoring_fixtures import (  # noqa: E402
    MonitoredAccount,
    capture_lines,
    firehose_object,
    put_capture,
)

NUMERIC = [f"x{i}" for i in range(8)]
CATEGORICAL = {"plan": ["basic", "plus", "pro", "team", "free"], "region": ["eu", "us", "ap"]}
MIX = {"plan": [0.4, 0.25, 0.15, 0.1, 0.1], "region": [0.5, 0.3, 0.2]}
NAMES = [*NUMERIC, *CATEGORICAL]
COLUMNS = [Column(name=name, type="float") for name in NUMERIC] + [
    Column(name=name, type="string") for name in CATEGORICAL
]
OUTPUT = [Column(name="prediction", type="int")]
REFERENCE_ROWS, EVALUATION_ROWS, CURRENT_ROWS, RUNS = 100_000, 20_000, 1_000_000, 20

# The job's AWS (moto, in process) and the deployed function's settings.
BUCKET, TABLE, ENVIRONMENT = "slipway-bench-artifacts", "slipway-bench-lineage", "bench"
MODEL, VERSION = "bench", "1"
MEMORY_MB = 3008  # infra/monitor_job.py: the function's memory_size, which bounds its rows
BUFFER_SECONDS = 300  # infra/data_capture.py: Firehose writes an object at least this often
DELIVERY_LAG = BUFFER_SECONDS + 60  # infra/monitor_job.py SCHEDULED_INPUT
FIREHOSE_NAME = "slipway-bench"
WINDOW_HOURS = 24  # MonitoringSettings' default window
SCHEDULED_TIME = datetime(2026, 12, 7, 0, 6, tzinfo=UTC)
WINDOW_END = SCHEDULED_TIME - timedelta(seconds=DELIVERY_LAG)
LABELLED_EVERY, LABELS_PER_MESSAGE = 100, 100


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


class Account(MonitoredAccount):
    """The AWS the monitor job runs against, as moto gives it in process: the artifact bucket
    (versioned, as DataStack makes it) holding a live version's bundle, a day of captured
    requests and some feedback in the layout Firehose delivers them; the lineage table with
    the version live; a rule on the default bus catching the job's events in a queue."""

    def __init__(self, folder: Path) -> None:
        import boto3

        from registry import keys

        super().__init__(
            BUCKET, boto3.resource("dynamodb").create_table(**keys.create_table_request(TABLE))
        )
        self.folder = folder

    def live_version(self, reference: Any, rng: np.random.Generator) -> Any:
        """A real scikit-learn pipeline fitted on the reference, packaged by the real packager
        (which writes the baseline into the bundle), uploaded, registered with its evaluation
        score and made live. Returns the fitted model: it answers the captured requests."""
        import hashlib

        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder

        from model_runtime.packager import package_model
        from registry import items
        from registry.repository import LineageRepository, UploadedBundle
        from registry.statuses import Stage

        evaluation = frame(EVALUATION_ROWS, rng)
        train = reference.assign(prediction=predictions(reference))
        evaluation = evaluation.assign(prediction=predictions(evaluation))
        categories = ColumnTransformer(
            [("categories", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL))],
            remainder="passthrough",
        )
        model = Pipeline([("prepare", categories), ("model", LogisticRegression(max_iter=500))])
        model.fit(train[NAMES], train["prediction"])
        bundle = self.folder / "bundle.tar.gz"
        manifest = package_model(
            model,
            name=MODEL,
            version=VERSION,
            train=train,
            evaluation=evaluation,
            target="prediction",
            metric="accuracy",
            threshold=0.9,
            out=bundle,
            code_path=ROOT,
        )
        body = bundle.read_bytes()
        key = upload_key(MODEL, VERSION)
        answer = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        where = UploadedBundle(
            BUCKET, key, answer["VersionId"], hashlib.sha256(body).hexdigest(), len(body)
        )
        repository = LineageRepository(self.table)
        document = manifest.model_dump(mode="json", exclude_none=True)
        repository.register_version(document, where, execution="bench")
        score = float((model.predict(evaluation[NAMES]) == evaluation["prediction"]).mean())
        repository.update_version(
            MODEL,
            VERSION,
            evaluation_result={"metric": "accuracy", "direction": "maximize", "value": score},
        )
        self.table.put_item(
            Item=items.pointer_item(
                MODEL, Stage.LIVE, VERSION, None, "bench", WINDOW_END.isoformat()
            )
        )
        return model

    def capture(self, current: Any, outputs: np.ndarray) -> tuple[int, int]:
        """The current rows as the endpoints' captured requests (one row each) spread evenly
        over the day's window, delivered as Firehose does at this traffic: an object every
        buffer interval under ``capture/YYYY/MM/DD/HH/``, gzip, one capture message a line
        (tests/monitoring_fixtures.py). Every ``LABELLED_EVERY``-th request gets its true
        label through the endpoint's feedback, delivered under ``feedback/`` the same way.
        Returns (objects, bytes) of capture."""
        rows = current[NAMES].astype(object).to_numpy().tolist()
        truths = predictions(current).tolist()
        answers = outputs.tolist()
        start = WINDOW_END - timedelta(hours=WINDOW_HOURS)
        objects = WINDOW_HOURS * 3600 // BUFFER_SECONDS
        per_object = -(-len(rows) // objects)
        delivery, labels = timedelta(seconds=BUFFER_SECONDS), []
        for number in range(objects):
            captured_at = start + timedelta(seconds=number * BUFFER_SECONDS)
            indices = range(number * per_object, min((number + 1) * per_object, len(rows)))
            requests = [
                {"request_id": request_id(i), "inputs": [rows[i]], "labels": [answers[i]]}
                for i in indices
            ]
            lines = capture_lines(requests, MODEL, VERSION, captured_at)
            # Firehose writes the buffer when it fills: its hour is the delivery's
            put_capture(self.s3, BUCKET, lines, captured_at + delivery, n=number)
            labels.extend(
                {"request_id": request_id(i), "row": 0, "label": truths[i]}
                for i in indices
                if i % LABELLED_EVERY == 0
            )
        for number, first in enumerate(range(0, len(labels), LABELS_PER_MESSAGE * 10)):
            messages = [
                {
                    "message": "feedback",
                    "capture_format": 1,
                    "model": MODEL,
                    "environment": ENVIRONMENT,
                    "time_ms": int(WINDOW_END.timestamp() * 1000),
                    "labels": labels[at : at + LABELS_PER_MESSAGE],
                }
                for at in range(
                    first, min(first + LABELS_PER_MESSAGE * 10, len(labels)), LABELS_PER_MESSAGE
                )
            ]
            key = f"{FEEDBACK_PREFIX}{WINDOW_END:%Y/%m/%d/%H}/{FIREHOSE_NAME}-feedback-{number}.gz"
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=firehose_object(messages))
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="capture/")
        size = sum(listed["Size"] for page in pages for listed in page.get("Contents", []))
        return objects, size

    def report(self, location: str) -> dict[str, Any]:
        key = location.removeprefix(f"s3://{BUCKET}/")
        return json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def request_id(index: int) -> str:
    """A Lambda request id's shape (what the endpoint captures and answers)."""
    return f"00000000-0000-4000-8000-{index:012d}"


@contextlib.contextmanager
def job_environment(psi_alarm: float, memory_mb: int) -> Iterator[None]:
    """The variables the stack gives the job's function (infra/monitor_job.py), and
    credentials that go nowhere (moto answers every call in process); the process's own
    afterwards (capture's measurement runs the endpoint without them)."""
    from registry.environment import ARTIFACT_BUCKET, ENVIRONMENT_NAME, TABLE_NAME
    from registry.monitoring_settings import MONITORING, MonitoringSettings

    saved = dict(os.environ)
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(variable, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            TABLE_NAME: TABLE,
            ARTIFACT_BUCKET: BUCKET,
            ENVIRONMENT_NAME: ENVIRONMENT,
            MONITORING: MonitoringSettings(psi_alarm=psi_alarm).as_variable(),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        }
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class JobRun:
    seconds: float
    rows: int  # captured rows the run judged (its row limit may stop it short of the window)
    answer: dict[str, Any]
    report: dict[str, Any]
    events: list[dict[str, Any]]


def our_job(account: Account) -> JobRun:
    """One scheduled run of the monitor job's handler, as EventBridge Scheduler invokes it,
    timed whole: listing and reading the window's capture and feedback objects, the bundle's
    baseline (fetched and digest-checked: the container's cache is emptied first, as in a
    cold container), frames, drift, the label join and live metric, the report in S3 and
    the registry, metrics, events."""
    from model_runtime.jobs import monitor

    monitor._BASELINES.clear()
    event = {"window_end": SCHEDULED_TIME.isoformat(), "delivery_lag_seconds": DELIVERY_LAG}
    with contextlib.redirect_stdout(io.StringIO()):  # its metric lines (CloudWatch's in AWS)
        started = time.perf_counter()
        answer = monitor.handler(event, None)
        seconds = time.perf_counter() - started
    if answer["failures"] or len(answer["reports"]) != 1:
        raise RuntimeError(f"the monitor job did not judge the live version: {answer}")
    report = account.report(answer["reports"][0]["report"])
    return JobRun(seconds, int(report["rows"]), answer, report, account.caught())


def profile(account: Account, console: Console) -> None:
    """Where one run of the job spends its time: the functions with the most cumulative time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    run = our_job(account)
    profiler.disable()
    console.print(f"profiled run ({run.seconds:.2f} s under the profiler):")
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
    console.print(text.getvalue(), markup=False, highlight=False)


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


def capture_added(iterations: int, console: Console) -> float:
    """The endpoint's side of monitoring: what a captured request adds to the Lambda path,
    measured as bench/serving.py measures it (the larger of an array and a record request)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from serving import capture_costs  # bench/serving.py

    from examples.iris.train import train_and_package

    bundle = Path(tempfile.mkdtemp(prefix="slipway-bench-monitor-")) / "iris.tar.gz"
    train_and_package(bundle, name="iris", version="1")
    return capture_costs(bundle, iterations, console)


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
    parser.add_argument(
        "--capture-iterations", type=int, default=2000, help="requests timed for capture's cost"
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=MEMORY_MB,
        help="the job function's memory, which sets the rows one run holds (the stack's: "
        f"{MEMORY_MB}; Lambda's largest, 10240, holds the whole million)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also print where one run of the job spends"
    )
    args = parser.parse_args()
    if not args.evidently_python.exists():
        sys.exit(f"no Evidently environment at {args.evidently_python}: run `make bench-monitor`")
    thresholds = Thresholds(psi_alarm=args.psi_alarm)
    console = Console(width=120)
    from moto import mock_aws

    rng = np.random.default_rng(0)
    reference = frame(REFERENCE_ROWS, rng)
    current = frame(CURRENT_ROWS, rng, shift=("mean", "x3"))
    with (
        tempfile.TemporaryDirectory(prefix="slipway-bench-monitor-") as work,
        job_environment(args.psi_alarm, args.memory_mb),
        mock_aws(),
    ):
        folder = Path(work)
        account = Account(folder)
        model = account.live_version(reference, rng)
        objects, size = account.capture(current, model.predict(current[NAMES]))
        runs = [our_job(account) for _ in range(args.repeats)]
        ours = min(runs, key=lambda run: run.seconds)
        if args.profile:
            profile(account, console)
        theirs = evidently(args.evidently_python, reference, current, folder, args.repeats)
    detected, false_alarm, misses = power(args.runs, thresholds)
    # one run holds at most the function's rows (Limits.for_memory): per million rows is the
    # run's time scaled by the rows it judged (its fixed costs scaled up with them)
    per_million = ours.seconds / (ours.rows / 1e6)
    evidently_per_million = theirs["seconds"] / (CURRENT_ROWS / 1e6)

    table = Table(title=f"Drift, {CURRENT_ROWS:,} current rows x 10 vs {REFERENCE_ROWS:,}")
    for heading in ("", "rows judged", "seconds", "per million rows", "drifted columns"):
        table.add_column(heading)
    table.add_row(
        f"Slipway monitor job, one scheduled run of its handler on moto ({args.memory_mb} MB; "
        f"window {objects} gzip objects, {size / 1e6:.0f} MB)",
        f"{ours.rows:,}",
        f"{ours.seconds:.2f}",
        f"{per_million:.2f}",
        ", ".join(ours.report["drifted_columns"]),
    )
    table.add_row(
        "Evidently DataDriftPreset(method='psi'), in memory",
        f"{CURRENT_ROWS:,}",
        f"{theirs['seconds']:.2f}",
        f"{evidently_per_million:.2f}",
        ", ".join(theirs["drifted"]),
    )
    console.print(table)
    quality = ours.report["quality"] or {}
    console.print(
        f"job: verdict {ours.report['verdict']}, truncated: {ours.report['truncated'] or 'no'}; "
        f"{quality.get('labelled_rows', 0):,} labelled rows, live {quality.get('metric')} "
        f"{quality.get('live_value')} against {quality.get('evaluation_value')}; events: "
        f"{', '.join(e['detail-type'] for e in ours.events) or 'none'}; "
        f"runs: {', '.join(f'{run.seconds:.2f} s' for run in runs)}"
    )
    console.print(
        f"psi_alarm {thresholds.psi_alarm}: {args.runs} seeded runs each, planted shifts "
        f"detected {detected:.0%} (missed: {', '.join(misses) or 'none'}), "
        f"unshifted runs alarming {false_alarm:.0%}"
    )
    figures = {
        # what capturing a request adds to the endpoint (bench/serving.py measures it)
        "capture_added_p50_ms": capture_added(args.capture_iterations, console),
        "job_seconds_per_million_rows": per_million,
        "job_vs_evidently": per_million / evidently_per_million,
        "detected_shift": detected,
        "false_alarm": false_alarm,
    }
    print(summary_line(figures))


if __name__ == "__main__":
    main()
