"""The promotion gate's decisions in the embedded cloud, each asserting the live pointer,
the version's status and the recorded reason."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from typer.testing import CliRunner

from examples.iris.train import train_and_package
from registry import workflow as steps
from registry.executions import execution_arn
from slipway.cli import app
from tests.conftest import python_bundle_with, renamed_iris_data
from tests.unit.gate import lease_ended
from tests.workflow.conftest import point_cli_at
from tests.workflow.signed_http import local_http


def wait_for_canary(deployed, name: str, version: str) -> None:
    deadline = time.monotonic() + 60
    while (deployed.repository.get_pointer(name) or {}).get("canary_version") != version:
        assert time.monotonic() < deadline, "the canary never started"
        time.sleep(0.2)


def rejection_reason(deployed, name: str, version: str) -> str:
    events = [
        e for e in deployed.repository.audit_history(name, version) if e["outcome"] == "rejected"
    ]
    assert len(events) == 1, events
    return str(events[0]["reason"])


def promote(deployed, tmp_path, name: str, version: str, **training) -> dict:
    bundle = tmp_path / f"{name}-{version}.tar.gz"
    train_and_package(bundle, name=name, version=version, **training)
    return deployed.wait_for_execution(deployed.push(bundle, name, version))


def test_a_candidate_below_its_threshold_is_rejected(deployed, tmp_path):
    described = promote(deployed, tmp_path, "gate-threshold", "1", threshold=1.01)
    assert described["status"] == "FAILED"
    assert described["cause"].startswith("EvaluationFailedError: accuracy ")
    assert "misses the threshold (>= 1.01)" in described["cause"]
    assert deployed.repository.get_version("gate-threshold", "1")["status"] == "rejected"
    assert rejection_reason(deployed, "gate-threshold", "1") == described["cause"]
    assert deployed.repository.get_pointer("gate-threshold") is None
    assert deployed.repository.get_pointer("gate-threshold", "staging") is None


def test_a_failure_handler_that_fails_does_not_keep_the_lock(deployed, tmp_path):
    # GIVEN a candidate that fails Evaluate after taking the lock, and a failure handler
    # that fails too (the lock once stayed for the workflow's 8 days)
    deployed.session.cloud.executor.inject_faults(
        "PromotionWorkflowRecordFailure", "Runtime.UnhandledError", count=1
    )
    described = promote(deployed, tmp_path, "gate-unrecorded", "1", threshold=1.01)
    # THEN the execution fails saying so, and the lock is free for the next version
    assert described["status"] == "FAILED" and "lock was released" in described["cause"]
    assert deployed.repository.lock_holder("gate-unrecorded") is None
    assert promote(deployed, tmp_path, "gate-unrecorded", "2")["status"] == "SUCCEEDED"


def test_a_candidate_worse_than_live_is_rejected(deployed, tmp_path):
    assert promote(deployed, tmp_path, "gate-champion", "1")["status"] == "SUCCEEDED"
    # a heavily regularised model: it passes its own (low) threshold but loses to live
    described = promote(deployed, tmp_path, "gate-champion", "2", c=0.0005, threshold=0.0)
    assert described["status"] == "FAILED"
    assert "does not beat live version 1" in described["cause"]
    assert deployed.repository.get_pointer("gate-champion")["version"] == "1"
    assert deployed.repository.get_version("gate-champion", "2")["status"] == "rejected"


def test_a_smoke_test_over_budget_is_rejected_and_live_stays(deployed, tmp_path):
    assert promote(deployed, tmp_path, "gate-slow", "1")["status"] == "SUCCEEDED"
    with deployed.gate_policy(smoke_cold_budget_ms=0.001):
        described = promote(deployed, tmp_path, "gate-slow", "2", c=0.9)
    assert described["status"] == "FAILED"
    assert described["cause"].startswith("SmokeTestTooSlowError: the first call took ")
    assert "cold budget (smoke_cold_budget_ms) of 0 ms" in described["cause"]
    assert deployed.repository.get_pointer("gate-slow")["version"] == "1"
    # the candidate reached staging (that is where it was smoke-tested), never live
    # it was smoke-tested on staging; rejected, it is staged no more (nothing is)
    assert deployed.repository.get_pointer("gate-slow", "staging") is None
    assert deployed.repository.get_version("gate-slow", "2")["status"] == "rejected"


SLOW_LOAD = """
import time as _time

_load = Predictor.load


def _slow_load(self, path):
    _time.sleep(1.5)  # a model that takes long to load: only a cold call pays it
    _load(self, path)


Predictor.load = _slow_load
"""

SLOW_PREDICT = """
import time as _time

_predict = Predictor.predict


def _slow_predict(self, inputs):
    _time.sleep(0.4)  # every answer, warm or not
    return _predict(self, inputs)


Predictor.predict = _slow_predict
"""


def test_a_model_slow_only_on_its_first_call_passes_the_smoke_test(deployed, tmp_path):
    # GIVEN budgets of 5 s for the first call and 1 s for warm ones, and a model that takes
    # 1.5 s to load (as a cold container in AWS takes seconds) and answers at once after
    bundle = python_bundle_with(tmp_path, "gate-cold", "1", SLOW_LOAD)
    with deployed.gate_policy(smoke_cold_budget_ms=5000, smoke_warm_budget_ms=1000):
        described = deployed.wait_for_execution(deployed.push(bundle, "gate-cold", "1"))
    # THEN it goes live: its first call is judged by the cold budget, not the warm one
    assert described["status"] == "SUCCEEDED", described.get("cause")
    smoke = deployed.repository.get_version("gate-cold", "1")["smoke_test_result"]
    assert 1500 <= smoke["first_call_ms"] < 5000
    assert smoke["warm_call_ms"] < 1000 and smoke["warm_calls"] >= 1
    assert deployed.repository.get_pointer("gate-cold")["version"] == "1"


def test_a_model_slow_on_warm_calls_fails_the_smoke_test(deployed, tmp_path):
    # GIVEN a generous cold budget and a warm one of 0.2 s, and a model that takes 0.4 s
    # for every answer
    bundle = python_bundle_with(tmp_path, "gate-warm", "1", SLOW_PREDICT)
    with deployed.gate_policy(smoke_cold_budget_ms=10000, smoke_warm_budget_ms=200):
        described = deployed.wait_for_execution(deployed.push(bundle, "gate-warm", "1"))
    # THEN it is rejected, the reason naming the warm budget and both numbers
    assert described["status"] == "FAILED"
    reason = re.fullmatch(
        r"SmokeTestTooSlowError: the warm calls took (\d+) ms \(median of \d+\), over this "
        r"environment's warm budget \(smoke_warm_budget_ms\) of 200 ms",
        described["cause"],
    )
    assert reason is not None, described["cause"]
    assert int(reason[1]) >= 400
    assert deployed.repository.get_version("gate-warm", "1")["status"] == "rejected"
    assert deployed.repository.get_pointer("gate-warm") is None


@pytest.fixture
def manual_approval(deployed):
    with deployed.gate_policy(approval="manual"):
        yield deployed


def start_manual(deployed, tmp_path, name: str, version: str) -> str:
    bundle = tmp_path / f"{name}-{version}.tar.gz"
    train_and_package(bundle, name=name, version=version)
    execution = deployed.push(bundle, name, version)
    deployed.wait_for_status(name, version, "awaiting-approval")
    return execution


def test_manual_approval_then_approve(manual_approval, tmp_path):
    deployed = manual_approval
    sqs = deployed.client("sqs")
    inbox = sqs.create_queue(QueueName="approvals-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    deployed.client("sns").subscribe(
        TopicArn=deployed.outputs["ApprovalTopicArn"],
        Protocol="sqs",
        Endpoint=inbox_arn["Attributes"]["QueueArn"],
    )
    execution = start_manual(deployed, tmp_path, "gate-approve", "1")
    # the waiting version is announced
    messages = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10, WaitTimeSeconds=10)[
        "Messages"
    ]
    announced = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
    assert {"model": "gate-approve", "version": "1"}.items() <= announced[-1].items()
    assert deployed.repository.get_pointer("gate-approve") is None
    # approve through the registry API
    answer = local_http.post(
        f"{deployed.registry}/v1/models/gate-approve/versions/1/approve",
        json={"reason": "looks good"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert deployed.wait_for_execution(execution)["status"] == "SUCCEEDED"
    assert deployed.repository.get_pointer("gate-approve")["version"] == "1"
    approvals = [
        e
        for e in deployed.repository.audit_history("gate-approve", "1")
        if e["outcome"] == "approved"
    ]
    assert approvals[-1]["actor"] == "local" and approvals[-1]["reason"] == "looks good"
    # the request for approval stays in the history next to the decision
    outcomes = [e["outcome"] for e in deployed.repository.audit_history("gate-approve", "1")]
    assert outcomes == ["skipped", "registered", "staged", "awaiting-approval", "approved", "live"]
    # a decision on a version that no longer waits is a conflict, not a silent success
    again = local_http.post(
        f"{deployed.registry}/v1/models/gate-approve/versions/1/approve", json={}, timeout=60
    )
    assert again.status_code == 409
    assert "not waiting for approval" in again.json()["detail"]


def push_version(deployed, tmp_path, name: str, version: str, **training) -> str:
    bundle = tmp_path / f"{name}-{version}.tar.gz"
    train_and_package(bundle, name=name, version=version, **training)
    return deployed.push(bundle, name, version)


def test_a_version_pushed_while_another_awaits_approval_waits_its_turn(manual_approval, tmp_path):
    # (finding 2: it was rejected after a 120 s lock wait)
    deployed = manual_approval
    # GIVEN version 1 waiting for a person's approval, holding the model's lock
    first = start_manual(deployed, tmp_path, "gate-line", "1")
    # WHEN version 2 is pushed THEN it waits in line, saying behind whom
    second = push_version(deployed, tmp_path, "gate-line", "2", c=0.9)
    waiting = deployed.wait_for_audit("gate-line", "2", "wait")
    assert "version 1" in waiting["reason"] and first in waiting["reason"]
    assert deployed.repository.get_version("gate-line", "2")["status"] == "registered"
    # AND once version 1 is approved and live, version 2 goes through the gate
    answer = local_http.post(
        f"{deployed.registry}/v1/models/gate-line/versions/1/approve", json={}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    assert deployed.wait_for_execution(first)["status"] == "SUCCEEDED"
    deployed.wait_for_status("gate-line", "2", "awaiting-approval")
    assert deployed.repository.lock_holder("gate-line")["execution"] == second


def test_versions_pushed_together_the_newest_goes_live_the_others_are_superseded(
    manual_approval, tmp_path, monkeypatch
):
    # (finding 6: ten pushed at once each went live for a moment, the last one was not v10)
    deployed = manual_approval
    first = start_manual(deployed, tmp_path, "gate-newest", "1")
    executions = {}
    for version in ("2", "3", "4"):  # one after another: each starts after the one before
        executions[version] = push_version(deployed, tmp_path, "gate-newest", version, c=0.9)
        deployed.wait_for_status("gate-newest", version, "registered")
        deployed.wait_for_audit("gate-newest", version, "wait")
    # THEN the older waiting ones are superseded at once, naming the one that goes ahead
    for version in ("2", "3"):
        described = deployed.wait_for_execution(executions[version])
        assert described["status"] == "FAILED"
        assert described["cause"].startswith("VersionSupersededError: version ")
        assert deployed.repository.get_version("gate-newest", version)["status"] == "superseded"
    # AND `slipway status` says so, and exits non-zero
    point_cli_at(deployed, tmp_path, monkeypatch)
    said = CliRunner().invoke(app, ["status", "gate-newest", "2", "--env", "local", "--json"])
    assert said.exit_code == 1, said.output
    assert json.loads(said.stdout)["version_status"] == "superseded"
    # AND when version 1 is approved, version 4 follows it through the gate to live
    for version, execution in (("1", first), ("4", executions["4"])):
        deployed.wait_for_status("gate-newest", version, "awaiting-approval")
        answer = local_http.post(
            f"{deployed.registry}/v1/models/gate-newest/versions/{version}/approve",
            json={},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert deployed.wait_for_execution(execution)["status"] == "SUCCEEDED"
    assert deployed.repository.get_pointer("gate-newest")["version"] == "4"
    assert deployed.repository.lock_holder("gate-newest") is None


def slow_to_the_lock(version: str):
    """A change of the state machine: the steps before AcquireLock take 25 s longer for
    uploads of ``version`` (a big bundle, a slow Validate, Lambda's retries)."""

    def change(definition: dict) -> None:
        states = definition["States"]
        # the state right before AcquireLock (the NewVersion? choice) goes through the slow
        # branch: a Choice names it as its Default, a task as its Next
        lock = steps.ACQUIRE_LOCK.state
        (before,) = [n for n, s in states.items() if lock in (s.get("Next"), s.get("Default"))]
        states[before]["Next" if states[before].get("Next") == lock else "Default"] = "Slow?"
        states["Slow?"] = {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.key",
                    "StringMatches": f"*/{version}/bundle.tar.gz",
                    "Next": "Slow",
                }
            ],
            "Default": steps.ACQUIRE_LOCK.state,
        }
        states["Slow"] = {"Type": "Wait", "Seconds": 25, "Next": steps.ACQUIRE_LOCK.state}

    return change


def test_an_older_version_reaching_the_lock_after_a_newer_one_went_live_is_superseded(
    deployed, tmp_path
):
    # (finding 6, the slow way: the older version's Validate took longer)
    name = "gate-late"
    with deployed.state_machine(slow_to_the_lock("1")):
        first = push_version(deployed, tmp_path, name, "1")
        deployed.wait_for_status(name, "1", "registered")
        time.sleep(1)
        second = push_version(deployed, tmp_path, name, "2")  # started later: the newest
        assert deployed.wait_for_execution(second, timeout=300)["status"] == "SUCCEEDED"
        described = deployed.wait_for_execution(first, timeout=300)
    assert described["status"] == "FAILED"
    assert described["cause"].startswith("VersionSupersededError: version 2 of gate-late")
    assert deployed.repository.get_pointer(name)["version"] == "2"
    assert deployed.repository.get_version(name, "1")["status"] == "superseded"


def test_a_release_that_fails_after_promote_leaves_the_version_live(deployed, tmp_path):
    deployed.session.cloud.executor.inject_faults(
        "PromotionWorkflowReleaseLock", "Runtime.UnhandledError", count=1
    )
    deployed.wait_for_execution(push_version(deployed, tmp_path, "gate-release", "1"))
    assert deployed.repository.get_pointer("gate-release")["version"] == "1"
    assert deployed.repository.get_version("gate-release", "1")["status"] == "live"
    assert deployed.repository.lock_holder("gate-release") is None


def test_a_stopped_promotion_frees_the_lock_at_once(manual_approval, tmp_path):
    # (finding 1: the lock stayed for the workflow's 8 days)
    deployed = manual_approval
    # GIVEN version 1 waiting for approval, holding the lock, and version 2 in line
    first = start_manual(deployed, tmp_path, "gate-stopped", "1")
    second = push_version(deployed, tmp_path, "gate-stopped", "2", c=0.9)
    deployed.wait_for_audit("gate-stopped", "2", "wait")
    # WHEN an operator stops the holder's execution (RecordFailure never runs)
    sfn = deployed.client("stepfunctions")
    holder = deployed.repository.lock_holder("gate-stopped")
    assert holder["execution"] == first
    sfn.stop_execution(executionArn=holder["execution_arn"])
    # THEN its end releases the lock: version 1 failed, saying why; version 2 goes on
    deployed.wait_for_status("gate-stopped", "1", "failed", timeout=30)
    item = deployed.repository.get_version("gate-stopped", "1")
    assert item["rejection_reason"].startswith("ExecutionEnded: its execution ended ABORTED")
    deployed.wait_for_status("gate-stopped", "2", "awaiting-approval", timeout=60)
    assert deployed.repository.lock_holder("gate-stopped")["execution"] == second
    released = deployed.wait_for_audit("gate-stopped", "1", "unlock")
    assert released["reason"] == "released when its execution ended ABORTED"


def test_a_lock_whose_end_nobody_announced_is_taken_over(manual_approval, tmp_path, monkeypatch):
    deployed = manual_approval
    with deployed.execution_end_events_lost():
        # GIVEN a version waiting for approval whose execution is stopped, unannounced
        first = start_manual(deployed, tmp_path, "gate-unannounced", "1")
        holder = deployed.repository.lock_holder("gate-unannounced")
        assert holder["execution"] == first and holder["execution_arn"].endswith(f":{first}")
        sfn = deployed.client("stepfunctions")
        sfn.stop_execution(executionArn=holder["execution_arn"])
        assert deployed.wait_for_execution(first)["status"] == "ABORTED"
        assert deployed.repository.lock_holder("gate-unannounced")["execution"] == first
        lease_ended(deployed.repository, "gate-unannounced")  # 5 minutes later
        # THEN the next version takes the lock over at once, and says from whom
        start_manual(deployed, tmp_path, "gate-unannounced", "2")
        taken = [
            e
            for e in deployed.repository.audit_history("gate-unannounced", "2")
            if e["outcome"] == "taken-over"
        ]
        assert taken and f"from execution {first}" in taken[0]["reason"]
        # AND the version it took over from says it failed
        assert deployed.repository.get_version("gate-unannounced", "1")["status"] == "failed"
        # AND `slipway unlock` refuses to release the lock of a running holder
        point_cli_at(deployed, tmp_path, monkeypatch)
        refused = CliRunner().invoke(app, ["unlock", "gate-unannounced", "--env", "local"])
        assert refused.exit_code == 1 and "which is running" in " ".join(refused.output.split())
        # ...and releases it, audited, once that holder is stopped too
        second = deployed.repository.lock_holder("gate-unannounced")
        sfn.stop_execution(executionArn=second["execution_arn"])
        released = CliRunner().invoke(
            app, ["unlock", "gate-unannounced", "--env", "local", "--json"]
        )
        assert released.exit_code == 0, released.output
        assert json.loads(released.stdout)["holder_status"] == "ABORTED"
        assert deployed.repository.lock_holder("gate-unannounced") is None
        events = deployed.repository.audit_history("gate-unannounced", "2")
        assert [(e["step"], e["outcome"]) for e in events if "lock" in e["step"]] == [
            ("lock", "taken-over"),
            ("unlock", "released"),
        ]


def test_manual_approval_then_reject(manual_approval, tmp_path):
    deployed = manual_approval
    execution = start_manual(deployed, tmp_path, "gate-reject", "1")
    answer = local_http.post(
        f"{deployed.registry}/v1/models/gate-reject/versions/1/reject",
        json={"reason": "drift in the training window"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    described = deployed.wait_for_execution(execution)
    assert described["status"] == "FAILED"
    assert described["cause"] == (
        "ApprovalRejected: rejected by local: drift in the training window"
    )
    assert deployed.repository.get_pointer("gate-reject") is None
    assert deployed.repository.get_version("gate-reject", "1")["status"] == "rejected"
    assert rejection_reason(deployed, "gate-reject", "1") == described["cause"]


def test_approval_timeout_rejects(manual_approval, tmp_path):
    deployed = manual_approval

    def time_out_soon(definition: dict) -> None:
        definition["States"][steps.WAIT_FOR_APPROVAL.state]["TimeoutSeconds"] = 2

    with deployed.state_machine(time_out_soon):
        execution = start_manual(deployed, tmp_path, "gate-timeout", "1")
        described = deployed.wait_for_execution(execution)
    assert described["status"] == "FAILED"
    assert described["cause"].startswith("ApprovalTimedOut: no one approved or rejected")
    assert deployed.repository.get_pointer("gate-timeout") is None
    assert deployed.repository.get_version("gate-timeout", "1")["status"] == "rejected"


def test_manual_rollback_through_the_registry_api(deployed, tmp_path):
    assert promote(deployed, tmp_path, "gate-rollback", "1")["status"] == "SUCCEEDED"
    assert promote(deployed, tmp_path, "gate-rollback", "2", c=0.9)["status"] == "SUCCEEDED"
    answer = local_http.post(
        f"{deployed.registry}/v1/models/gate-rollback/rollback",
        json={"reason": "complaints from the fraud team"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert deployed.repository.get_pointer("gate-rollback")["version"] == "1"
    rolled = deployed.repository.get_version("gate-rollback", "2")
    assert rolled["status"] == "rolled-back"
    assert rolled["rollback_reason"] == "complaints from the fraud team"
    assert deployed.repository.get_version("gate-rollback", "1")["status"] == "live"
    history = deployed.repository.audit_history("gate-rollback", "2")
    assert history[-1]["outcome"] == "rolled-back"


def test_two_versions_uploaded_together_are_decided_one_at_a_time(deployed, tmp_path):
    # with the policy `queue` both go through the gate, in turn (latest-wins: see above)
    with deployed.gate_policy(lock_policy="queue"):
        one_at_a_time(deployed, tmp_path)


def one_at_a_time(deployed, tmp_path) -> None:
    bundles = {}
    for version, c in (("1", 1.0), ("2", 0.8)):
        bundles[version] = tmp_path / f"together-{version}.tar.gz"
        train_and_package(bundles[version], name="gate-together", version=version, c=c)
    executions: dict[str, str] = {}

    def push(version: str) -> None:
        executions[version] = deployed.push(bundles[version], "gate-together", version)

    threads = [threading.Thread(target=push, args=(v,)) for v in bundles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = {v: deployed.wait_for_execution(e, timeout=180) for v, e in executions.items()}
    assert {o["status"] for o in outcomes.values()} == {"SUCCEEDED"}
    # the promotions never interleaved: one finished (released the lock) before the other staged
    spans = []
    for version in bundles:
        history = deployed.repository.audit_history("gate-together", version)
        times = {e["step"]: e["at"] for e in history}
        spans.append((times["stage"], times["promote"], version))
    first, second = sorted(spans)
    assert first[1] < second[0]
    assert deployed.repository.get_pointer("gate-together")["version"] == second[2]
    assert deployed.repository.get_pointer("gate-together")["previous_version"] == first[2]


def test_a_fault_that_outlasts_the_retries_fails_the_version_not_rejects_it(
    deployed, tmp_path, monkeypatch
):
    # GIVEN Evaluate's function faulting more often than the workflow retries it
    deployed.session.cloud.executor.inject_faults(
        "PromotionWorkflowEvaluate", "Lambda.ServiceException", count=4
    )
    described = promote(deployed, tmp_path, "gate-faulty", "1")
    # THEN the version is failed (an infrastructure error), not rejected (a verdict)
    assert described["status"] == "FAILED"
    item = deployed.repository.get_version("gate-faulty", "1")
    assert item["status"] == "failed" and item["rejection_reason"].startswith("Lambda.")
    point_cli_at(deployed, tmp_path, monkeypatch)
    status = CliRunner().invoke(app, ["status", "gate-faulty", "1"])
    assert status.exit_code == 1 and "gate-faulty 1: failed" in status.output
    assert "not a verdict" in " ".join(status.output.split())
    # AND once the fault is over, the same bytes go through the gate again: it goes live
    retried = CliRunner().invoke(
        app, ["retry", "gate-faulty", "1", "--reason", "the throttle is over", "--json"]
    )
    assert retried.exit_code == 0, retried.output
    again = deployed.wait_for_execution(json.loads(retried.stdout)["execution"])
    assert again["status"] == "SUCCEEDED", again.get("cause")
    assert deployed.repository.get_pointer("gate-faulty")["version"] == "1"
    assert CliRunner().invoke(app, ["status", "gate-faulty", "1"]).exit_code == 0


def test_a_transient_lambda_error_is_retried(deployed, tmp_path):
    deployed.session.cloud.executor.inject_faults(
        "PromotionWorkflowRegister", "Lambda.ServiceException", count=1
    )
    described = promote(deployed, tmp_path, "gate-transient", "1")
    assert described["status"] == "SUCCEEDED"
    history = deployed.client("stepfunctions").get_execution_history(
        executionArn=described["executionArn"], maxResults=1000
    )["events"]
    failures = [e for e in history if e["type"] == "LambdaFunctionFailed"]
    assert len(failures) == 1
    assert failures[0]["lambdaFunctionFailedEventDetails"]["error"] == "Lambda.ServiceException"
    assert deployed.repository.get_pointer("gate-transient")["version"] == "1"


def test_registry_api_reads(deployed, tmp_path, iris_bundle):
    assert promote(deployed, tmp_path, "gate-reads", "1")["status"] == "SUCCEEDED"
    registry = deployed.registry
    models = local_http.get(f"{registry}/v1/models", params={"limit": 1}, timeout=60).json()
    assert len(models["models"]) == 1 and models["next_token"]
    names, token = [], None
    while True:
        page = local_http.get(
            f"{registry}/v1/models",
            params={"limit": 2, "next_token": token} if token else {"limit": 2},
            timeout=60,
        ).json()
        names += [m["name"] for m in page["models"]]
        token = page["next_token"]
        if not token:
            break
    assert "gate-reads" in names and names == sorted(names)
    version = local_http.get(f"{registry}/v1/models/gate-reads/versions/1", timeout=60).json()
    assert version["status"] == "live"
    assert [e["outcome"] for e in version["audit"]] == [
        "skipped",  # VerifyProvenance: local takes direct uploads
        "registered",
        "staged",
        "approved",
        "live",
    ]
    # what the environment signed about it, each envelope readable
    assert [a["occasion"] for a in version["attestations"]] == ["approved", "live"]
    assert version["attestations"][-1]["envelope"]["statement"]["status"] == "live"
    assert "approval_token" not in version
    live = local_http.get(
        f"{registry}/v1/models/gate-reads/versions", params={"status": "live"}, timeout=60
    ).json()
    assert [v["version"] for v in live["versions"]] == ["1"]
    train_sha = version["lineage"]["datasets"][0]["sha256"]
    users = local_http.get(f"{registry}/v1/datasets/{train_sha}/models", timeout=60).json()
    assert {"model": "gate-reads", "version": "1", "role": "train", "live": True}.items() <= next(
        u for u in users["versions"] if u["model"] == "gate-reads"
    ).items()
    events = local_http.get(
        f"{registry}/v1/models/gate-reads/versions/1/openlineage", timeout=60
    ).json()
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert (
        events[1]["outputs"][0]["facets"]["version"]["datasetVersion"]
        == version["bundle"]["digest"]
    )
    assert {i["facets"]["version"]["datasetVersion"] for i in events[0]["inputs"]} == {
        d["sha256"] for d in version["lineage"]["datasets"]
    }
    missing = local_http.get(f"{registry}/v1/models/nope/versions/1", timeout=60)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    bad_token = local_http.get(
        f"{registry}/v1/models", params={"next_token": "garbage"}, timeout=60
    )
    assert bad_token.status_code == 400


def test_a_canary_that_rejects_live_traffic_is_rolled_back(deployed, tmp_path):
    # GIVEN iris-like v1 live, and v2 whose features were renamed (a schema change)
    assert promote(deployed, tmp_path, "gate-canary", "1")["status"] == "SUCCEEDED"
    renamed, data = renamed_iris_data(tmp_path, "x_")
    bundle = tmp_path / "canary-2.tar.gz"
    train_and_package(bundle, name="gate-canary", version="2", feature_names=renamed, **data)
    with deployed.gate_policy(canary={"share": 1.0, "bake_seconds": 12}):
        execution = deployed.push(bundle, "gate-canary", "2")
        # WHEN v2 takes the live traffic during its canary, and clients send v1's records
        wait_for_canary(deployed, "gate-canary", "2")
        record = dict(
            zip(
                ["sepal_length", "sepal_width", "petal_length", "petal_width"],
                [5.1, 3.5, 1.4, 0.2],
                strict=True,
            )
        )
        served_by_candidate = 0
        while (
            deployed.client("stepfunctions").describe_execution(
                executionArn=execution_arn(deployed.outputs["StateMachineArn"], execution)
            )["status"]
            == "RUNNING"
        ):
            answer = local_http.post(
                f"{deployed.endpoint}/v1/models/gate-canary/predict",
                json={"inputs": [record]},
                timeout=60,
            )
            if answer.headers.get("x-model-version") == "2":
                assert answer.status_code == 422
                served_by_candidate += 1
            time.sleep(0.2)
        described = deployed.wait_for_execution(execution)
    # THEN the canary fails on its schema-rejection rate and live traffic returns to v1
    assert served_by_candidate > 0
    history = deployed.repository.audit_history("gate-canary", "2")
    assert described["status"] == "FAILED", [(e["step"], e["reason"]) for e in history]
    assert described["cause"].startswith("CanaryFailedError: canary of 2 failed")
    rate = re.search(r"schema-rejection rate ([\d.]+)%", described["cause"])
    assert rate and float(rate.group(1)) > 90, described["cause"]
    pointer = deployed.repository.get_pointer("gate-canary")
    assert pointer["version"] == "1" and "canary_version" not in pointer
    assert deployed.repository.get_version("gate-canary", "2")["status"] == "rejected"
    assert deployed.repository.get_version("gate-canary", "1")["status"] == "live"


def test_a_healthy_canary_is_promoted_once_clients_used_it(deployed, tmp_path):
    assert promote(deployed, tmp_path, "gate-canary-ok", "1")["status"] == "SUCCEEDED"
    bundle = tmp_path / "canary-ok-2.tar.gz"
    train_and_package(bundle, name="gate-canary-ok", version="2", c=0.9)
    policy = {"share": 1.0, "bake_seconds": 2, "min_requests": 5, "max_bake_seconds": 60}
    with deployed.gate_policy(canary=policy):
        execution = deployed.push(bundle, "gate-canary-ok", "2")
        wait_for_canary(deployed, "gate-canary-ok", "2")
        url = f"{deployed.endpoint}/v1/models/gate-canary-ok/predict"
        for _ in range(8):  # clients, all served by the candidate (share 1.0)
            assert local_http.post(url, json={"inputs": [[5.1, 3.5, 1.4, 0.2]]}).status_code == 200
        described = deployed.wait_for_execution(execution)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    pointer = deployed.repository.get_pointer("gate-canary-ok")
    assert pointer["version"] == "2" and "canary_version" not in pointer
    events = deployed.repository.audit_history("gate-canary-ok", "2")
    (passed,) = [e["reason"] for e in events if e["step"] == "canary-check"]
    assert passed.startswith("canary passed: 8 requests")


def test_a_canary_nobody_calls_is_not_promoted(deployed, tmp_path):
    # GIVEN a canary that needs 3 client requests, and waits at most 6 s for them
    assert promote(deployed, tmp_path, "gate-canary-idle", "1")["status"] == "SUCCEEDED"
    policy = {"share": 0.5, "bake_seconds": 1, "min_requests": 3, "max_bake_seconds": 6}
    with deployed.gate_policy(canary=policy):
        described = promote(deployed, tmp_path, "gate-canary-idle", "2", c=0.9)
    # THEN with no client at all it fails, saying why (it once passed on the smoke test)
    assert described["status"] == "FAILED"
    assert "it needs 3 to be judged" in described["cause"]
    assert deployed.repository.get_pointer("gate-canary-idle")["version"] == "1"


def test_a_wrong_answer_from_the_endpoint_fails_the_smoke_test(deployed, tmp_path):
    assert promote(deployed, tmp_path, "gate-smoke", "1")["status"] == "SUCCEEDED"
    bundle = tmp_path / "smoke-2.tar.gz"
    manifest = train_and_package(bundle, name="gate-smoke", version="2", c=0.9)
    wrong = [(label + 1) % 3 for label in manifest.input_example.expected_output]
    # the endpoint answers the staging call like a runtime that disagrees with Validate's
    deployed.session.cloud.executor.inject_answers(
        "CandidateEndpointServing",  # the default endpoint's candidate function
        {
            "statusCode": 200,
            "headers": {
                "content-type": "application/json",
                "x-model-version": "2",
                "x-model-load-ms": "3.0",
                "x-cold-start": "false",
            },
            "body": json.dumps({"model": "gate-smoke", "version": "2", "outputs": wrong}),
            "isBase64Encoded": False,
        },
    )
    described = deployed.wait_for_execution(deployed.push(bundle, "gate-smoke", "2"))
    assert described["status"] == "FAILED"
    assert described["cause"] == (
        f"SmokeTestFailedError: endpoint answered {wrong} for the input example, expected "
        f"{manifest.input_example.expected_output}"
    )
    assert deployed.repository.get_pointer("gate-smoke")["version"] == "1"
    assert deployed.repository.get_version("gate-smoke", "2")["status"] == "rejected"


HOSTILE = """
import os

# In any serving function, make every model of the process answer -1.
if "Serving" in os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""):
    from model_runtime.model import LoadedModel

    LoadedModel.predict = lambda self, inputs: [-1] * len(inputs)
"""


def test_a_candidates_code_never_runs_next_to_live_models(deployed, tmp_path):
    # GIVEN a live model that answers as it should
    assert promote(deployed, tmp_path, "victim", "1")["status"] == "SUCCEEDED"
    row = {"inputs": [[5.1, 3.5, 1.4, 0.2]]}
    url = f"{deployed.endpoint}/v1/models/victim/predict"
    before = local_http.post(url, json=row, timeout=60).json()["outputs"]
    # WHEN a python-flavor candidate whose code takes over any serving process it runs in
    # goes through the gate (it passes Validate and Evaluate, which serve nothing)
    bundle = python_bundle_with(tmp_path, "takeover", "1", HOSTILE)
    described = deployed.wait_for_execution(deployed.push(bundle, "takeover", "1"))
    # THEN its smoke test ran in the candidate function, where it only broke itself
    assert described["status"] == "FAILED" and "SmokeTestFailedError" in described["cause"]
    # AND not the candidates after it: the environments it ran in serve nobody else
    assert promote(deployed, tmp_path, "victim", "2")["status"] == "SUCCEEDED"
    # AND the live model still answers as before: the candidate never shared its process
    assert local_http.post(url, json=row, timeout=60).json()["outputs"] == before != [-1]
    # AND the rejected candidate is not served by exact version either
    pinned = local_http.post(f"{deployed.endpoint}/v1/models/takeover/versions/1/predict", json=row)
    assert pinned.status_code == 404 and "has not been live" in pinned.json()["detail"]


WRITES_TO_THE_REGISTRY = """
import os

# Wherever this runs with a table and credentials, write to the registry and say where.
if os.environ.get("SLIPWAY_TABLE_NAME") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
    import boto3

    boto3.resource("dynamodb").Table(os.environ["SLIPWAY_TABLE_NAME"]).put_item(
        Item={"pk": "MODEL#written-by-a-bundle", "sk": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}
    )
"""


def test_a_python_candidate_is_judged_without_the_judges_rights(deployed, tmp_path):
    # GIVEN a python-flavor bundle whose code writes to the registry wherever it can
    bundle = python_bundle_with(tmp_path, "sandboxed", "1", WRITES_TO_THE_REGISTRY)
    # WHEN it goes through the gate of the embedded cloud
    described = deployed.wait_for_execution(deployed.push(bundle, "sandboxed", "1"))
    # THEN Validate and Evaluate judged it on its answers (it passed them)...
    history = deployed.client("stepfunctions").get_execution_history(
        executionArn=described["executionArn"], maxResults=1000
    )["events"]
    entered = {
        e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")
    }
    assert {"Validate", "Evaluate", "Stage"} <= entered
    # AND its code never ran where the judges' credentials and table were: it wrote nothing
    # from Validate or Evaluate (the candidate endpoint's smoke test is another matter)
    written = deployed.repository._table.query(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": "MODEL#written-by-a-bundle"},
    )["Items"]
    assert not [item for item in written if "Validate" in item["sk"] or "Evaluate" in item["sk"]]


def test_a_rollback_during_a_canary_cancels_the_promotion_for_good(deployed, tmp_path, monkeypatch):
    # GIVEN v1 then v2 live, and v3 in its canary bake
    for version, c in (("1", 1.0), ("2", 0.9)):
        assert promote(deployed, tmp_path, "gate-cancel", version, c=c)["status"] == "SUCCEEDED"
    bundle = tmp_path / "cancel-3.tar.gz"
    train_and_package(bundle, name="gate-cancel", version="3", c=0.9)
    with deployed.gate_policy(canary={"share": 1.0, "bake_seconds": 15}):
        execution = deployed.push(bundle, "gate-cancel", "3")
        wait_for_canary(deployed, "gate-cancel", "3")
        # WHEN someone rolls the model back during the bake
        point_cli_at(deployed, tmp_path, monkeypatch)
        rolled = CliRunner().invoke(
            app, ["rollback", "gate-cancel", "--reason", "v2 misbehaves", "--json"]
        )
        # THEN live goes back to v1 and v3's promotion is cancelled: stopped, recorded
        assert rolled.exit_code == 0, rolled.output
        answer = json.loads(rolled.stdout)
        assert (answer["live_version"], answer["cancelled"]) == ("1", "3")
        described = deployed.wait_for_execution(execution)
    assert described["status"] == "ABORTED"
    # AND once its bake would have ended, v3 has not gone live (it once did, 50 s later)
    time.sleep(16)
    pointer = deployed.repository.get_pointer("gate-cancel")
    assert pointer["version"] == "1" and not pointer.get("canary_version")
    assert deployed.repository.get_version("gate-cancel", "3")["status"] == "cancelled"
    assert deployed.repository.get_version("gate-cancel", "2")["status"] == "rolled-back"
    assert deployed.repository.lock_holder("gate-cancel") is None
    status = CliRunner().invoke(app, ["status", "gate-cancel", "3"])
    assert status.exit_code == 1 and "gate-cancel 3: cancelled" in status.output
    assert "v2 misbehaves" in " ".join(status.output.split())
