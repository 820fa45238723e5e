"""The python sandbox: runs a python-flavor bundle's own code for the gate, and nothing else.

Validate and Evaluate must run a python bundle's predictor to judge it, but their roles read
every bundle and write the registry, and their warm processes judge the next models. So they
hand the bundle to this function instead. Its role grants nothing; it fetches the exact
object version through a presigned URL the caller made; it receives the rows without their
labels and answers one output per row, which the caller checks and scores.

Each request runs in a fresh child process without AWS credentials, in a scratch folder that
is emptied before and after it, and answers through a pipe. Before and after each request,
every descendant of this process is frozen and killed (this process adopts orphans, so a
process that detached stays a descendant); if one cannot be killed, this process exits and
Lambda starts a fresh environment. This process cannot be traced by them. So one bundle's
code cannot change how the next one is judged.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from model_runtime.serving.settings import get_storage_settings
from registry.aws import SYNC_INVOKE_PAYLOAD_BYTES
from registry.environment import SANDBOX_SCRATCH
from registry.strict_json import StrictJsonError, load_strict_json

CHILD_MODULE = "model_runtime.jobs.sandbox_child"
# The answer must fit Lambda's synchronous response payload, with room for its envelope.
MAX_ANSWER_BYTES = SYNC_INVOKE_PAYLOAD_BYTES - 64 * 1024
# Time kept back from the function's own timeout to clean up and answer.
SHUTDOWN_RESERVE_SECONDS = 5.0
KILL_SECONDS = 5.0  # to freeze and kill whatever the code left; then this process gives up
# What the interpreter needs to start, and nothing of the function's identity.
PASSED_VARIABLES = ("PATH", "LD_LIBRARY_PATH", "LANG", "TZ", "LAMBDA_TASK_ROOT")
# Where requests run (SANDBOX_SCRATCH): in AWS infra sets /tmp, the function's whole disk, so
# nothing a bundle writes anywhere in it survives. Elsewhere (the embedded cloud, tests) a
# folder of this process's own under the temporary directory.
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


class Refused(Exception):
    """The sandbox could not get an answer; ``by_bundle`` says whether the bundle's code is
    to blame (it hung, exited, or answered too much or no JSON) or the sandbox itself."""

    def __init__(self, kind: str, message: str, *, by_bundle: bool) -> None:
        super().__init__(message)
        self.kind, self.by_bundle = kind, by_bundle


def scratch_root() -> Path:
    configured = os.environ.get(SANDBOX_SCRATCH)
    if configured:
        return Path(configured)
    import tempfile

    return Path(tempfile.gettempdir()) / f"slipway-sandbox-{os.getpid()}"


def empty(root: Path) -> None:
    """Remove everything under ``root``, whatever modes the bundle's code gave it."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in list(root.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            for folder, dirs, _ in os.walk(entry):
                for name in dirs:
                    with contextlib.suppress(OSError):
                        os.chmod(os.path.join(folder, name), 0o700)
            with contextlib.suppress(OSError):
                os.chmod(entry, 0o700)
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


def fetch(reference: BundleReference, target: Path, deadline: float) -> None:
    """Download the bundle, no more bytes than the caller said it has, before the deadline;
    it must be the bundle the caller named."""
    import requests

    if reference.size > get_storage_settings().max_bundle_bytes:
        raise Refused(
            "BundleTooLarge",
            f"the bundle's {reference.size} bytes exceed what this function's /tmp holds",
            by_bundle=False,
        )
    digest = hashlib.sha256()
    received = 0
    try:
        with (
            requests.get(reference.url, stream=True, timeout=(10, 30)) as response,
            target.open("wb") as out,
        ):
            if response.status_code != 200:
                raise Refused(
                    "BundleNotFetched",
                    f"the bundle's URL answered HTTP {response.status_code}",
                    by_bundle=False,
                )
            for chunk in response.iter_content(chunk_size=1 << 20):
                received += len(chunk)
                if received > reference.size:
                    raise Refused(
                        "BundleNotFetched",
                        f"the bundle's URL sent more than the {reference.size} bytes expected",
                        by_bundle=False,
                    )
                if time.monotonic() > deadline:
                    raise Refused("Timeout", "the bundle's download took too long", by_bundle=False)
                digest.update(chunk)
                out.write(chunk)
    except (requests.RequestException, OSError) as exc:
        failed = f"fetching the bundle failed: {exc}"
        raise Refused("BundleNotFetched", failed, by_bundle=False) from None
    if digest.hexdigest() != reference.digest:
        raise Refused(
            "BundleNotFetched",
            f"the bundle's URL sent bytes of sha256 {digest.hexdigest()}, not the bundle's",
            by_bundle=False,
        )


def guard_this_process() -> None:
    """Become the parent of every process our children leave behind, so none escapes by
    detaching; and refuse to be traced or have memory read by them (same user), so the
    bundle's code cannot stay behind in this warm process (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def descendants(kill: bool = False) -> set[int]:
    """Every process below this one, however deep; with ``kill``, each is sent SIGKILL the
    moment it is found (a process that forks and exits in a loop lives for a millisecond)."""
    me = os.getpid()
    parents: dict[int, int] = {}
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        parent = _parent_of(pid)
        if parent is None:
            continue
        parents[pid] = parent
        if kill and parent == me:  # orphans are reparented here: most are direct children
            _kill(pid)
    frontier = {me}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
        if kill:
            for pid in frontier:
                _kill(pid)
    return found


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # the name may hold ")"
    except OSError:
        return None
    return int(fields[1])


def kill_descendants() -> None:
    """Kill every descendant as it is found, reap them, and look again until none is left.
    A process that outlives this leaves this environment unfit to judge anything: exit, and
    Lambda starts a fresh one."""
    deadline = time.monotonic() + KILL_SECONDS
    while time.monotonic() < deadline:
        if not descendants(kill=True):
            return
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass  # orphans are ours to reap: their parents went first
    print("a bundle's process could not be killed; ending this environment", file=sys.stderr)
    os._exit(70)


def run_child(work: Path, deadline: float) -> Any:
    """Run the bundle in a child process of its own; its parsed answer."""
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
    answers, answer_end = os.pipe()
    try:
        child = subprocess.Popen(
            # -P: nothing of the working folder is importable; -s: no user site-packages
            [sys.executable, "-P", "-s", "-m", CHILD_MODULE, str(work), str(answer_end)],
            cwd=work,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno(),  # what the bundle prints is this function's log
            stderr=sys.stderr.fileno(),
            pass_fds=(answer_end,),  # the answer travels in a pipe, never in a file
            start_new_session=True,
        )
    finally:
        os.close(answer_end)
    try:
        received = _read_answer(answers, child, deadline)
    finally:  # run_in_sandbox kills whatever else is left
        os.close(answers)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
    try:
        return load_strict_json(received)
    except StrictJsonError as exc:
        raise Refused("InvalidAnswer", f"the answer is not JSON: {exc}", by_bundle=True) from None


def _read_answer(answers: int, child: subprocess.Popen[bytes], deadline: float) -> bytes:
    """What the child writes to the answer pipe until the pipe closes (the child and all it
    started are gone), bounded in bytes and in time."""
    received = bytearray()
    exited = False
    while True:
        now = time.monotonic()
        if now > deadline:
            raise Refused("Timeout", "the bundle's code did not answer in time", by_bundle=True)
        if not exited and child.poll() is not None:
            exited = True
            kill_descendants()  # whatever it left holds the pipe open no longer
        ready, _, _ = select.select([answers], [], [], min(0.2, deadline - now))
        if not ready:
            continue
        chunk = os.read(answers, 1 << 16)
        if not chunk:
            break
        received += chunk
        if len(received) > MAX_ANSWER_BYTES:
            raise Refused(
                "AnswerTooLarge", f"the answer exceeds {MAX_ANSWER_BYTES} bytes", by_bundle=True
            )
    if not received:
        raise Refused(
            "ChildExited",
            f"the bundle's process exited ({child.returncode}) without an answer",
            by_bundle=True,
        )
    return bytes(received)


def run_in_sandbox(request: SandboxRequest, deadline: float) -> dict[str, Any]:
    """The envelope the caller reads: the child's answer, or why there is none."""
    guard_this_process()
    kill_descendants()  # nothing of an earlier request may be running
    root = scratch_root()
    empty(root)
    work = root / "request"
    work.mkdir()
    try:
        fetch(request.bundle, work / "bundle.tar.gz", deadline)
        (work / "request.json").write_text(
            json.dumps({"digest": request.bundle.digest, "rows": request.rows})
        )
        return {"answer": run_child(work, deadline)}
    except Refused as refused:
        return {
            "refused": {
                "type": refused.kind,
                "message": str(refused)[:2000],
                "by_bundle": refused.by_bundle,
            }
        }
    finally:
        kill_descendants()
        empty(root)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = SandboxRequest.model_validate(event)
    remaining = context.get_remaining_time_in_millis() / 1000
    return run_in_sandbox(request, time.monotonic() + remaining - SHUTDOWN_RESERVE_SECONDS)
