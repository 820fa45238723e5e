"""A window read by several processes: the readers' rows joined in order, and a reader that
fails, dies or hangs ends the read with an error that names it (the same report as one
reader: tests/unit/test_monitor_job.py)."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from model_runtime.jobs import window_readers
from model_runtime.jobs.window_readers import ShareRead, read_shares, reader_count
from model_runtime.monitoring.capture_files import CapturedRows, ReadStats


def shares_read(read_share, keys: list[str], **kwargs: Any) -> ShareRead:
    return read_shares(read_share, keys, readers=2, max_rows=100, s3=None, **kwargs)


def empty(kept: int = 0) -> ShareRead:
    return ShareRead({"m": {"1": CapturedRows()}}, ReadStats(objects=1), kept)


def test_a_child_that_fails_sends_its_error():
    def read_share(share, max_rows, s3):
        if share == ["b"]:
            raise ValueError("GetObject: AccessDenied")
        return empty()

    with pytest.raises(RuntimeError, match="reader failed: ValueError: GetObject: AccessDenied"):
        shares_read(read_share, ["a", "b"], new_s3=lambda: None)


def test_a_child_that_dies_is_named_with_its_exit_code():
    def read_share(share, max_rows, s3):
        if share == ["b"]:
            os._exit(9)  # as the kernel's out-of-memory killer leaves it: no answer
        return empty()

    with pytest.raises(RuntimeError, match="ended without its rows"):
        shares_read(read_share, ["a", "b"], new_s3=lambda: None)


def test_a_child_that_hangs_is_killed_at_the_deadline():
    started: list[int] = []

    def read_share(share, max_rows, s3):
        if share == ["b"]:
            time.sleep(600)
        return empty()

    original = window_readers._Child.stop

    def stop(child):
        started.append(child.process.pid)
        original(child)
        assert not child.process.is_alive()

    window_readers._Child.stop = stop
    try:
        with pytest.raises(TimeoutError, match="did not finish"):
            shares_read(read_share, ["a", "b"], new_s3=lambda: None, timeout_seconds=1)
    finally:
        window_readers._Child.stop = original
    assert len(started) == 1


def test_the_readers_counts_and_rows_are_joined_in_order():
    def read_share(share, max_rows, s3):
        rows = CapturedRows()
        rows.list_rows.extend([[share[0], max_rows]])
        rows.request_ids.append(share[0])
        return ShareRead({"m": {"1": rows}}, ReadStats(objects=len(share)), 1, cut=True)

    read = shares_read(read_share, ["a", "b"], new_s3=lambda: None)

    assert read.rows["m"]["1"].request_ids == ["a", "b"]
    assert read.rows["m"]["1"].list_rows.frame(["x", "n"]).values.tolist() == [
        ["a", 50],
        ["b", 50],
    ]
    assert (read.stats.objects, read.kept, read.cut) == (2, 2, True)


def test_a_share_cut_while_another_had_room_is_read_again_by_one_reader():
    """Object sizes differ: the first share outgrew its half of the limit, the second did
    not, so the window may fit the limit whole. One reader reads it, as a run of one would."""
    rows_in = {"a": 80, "b": 5, "c": 10, "d": 5}
    asked: list[tuple[list[str], int]] = []

    def read_share(share, max_rows, s3):
        asked.append((share, max_rows))
        total = sum(rows_in[key] for key in share)
        return ShareRead(
            {"m": {"1": CapturedRows()}}, ReadStats(), min(total, max_rows), total > max_rows
        )

    read = shares_read(read_share, ["a", "b", "c", "d"], new_s3=lambda: None)

    assert (read.kept, read.cut) == (100, False)
    assert asked[0] == (["a", "c"], 50) and asked[-1] == (["a", "b", "c", "d"], 100)


def test_a_child_sends_rows_holding_a_value_nested_as_deep_as_a_line_can_be():
    """A captured cell may hold a value nested as deep as msgspec decodes (just under the
    recursion limit); pickling it takes about two levels of recursion a level. One reader
    reads such a window, so two must too: the child's rows still reach the parent."""
    import sys

    def read_share(share, max_rows, s3):
        nested: list[Any] = []
        for _ in range(sys.getrecursionlimit()):
            nested = [nested]
        read = empty(kept=1)
        read.rows["m"]["1"].list_rows.append([1.0, nested])
        read.rows["m"]["1"].settle()
        return read

    read = shares_read(read_share, ["a", "b"], new_s3=lambda: None)

    assert read.kept == 2 and len(read.rows["m"]["1"].list_rows) == 2


def test_the_parent_failing_stops_and_reaps_every_child():
    """The job's own share fails (S3 refuses it) while children still read theirs: they are
    killed and reaped, none left running or a zombie."""
    import signal

    started: list[Any] = []
    original = window_readers._Child.start

    def start(*args: Any) -> Any:
        started.append(original(*args))
        return started[-1]

    def read_share(share, max_rows, s3):
        if share == ["a"]:
            raise PermissionError("GetObject: AccessDenied")
        time.sleep(600)
        return empty()

    window_readers._Child.start = start
    try:
        with pytest.raises(PermissionError):
            read_shares(read_share, ["a", "b", "c"], readers=3, max_rows=100, s3=None)
    finally:
        window_readers._Child.start = original
    assert len(started) == 2
    assert [child.process.exitcode for child in started] == [-signal.SIGKILL] * 2


def test_how_many_readers_a_window_gets(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1}, raising=False)
    assert reader_count(100) == 2
    assert reader_count(10) == 1  # too few objects to be worth a process
    assert reader_count(0) == 1
    assert reader_count(3, asked=2) == 2
    assert reader_count(1, asked=4) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(16)), raising=False)
    assert reader_count(10_000) == window_readers.MAX_READERS


def test_readers_need_no_shared_memory(monkeypatch):
    """Lambda has no /dev/shm: multiprocessing's semaphores (Pool, Queue, Lock) fail there
    with ENOSYS. The readers use a Process and a Pipe only; with semaphores failing as they
    do in Lambda, two readers still read."""
    import _multiprocessing
    import multiprocessing

    class NoSharedMemory:
        SEM_VALUE_MAX = 2**31 - 1

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise OSError(38, "Function not implemented")

    monkeypatch.setattr(_multiprocessing, "SemLock", NoSharedMemory)
    with pytest.raises(OSError, match="Function not implemented"):
        multiprocessing.get_context("fork").Queue()  # as in Lambda

    read = shares_read(lambda share, n, s3: empty(kept=1), ["a", "b"], new_s3=lambda: None)

    assert read.kept == 2


def test_a_child_stopped_halfway_through_sending_ends_the_read_at_the_deadline():
    """A child that stops in the middle of sending its rows (frozen, swapping, stopped) must
    not hold the parent in its read of the pipe past the deadline."""
    import multiprocessing
    import signal
    import threading

    def read_share(share, max_rows, s3):
        if share == ["b"]:  # more than a pipe holds: the child blocks sending until read
            read = empty()
            read.rows["m"]["1"].request_ids.extend([f"{i:0100}" for i in range(20_000)])
            return read
        time.sleep(1)  # the parent, before it reads: the child is now blocked sending
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGSTOP)
        return empty()

    errors: list[BaseException] = []

    def run() -> None:
        try:
            shares_read(read_share, ["a", "b"], new_s3=lambda: None, timeout_seconds=2)
        except BaseException as exc:
            errors.append(exc)

    reading = threading.Thread(target=run, daemon=True)
    reading.start()
    reading.join(60)
    stuck = reading.is_alive()
    for child in multiprocessing.active_children():  # the test's own cleanup when it hangs
        child.kill()
    reading.join(10)
    assert not stuck, "the parent was still reading the pipe a minute on"
    assert len(errors) == 1 and isinstance(errors[0], TimeoutError), errors


def test_children_already_started_are_stopped_when_another_cannot_be():
    """A fork that fails (no memory, too many processes) must not leave the children
    started before it reading on, unheard."""
    started: list[Any] = []
    original = window_readers._Child.start

    def start(*args: Any) -> Any:
        if started:
            raise OSError(11, "Resource temporarily unavailable")
        child = original(*args)
        started.append(child)
        return child

    def read_share(share, max_rows, s3):
        time.sleep(600)
        return empty()

    window_readers._Child.start = start
    try:
        with pytest.raises(OSError, match="temporarily unavailable"):
            read_shares(read_share, ["a", "b", "c"], readers=3, max_rows=100, s3=None)
    finally:
        window_readers._Child.start = original
    assert len(started) == 1
    assert not started[0].process.is_alive()
    assert started[0].process.exitcode is not None  # reaped: no zombie left behind
