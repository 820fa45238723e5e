"""The python sandbox: runs a python-flavor bundle's own code for the gate, and nothing else.

Validate and Evaluate must run a python bundle's predictor to judge it, but their roles read
every bundle and write the registry, and their warm processes judge the next models. So they
hand the bundle to this function instead. Its role grants nothing; it fetches the exact
object version through a presigned URL the caller made; it receives the rows without their
labels and answers one output per row, which the caller checks and scores. Each request runs
in a fresh child process without AWS credentials, in a folder wiped afterwards; every process
the bundle's code started is killed (this process adopts orphans, so a daemon that detached
is killed too), and this process cannot be traced by them, so one bundle's code cannot
change how the next is judged.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from model_runtime.serving.settings import get_storage_settings
from registry.aws import SYNC_INVOKE_PAYLOAD_BYTES
from registry.strict_json import StrictJsonError, load_strict_json

CHILD_MODULE = "model_runtime.jobs.sandbox_child"
# The answer must fit Lambda's synchronous response payload, with room for its envelope.
MAX_ANSWER_BYTES = SYNC_INVOKE_PAYLOAD_BYTES - 64 * 1024
# Time kept back from the function's own timeout to kill the child and answer.
SHUTDOWN_RESERVE_SECONDS = 3.0
# What the interpreter needs to start, and nothing of the function's identity.
PASSED_VARIABLES = ("PATH", "LD_LIBRARY_PATH", "LANG", "TZ", "LAMBDA_TASK_ROOT")
_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36


class BundleReference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://", max_length=16_384)
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=1)


class SandboxRequest(BaseModel):
    """Which bundle, and the rows (lists in the bundle's column order) to predict."""

    model_config = ConfigDict(extra="forbid")

    bundle: BundleReference
    rows: list[list[Any]] = Field(min_length=1)


def refusal(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message[:2000]}}


def fetch(reference: BundleReference, target: Path) -> str | None:
    """Download the bundle, no more bytes than the caller said it has; None if it is the
    bundle the caller named, else why not."""
    import requests

    if reference.size > get_storage_settings().max_bundle_bytes:
        return f"the bundle's {reference.size} bytes exceed what this function's /tmp holds"
    digest = hashlib.sha256()
    received = 0
    with (
        requests.get(reference.url, stream=True, timeout=(10, 60)) as response,
        target.open("wb") as out,
    ):
        if response.status_code != 200:
            return f"the bundle's URL answered HTTP {response.status_code}"
        for chunk in response.iter_content(chunk_size=1 << 20):
            received += len(chunk)
            if received > reference.size:
                return f"the bundle's URL sent more than the {reference.size} bytes expected"
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != reference.digest:
        return f"the bundle's URL sent bytes of sha256 {digest.hexdigest()}, not the bundle's"
    return None


def guard_this_process() -> None:
    """Become the parent of every process our children leave behind, so none outlives its
    request by detaching; and refuse to be traced or have memory read by them (same user),
    so the bundle's code cannot stay behind in this warm process (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def children() -> set[int]:
    return {pid for pid in _process_ids() if _parent_of(pid) == os.getpid()}


def kill_children(except_for: set[int]) -> None:
    """Kill and reap every child of this process but ``except_for`` (those it had before the
    request), until none is left: orphans of the bundle's processes become ours as they go."""
    for _ in range(100):
        left = children() - except_for
        if not left:
            return
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in left:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _process_ids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces and ")"


def run_child(work: Path, seconds: float) -> dict[str, Any]:
    """Run the bundle in a child process of its own; its answer, or why there is none."""
    import model_runtime

    root = Path(model_runtime.__file__).resolve().parent.parent
    (work / "tmp").mkdir()
    environment = {name: os.environ[name] for name in PASSED_VARIABLES if name in os.environ}
    environment.update(
        {
            "PYTHONPATH": str(root),
            "HOME": str(work),
            "TMPDIR": str(work / "tmp"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "SLIPWAY_EPHEMERAL_STORAGE_MB": str(get_storage_settings().ephemeral_storage_mb),
        }
    )
    before = children()
    child = subprocess.Popen(
        [sys.executable, "-m", CHILD_MODULE, str(work)],
        cwd=work,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr.fileno(),  # what the bundle prints is this function's log
        stderr=sys.stderr.fileno(),
        start_new_session=True,
    )
    try:
        child.wait(timeout=max(seconds, 1.0))
    except subprocess.TimeoutExpired:
        return refusal("Timeout", f"the bundle's code did not answer within {seconds:.0f} s")
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        kill_children(except_for=before)
    answer = work / "answer.json"
    if not answer.exists():
        exited = f"the bundle's process exited ({child.returncode}) without an answer"
        return refusal("ChildExited", exited)
    if answer.stat().st_size > MAX_ANSWER_BYTES:
        return refusal("AnswerTooLarge", f"the answer exceeds {MAX_ANSWER_BYTES} bytes")
    try:
        return load_strict_json(answer.read_bytes())
    except StrictJsonError as exc:
        return refusal("InvalidAnswer", f"the bundle's answer is not JSON: {exc}")


def run_in_sandbox(request: SandboxRequest, seconds: float) -> dict[str, Any]:
    guard_this_process()
    work = Path(tempfile.mkdtemp(prefix="slipway-sandbox-"))
    try:
        why_not = fetch(request.bundle, work / "bundle.tar.gz")
        if why_not is not None:
            return refusal("BundleNotFetched", why_not)
        (work / "request.json").write_text(
            json.dumps({"digest": request.bundle.digest, "rows": request.rows})
        )
        return run_child(work, seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = SandboxRequest.model_validate(event)
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    seconds = deadline - time.monotonic() - SHUTDOWN_RESERVE_SECONDS
    return run_in_sandbox(request, seconds)
