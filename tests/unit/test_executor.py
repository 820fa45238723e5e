"""The embedded cloud's Lambda executor with functions that misbehave the ways real ones do:
each invocation answers within its timeout, and one bad invocation does not spoil others."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import threading
import time
import zipfile
from pathlib import Path

import pytest

from slipway.local.credentials import LocalCredentials
from slipway.local.executor import FunctionSpec, LocalExecutor


def function(source: str, *, timeout: float = 3, name: str = "f") -> FunctionSpec:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("handler.py", source)
    code = archive.getvalue()
    return FunctionSpec(
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        name=name,
        handler="handler.handler",
        code_sha256=hashlib.sha256(code).hexdigest(),
        code_zip=code,
        environment={},
        timeout_seconds=timeout,
        memory_mb=128,
        region="us-east-1",
    )


@pytest.fixture
def executor(tmp_path: Path):
    running = LocalExecutor(tmp_path, "http://localhost:1", LocalCredentials.generate())
    yield running
    running.stop()


def answer(result) -> object:
    return json.loads(result.payload)


def test_a_worker_printing_while_it_imports_takes_a_large_event(executor):
    # more output at import than a pipe holds, and an event larger than one too
    spec = function(
        "import sys\nsys.stderr.write('x' * 200_000 + '\\n')\n"
        "def handler(event, context):\n    return len(event['blob'])\n"
    )
    started = time.monotonic()
    result = executor.invoke(spec, {"blob": "y" * 300_000})
    assert not result.errored and answer(result) == 300_000
    assert time.monotonic() - started < 3


def chatty_function(statement: str) -> FunctionSpec:
    """A function answering 'ok' while a background thread runs ``statement`` forever."""
    return function(
        "import sys, threading, time\n"
        "def chatter():\n"
        f"    while True:\n        {statement}\n"
        "threading.Thread(target=chatter, daemon=True).start()\n"
        "def handler(event, context):\n    return 'ok'\n"
    )


def test_output_after_the_invocation_ended_does_not_fail_it(executor):
    spec = chatty_function("print('heartbeat', flush=True); time.sleep(0.002)")
    results = [executor.invoke(spec, {}) for _ in range(30)]
    assert [answer(r) for r in results] == ["ok"] * 30


def test_a_timed_out_invocation_does_not_fail_those_queued_behind_it(executor):
    spec = function(
        "import time\ndef handler(event, context):\n"
        "    time.sleep(event['sleep'])\n    return event['sleep']\n",
        timeout=1,
    )
    executor.invoke(spec, {"sleep": 0})  # warm
    results: dict[str, object] = {}

    def call(label: str, sleep: float) -> None:
        results[label] = executor.invoke(spec, {"sleep": sleep})

    slow = threading.Thread(target=call, args=("slow", 5))
    slow.start()
    time.sleep(0.2)
    queued = [threading.Thread(target=call, args=(f"q{i}", 0)) for i in range(3)]
    for thread in queued:
        thread.start()
    for thread in [slow, *queued]:
        thread.join()
    assert answer(results["slow"])["errorType"] == "Sandbox.Timedout"
    assert [answer(results[f"q{i}"]) for i in range(3)] == [0, 0, 0]


def test_a_failed_initialisation_is_tried_again_by_the_next_invocation(executor, tmp_path):
    marker = tmp_path / "imported-once"
    spec = function(
        "from pathlib import Path\n"
        f"marker = Path({str(marker)!r})\n"
        "if not marker.exists():\n"
        "    marker.write_text('1')\n"
        "    raise RuntimeError('dependency not ready')\n"
        "def handler(event, context):\n    return 'ready'\n"
    )
    first = executor.invoke(spec, {})
    assert first.errored and answer(first)["errorMessage"] == "dependency not ready"
    assert answer(executor.invoke(spec, {})) == "ready"


def test_a_value_json_cannot_carry_is_a_marshal_error_and_the_worker_lives_on(executor):
    spec = function(
        "def handler(event, context):\n"
        "    if event.get('deep'):\n"
        "        value = []\n"
        "        for _ in range(100_000):\n            value = [value]\n"
        "        return value\n"
        "    return 'fine'\n"
    )
    deep = executor.invoke(spec, {"deep": True})
    assert deep.errored and answer(deep)["errorType"] == "Runtime.MarshalError"
    assert answer(executor.invoke(spec, {})) == "fine"


def test_the_function_reads_an_empty_standard_input(executor):
    spec = function("import sys\ndef handler(event, context):\n    return sys.stdin.read()\n")
    assert answer(executor.invoke(spec, {})) == ""


def test_a_function_writing_half_lines_in_the_background_still_gets_its_answer(executor):
    # a background thread that never ends its line: the platform's REPORT line lands in
    # the middle of the function's own output, as it can whenever two threads print
    spec = chatty_function("sys.stderr.write('.')")
    results = [executor.invoke(spec, {}) for _ in range(20)]
    assert [answer(r) for r in results] == ["ok"] * 20
    platform = [line for line in results[-1].logs.splitlines() if "RequestId:" in line]
    assert [line.split()[0] for line in platform] == ["START", "END", "REPORT"]


def test_a_worker_that_dies_fails_its_invocation_at_once_and_the_next_gets_a_fresh_one(
    executor,
):
    spec = function(
        "import os\ndef handler(event, context):\n"
        "    if event.get('die'):\n        os._exit(9)\n    return os.getpid()\n",
        timeout=30,
    )
    first = answer(executor.invoke(spec, {}))
    # WHEN the worker dies during an invocation THEN that invocation fails at once
    started = time.monotonic()
    died = executor.invoke(spec, {"die": True})
    assert died.errored and answer(died)["errorType"] == "Runtime.ExitError"
    assert time.monotonic() - started < 5  # not at the function's 30 s timeout
    # AND the next one gets a fresh worker
    second = answer(executor.invoke(spec, {}))
    assert second != first
    # AND a worker killed between invocations is replaced as well
    os.kill(second, signal.SIGKILL)
    time.sleep(0.2)
    third = executor.invoke(spec, {})
    assert not third.errored and answer(third) not in (first, second)


def test_each_function_has_a_temporary_folder_of_its_own(executor):
    source = (
        "import os, tempfile\ndef handler(event, context):\n"
        "    return [tempfile.gettempdir(), os.environ['SLIPWAY_BUNDLE_CACHE_DIR']]\n"
    )
    first = answer(executor.invoke(function(source, name="first"), {}))
    second = answer(executor.invoke(function(source, name="second"), {}))
    # as each Lambda function has its own /tmp: no two extract bundles into one folder
    assert first != second and all(Path(folder).is_dir() for folder in (first[0], second[0]))
    assert first[1].startswith(first[0]) and second[1].startswith(second[0])
