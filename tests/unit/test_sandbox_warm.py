"""The python sandbox as a warm Lambda environment sees it: one process serving request
after request. Whatever one bundle's code leaves behind (processes, files, a held pipe) must
not decide how the next bundle is judged, and every request ends in the function's time.
(Found by attacking the sandbox; each test failed on its first version.)"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from model_runtime.exceptions import ModelLoadError, SmokeTestFailedError
from model_runtime.lambda_environments import GENERATION, discard_environments
from model_runtime.model import outputs_match
from model_runtime.sandboxed_model import LambdaSandbox, batches, predicted
from registry.workflow_state import GatePolicy
from tests.conftest import LambdaContext, load_event, python_bundle_with
from tests.unit.gate import ForkedLambda, sandbox_reference

IN_SANDBOX = "'slipway-sandbox-' in __import__('os').environ.get('HOME', '')"
ROW = [5.1, 3.5, 1.4, 0.2]  # iris: class 0


class WarmSandbox:
    """The sandbox handler in ONE forked process serving requests one after another, as a
    warm Lambda environment does (ForkedLambda forks afresh for every request, so it never
    shows what one request leaves for the next)."""

    def __init__(
        self, remaining_ms: int = 30_000, tmpdir: str | None = None, memory_bytes: int | None = None
    ) -> None:
        self.requests_r, self.requests_w = os.pipe()
        self.answers_r, self.answers_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.requests_w)
                os.close(self.answers_r)
                if tmpdir:
                    os.environ["TMPDIR"] = tmpdir
                    import tempfile

                    tempfile.tempdir = None
                if memory_bytes:
                    import resource

                    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
                from model_runtime.jobs.sandbox import handler

                context = LambdaContext()
                context.get_remaining_time_in_millis = lambda: remaining_ms  # type: ignore
                inbox = os.fdopen(self.requests_r)
                outbox = os.fdopen(self.answers_w, "w")
                for line in inbox:
                    started = time.monotonic()
                    try:
                        result = {"payload": handler(json.loads(line), context)}
                    except BaseException as exc:  # Lambda reports any error so
                        result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                    result["seconds"] = time.monotonic() - started
                    outbox.write(json.dumps(result) + "\n")
                    outbox.flush()
            finally:
                os._exit(0)
        os.close(self.requests_r)
        os.close(self.answers_w)
        self.outbox = os.fdopen(self.requests_w, "w")
        self.inbox = os.fdopen(self.answers_r)

    def invoke(self, request: dict, timeout: float = 60) -> dict | None:
        """The answer, or None if none came within ``timeout`` (the function would be
        killed by Lambda's timeout)."""
        self.outbox.write(json.dumps(request) + "\n")
        self.outbox.flush()
        ready, _, _ = select.select([self.inbox], [], [], timeout)
        return json.loads(self.inbox.readline()) if ready else None

    def close(self) -> None:
        with pytest.MonkeyPatch.context():
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


@pytest.fixture
def warm(tmp_path):
    made: list[WarmSandbox] = []
    private_tmp = tmp_path / "sandbox-tmp"  # its own /tmp: nothing here touches other runs'
    private_tmp.mkdir()

    def make(**kwargs) -> WarmSandbox:
        kwargs.setdefault("tmpdir", str(private_tmp))
        made.append(WarmSandbox(**kwargs))
        return made[-1]

    yield make
    for sandbox in made:
        sandbox.close()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(pid, signal.SIGKILL)


# A chain of processes, each in a session of its own (out of reach of the child's process
# group), whose last one waits for the next request's folder and plants a module there.
CHAIN = """
import os as _o, time as _t
if IN_SANDBOX:
    _home = _o.environ["HOME"]
    _first = _o.stat(_home).st_ino
    _leaf = True
    for _level in range(DEPTH):
        if _o.fork():
            _leaf = False
            break
        _o.setsid()
        open(PIDS, "a").write(f"{_o.getpid()}\\n")
    if _leaf:
        _end = _t.time() + 60
        while _t.time() < _end:
            try:
                if _o.stat(_home).st_ino != _first:  # the next request's folder
                    _jobs = _o.path.join(_home, "model_runtime", "jobs")
                    _o.makedirs(_jobs, exist_ok=True)
                    for _d in (_o.path.join(_home, "model_runtime"), _jobs):
                        open(_o.path.join(_d, "__init__.py"), "w").close()
                    open(_o.path.join(_jobs, "sandbox_child.py"), "w").write("raise SystemExit")
                    open(PROOF, "a").write("planted\\n")
                    break
            except OSError:
                pass
            _t.sleep(0.001)
        _o._exit(0)
    elif _level > 0:
        while True:
            _t.sleep(3600)
"""


def test_no_process_of_one_request_outlives_it_to_judge_the_next(gate, warm, tmp_path):
    # GIVEN a bundle that leaves a chain of 110 detached processes behind
    pids, proof = tmp_path / "pids", tmp_path / "proof"
    code = (
        CHAIN.replace("IN_SANDBOX", IN_SANDBOX)
        .replace("DEPTH", "110")
        .replace("PIDS", repr(str(pids)))
        .replace("PROOF", repr(str(proof)))
    )
    hostile = python_bundle_with(tmp_path, "iris", "hostile", code)
    victim = python_bundle_with(tmp_path, "iris", "victim", "")  # another uploader's
    refs = sandbox_reference(gate, hostile, "h"), sandbox_reference(gate, victim, "v")
    sandbox = warm()
    try:
        first = sandbox.invoke({"bundle": refs[0], "rows": [ROW]})
        assert first["payload"] == {"answer": {"outputs": [0]}}
        # THEN none of its processes is left, and the next bundle is judged on its answers
        assert [p for p in map(int, pids.read_text().split()) if alive(p)] == []
        second = sandbox.invoke({"bundle": refs[1], "rows": [ROW] * 3})
        assert second["payload"] == {"answer": {"outputs": [0, 0, 0]}}
        assert not proof.exists()
    finally:
        kill_all([int(p) for p in pids.read_text().split()] if pids.exists() else [])


def test_a_process_that_keeps_forking_anew_does_not_outlive_its_request(gate, warm, tmp_path):
    beat = tmp_path / "beat"
    runner = python_bundle_with(
        tmp_path,
        "iris",
        "runner",
        f"import os, time\nif {IN_SANDBOX} and os.fork() == 0:\n"
        "    os.setsid()\n"
        "    end = time.time() + 15\n"
        "    while time.time() < end:\n"
        "        if os.fork():\n"
        "            os._exit(0)\n"
        f"        open({str(beat)!r}, 'w').write(str(time.time()))\n"
        "    os._exit(0)\n",
    )
    ref = sandbox_reference(gate, runner, "r")  # before the fork: moto's state is the fork's copy
    answer = warm().invoke({"bundle": ref, "rows": [ROW]})
    assert answer["payload"] == {"answer": {"outputs": [0]}}
    time.sleep(1.5)
    assert time.time() - beat.stat().st_mtime > 1.0, "the forking process still runs"


def test_a_process_holding_the_answer_pipe_open_does_not_hold_up_the_answer(gate, warm, tmp_path):
    # the code answers, then leaves a detached process with the answer pipe open
    holder = python_bundle_with(
        tmp_path,
        "iris",
        "holder",
        f"import os, sys, time\nif {IN_SANDBOX}:\n"
        "    os.write(int(sys.argv[2]), b'{\"outputs\": [0]}')\n"
        "    if os.fork() == 0:\n        os.setsid(); time.sleep(300)\n"
        "    os._exit(0)\n",
    )
    ref = sandbox_reference(gate, holder, "p")
    answer = warm(remaining_ms=20_000).invoke({"bundle": ref, "rows": [ROW]}, timeout=30)
    assert answer is not None and answer["seconds"] < 10, answer
    assert answer["payload"] == {"answer": {"outputs": [0]}}


def test_nothing_a_request_writes_is_left_for_the_next(gate, warm, tmp_path):
    # GIVEN a bundle that writes next to its own folder, and makes a folder it cannot read
    filler = python_bundle_with(
        tmp_path,
        "iris",
        "filler",
        f"import os\nif {IN_SANDBOX}:\n"
        "    top = os.path.dirname(os.environ['HOME'])\n"
        "    open(os.path.join(top, 'junk'), 'wb').write(b'x' * 65536)\n"
        "    os.makedirs(os.path.join(top, 'locked', 'in'))\n"
        "    os.chmod(os.path.join(top, 'locked'), 0)\n",
    )
    ref = sandbox_reference(gate, filler, "fill")
    sandbox = warm()
    sandbox.invoke({"bundle": ref, "rows": [ROW]})
    # THEN the sandbox's scratch folder is empty again
    scratch = tmp_path / "sandbox-tmp" / f"slipway-sandbox-{sandbox.pid}"
    assert scratch.is_dir() and list(scratch.iterdir()) == []


def test_the_time_limit_counts_the_download(gate, warm, tmp_path, monkeypatch):
    from model_runtime.jobs import sandbox as sandbox_module

    real_fetch = sandbox_module.fetch

    def slow_fetch(ref, target, deadline):  # a large bundle, or slow S3
        time.sleep(4)
        return real_fetch(ref, target, deadline)

    monkeypatch.setattr(sandbox_module, "fetch", slow_fetch)  # before the fork
    slow = python_bundle_with(
        tmp_path, "iris", "slow", f"import time\nif {IN_SANDBOX}:\n    time.sleep(120)"
    )
    ref = sandbox_reference(gate, slow, "s")
    answer = warm(remaining_ms=12_000).invoke({"bundle": ref, "rows": [ROW]})
    assert answer["payload"]["refused"]["type"] == "Timeout"
    assert answer["seconds"] < 12, f"answered after {answer['seconds']:.1f} s of 12 s"


def test_outputs_larger_than_a_response_are_asked_for_in_halves(gate, tmp_path, monkeypatch):
    from model_runtime.jobs import sandbox as sandbox_module

    # the real limits scaled down 1000x: 4 kB of rows, about 14 kB of answer
    monkeypatch.setattr(sandbox_module, "MAX_ANSWER_BYTES", 5_900)
    wordy = python_bundle_with(
        tmp_path,
        "iris",
        "wordy",
        f"if {IN_SANDBOX}:\n"
        "    Predictor.predict = lambda s, rows: [[0.9733333333333334, 0.0266, 0.0] for r in rows]",
    )
    sandbox = LambdaSandbox(ForkedLambda(), "sandbox")
    ref = sandbox_reference(gate, wordy, "w")
    rows = [[1.5, 2.5, 3.5, 4.5]] * 400
    outputs = [
        output
        for batch in batches(rows, limit=4_000)
        for output in predicted(sandbox, ref, "iris wordy", batch)
    ]
    assert len(outputs) == 400 and outputs[0] == [0.9733333333333334, 0.0266, 0.0]


def test_nan_from_a_bundle_is_its_failure_and_never_a_match(gate, tmp_path):
    nan = python_bundle_with(
        tmp_path,
        "iris",
        "nan",
        f"import os, sys\nif {IN_SANDBOX}:\n"
        "    os.write(int(sys.argv[2]), b'{\"outputs\": [NaN]}')\n    os._exit(0)",
    )
    sandbox = LambdaSandbox(ForkedLambda(), "sandbox")
    with pytest.raises(ModelLoadError, match=r"not JSON.*NaN"):
        predicted(sandbox, sandbox_reference(gate, nan, "n"), "iris nan", [ROW])
    assert not outputs_match([float("nan")], [0]) and not outputs_match([0.0], [float("nan")])


class RevisedLambda:
    """GetFunctionConfiguration / UpdateFunctionConfiguration with revisions, as Lambda
    checks them, and something that happens between the read and the write."""

    def __init__(self, variables, between=None, fail_update=None):
        self.variables, self.between, self.fail_update = dict(variables), between, fail_update
        self.revision = 1

    def get_function_configuration(self, FunctionName):
        answer = {
            "Environment": {"Variables": dict(self.variables)},
            "LastUpdateStatus": "Successful",
            "RevisionId": str(self.revision),
        }
        if self.between:
            self.between(self)
            self.between = None
        return answer

    def update_function_configuration(self, FunctionName, Environment, RevisionId=None):
        if self.fail_update:
            raise self.fail_update
        if RevisionId is not None and RevisionId != str(self.revision):
            raise ClientError({"Error": {"Code": "PreconditionFailedException"}}, "Update")
        self.variables = dict(Environment["Variables"])
        self.revision += 1


def test_a_deploy_between_reading_and_renewing_is_not_reverted():
    def deploy(function):  # a deploy (or an operator) sets a new variable meanwhile
        function.variables["SLIPWAY_POINTER_CACHE_SECONDS"] = "1"
        function.revision += 1

    function = RevisedLambda({"SLIPWAY_TABLE_NAME": "lineage"}, between=deploy)
    discard_environments(function, "candidates")
    assert function.variables["SLIPWAY_POINTER_CACHE_SECONDS"] == "1"
    assert GENERATION in function.variables


def test_a_failed_renewal_does_not_hide_why_the_smoke_test_failed(monkeypatch):
    from model_runtime.jobs import smoke_test as module

    def failing_smoke_test(*args, **kwargs):
        raise SmokeTestFailedError("endpoint answered [1] for the input example, expected [0]")

    monkeypatch.setattr(module, "smoke_test", failing_smoke_test)

    class Repository:
        def get_version(self, name, version):
            return {"flavor": "python", "input_example": {}}

    class State:
        execution_name = "run-1"
        policy = GatePolicy.parse(load_event("promotion_state_start.json")["policy"])

        def candidate(self):
            return "iris", "py"

    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Update")
    with pytest.raises(SmokeTestFailedError, match="expected"):
        module.smoke_test_candidate(
            RevisedLambda({}, fail_update=denied), Repository(), {"default": "f"}, State()
        )
