"""A window's captured objects read by several processes at once: the function's vCPUs.

Decoding JSON lines and gathering their rows is Python work that holds the GIL, so threads
cannot share it out; a function of 3008 MB has two vCPUs (Lambda gives one for every
1,769 MB), and one process reading a window uses one. So the window's objects are split
into shares, one per reader, striped (objects 0, n, 2n, ... to the first reader, 1, n+1,
... to the second), so the readers' shares are alike in size and in age. The first reader
is the job's own process; the others are forked children, which start with the job's
modules loaded and send their rows back through a pipe, pickled (their rows settled into
columns first: list_rows.py). Each holds at most its part of the run's row limit and reads
its share oldest first, so a window too big for one run is judged on its oldest hours. When
one share outgrew its part while another had room (objects of very different sizes), the
window may still fit the limit: it is read again by one reader, rather than judged on fewer
rows than one run holds and called more than the limit.

Lambda has no /dev/shm, so no multiprocessing.Pool or Queue: a Process and a Pipe each. A
child makes its own S3 client (the parent's keeps its connections). A child that fails
sends its error; one that dies (out of memory) or outlasts ``READER_TIMEOUT_SECONDS`` ends
the read with an error naming it, and is killed: its rows are not guessed at.

    read = read_shares(read_share, keys, readers=2, max_rows=600_000, s3=s3)
    read.rows[model][version]  # CapturedRows, every reader's in order
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from model_runtime.monitoring.capture_files import CapturedRows, ReadStats

# More readers than this buys little: the judging after the read is one process's work.
MAX_READERS = 4
# A share smaller than this is read faster than a process is forked and its rows sent back.
MIN_OBJECTS_PER_READER = 8
# The function's timeout is 15 minutes; a reader still busy after 10 is stuck.
READER_TIMEOUT_SECONDS = 600


@dataclass
class ShareRead:
    """What one reader read: the rows of each judged (model, version), what reading left
    out, how many rows it kept and whether its row limit cut it short."""

    rows: dict[str, dict[str, CapturedRows]]
    stats: ReadStats = field(default_factory=ReadStats)
    kept: int = 0
    cut: bool = False

    def settle(self) -> ShareRead:
        """Its rows made into columns (list_rows.py): what a reader sends and joins. A lone
        reader keeps rows as rows (settling would cost it 0.6 s a run for nothing)."""
        for versions in self.rows.values():
            for rows in versions.values():
                rows.settle()
        return self


ReadShare = Callable[[list[str], int, Any], ShareRead]


def reader_count(objects: int, asked: int | None = None) -> int:
    """How many readers a window of ``objects`` gets: ``asked``, or one per CPU this process
    may run on (at most ``MAX_READERS``), and never a share under ``MIN_OBJECTS_PER_READER``
    objects unless asked."""
    if asked is not None:
        return max(1, min(asked, objects))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return max(1, min(cpus, MAX_READERS, objects // MIN_OBJECTS_PER_READER))


def fresh_s3() -> Any:
    """An S3 client of its own for a child (never the parent's cached one, whose pooled
    connections the parent still holds)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client("s3", config=Config(signature_version="s3v4"))


def read_shares(
    read_share: ReadShare,
    keys: list[str],
    *,
    readers: int,
    max_rows: int,
    s3: Any,
    new_s3: Callable[[], Any] = fresh_s3,
    timeout_seconds: float = READER_TIMEOUT_SECONDS,
) -> ShareRead:
    """``keys`` read by ``readers`` readers (``read_share(share, its row limit, s3 client)``),
    their rows joined in reader order."""
    if readers <= 1:
        return read_share(keys, max_rows, s3)
    shares = [keys[i::readers] for i in range(readers)]
    each = max_rows // readers
    sys.stdout.flush()  # what is buffered would otherwise be written again by each child
    sys.stderr.flush()
    children: list[_Child] = []
    try:  # a fork that fails stops those started before it
        for share in shares[1:]:
            children.append(_Child.start(read_share, share, each, new_s3))
        reads = [read_share(shares[0], each, s3).settle()]  # while the children work
        deadline = time.monotonic() + timeout_seconds
        reads.extend(child.result(deadline) for child in children)
    finally:
        for child in children:
            child.stop()
    if any([read.cut for read in reads]) and not all([read.cut for read in reads]):
        del reads  # (its rows freed before they are read again)
        return read_share(keys, max_rows, s3)
    return joined(reads)


def joined(reads: list[ShareRead]) -> ShareRead:
    """The readers' rows as if one reader had read them all, in reader order."""
    whole = reads[0]
    for read in reads[1:]:
        for model, versions in read.rows.items():
            for version, rows in versions.items():
                whole.rows[model][version].extend(rows)
        for name, value in read.stats.as_json().items():
            mine = getattr(whole.stats, name)
            setattr(whole.stats, name, (mine or value) if isinstance(value, bool) else mine + value)
        whole.kept += read.kept
        whole.cut = whole.cut or read.cut
    return whole


@dataclass
class _Child:
    process: Any
    receive: Any

    @classmethod
    def start(cls, read_share: ReadShare, share: list[str], max_rows: int, new_s3: Any) -> _Child:
        context = multiprocessing.get_context("fork")  # the job's modules, already loaded
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_child_main,
            args=(send, read_share, share, max_rows, new_s3),
            name="slipway-monitor-reader",
            daemon=True,
        )
        process.start()
        send.close()  # the child's end: EOF here when the child is gone
        return cls(process, receive)

    def result(self, deadline: float) -> ShareRead:
        late = TimeoutError(f"a window reader (pid {self.process.pid}) did not finish in time")
        remaining = max(0.0, deadline - time.monotonic())
        if not self.receive.poll(remaining):
            raise late
        # a child that stops halfway through sending would hold recv_bytes for ever: killed
        # at the deadline, it closes its end of the pipe and the read ends
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), self.process.kill)
        watchdog.start()
        try:
            message = self.receive.recv_bytes()
        except (EOFError, OSError):  # OSError: "got end of file during message"
            self.process.join(5)
            if time.monotonic() >= deadline:
                raise late from None
            raise RuntimeError(
                f"a window reader (pid {self.process.pid}) ended without its rows "
                f"(exit code {self.process.exitcode}; out of memory?)"
            ) from None
        finally:
            watchdog.cancel()
        status, value = pickle.loads(message)
        if status != "ok":
            raise RuntimeError(f"a window reader failed: {value}")
        return value

    def stop(self) -> None:
        self.receive.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


def _child_main(send: Any, read_share: ReadShare, share: list[str], max_rows: int, new_s3: Any):
    """A forked reader: its share read, the result (or its error) sent, then gone without
    running the parent's exit handlers or flushing its buffers a second time."""
    try:
        read = read_share(share, max_rows, new_s3()).settle()
        # a cell may hold a value nested as deep as msgspec decodes (just under the recursion
        # limit), which one reader judges; pickling it takes about two levels a level
        sys.setrecursionlimit(4 * sys.getrecursionlimit())
        payload = pickle.dumps(("ok", read), protocol=5)
    except BaseException as exc:  # anything: the parent must hear of it
        payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"[:1000]))
    try:
        send.send_bytes(payload)
    finally:
        os._exit(0)
