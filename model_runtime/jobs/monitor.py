"""The monitor job: each live (and canary) version's captured traffic in a window, judged
against the baseline its bundle carries and, where clients sent labels, against its own
evaluation score.

One run reads the window's captured objects once (``capture/YYYY/MM/DD/HH/``, the hours of
the window and the one after it, for Firehose delivers a little later than it captures),
and the feedback written since the window began; then, version by version, it writes the
report (S3, ``monitoring/<model>/<version>/<window end>.json``) and its summary (registry),
emits metrics and publishes events. A failing version is logged and named in the run's
answer; the others' reports are written all the same. The same window again writes the same
keys: the scheduler's retries and a person's ``slipway monitor run`` are harmless.

EventBridge Scheduler invokes it with ``{"window_end": "<aws.scheduler.scheduled-time>"}``;
``slipway monitor run`` with the model (and optionally a version and a window).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from model_runtime.jobs.candidate import fetch_bundle
from model_runtime.jobs.window_readers import ShareRead, read_shares, reader_count
from model_runtime.manifest import Signature
from model_runtime.monitoring import report as reports
from model_runtime.monitoring.capture_files import (
    CapturedRows,
    CaptureLine,
    Opened,
    ReadStats,
    capture_batches,
    collector_paused,
    open_object,
    read_records,
)
from model_runtime.monitoring.quality import collect_labels, join_keyed, live_quality
from registry import aws
from registry.environment import ARTIFACT_BUCKET, ENVIRONMENT_NAME, required
from registry.metrics import NAMESPACE, Dimension, Metric
from registry.monitoring_reports import (
    EVENT_SOURCE,
    DetailType,
    Role,
    Verdict,
    capture_hour_prefix,
    report_key,
)
from registry.monitoring_settings import MAX_WINDOW_HOURS, MonitoringSettings, monitoring_settings
from registry.names import FEEDBACK_PREFIX, NAME_PATTERN, VERSION_PATTERN
from registry.repository import LineageRepository, UploadedBundle
from registry.statuses import Stage

logger = Logger(service="slipway-monitor")

# PutEvents takes at most 10 entries a call.
EVENTS_PER_CALL = 10
# Baselines of bundles already read, by bundle digest (a warm container runs every hour).
_BASELINES: dict[str, Any] = {}
_BASELINE_CACHE_SIZE = 64


class JobRequest(BaseModel):
    """What a run is asked: by the schedule (the window's end), or by a person (a model,
    perhaps a version, perhaps another window)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(None, pattern=NAME_PATTERN.pattern)
    version: str | None = Field(None, pattern=VERSION_PATTERN.pattern)
    window_hours: int | None = Field(None, ge=1, le=MAX_WINDOW_HOURS)
    window_end: datetime | None = None
    # the schedule's: traffic of the last minutes may not be in the bucket yet, so a
    # scheduled window ends this long before its scheduled time (and the next one starts there)
    delivery_lag_seconds: int = Field(0, ge=0, le=3600)


# What a captured row costs in memory while a window is read: its record parsed (about
# 1.8 KB for ten columns), then its share of the frames. A run holds a window's rows at
# once, so the function's memory bounds them (docs/monitoring.md: how far one job scales).
ROWS_PER_MEMORY_MB = 200
MEMORY_MB = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"  # Lambda sets it in every function


@dataclass(frozen=True)
class Limits:
    """What one run reads at most; past any of them the run judges what it read and its
    reports say ``truncated`` (docs/monitoring.md: the path beyond one job). One object
    larger than ``max_object_bytes`` (a mistaken bulk upload) is skipped, and counted."""

    max_objects: int = 20_000
    max_bytes: int = 2 * 1024**3
    max_rows: int = 600_000
    max_object_bytes: int = 256 * 1024**2

    @classmethod
    def for_memory(cls, memory_mb: int) -> Limits:
        """The rows a function of ``memory_mb`` can hold (at 3008 MB: about 600,000)."""
        return cls(max_rows=max(1000, memory_mb * ROWS_PER_MEMORY_MB))


@dataclass
class _Budget:
    limits: Limits
    objects: int = 0
    bytes: int = 0
    rows: int = 0
    truncated: str | None = None
    oversized: int = 0  # objects skipped for their size alone

    def admits(self, size: int) -> bool:
        if self.objects + 1 > self.limits.max_objects:
            self.truncated = f"more than {self.limits.max_objects} objects in the window"
        elif self.bytes + size > self.limits.max_bytes:
            self.truncated = f"more than {self.limits.max_bytes} bytes in the window"
        else:
            self.objects += 1
            self.bytes += size
            return True
        return False


@dataclass(frozen=True)
class Judged:
    """A version the run judges, and why (live, or a canary taking a share)."""

    model: str
    version: str
    role: Role


@dataclass
class RunResult:
    window: reports.Window
    reports: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    truncated: str | None = None
    read: dict[str, Any] = field(default_factory=dict)  # what reading skipped (ReadStats)

    def fail(self, one: Judged, exc: Exception) -> None:
        logger.exception("monitoring failed", extra={"model": one.model, "version": one.version})
        self.failures.append(
            {
                "model": one.model,
                "version": one.version,
                "error": f"{type(exc).__name__}: {exc}"[:1000],
            }
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "window": self.window.as_json(),
            "reports": self.reports,
            "failures": self.failures,
            "truncated": self.truncated,
            "read": self.read,
        }


# Objects fetched and decompressed ahead of the one being parsed, by a thread each: in AWS
# each GET waits on the network, and zlib lets go of the GIL while it inflates. Each holds
# at most an object's decompressed bytes (capture_files.MAX_OBJECT_BYTES) until it is parsed.
READ_AHEAD = 3


def _listed(
    s3: Any, bucket: str, prefix: str, budget: _Budget, since: datetime | None = None
) -> Iterator[str]:
    """The keys of the objects under ``prefix`` (modified since ``since``) to read, within
    the run's budget."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for listed in page.get("Contents", []):
            if since is not None and listed["LastModified"] < since:
                continue
            if int(listed["Size"]) > budget.limits.max_object_bytes:
                budget.oversized += 1  # read whole it could take the run's memory
                logger.warning("object skipped for its size", extra={"key": listed["Key"]})
                continue
            if budget.truncated or not budget.admits(int(listed["Size"])):
                return
            yield listed["Key"]


def _objects(s3: Any, bucket: str, keys: Iterable[str]) -> Iterator[Opened]:
    """The objects of ``keys``, in their order, fetched and decompressed ``READ_AHEAD`` at
    a time. Stopped early (the row limit), it waits only for those under way."""
    from concurrent.futures import ThreadPoolExecutor

    def fetch(key: str) -> Opened:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return open_object(body)  # the reader's own limit (capture_files.MAX_OBJECT_BYTES)

    pool = ThreadPoolExecutor(READ_AHEAD, thread_name_prefix="slipway-monitor-read")
    pending: deque[Future[Opened]] = deque()
    try:
        for key in keys:
            pending.append(pool.submit(fetch, key))
            if len(pending) > READ_AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def capture_prefixes(window: reports.Window) -> list[str]:
    """The date partitions that may hold the window's requests: its hours, and the hour
    after its end (delivery happens after capture; records are then filtered by time)."""
    hour = window.start.replace(minute=0, second=0, microsecond=0)
    last = window.end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    prefixes = []
    while hour <= last:
        prefixes.append(capture_hour_prefix(hour))
        hour += timedelta(hours=1)
    return prefixes


def rows_cut(max_rows: int) -> str:
    """What a report says when the window held more captured rows than a run holds."""
    return f"more than {max_rows} captured rows in the window"


def window_rows(
    batches: Iterable[list[CaptureLine]],
    window: reports.Window,
    wanted: dict[str, set[str]],
    budget: _Budget,
) -> dict[str, dict[str, CapturedRows]]:
    """The captured rows of the window (by their time), by model and version, of the
    versions judged (``wanted``: model -> versions); at most the run's row limit.
    ``batches``: the records an object at a time (``capture_files.capture_batches``)."""
    found = {model: {v: CapturedRows() for v in versions} for model, versions in wanted.items()}
    every = [rows for versions in found.values() for rows in versions.values()]
    only = every[0] if len(every) == 1 else None  # the usual run: one live version
    start, end = window.start_ms, window.end_ms
    versions_of = wanted.get
    for batch in batches:
        # a comprehension a batch: the few checks on each of a million records cost a
        # third of what a loop of them did
        mine = [
            line
            for line in batch
            if line.message == "capture"
            and isinstance(at := line.time_ms, int | float)
            and start <= at < end
            and type(model := line.model) is str
            and (versions := versions_of(model)) is not None
            and str(line.version) in versions
            and type(line.inputs) is list
        ]
        if not mine:
            continue
        rows = [len(line.inputs) for line in mine]
        room = budget.limits.max_rows - budget.rows
        cut = sum(rows) > room
        if cut:  # the lines before the first that does not fit
            kept = 0
            for count in rows:
                if count > room:
                    break
                room -= count
                kept += 1
            mine, rows = mine[:kept], rows[:kept]
            budget.truncated = rows_cut(budget.limits.max_rows)
        budget.rows += sum(rows)
        if only is not None:
            only.add_batch(mine)
        else:
            by_version: dict[tuple[str, str], list[CaptureLine]] = {}
            for line in mine:
                by_version.setdefault((line.model, str(line.version)), []).append(line)
            for (model, version), lines in by_version.items():
                found[model][version].add_batch(lines)
        if cut:
            break
    return found


def load_baseline(s3: Any, item: dict[str, Any]) -> Any | None:
    """The baseline the version's bundle carries (the exact S3 object version the registry
    recorded, digest-checked and safely extracted as the gate does); None for a bundle
    packaged before bundles carried one."""
    from model_runtime.monitoring.baseline import BASELINE_FILE, parse_baseline

    where = UploadedBundle(**item["bundle"])
    if where.digest in _BASELINES:
        return _BASELINES[where.digest]
    with tempfile.TemporaryDirectory(prefix="slipway-monitor-") as work:
        bundle, _ = fetch_bundle(
            s3, where.bucket, where.key, where.s3_version_id, Path(work), where.digest
        )
        path = bundle.root / BASELINE_FILE
        baseline = parse_baseline(path.read_bytes()) if path.is_file() else None
    if len(_BASELINES) >= _BASELINE_CACHE_SIZE:
        _BASELINES.pop(next(iter(_BASELINES)))
    _BASELINES[where.digest] = baseline
    return baseline


def judged_versions(repository: LineageRepository, request: JobRequest) -> list[Judged]:
    """Each model's live version and its canary, if any (only the asked model, or version,
    when a person asks)."""
    if request.model is not None:
        names = [request.model]
    else:
        names = []
        start = None
        while True:
            page = repository.list_models(limit=100, start=start)
            names.extend(str(item["name"]) for item in page.items)
            if page.next_key is None:
                break
            start = page.next_key
    judged = []
    for name in names:
        pointer = repository.get_pointer(name, Stage.LIVE)
        found = []
        if pointer is not None:
            found.append(Judged(name, str(pointer["version"]), Role.LIVE))
            if pointer.get("canary_version"):
                found.append(Judged(name, str(pointer["canary_version"]), Role.CANARY))
        if request.version is not None:
            # a version asked for by name: judged even if it has left live since (its
            # traffic in the window is still captured)
            found = [j for j in found if j.version == request.version] or [
                Judged(name, request.version, Role.LIVE)
            ]
        judged.extend(found)
    return judged


@dataclass(frozen=True)
class Clients:
    s3: Any
    events: Any
    repository: LineageRepository


def model_traffic(
    repository: LineageRepository, model: str, judged: list[Judged], rows: dict[str, CapturedRows]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The judged versions' registry items, and their captured rows as frames (inputs,
    outputs named as the baseline names them, request keys; model_runtime/monitoring/
    capture_files.py)."""
    items = {}
    for one in judged:
        item = repository.get_version(model, one.version)
        if item is None:
            raise LookupError(f"{model} {one.version} is not registered")
        items[one.version] = item
    return items, {
        version: rows[version].frames(Signature.model_validate(item["signature"]))
        for version, item in items.items()
    }


def _read_limit(stats: Any) -> str | None:
    if stats.record_limit_reached or stats.row_limit_reached:
        return "the reader's record or row limit was reached"
    return None


@dataclass(frozen=True)
class _Run:
    """What every step of one run shares."""

    clients: Clients
    bucket: str
    environment: str
    settings: MonitoringSettings
    window: reports.Window
    generated: datetime


def run_monitor(
    clients: Clients,
    bucket: str,
    environment: str,
    settings: MonitoringSettings,
    request: JobRequest,
    now: datetime | None = None,
    limits: Limits = Limits(),
    readers: int | None = None,
) -> RunResult:
    """Judge every version the request names in its window; see the module's docstring."""
    generated = now or datetime.now(UTC)
    end = (request.window_end or generated) - timedelta(seconds=request.delivery_lag_seconds)
    window = reports.Window.ending(end, request.window_hours or settings.window_hours)
    run = _Run(clients, bucket, environment, settings, window, generated)
    result = RunResult(window)
    judged = judged_versions(clients.repository, request)
    if judged:
        with collector_paused():
            judge_all(run, judged, result, limits, readers)
    if request.model is None:
        # only a run over every model may say how many drift: a run for one model (a person's)
        # must not clear the environment's alarm while another model drifts
        count_environment(environment, result.reports)
    # a version the run could not judge is counted too: its own alarm, since the counts above
    # say nothing of it (every run writes it, zero included)
    count_failures(environment, len(result.failures))
    return result


def judge_all(
    run: _Run, judged: list[Judged], result: RunResult, limits: Limits, readers: int | None = None
) -> None:
    """Read the window once (by ``readers`` processes, or one per CPU: window_readers.py),
    then judge each version."""
    s3, window = run.clients.s3, run.window
    budget = _Budget(limits)
    wanted: dict[str, set[str]] = {}
    for one in judged:
        wanted.setdefault(one.model, set()).add(one.version)
    keys = [
        key
        for prefix in capture_prefixes(window)
        for key in _listed(s3, run.bucket, prefix, budget)
    ]

    def read_share(share: list[str], max_rows: int, client: Any) -> ShareRead:
        """One reader's share of the window (window_readers.py): its rows, by version."""
        mine, counted = _Budget(replace(limits, max_rows=max_rows)), ReadStats()
        captured = _objects(client, run.bucket, share)
        try:
            rows = window_rows(capture_batches(captured, stats=counted), window, wanted, mine)
        finally:
            captured.close()  # stopped at the row limit: the reads still under way end here
        return ShareRead(rows, counted, mine.rows, mine.truncated is not None)

    count = reader_count(len(keys), readers)
    read = read_shares(read_share, keys, readers=count, max_rows=limits.max_rows, s3=s3)
    by_model, stats = read.rows, read.stats
    if read.cut and not budget.truncated:
        budget.truncated = rows_cut(limits.max_rows)
    # labels come after their requests: every feedback object written since the window began
    # (a budget of its own: a window too big to read whole still gets its labels)
    labelled = _Budget(limits)
    feedback = _objects(
        s3,
        run.bucket,
        _listed(s3, run.bucket, FEEDBACK_PREFIX, labelled, since=window.start),
    )
    labels = collect_labels(read_records(feedback, stats=stats), set(wanted))
    result.truncated = budget.truncated or _read_limit(stats)
    if labelled.truncated:
        result.truncated = f"feedback: {labelled.truncated}" + (
            f"; {result.truncated}" if result.truncated else ""
        )
    result.read = stats.as_json() | {"oversized_objects": budget.oversized + labelled.oversized}
    for model in wanted:
        mine = [one for one in judged if one.model == model]
        try:
            items, frames = model_traffic(run.clients.repository, model, mine, by_model.pop(model))
        except Exception as exc:  # one model's failure must not cost the others' reports
            for one in mine:
                result.fail(one, exc)
            continue
        for one in mine:
            try:
                report = judge(
                    run,
                    one,
                    items[one.version],
                    frames[one.version],
                    labels.get(model, {}),
                    result.truncated,
                )
            except Exception as exc:  # nor one version's the other versions'
                result.fail(one, exc)
                continue
            try:  # the report stands (and counts) even if announcing it fails
                publish_events(run.clients.events, report)
            except Exception as exc:
                result.fail(one, exc)
            result.reports.append(
                {
                    "model": one.model,
                    "version": one.version,
                    "role": one.role.value,
                    "verdict": report["verdict"],
                    "report": report["report"],
                    "max_psi": report["max_psi"],
                    "drifted_columns": report["drifted_columns"][: reports.NAMED_DRIFTED],
                    "quality": report["quality"],
                }
            )


def judge(
    run: _Run,
    one: Judged,
    item: dict[str, Any],
    frames: Any,
    labels: dict[tuple[str, int], Any],
    truncated: str | None,
) -> dict[str, Any]:
    """One version's report: written to S3 and the registry, counted, announced."""
    from model_runtime.monitoring.drift import Thresholds, compare

    settings, s3 = run.settings, run.clients.s3
    baseline = load_baseline(s3, item)
    drift = None
    if baseline is not None and frames.rows:
        drift = compare(
            baseline,
            frames.inputs,
            frames.outputs,
            Thresholds.of(settings),  # the environment's three alarms
            excluded=frames.excluded,
        ).as_json()
    # one value an answer row is what a label is compared with; an answer of several values
    # a row (class probabilities) gets no live metric rather than one scored on its first
    # (it once joined an empty list to the rows, which failed the version's whole report)
    truths: list[Any] = []
    predicted: list[Any] = []
    if len(frames.outputs.columns) == 1:
        truths, predicted = join_keyed(frames.key_columns, frames.outputs.iloc[:, 0], labels)
    quality = live_quality(
        item.get("evaluation_result"), truths, predicted, settings.quality_drop_alarm
    )
    key = report_key(one.model, one.version, run.window.end)
    document = reports.build_report(
        model=one.model,
        version=one.version,
        role=one.role,
        environment=run.environment,
        window=run.window,
        settings=settings,
        requests=frames.requests,
        rows=frames.rows,
        baseline_present=baseline is not None,
        drift=drift,
        quality=quality,
        truncated=truncated,
        location=f"s3://{run.bucket}/{key}",
        generated_at=run.generated,
    )
    s3.put_object(
        Bucket=run.bucket,
        Key=key,
        Body=json.dumps(document, indent=1).encode(),
        ContentType="application/json",
    )
    run.clients.repository.put_monitor_report(reports.summary(document))
    count_version(run.environment, document)
    return document


def count_version(environment: str, report: dict[str, Any]) -> None:
    """The version's figures as an embedded-metric-format line (CloudWatch Logs extracts
    them: no API call)."""
    metrics = EphemeralMetrics(namespace=NAMESPACE)
    metrics.add_dimension(Dimension.MODEL, report["model"])
    metrics.add_dimension(Dimension.VERSION, report["version"])
    metrics.add_dimension(Dimension.ENVIRONMENT, environment)
    if report["max_psi"] is not None:
        metrics.add_metric(Metric.MAX_PSI, MetricUnit.NoUnit, report["max_psi"])
    metrics.add_metric(Metric.DRIFTED_COLUMNS, MetricUnit.Count, report["drifted_count"])
    quality = report["quality"]
    if quality and quality["live_value"] is not None:
        metrics.add_metric(Metric.LIVE_METRIC, MetricUnit.NoUnit, quality["live_value"])
        metrics.add_metadata("metric", quality["metric"])
    metrics.add_metadata("verdict", report["verdict"])
    metrics.add_metadata("message", "monitor report")
    metrics.flush_metrics()


def count_environment(environment: str, judged: list[dict[str, Any]]) -> None:
    """How many versions drift and how many lost quality in this run: the environment's
    alarms watch these two (zero included, so an alarm returns to OK)."""
    metrics = EphemeralMetrics(namespace=NAMESPACE)
    metrics.add_dimension(Dimension.ENVIRONMENT, environment)
    drifting = sum(1 for r in judged if r["verdict"] == Verdict.DRIFT or r["drifted_columns"])
    degraded = sum(1 for r in judged if r["verdict"] == Verdict.QUALITY)
    metrics.add_metric(Metric.VERSIONS_DRIFTING, MetricUnit.Count, drifting)
    metrics.add_metric(Metric.VERSIONS_DEGRADED, MetricUnit.Count, degraded)
    metrics.add_metadata("message", "monitor run")
    metrics.flush_metrics()


def count_failures(environment: str, failures: int) -> None:
    """How many versions (or announcements) this run failed on: their own alarm."""
    metrics = EphemeralMetrics(namespace=NAMESPACE)
    metrics.add_dimension(Dimension.ENVIRONMENT, environment)
    metrics.add_metric(Metric.MONITOR_FAILURES, MetricUnit.Count, failures)
    metrics.add_metadata("message", "monitor failures")
    metrics.flush_metrics()


def events_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The EventBridge entries a report raises: drift, a quality drop, both or none."""
    detail = {
        "environment": report["environment"],
        "model": report["model"],
        "version": report["version"],
        "role": report["role"],
        "verdict": report["verdict"],
        "window": {k: report["window"][k] for k in ("start", "end")},
        "report": report["report"],
    }
    entries = []
    if report["drifted_columns"]:
        named = set(report["drifted_columns"])
        columns = [
            {"column": c["column"], "psi": c.get("psi")}
            for c in [*report["columns"], *report["outputs"]]
            if c["column"] in named
        ][: reports.NAMED_DRIFTED]  # most drifted first; the report has them all
        body = {
            **detail,
            "columns": columns,
            "drifted_count": report["drifted_count"],
            "max_psi": report["max_psi"],
        }
        entries.append((DetailType.DRIFT, body))
    if report["degraded"]:
        entries.append((DetailType.QUALITY, {**detail, "quality": report["quality"]}))
    return [
        {"Source": EVENT_SOURCE, "DetailType": kind.value, "Detail": json.dumps(body)}
        for kind, body in entries
    ]


def publish_events(events: Any, report: dict[str, Any]) -> None:
    entries = events_of(report)
    for start in range(0, len(entries), EVENTS_PER_CALL):
        answer = events.put_events(Entries=entries[start : start + EVENTS_PER_CALL])
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused events: {answer['Entries']}")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.monotonic()
    clients = Clients(aws.client("s3"), aws.client("events"), aws.lineage_repository())
    result = run_monitor(
        clients,
        required(ARTIFACT_BUCKET),
        required(ENVIRONMENT_NAME),
        monitoring_settings(),
        JobRequest.model_validate(event or {}),
        limits=Limits.for_memory(int(os.environ.get(MEMORY_MB, "3008"))),
    )
    logger.info(
        "monitor run",
        extra={
            "reports": len(result.reports),
            "failures": len(result.failures),
            "seconds": round(time.monotonic() - started, 3),
        },
    )
    return result.as_json()
