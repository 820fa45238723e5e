"""How fast the console's pages answer on a registry of 1,000 models x 10 versions, and how
much of that is the registry API calls underneath.

    .venv/bin/python bench/console.py [--models 1000 --versions 10 --requests 20]

Starts the embedded cloud (`slipway local up`'s daemon, in a state directory of its own) with
env=local deployed by the CDK CLI, fills its lineage table with BatchWriteItem in the
registry's own item shapes (versions with manifests, lineage and evaluation, audit events,
live and staging pointers, canaries, dataset and code edges, monitor report summaries), starts
the console on a free port and times each page kind over ``--requests`` requests, interleaved
with its registry calls (SigV4-signed through the local gateway, side by side, as the console
makes them). Prints p50/p95 per page, the registry's share and the console's own, then on the
last line ``worst_page_p95_ms=<n> target_ms=300``. Not a test: nothing here passes or fails.

On the embedded cloud the registry calls dominate: the gateway, the registry function's
worker and moto's handling of each DynamoDB request (the embedded cloud teaches moto to read
one partition per Query and to write attribute values directly; see
slipway/local/moto_patches.py). The console's own share is the figure that carries over to
AWS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from model_runtime.manifest import Manifest  # noqa: E402
from model_runtime.monitoring.report import Window, build_report, summary  # noqa: E402
from registry import items  # noqa: E402
from registry.audit import AuditEvent, AuditOutcome, AuditStep  # noqa: E402
from registry.monitoring_reports import Role  # noqa: E402
from registry.monitoring_settings import MonitoringSettings  # noqa: E402
from registry.repository import LineageRepository  # noqa: E402
from registry.statuses import Stage, VersionStatus  # noqa: E402
from slipway.target import Target  # noqa: E402

SHARED_DATASETS = 50  # training sets reused across models, as in real teams
BATCH = 25  # BatchWriteItem's limit
WRITERS = 4
MODELS_PER_ROUND = 50
UNPROCESSED_RETRIES = 8
TARGET_MS = 300
REPOSITORY = "git@example.com:team/models.git"


# -- the embedded cloud -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def embedded_local() -> Iterator[Target]:
    """What `slipway local up` starts (the daemon, env=local deployed by the CDK CLI), in a
    state directory of its own so a developer's running cloud is left alone; stopped after."""
    from slipway.local.control import deploy, start_daemon, stop_daemon
    from slipway.target import resolve_target

    directory = Path(tempfile.mkdtemp(prefix="slipway-console-"))
    os.environ["SLIPWAY_LOCAL_DIR"] = str(directory)
    try:
        state = start_daemon(free_port(), directory)
        deploy(state, "local", directory)
        yield resolve_target("local")
    finally:
        stop_daemon(directory)
    shutil.rmtree(directory, ignore_errors=True)  # kept, with its logs, when something failed


# -- the filler -------------------------------------------------------------------------------


class _KeptWrites:
    """Where LineageRepository.record_audit puts its item: kept here instead of written one by
    one, so the audit events carry exactly the repository's shape and go in batches."""

    name = "kept"
    meta = SimpleNamespace(client=None)

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put_item(self, Item: dict[str, Any]) -> None:
        self.items.append(Item)


def dataset_digest(index: int) -> str:
    return f"{index:064x}"


def manifest_for(name: str, version: int, m: int) -> dict[str, Any]:
    train = dataset_digest((m + version) % SHARED_DATASETS)
    evaluation = dataset_digest((m * 7 + 3) % SHARED_DATASETS)
    document = {
        "name": name,
        "version": str(version),
        "flavor": "sklearn",
        "model_file": "model.skops",
        "signature": {
            "inputs": [{"name": c, "type": "float"} for c in ("sepal_length", "petal_length")],
            "outputs": [{"name": "species", "type": "int"}],
        },
        "input_example": {"inputs": [[5.1, 1.4]], "expected_output": [0]},
        "files": {"model.skops": f"{version:064x}", "eval.csv": evaluation},
        "lineage": {
            "code": {"repository": REPOSITORY, "commit": f"{m:020x}{version:020x}", "dirty": False},
            "datasets": [
                {
                    "role": "train",
                    "uri": f"s3://data/train-{train[-4:]}.csv",
                    "sha256": train,
                    "rows": 10_000,
                },
                {"role": "evaluation", "uri": "eval.csv", "sha256": evaluation, "rows": 2_000},
            ],
            "params": {"C": 1.0, "max_iter": 200},
            "metrics": {"accuracy": 0.9 + version / 1000},
            "parent": str(version - 1) if version > 1 else None,
        },
        "evaluation": {
            "dataset": "eval.csv",
            "target": "species",
            "metric": "accuracy",
            "threshold": 0.8,
            "direction": "maximize",
        },
        "runtime": {"python": "3.12", "scikit-learn": "1.6.1"},
        "created_at": "2026-12-01T00:00:00Z",
    }
    return Manifest.model_validate(document).model_dump(mode="json")


@dataclass(frozen=True)
class ModelPlan:
    """What the newest version of one model is doing: the mix a real registry shows."""

    live: int  # the live version
    newest_status: VersionStatus  # of the newest version, when it is not the live one
    canary: bool


def plan_for(m: int, versions: int) -> ModelPlan:
    kind = m % 4
    if kind == 0:
        return ModelPlan(versions, VersionStatus.LIVE, canary=False)
    if kind == 1:
        return ModelPlan(versions - 1, VersionStatus.AWAITING_APPROVAL, canary=False)
    if kind == 2:
        return ModelPlan(versions - 1, VersionStatus.APPROVED, canary=True)
    return ModelPlan(versions - 1, VersionStatus.REJECTED, canary=False)


def evaluation_result(version: int, live: int | None) -> dict[str, Any]:
    value = 0.9 + version / 1000
    return {
        "metric": "accuracy",
        "direction": "maximize",
        "value": value,
        "threshold": 0.8,
        "rows": 2000,
        "live_version": str(live) if live else None,
        "live_value": 0.9 + live / 1000 if live else None,
        "margin": 0.0,
        "comparable": True,
        "not_comparable_reason": None,
        "meets_threshold": True,
        "beats_live": True,
    }


def monitor_summary(name: str, version: str, end: datetime, drifted: bool) -> dict[str, Any]:
    """A report summary as the monitor job writes it, from the job's own report builder."""
    columns = [
        {
            "column": c,
            "kind": "numeric",
            "status": "compared",
            "rows": 800,
            "psi": psi,
            "band": "major" if psi >= 0.25 else "stable",
            "noise_floor": 0.01,
            "drifted": psi >= 0.1,
            "reasons": ["psi"] if psi >= 0.1 else [],
        }
        for c, psi in (("petal_length", 0.31 if drifted else 0.02), ("sepal_length", 0.04))
    ]
    report = build_report(
        model=name,
        version=version,
        role=Role.LIVE,
        environment="local",
        window=Window.ending(end, 24),
        settings=MonitoringSettings(),
        requests=1000,
        rows=800,
        baseline_present=True,
        drift={"columns": columns, "outputs": []},
        quality=None,
        truncated=None,
        location=f"s3://artifacts/monitoring/{name}/{version}/r.json",
        generated_at=end,
    )
    return summary(report)


def items_of_model(m: int, versions: int, start: datetime) -> list[dict[str, Any]]:
    name = f"model-{m:04d}"
    plan = plan_for(m, versions)
    kept = _KeptWrites()
    audit = LineageRepository(kept)
    out: list[dict[str, Any]] = []
    at = start

    def tick(minutes: int = 3) -> str:
        nonlocal at
        at += timedelta(minutes=minutes)
        return at.isoformat(timespec="milliseconds")

    def event(
        version: str,
        execution: str,
        step: AuditStep,
        outcome: AuditOutcome,
        reason: str,
        actor: str = "promotion-workflow",
    ) -> None:
        audit.record_audit(AuditEvent(name, version, execution, step, outcome, reason, actor))
        kept.items[-1]["at"] = tick(1)

    for v in range(1, versions + 1):
        version, execution = str(v), f"{name}-{v}-{v:08x}"
        manifest = manifest_for(name, v, m)
        bundle = {
            "bucket": "artifacts",
            "key": f"models/{name}/{v}/bundle.tar.gz",
            "s3_version_id": f"{v:032x}",
            "digest": f"{m:032x}{v:032x}",
            "size": 40_000,
        }
        item = items.version_item(manifest, bundle, execution, tick(60 * 24), "ci-deployer")
        newest = v == versions
        status = (
            VersionStatus.LIVE
            if v == plan.live
            else plan.newest_status
            if newest
            else VersionStatus.ARCHIVED
        )
        previous_live = v - 1 if v > 1 else None
        item["evaluation_result"] = items.to_dynamo(evaluation_result(v, previous_live))
        event(
            version,
            execution,
            AuditStep.PROVENANCE,
            AuditOutcome.SKIPPED,
            "local requires no provenance",
        )
        event(version, execution, AuditStep.REGISTER, AuditOutcome.REGISTERED, "registered")
        event(
            version,
            execution,
            AuditStep.STAGE,
            AuditOutcome.STAGED,
            f"accuracy {0.9 + v / 1000:.4f} meets 0.8",
        )
        if status == VersionStatus.REJECTED:
            event(
                version,
                execution,
                AuditStep.APPROVAL_REQUESTED,
                AuditOutcome.AWAITING_APPROVAL,
                "waits for a person",
            )
            reason = "ApprovalRejected: rejected by alice: drift in the training window"
            event(version, execution, AuditStep.REJECT, AuditOutcome.REJECTED, reason, "alice")
            item["rejection_reason"] = reason
        elif status == VersionStatus.AWAITING_APPROVAL:
            event(
                version,
                execution,
                AuditStep.APPROVAL_REQUESTED,
                AuditOutcome.AWAITING_APPROVAL,
                "waits for a person",
            )
        else:
            event(
                version,
                execution,
                AuditStep.APPROVAL,
                AuditOutcome.APPROVED,
                "policy: auto",
                "policy",
            )
            item.update(approved_by="policy", approved_at=at.isoformat(timespec="milliseconds"))
            if status == VersionStatus.APPROVED:
                event(
                    version,
                    execution,
                    AuditStep.CANARY_START,
                    AuditOutcome.CANARY,
                    "10% of live traffic",
                )
            else:
                event(
                    version,
                    execution,
                    AuditStep.PROMOTE,
                    AuditOutcome.LIVE,
                    f"live pointer moved from {previous_live or 'nothing'}",
                )
                item["live_since"] = at.isoformat(timespec="milliseconds")
        item["status"] = status
        item["status_changed_at"] = at.isoformat(timespec="milliseconds")
        out.append(item)
        for edge in items.edge_items(manifest):
            if edge["kind"] == "dataset-edge":
                edge["live"] = status == VersionStatus.LIVE
            out.append(edge)
    out.extend(kept.items)
    stamp = at.isoformat(timespec="milliseconds")
    live, newest = str(plan.live), str(versions)
    summary_item = items.model_summary_item(name, newest, start.isoformat(timespec="milliseconds"))
    summary_item["updated_at"] = stamp
    pointer = items.pointer_item(
        name, Stage.LIVE, live, str(plan.live - 1), f"{name}-{live}", stamp
    )
    if plan.canary:
        pointer.update(
            canary_version=newest,
            canary_weight=items.to_dynamo(0.1),
            canary_started_at=stamp,
            canary_execution=f"{name}-{newest}",
        )
    out.append(pointer)
    if plan.newest_status in (VersionStatus.AWAITING_APPROVAL, VersionStatus.APPROVED):
        out.append(items.pointer_item(name, Stage.STAGING, newest, live, f"{name}-{newest}", stamp))
    if m % 5 == 0:  # some models are monitored: three hourly reports of the live version
        for hour in range(3):
            end = at - timedelta(hours=2 - hour)
            report = monitor_summary(name, live, end, drifted=m % 10 == 0 and hour == 2)
            out.append(items.monitor_report_item(report))
        # what put_monitor_report keeps on the summary for the models page (the newest window)
        summary_item["monitor"] = {
            "version": live,
            "verdict": report["verdict"],
            "window_end": report["window"]["end"],
        }
    out.append(summary_item)
    return out


def batch_write(client: Any, table: str, batch: list[dict[str, Any]]) -> int:
    """One BatchWriteItem of up to 25 items, its unprocessed items retried a bounded number
    of times; return the requests it took."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    requests = [
        {"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in item.items()}}}
        for item in batch
    ]
    pending = {table: requests}
    for attempt in range(UNPROCESSED_RETRIES):
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not pending:
            return attempt + 1
        time.sleep(0.05 * 2**attempt)
    raise RuntimeError(f"BatchWriteItem left items unprocessed after {UNPROCESSED_RETRIES} tries")


def fill(target: Target, models: int, versions: int) -> tuple[int, int, float]:
    """Write every model's items; return (items, requests, seconds). A few writers at once:
    while the embedded cloud stores one batch, this process serializes the next."""
    client, table = target.client("dynamodb"), target.outputs["LineageTableName"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    written = requests = 0
    with ThreadPoolExecutor(max_workers=WRITERS) as writers:
        for first in range(0, models, MODELS_PER_ROUND):
            batch: list[dict[str, Any]] = []
            for m in range(first, min(first + MODELS_PER_ROUND, models)):
                batch.extend(items_of_model(m, versions, start))
            chunks = [batch[i : i + BATCH] for i in range(0, len(batch), BATCH)]
            requests += sum(writers.map(lambda chunk: batch_write(client, table, chunk), chunks))
            written += len(batch)
    return written, requests, time.perf_counter() - started


# -- the timings -------------------------------------------------------------------------------


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed_side_by_side(
    page: Callable[[], Any], registry: Callable[[], Any], requests: int, every: int
) -> tuple[list[float], list[float]]:
    """``requests`` timings of the page and, every ``every``-th time, of its registry calls,
    interleaved so both see the same machine (it is shared, and its load drifts)."""

    def one(call: Callable[[], Any]) -> float:
        started = time.perf_counter()
        call()
        return (time.perf_counter() - started) * 1000

    page(), registry()  # warm-ups: the first call starts the registry function's worker
    pages, registries = [], []
    for i in range(requests):
        pages.append(one(page))
        if i % every == 0:
            registries.append(one(registry))
    return pages, registries


def page_getter(client: httpx.Client, path: str) -> Callable[[], Any]:
    def get() -> None:
        answer = client.get(path)
        if answer.status_code >= 400:
            raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")

    return get


def registry_getter(target: Target, paths: list[str]) -> Callable[[], Any]:
    """The page's registry calls, side by side as the console makes them."""
    from slipway.invoke import call_registry

    def get() -> None:
        with ThreadPoolExecutor(max_workers=len(paths)) as calls:
            list(calls.map(lambda path: call_registry(target, "GET", path), paths))

    return get


def pages(models: int, versions: int) -> dict[str, tuple[str, list[str]]]:
    """Each page kind: its console path, and the registry calls it rests on."""
    m = min(41, models - 1)  # kind 1: its newest version awaits approval
    while plan_for(m, versions).newest_status != VersionStatus.AWAITING_APPROVAL and m > 0:
        m -= 1
    name, live, newest = f"model-{m:04d}", str(plan_for(m, versions).live), str(versions)
    dataset = dataset_digest((m + versions - 1) % SHARED_DATASETS)
    return {
        "models (first page)": ("/", ["/v1/models?limit=50"]),
        "versions (first page)": (
            f"/models/{name}",
            [f"/v1/models/{name}", f"/v1/models/{name}/versions?limit=50"],
        ),
        "version": (
            f"/models/{name}/versions/{live}",
            [f"/v1/models/{name}/versions/{live}", f"/v1/models/{name}/versions/{live}/gate"],
        ),
        "dataset": (f"/datasets/{dataset}", [f"/v1/datasets/{dataset}/models"]),
        "action form (approve)": (
            f"/models/{name}/versions/{newest}/approve",
            [f"/v1/models/{name}/versions/{newest}", "/v1/identity"],
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument(
        "--registry-every", type=int, default=4, help="time the registry calls every Nth request"
    )
    args = parser.parse_args()
    if not (1 <= args.models <= 100_000 and 2 <= args.versions <= 1000):
        parser.error("--models 1..100000, --versions 2..1000")
    if not (1 <= args.requests <= 10_000 and 1 <= args.registry_every <= args.requests):
        parser.error("--requests 1..10000, --registry-every 1..requests")
    from slipway.console.server import start_console

    started = time.perf_counter()
    with embedded_local() as target:
        print(f"embedded cloud up, env=local deployed in {time.perf_counter() - started:.0f} s")
        written, requests, seconds = fill(target, args.models, args.versions)
        print(
            f"filled {args.models} models x {args.versions} versions: {written} items in "
            f"{requests} BatchWriteItem requests, {seconds:.1f} s ({written / seconds:.0f} items/s)"
        )
        console = start_console(target, port=0)
        try:
            with httpx.Client(base_url=console.base_url, timeout=60) as client:
                client.get(console.url)  # the token becomes the cookie
                rows = []
                for label, (path, registry_paths) in pages(args.models, args.versions).items():
                    page, registry = timed_side_by_side(
                        page_getter(client, path),
                        registry_getter(target, registry_paths),
                        args.requests,
                        args.registry_every,
                    )
                    rows.append((label, page, registry, len(registry_paths)))
                    print(f"  timed {label}", flush=True)
        finally:
            console.stop()
    print(
        f"\n{'page':<24}{'p50 ms':>9}{'p95 ms':>9}{'registry p50':>14}{'registry p95':>14}"
        f"{'console p50':>13}  registry calls (side by side)"
    )
    for label, page, registry, calls in rows:
        own = statistics.median(page) - statistics.median(registry)
        print(
            f"{label:<24}{statistics.median(page):>9.1f}{percentile(page, 0.95):>9.1f}"
            f"{statistics.median(registry):>14.1f}{percentile(registry, 0.95):>14.1f}"
            f"{own:>13.1f}  {calls}"
        )
    print(
        "(console p50: the page's median less its registry calls' median: what rendering, the "
        "guard and the extra hop add)"
    )
    worst = max(percentile(page, 0.95) for _, page, _, _ in rows)
    print(f"worst_page_p95_ms={worst:.0f} target_ms={TARGET_MS}")


if __name__ == "__main__":
    main()
