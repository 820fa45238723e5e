"""The python sandbox: a python-flavor bundle's own code runs for the gate in a process of
its own, without AWS credentials, and leaves no process behind; what it answers is checked
before it is scored."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from model_runtime import sandboxed_model
from model_runtime.exceptions import ModelLoadError, SandboxFailedError
from model_runtime.extraction import sha256_file
from model_runtime.sandboxed_model import LambdaSandbox, batches
from registry import workflow as steps
from tests.conftest import python_bundle_with
from tests.unit.gate import ForkedLambda, live, run, sandbox_reference, uploaded

IN_SANDBOX = "'slipway-sandbox-' in __import__('os').environ.get('HOME', '')"


def traced_bundle(tmp_path: Path, version: str, trace: Path) -> Path:
    """The python example, noting the process and its AWS variables wherever it is imported."""
    bundle = python_bundle_with(
        tmp_path,
        "iris",
        version,
        "import json as _json, os as _os\n"
        f"with open({str(trace)!r}, 'a') as _out:\n"
        "    _aws = sorted(k for k in _os.environ if k.startswith('AWS_'))\n"
        "    _out.write(_json.dumps({'pid': _os.getpid(), 'aws': _aws}) + '\\n')\n",
    )
    trace.unlink()  # packaging imported it once, to compute its expected output
    return bundle


def imports(trace: Path) -> list[dict]:
    return [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []


def test_validate_and_evaluate_run_a_python_bundle_in_a_process_of_its_own(gate, tmp_path):
    # GIVEN a python-flavor bundle that notes where its code runs
    trace = tmp_path / "trace"
    bundle = traced_bundle(tmp_path, "py", trace)
    # WHEN Validate and Evaluate judge it
    state = run(steps.EVALUATE, run(steps.VALIDATE, uploaded(gate, bundle, "py")))
    # THEN it was judged on its real answers
    assert state.evaluation.value > 0.8 and state.evaluation.rows > 0
    # AND its code ran twice, each time in a fresh process that is not the gate's, with no
    # AWS credentials or settings at all
    runs = imports(trace)
    assert len(runs) == 2 and len({r["pid"] for r in runs}) == 2
    assert os.getpid() not in {r["pid"] for r in runs}
    assert [r["aws"] for r in runs] == [[], []]


def test_a_python_champion_is_scored_in_the_sandbox_too(gate, bundles, tmp_path):
    # GIVEN a live python-flavor version
    trace = tmp_path / "trace"
    live(gate, traced_bundle(tmp_path, "1", trace), "1")
    trace.unlink()
    # WHEN a scikit-learn candidate is compared with it
    state = run(steps.EVALUATE, run(steps.VALIDATE, uploaded(gate, bundles["good"], "good")))
    # THEN the champion's score came from its code, run outside the gate's process
    assert state.evaluation.live_version == "1" and state.evaluation.live_value > 0.8
    runs = imports(trace)
    assert len(runs) == 1 and runs[0]["pid"] != os.getpid()


def test_processes_a_bundle_leaves_behind_do_not_outlive_its_request(gate, tmp_path):
    # GIVEN a python-flavor bundle that starts a detached process (double fork, new session)
    pids = tmp_path / "pids"
    detach = (
        "import os, time\n"
        f"if {IN_SANDBOX} and os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        "        time.sleep(300)\n"
        "    os._exit(0)\n"
    )
    bundle = python_bundle_with(tmp_path, "iris", "daemon", detach)
    # WHEN Validate runs it
    run(steps.VALIDATE, uploaded(gate, bundle, "daemon"))
    # THEN the process it left behind is gone
    (pid,) = [int(line) for line in pids.read_text().split()]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_bundle_that_answers_too_few_outputs_or_fails_is_refused_by_name(gate, tmp_path):
    # GIVEN bundles whose predictor misbehaves only in the gate (packaging checked it)
    silent = python_bundle_with(
        tmp_path, "iris", "silent", f"if {IN_SANDBOX}:\n    Predictor.predict = lambda s, rows: []"
    )
    failing = python_bundle_with(
        tmp_path,
        "iris",
        "failing",
        f"if {IN_SANDBOX}:\n    raise RuntimeError('centroids.json is corrupt')",
    )
    # THEN an answer without one output per row is the bundle's failure
    with pytest.raises(ModelLoadError, match=r"iris silent answered 0 outputs for 3 rows"):
        run(steps.VALIDATE, uploaded(gate, silent, "silent"))
    # AND the code's own failure is named, with its message
    with pytest.raises(ModelLoadError, match=r"iris failing's own code failed.*corrupt"):
        run(steps.VALIDATE, uploaded(gate, failing, "failing"))


def test_a_bundle_that_does_not_answer_in_time_is_stopped(gate, tmp_path):
    slow = python_bundle_with(
        tmp_path, "iris", "slow", f"import time\nif {IN_SANDBOX}:\n    time.sleep(120)"
    )
    sandbox = LambdaSandbox(ForkedLambda(remaining_ms=10_000), "sandbox")
    started = time.monotonic()
    answer = sandbox.run(
        {"bundle": sandbox_reference(gate, slow, "slow"), "rows": [[5.1, 3.5, 1.4, 0.2]]}
    )
    assert answer["refused"]["type"] == "Timeout" and answer["refused"]["by_bundle"] is True
    assert time.monotonic() - started < 10  # within the function's own time


def test_the_sandbox_runs_only_the_bytes_it_was_sent_for(gate, bundles, tmp_path):
    bundle = python_bundle_with(tmp_path, "iris", "py", "")
    sandbox = LambdaSandbox(ForkedLambda(), "sandbox")
    rows = [[5.1, 3.5, 1.4, 0.2]]
    reference = sandbox_reference(gate, bundle, "py")
    assert sandbox.run({"bundle": reference, "rows": rows}) == {"answer": {"outputs": [0]}}
    other = {**reference, "digest": sha256_file(bundles["good"])}
    refused = sandbox.run({"bundle": other, "rows": rows})["refused"]
    assert refused["type"] == "BundleNotFetched" and "not the bundle's" in refused["message"]
    assert refused["by_bundle"] is False  # the sandbox's refusal, not the uploader's fault
    shorter = sandbox.run({"bundle": {**reference, "size": 100}, "rows": rows})["refused"]
    assert "more than the 100 bytes expected" in shorter["message"]
    # AND a request that is not one is refused before anything runs
    with pytest.raises(SandboxFailedError, match="ValidationError"):
        sandbox.run({"bundle": {**reference, "url": "file:///etc/passwd"}, "rows": rows})


def test_rows_travel_in_batches_that_fit_a_lambda_payload():
    rows = [["x" * 100] for _ in range(1000)]
    split = batches(rows, limit=10_000)
    assert [row for batch in split for row in batch] == rows
    assert all(len(json.dumps(batch)) <= 10_000 for batch in split) and len(split) > 10
    assert batches([["y" * 50_000]], limit=10_000) == [[["y" * 50_000]]]  # alone, as it is
    assert batches([]) == []


def test_the_sandbox_function_is_found_only_when_a_python_bundle_needs_it(monkeypatch):
    monkeypatch.delenv("SLIPWAY_SANDBOX_FUNCTION", raising=False)
    with pytest.raises(Exception, match="SLIPWAY_SANDBOX_FUNCTION is not set"):
        sandboxed_model.DeployedSandbox().run({})
