"""The soak: 20 versions of 3 models pushed concurrently while workers of the workflow are
killed at random and one execution is stopped by hand, and 20 clients call the endpoint.

At the end every version is in a final state, no lock or wait is left, each model has
exactly one live version and it is the one the policy (latest-wins) says, slipway doctor
finds nothing, and no client saw an error. The figures it prints go to
docs/performance.md. Run with `make soak`; it is not part of `make test`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from examples.iris.train import train_and_package
from registry.doctor import Doctor
from registry.executions import execution_arn
from registry.statuses import UNDECIDED
from tests.workflow.signed_http import local_http

MODELS = {"soak-a": 7, "soak-b": 7, "soak-c": 6}  # 20 versions after each model's first
CLIENTS = 20
KILL_FOR_SECONDS = 45
# the functions whose workers are killed: every step of the workflow, ingest, the end watch
KILLABLE = ("PromotionWorkflow", "IngestPipeline", "ExecutionEndWatch")


@dataclass
class Clients:
    """Threads calling each model's live endpoint until told to stop."""

    url: str
    inputs: list
    stop: threading.Event = field(default_factory=threading.Event)
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def run(self, index: int) -> None:
        names = list(MODELS)
        while not self.stop.is_set():
            name = names[index % len(names)]
            index += 1
            started = time.perf_counter()
            try:
                answer = local_http.post(
                    f"{self.url}/v1/models/{name}/predict",
                    content=json.dumps({"inputs": self.inputs}),
                    timeout=60,
                )
            except Exception as exc:  # a reset or a timeout is an error a client saw
                self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
                continue
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                self.errors.append(f"{name}: {answer.status_code} {answer.text[:200]}")


def test_concurrent_pushes_under_faults_end_consistent(deployed, tmp_path):
    rng = random.Random(20261203)
    began = time.monotonic()
    # GIVEN each model live in a first version, and clients calling all three
    manifest = None
    for name in MODELS:
        bundle = tmp_path / f"{name}-0.tar.gz"
        manifest = train_and_package(bundle, name=name, version="0")
        assert deployed.wait_for_execution(deployed.push(bundle, name, "0"))["status"] == (
            "SUCCEEDED"
        )
    clients = Clients(deployed.endpoint, manifest.input_example.inputs)
    threads = [threading.Thread(target=clients.run, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    bundles = []
    for name, count in MODELS.items():
        for version in range(1, count + 1):
            bundle = tmp_path / f"{name}-{version}.tar.gz"
            train_and_package(bundle, name=name, version=str(version))
            bundles.append((name, str(version), bundle))
    rng.shuffle(bundles)

    # WHEN all 20 are pushed at once, workers are killed, and one execution is stopped
    def push(item: tuple) -> tuple[str, str, str]:
        name, version, bundle = item
        time.sleep(rng.uniform(0, 2))
        return name, version, deployed.push(bundle, name, version)

    kills: list[str] = []
    stopped: list[str] = []

    def kill_workers() -> None:
        until = time.monotonic() + KILL_FOR_SECONDS
        while time.monotonic() < until:
            time.sleep(rng.uniform(1, 3))
            victims = [
                (name, pid)
                for name, pid in deployed.session.cloud.executor.worker_pids().items()
                if any(part in name for part in KILLABLE)
            ]
            if victims:
                name, pid = rng.choice(victims)
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills.append(name)
                except ProcessLookupError:
                    pass

    def stop_one() -> None:
        sfn = deployed.client("stepfunctions")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not stopped:
            time.sleep(2)
            for execution in deployed.executions("soak-b-"):
                if execution["status"] == "RUNNING" and not execution["name"].startswith(
                    "soak-b-0-"
                ):
                    sfn.stop_execution(executionArn=execution["executionArn"])
                    stopped.append(execution["name"])
                    break

    killer = threading.Thread(target=kill_workers)
    stopper = threading.Thread(target=stop_one)
    pushed_at = time.monotonic()
    killer.start()
    stopper.start()
    with ThreadPoolExecutor(max_workers=len(bundles)) as pool:
        pushed = list(pool.map(push, bundles))
    killer.join()
    stopper.join()
    ended = {
        (name, version): deployed.wait_for_execution(execution, timeout=900)
        for name, version, execution in pushed
    }
    settled_in = time.monotonic() - pushed_at
    # the ends of executions are handled asynchronously: give the last ones a moment
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
        deployed.repository.lock_holder(name) or deployed.repository.waiting_line(name)
        for name in MODELS
    ):
        time.sleep(0.5)
    clients.stop.set()
    for thread in threads:
        thread.join()

    # THEN every version is in a final state, and nothing holds or waits for a lock
    repository = deployed.repository
    machine = deployed.outputs["StateMachineArn"]
    doctor = Doctor(
        repository, deployed.client("stepfunctions"), lambda e: execution_arn(machine, e)
    )
    statuses: dict[str, int] = {}
    for name in MODELS:
        assert repository.lock_holder(name) is None, name
        assert repository.waiting_line(name) == [], name
        versions = {v["version"]: v for v in repository.every_version(name)}
        for version, item in versions.items():
            assert item["status"] not in UNDECIDED, (name, version, item["status"])
            statuses[item["status"]] = statuses.get(item["status"], 0) + 1
        # AND exactly one version is live, the one the live pointer names
        live = [v for v, item in versions.items() if item["status"] == "live"]
        assert live == [repository.get_pointer(name)["version"]], (name, live)
        # AND it is the one latest-wins says: none that started after it went live
        started = {
            version: ended[(name, version)]["startDate"]
            for version in versions
            if (name, version) in ended
        }
        if live[0] in started:
            for version, start in started.items():
                if start > started[live[0]]:
                    assert versions[version]["status"] in (
                        "superseded",
                        "failed",
                        "rejected",
                        "cancelled",
                    ), (name, version, versions[version]["status"], "started after", live[0])
        # AND slipway doctor finds nothing
        assert doctor.examine(name) == [], name
    # AND no client saw an error
    assert clients.errors == [], clients.errors[:10]
    latencies = sorted(clients.latencies_ms)
    figures = {
        "versions_pushed": len(pushed),
        "workers_killed": len(kills),
        "executions_stopped": len(stopped),
        # a version killed before Register has no version item: its upload failed
        "executions": {
            status: sum(1 for e in ended.values() if e["status"] == status)
            for status in sorted({e["status"] for e in ended.values()})
        },
        "version_statuses": statuses,
        "settled_seconds": round(settled_in, 1),
        "total_seconds": round(time.monotonic() - began, 1),
        "client_requests": len(latencies),
        "client_errors": len(clients.errors),
        "client_p50_ms": round(statistics.median(latencies), 1),
        "client_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 1),
    }
    print("SOAK", json.dumps(figures))
