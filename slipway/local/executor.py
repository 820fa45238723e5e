"""The local Lambda executor: runs the code package the embedded cloud stores, for real.

moto runs function code only in Docker. Here each function gets one warm worker process
(like one Lambda execution environment) that imports the deployed zip with the function's
handler, environment and timeout. Invocations of one function are served one at a time.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import selectors
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slipway.local.credentials import LocalCredentials

WORKER_SCRIPT = Path(__file__).with_name("worker.py")


@dataclass(frozen=True)
class FunctionSpec:
    """What the executor needs to know of a deployed function."""

    arn: str
    name: str
    handler: str
    code_sha256: str
    code_zip: bytes
    environment: dict[str, str]
    timeout_seconds: float
    memory_mb: int
    region: str
    log_group: str = ""  # the function's own log group; Lambda's default name if empty


@dataclass(frozen=True)
class Invocation:
    payload: str
    errored: bool
    logs: str
    log_stream: str = ""  # the execution environment's stream, as Lambda names them


class _Worker:
    """One execution environment: a process that imported the function's code once."""

    def __init__(
        self,
        spec: FunctionSpec,
        code_dir: Path,
        tmp_dir: Path,
        endpoint_url: str,
        credentials: LocalCredentials,
    ) -> None:
        self.spec = spec
        self._fingerprint = _fingerprint(spec)
        # one log stream per execution environment, named as Lambda names them
        self.log_stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env.update(
            {
                "AWS_ENDPOINT_URL": endpoint_url,
                **credentials.environment(),  # as Lambda hands a function its role's
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group or f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
                # environments start when the first invocation needs one, as on-demand ones do
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
                "SLIPWAY_LOCAL_FUNCTION_ARN": spec.arn,
                "PYTHONUNBUFFERED": "1",
                # each function its own /tmp, as in Lambda: two functions (or two clouds on
                # one machine) never extract bundles into each other's folders
                "TMPDIR": str(tmp_dir),
                "SLIPWAY_BUNDLE_CACHE_DIR": str(tmp_dir / "slipway"),
                **spec.environment,
            }
        )
        self._process = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), str(code_dir), spec.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=code_dir,
        )
        assert self._process.stdin and self._process.stdout and self._process.stderr
        self._requests = self._process.stdin.fileno()
        self._answers = _LineReader(self._process.stdout.fileno())
        self._logs = _LineReader(self._process.stderr.fileno())
        for fd in (self._requests, self._answers.fd, self._logs.fd):
            os.set_blocking(fd, False)
        self.lock = threading.Lock()

    def matches(self, spec: FunctionSpec) -> bool:
        return self._fingerprint == _fingerprint(spec) and self.alive

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    @property
    def pid(self) -> int:
        return int(self._process.pid)

    def invoke(self, event: Any) -> Invocation:
        """Send one invocation and read until its answer and its REPORT line have arrived.

        The invoking thread does all the I/O itself (one invocation at a time per worker, as
        in one Lambda execution environment): it writes the request while draining the
        worker's output, so a worker still printing during its import never blocks it, and
        every step is bounded by the function's timeout. Whatever the function printed since
        the last invocation (its import, a background thread) belongs to this invocation.
        """
        request_id = str(uuid.uuid4())
        deadline = time.monotonic() + self.spec.timeout_seconds
        wall_deadline_ms = (time.time() + self.spec.timeout_seconds) * 1000
        request = {"request_id": request_id, "event": event, "deadline_ms": wall_deadline_ms}
        pending = memoryview(json.dumps(request).encode() + b"\n")
        logs: list[str] = []
        answer: str | None = None
        report = f"REPORT RequestId: {request_id}"
        reported = False
        with selectors.DefaultSelector() as selector:
            selector.register(self._answers.fd, selectors.EVENT_READ)
            selector.register(self._logs.fd, selectors.EVENT_READ)
            selector.register(self._requests, selectors.EVENT_WRITE)
            try:
                while answer is None or not reported:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError
                    for key, _ in selector.select(remaining):
                        if key.fd == self._requests:
                            pending = pending[os.write(self._requests, pending) :]
                            if not pending:
                                selector.unregister(self._requests)
                        elif key.fd == self._logs.fd:
                            lines = _platform_lines_apart(self._logs.read_lines(), request_id)
                            reported = reported or any(line.startswith(report) for line in lines)
                            logs.extend(lines)
                        else:
                            lines = self._answers.read_lines()
                            answer = lines[-1] if lines else answer
            except (TimeoutError, OSError, EOFError) as exc:
                self.stop()
                return self._failed(isinstance(exc, TimeoutError), logs)
        reply = json.loads(answer)
        if reply.get("init_failed"):
            self.stop()  # its initialisation failed: the next invocation starts afresh
        return Invocation(
            json.dumps(reply["payload"]), not reply["ok"], "\n".join(logs), self.log_stream
        )

    def _failed(self, timed_out: bool, logs: list[str]) -> Invocation:
        reason = (
            f"Task timed out after {self.spec.timeout_seconds:.2f} seconds"
            if timed_out
            else "the worker process exited"
        )
        error = {
            "errorType": "Sandbox.Timedout" if timed_out else "Runtime.ExitError",
            "errorMessage": reason,
        }
        return Invocation(json.dumps(error), True, "\n".join(logs), self.log_stream)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout, self._process.stderr):
            with contextlib.suppress(OSError):
                pipe.close()  # type: ignore[union-attr]

    def retire(self) -> None:
        """Stop once the invocation in flight (if any) has finished, as Lambda lets an
        environment finish its request before a new version replaces it."""
        with self.lock:
            self.stop()


class _LineReader:
    """Complete lines from a non-blocking pipe that the selector said is readable."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._partial = b""

    def read_lines(self) -> list[str]:
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return []
        if not data:
            raise EOFError
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [line.decode(errors="replace") for line in lines]


def _platform_lines_apart(lines: list[str], request_id: str) -> list[str]:
    """Put the worker's START/END/REPORT lines on lines of their own: a function thread
    that was half-way through a line when the invocation ended shares its line with them."""
    apart: list[str] = []
    for line in lines:
        for kind in ("START", "END", "REPORT"):
            marker = f"{kind} RequestId: {request_id}"
            at = line.find(marker)
            if at > 0:
                apart.append(line[:at])
                line = line[at:]
        apart.append(line)
    return apart


def _fingerprint(spec: FunctionSpec) -> tuple[Any, ...]:
    return (
        spec.code_sha256,
        spec.handler,
        tuple(sorted(spec.environment.items())),
        spec.timeout_seconds,
    )


class LocalExecutor:
    """Keeps one warm worker per function and replaces it when code or settings change."""

    def __init__(self, work_dir: Path, endpoint_url: str, credentials: LocalCredentials) -> None:
        self._work_dir = work_dir
        self._endpoint_url = endpoint_url
        self._credentials = credentials
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        self._injected: dict[str, list[Invocation]] = {}

    def inject_faults(self, function_name_part: str, error_type: str, count: int = 1) -> None:
        """Fail the next ``count`` invocations of matching functions, as AWS sometimes does.

        The failure looks like a Lambda service fault (e.g. ``Lambda.ServiceException``), so
        the workflow's Retry policies can be exercised in the embedded cloud.
        """
        message = f"injected {error_type}"
        payload = {"errorType": error_type, "errorMessage": message}
        self.inject_answers(function_name_part, payload, count, errored=True)

    def inject_answers(
        self, function_name_part: str, payload: Any, count: int = 1, errored: bool = False
    ) -> None:
        """Answer the next ``count`` invocations of matching functions with ``payload``."""
        canned = Invocation(json.dumps(payload), errored, f"injected answer: {payload}")
        with self._lock:
            self._injected.setdefault(function_name_part, []).extend([canned] * count)

    def _injected_answer(self, spec: FunctionSpec) -> Invocation | None:
        with self._lock:
            for part, pending in self._injected.items():
                if part in spec.name and pending:
                    return pending.pop(0)
        return None

    def invoke(self, spec: FunctionSpec, event: Any) -> Invocation:
        injected = self._injected_answer(spec)
        if injected is not None:
            return injected
        while True:
            worker = self._worker_for(spec)
            with worker.lock:
                # a worker that died or was replaced while this invocation queued for it
                # hands the invocation on to the current one, as Lambda would
                if worker.matches(spec):
                    return worker.invoke(event)

    def _worker_for(self, spec: FunctionSpec) -> _Worker:
        with self._lock:
            worker = self._workers.get(spec.arn)
            if worker is None or not worker.matches(spec):
                if worker is not None:
                    threading.Thread(target=worker.retire, daemon=True).start()
                tmp_dir = self._work_dir / "tmp" / spec.name
                tmp_dir.mkdir(parents=True, exist_ok=True)
                worker = _Worker(
                    spec, self._code_dir(spec), tmp_dir, self._endpoint_url, self._credentials
                )
                self._workers[spec.arn] = worker
            return worker

    def _code_dir(self, spec: FunctionSpec) -> Path:
        target = self._work_dir / "code" / spec.code_sha256.replace("/", "_").replace("+", "-")
        if not target.exists():
            staging = target.with_name(target.name + f".{uuid.uuid4().hex}")
            with zipfile.ZipFile(io.BytesIO(spec.code_zip)) as archive:
                archive.extractall(staging)
            with contextlib.suppress(OSError):  # another thread got there first
                staging.rename(target)
        return target

    def worker_pids(self) -> dict[str, int]:
        """The process of each function's live worker, by function name: what a fault test
        kills to see the embedded cloud (and the workflow) survive it."""
        with self._lock:
            return {w.spec.name: w.pid for w in self._workers.values() if w.alive}

    def stop(self) -> None:
        with self._lock:
            for worker in self._workers.values():
                worker.stop()
            self._workers.clear()
