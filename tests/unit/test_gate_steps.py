"""Every step of the promotion gate, through its declared handler, with real state documents
against moto in this process: the gate's decisions in seconds, without the embedded cloud."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from examples.iris.train import train_and_package
from functions.approval.handler import request_approval
from functions.canary.handler import check_canary
from functions.exceptions import BundleDeletedError, CanaryFailedError
from functions.record_failure.handler import UNRECOGNISED_UPLOADS
from model_runtime.exceptions import (
    ArchiveLimitExceededError,
    EvaluationFailedError,
    InvalidManifestError,
    PythonFlavorNotAllowedError,
    SmokeTestFailedError,
    SmokeTestTooSlowError,
    UploadKeyError,
)
from model_runtime.extraction import sha256_file
from model_runtime.jobs.smoke_test import WARM_CALLS, smoke_test_candidate
from model_runtime.lambda_environments import GENERATION
from model_runtime.serving.settings import StorageSettings
from registry import workflow as steps
from registry.audit import AuditStep
from registry.exceptions import (
    CanaryStillBakingError,
    InvalidStateError,
    UploadNotDeclaredError,
    VersionConflictError,
)
from registry.metrics import NAMESPACE, Metric
from registry.statuses import RegisterOutcome, Stage, VersionStatus
from registry.workflow_state import (
    REASON_LIMIT,
    ApprovalRequest,
    GatePolicy,
    PromotionState,
    SmokeTestOutcome,
    StepError,
)
from slipway.local.moto_patches import abort_stopped_executions
from tests.conftest import LambdaContext, load_event, python_bundle_with
from tests.unit.gate import (
    BUCKET,
    CANDIDATES,
    ENVIRONMENT,
    Gate,
    StillWaiting,
    answer,
    approved,
    failed,
    lease_ended,
    live,
    outcomes,
    registered,
    run,
    running_execution,
    smoke_test_with,
    smoke_tested,
    staged,
    uploaded,
)

# -- Validate ------------------------------------------------------------------------------


def test_validate_judges_the_exact_object_version_uploaded(gate, bundles):
    # GIVEN a bundle uploaded, then other bytes uploaded over the same key
    first = uploaded(gate, bundles["good"], "good")
    uploaded(gate, bundles["better"], "good")
    # WHEN the first upload's execution validates
    state = run(steps.VALIDATE, first)
    # THEN it judged the first bytes, by their S3 version id
    assert state.validated.digest == _sha256(bundles["good"])
    assert state.validated.name == "iris" and state.validated.version == "good"
    manifest = gate.repository.validated_manifest("iris", "good", state.validated.digest)
    assert manifest["flavor"] == "sklearn"


def test_a_python_bundle_for_an_endpoint_that_runs_no_bundle_code_is_refused_unrun(gate, tmp_path):
    # GIVEN a python-flavor bundle whose code leaves a mark when it runs
    marker = tmp_path / "ran"
    hostile = python_bundle_with(tmp_path, "iris", "py", f"Path({str(marker)!r}).touch()")
    marker.unlink()  # packaging ran it once, to compute the expected output
    # WHEN the environment's default endpoint does not run bundles' code
    state = uploaded(gate, hostile, "py", default_endpoint={"allow_python": False})
    # THEN Validate refuses it before loading it, naming the setting: its code never ran
    with pytest.raises(PythonFlavorNotAllowedError, match=r"allow_python in cdk\.json"):
        run(steps.VALIDATE, state)
    assert not marker.exists()
    # AND where the model's endpoint allows it, the same bundle passes
    allowed = uploaded(
        gate,
        hostile,
        "py",
        default_endpoint={"allow_python": False},
        dedicated_endpoints={"iris": {"allow_python": True, "ephemeral_storage_mb": 512}},
    )
    assert run(steps.VALIDATE, allowed).validated.version == "py"


def test_a_bundle_larger_than_its_endpoint_holds_is_refused_before_it_is_downloaded(gate, tmp_path):
    # GIVEN an upload just over what a 512 MB /tmp endpoint takes (not even an archive: any
    # download or extraction would fail differently)
    limit = StorageSettings(ephemeral_storage_mb=512).max_bundle_bytes
    upload = tmp_path / "big.tar.gz"
    with upload.open("wb") as out:
        out.truncate(limit + 1)
    # (botocore's default CRC32 chunked upload makes moto take ~40 s over 225 MB)
    fast = boto3.client("s3", config=Config(request_checksum_calculation="when_required"))
    big = dataclasses.replace(gate, s3=fast)
    state = uploaded(big, upload, "big", default_endpoint={"ephemeral_storage_mb": 512})
    # THEN Validate refuses it by its size, naming the setting that would make room
    with pytest.raises(
        ArchiveLimitExceededError, match=rf"exceeds the {limit} bytes.*ephemeral_storage_mb"
    ):
        run(steps.VALIDATE, state)


ALICE = "arn:aws:sts::123456789012:assumed-role/ml-engineer/alice"
SEPARATED = {"approval": "manual", "separation_of_duties": True}


def test_a_declared_upload_is_attributed_to_its_declarer_through_register(gate, bundles):
    # GIVEN alice declared the bytes of iris good before uploading them
    gate.repository.declare_upload("iris", "good", sha256_file(bundles["good"]), ALICE)
    # WHEN the gate validates and registers them THEN the version names her as its uploader
    state = run(steps.VALIDATE, uploaded(gate, bundles["good"], "good", **SEPARATED))
    assert state.validated.uploaded_by == ALICE
    run(steps.REGISTER, state)
    assert gate.repository.get_version("iris", "good")["uploaded_by"] == ALICE


def test_bytes_other_than_the_declared_ones_are_refused_naming_the_declaration(gate, bundles):
    # GIVEN alice declared iris good; someone uploads other bytes under it first
    gate.repository.declare_upload("iris", "good", "0" * 64, ALICE)
    # THEN they are refused whatever the environment requires, naming the declared digest
    for policy in ({}, SEPARATED):
        with pytest.raises(UploadNotDeclaredError, match=f"declared by {ALICE} with sha256 0000"):
            run(steps.VALIDATE, uploaded(gate, bundles["good"], "good", **policy))


def test_an_undeclared_upload_is_refused_only_where_duties_are_separated(gate, bundles):
    with pytest.raises(UploadNotDeclaredError, match="slipway push"):
        run(steps.VALIDATE, uploaded(gate, bundles["good"], "good", **SEPARATED))
    # elsewhere it goes on, its uploader unknown
    assert (
        run(steps.VALIDATE, uploaded(gate, bundles["good"], "good")).validated.uploaded_by is None
    )


def test_validate_refuses_a_key_that_disagrees_with_the_manifest(gate, bundles):
    state = gate.upload(bundles["good"], "iris", "7")  # the manifest says version "good"
    with pytest.raises(UploadKeyError, match=r"manifest\.json says iris/good"):
        run(steps.VALIDATE, state)


# -- Register ------------------------------------------------------------------------------


def test_register_records_the_version_and_recognises_the_same_bytes_again(gate, bundles):
    # GIVEN a version registered by its upload's execution
    state = registered(gate, bundles["good"], "good")
    assert state.registered.outcome == RegisterOutcome.REGISTERED
    assert gate.repository.get_version("iris", "good")["status"] == VersionStatus.REGISTERED
    # WHEN the step is retried, and when the same bytes are uploaded again
    assert run(steps.REGISTER, state).registered.outcome == RegisterOutcome.REGISTERED
    again = registered(gate, bundles["good"], "good")
    # THEN the retry is the same registration and the re-upload a duplicate, each audited
    assert again.registered.outcome == RegisterOutcome.DUPLICATE
    assert outcomes(gate.repository, "iris", "good") == [
        ("register", "registered"),
        ("register", "duplicate"),
    ]


def test_register_refuses_other_bytes_under_a_registered_version(gate, bundles, tmp_path):
    # GIVEN iris good registered
    registered(gate, bundles["good"], "good")
    # WHEN another model is uploaded and validated under the same name and version
    retrained = tmp_path / "retrained.tar.gz"
    train_and_package(retrained, name="iris", version="good", c=0.5)
    other = run(steps.VALIDATE, uploaded(gate, retrained, "good"))
    # THEN Register refuses it: versions are immutable
    with pytest.raises(VersionConflictError, match="immutable"):
        run(steps.REGISTER, other)


# -- the lock ------------------------------------------------------------------------------


def test_the_promotion_lock_is_reentrant_for_its_holder_and_refuses_others(gate, bundles):
    first = registered(gate, bundles["good"], "good")
    second = registered(gate, bundles["better"], "better")
    assert run(steps.ACQUIRE_LOCK, first).lock.held
    assert run(steps.ACQUIRE_LOCK, first).lock.held  # a retry of the holder
    with pytest.raises(StillWaiting):  # it waits in line until the holder's turn ends
        run(steps.ACQUIRE_LOCK, second)
    assert run(steps.RELEASE_LOCK, first).unlock.released
    assert not run(steps.RELEASE_LOCK, first).unlock.released  # released once
    assert run(steps.ACQUIRE_LOCK, second).lock.held


def test_a_lock_whose_holder_ended_is_taken_over_and_audited(gate, bundles):
    # GIVEN iris good holds the lock, and its execution is stopped before it releases it
    first = registered(gate, bundles["good"], "good")
    second = registered(gate, bundles["better"], "better")
    run(steps.ACQUIRE_LOCK, first)
    holder = gate.repository.lock_holder("iris")
    assert holder["execution_arn"] == running_execution(first.execution_name)
    with pytest.raises(StillWaiting):  # while it runs, the lock is its own
        run(steps.ACQUIRE_LOCK, second)
    abort_stopped_executions()  # as the embedded cloud has it: AWS reports ABORTED at once
    boto3.client("stepfunctions").stop_execution(executionArn=holder["execution_arn"])
    lease_ended(gate.repository, "iris")
    # WHEN the next version asks for the lock THEN it gets it, saying from whom and why
    assert run(steps.ACQUIRE_LOCK, second).lock.held
    assert gate.repository.lock_holder("iris")["execution"] == second.execution_name
    (event,) = [e for e in gate.repository.audit_history("iris", "better") if e["step"] == "lock"]
    assert event["outcome"] == "taken-over"
    assert f"from execution {first.execution_name}" in event["reason"]
    assert "ended ABORTED" in event["reason"]
    # AND the stopped holder can no longer release what it lost
    assert not run(steps.RELEASE_LOCK, first).unlock.released


# -- Evaluate ------------------------------------------------------------------------------


def test_evaluate_passes_a_candidate_over_its_threshold_with_nothing_live(gate, bundles):
    state = run(steps.EVALUATE, registered(gate, bundles["good"], "good"))
    assert state.evaluation.metric == "accuracy"
    assert state.evaluation.meets_threshold and state.evaluation.beats_live
    assert state.evaluation.live_version is None


def test_evaluate_rejects_a_candidate_below_its_threshold(gate, bundles):
    state = registered(gate, bundles["unreachable"], "unreachable")
    with pytest.raises(EvaluationFailedError, match=r"misses the threshold \(>= 1.01\)"):
        run(steps.EVALUATE, state)


def test_evaluate_rejects_a_candidate_worse_than_live(gate, bundles):
    live(gate, bundles["good"], "good")
    state = registered(gate, bundles["weak"], "weak")
    with pytest.raises(EvaluationFailedError, match="does not beat live version good"):
        run(steps.EVALUATE, state)


def test_evaluate_takes_the_margin_from_the_gate_policy(gate, bundles):
    live(gate, bundles["good"], "good")
    state = registered(gate, bundles["better"], "better", champion_margin=0.5)
    with pytest.raises(EvaluationFailedError, match=r"by the required margin 0\.5"):
        run(steps.EVALUATE, state)


def exam(**parts: object) -> dict[str, object]:
    return {"metric": None, "threshold": None, "champion_margin": None, **parts}


def test_the_environments_bar_holds_whatever_the_manifest_declares(gate, bundles):
    # GIVEN an environment whose bar is 0.99 accuracy, and a candidate declaring 0.0
    state = registered(gate, bundles["weak"], "weak", exam=exam(threshold=0.99))
    # THEN the environment's bar is the one it must meet
    with pytest.raises(EvaluationFailedError, match=r"misses the threshold \(>= 0.99\)"):
        run(steps.EVALUATE, state)


def test_a_manifest_may_ask_for_a_stricter_bar_than_the_environment(gate, bundles):
    state = registered(gate, bundles["unreachable"], "unreachable", exam=exam(threshold=0.5))
    with pytest.raises(EvaluationFailedError, match=r"misses the threshold \(>= 1.01\)"):
        run(steps.EVALUATE, state)


def test_a_model_judged_by_another_metric_here_is_refused(gate, bundles):
    # GIVEN an environment that judges iris by f1_macro WHEN a candidate declares accuracy
    policy = {"model_exams": {"iris": exam(metric="f1_macro")}}
    state = registered(gate, bundles["good"], "good", **policy)
    # THEN it is refused, and told which metric to package with
    with pytest.raises(EvaluationFailedError, match=r"judges iris by f1_macro.*metric='f1_macro'"):
        run(steps.EVALUATE, state)


def test_a_models_own_margin_comes_before_the_environments(gate, bundles):
    live(gate, bundles["good"], "good")
    policy = {"champion_margin": 0.0, "model_exams": {"iris": exam(champion_margin=0.5)}}
    state = registered(gate, bundles["better"], "better", **policy)
    with pytest.raises(EvaluationFailedError, match=r"by the required margin 0\.5"):
        run(steps.EVALUATE, state)


def test_a_manifest_cannot_turn_a_score_into_an_error(gate, bundles, tmp_path):
    # GIVEN a model that declares accuracy with direction 'minimize' (so 0 would beat 1)
    def minimize(manifest: dict) -> None:
        manifest["evaluation"]["direction"] = "minimize"

    hostile = with_manifest(bundles["weak"], tmp_path, minimize)
    # WHEN it is validated THEN it is refused: the direction is the metric's
    with pytest.raises(InvalidManifestError, match="accuracy is maximized: direction must be"):
        run(steps.VALIDATE, uploaded(gate, hostile, "weak"))


def test_evaluate_refuses_a_candidate_live_cannot_be_compared_with_when_told_to(gate, bundles):
    live(gate, bundles["good"], "good")
    state = registered(gate, bundles["renamed"], "renamed", champion_not_comparable="refuse")
    with pytest.raises(
        EvaluationFailedError,
        match=r"live version good needs columns \['sepal_length', .*refuses such a candidate",
    ):
        run(steps.EVALUATE, state)


def test_a_candidate_live_cannot_be_compared_with_may_be_judged_on_its_threshold(gate, bundles):
    # GIVEN an environment whose policy is threshold_only
    live(gate, bundles["good"], "good")
    policy = {"champion_not_comparable": "threshold_only"}
    state = run(steps.EVALUATE, registered(gate, bundles["renamed"], "renamed", **policy))
    # THEN the candidate passes on its threshold, and the audit says it was not compared
    assert not state.evaluation.comparable and state.evaluation.live_value is None
    run(steps.STAGE, state)
    (staged,) = [
        e for e in gate.repository.audit_history("iris", "renamed") if e["step"] == "stage"
    ]
    assert "not compared with live: live version good needs columns" in staged["reason"]
    assert "(champion_not_comparable: threshold_only)" in staged["reason"]


# -- Stage and SmokeTest -------------------------------------------------------------------


def test_stage_points_staging_at_the_candidate_with_its_evaluation(gate, bundles):
    state = run(steps.EVALUATE, registered(gate, bundles["good"], "good"))
    state = run(steps.STAGE, state)
    assert state.staged.previous_version is None
    assert gate.repository.get_pointer("iris", Stage.STAGING)["version"] == "good"
    item = gate.repository.get_version("iris", "good")
    assert item["status"] == VersionStatus.STAGED
    assert item["evaluation_result"] == state.evaluation.dump()
    assert ("stage", "staged") in outcomes(gate.repository, "iris", "good")
    assert gate.repository.get_pointer("iris") is None  # staging is not live


def test_smoke_test_calls_the_staging_route_of_the_real_endpoint(gate, bundles):
    state = staged(gate, bundles["good"], "good")
    endpoint = gate.endpoint()
    outcome = smoke_test_candidate(endpoint, gate.repository, CANDIDATES, state)
    assert outcome.version == "good"
    assert (outcome.cold_budget_ms, outcome.warm_budget_ms) == (10000, 1000)
    # the first call, then the warm ones, each the same request
    assert len(endpoint.calls) == 1 + WARM_CALLS == 1 + outcome.warm_calls
    example = gate.repository.get_version("iris", "good")["input_example"]
    for call in endpoint.calls:
        assert call["rawPath"] == "/v1/models/iris/predict"
        assert call["rawQueryString"] == "stage=staging"
        assert json.loads(call["body"])["inputs"] == example["inputs"]
    assert answer(steps.SMOKE_TEST, state, outcome.dump()).smoke_test == outcome


@dataclasses.dataclass
class CandidateFunctions:
    """Lambda Invoke of several functions by name, each the real serving app in process."""

    functions: dict[str, Any]
    invoked: list[str] = dataclasses.field(default_factory=list)

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        self.invoked.append(FunctionName)
        return self.functions[FunctionName].invoke(FunctionName=FunctionName, Payload=Payload)

    def get_function_configuration(self, FunctionName: str) -> dict[str, Any]:
        return self.functions[FunctionName].get_function_configuration(FunctionName)

    def update_function_configuration(self, FunctionName: str, **changes: Any) -> dict[str, Any]:
        self.invoked.append(FunctionName)
        return self.functions[FunctionName].update_function_configuration(FunctionName, **changes)


def test_a_model_of_a_dedicated_endpoint_is_smoke_tested_on_that_endpoints_candidate(gate, bundles):
    # GIVEN an environment whose 'fraud' endpoint serves iris, and a candidate function for
    # each endpoint
    fraud = {"name": "fraud", "allow_python": False, "ephemeral_storage_mb": 2048}
    candidates = {"default": "candidate-default", "fraud": "candidate-fraud"}
    functions = CandidateFunctions({f: gate.endpoint() for f in candidates.values()})
    state = staged(gate, bundles["good"], "good", dedicated_endpoints={"iris": fraud})
    # WHEN SmokeTest runs through its declared handler
    state = smoke_test_with(functions, state, candidates)
    # THEN every call went to the fraud endpoint's candidate, and the outcome says so
    assert set(functions.invoked) == {"candidate-fraud"}
    assert len(functions.invoked) == 1 + WARM_CALLS
    assert state.smoke_test.endpoint == "fraud"
    run(steps.RELEASE_LOCK, state)
    # AND a model the default endpoint serves is smoke-tested on the default's candidate
    functions.invoked.clear()
    other = staged(gate, bundles["better"], "better")
    assert smoke_test_with(functions, other, candidates).smoke_test.endpoint == "default"
    assert set(functions.invoked) == {"candidate-default"}


def test_a_policy_from_before_per_endpoint_candidates_never_tests_in_a_foreign_function(
    gate, bundles
):
    # GIVEN an execution started before each endpoint had a candidate: its policy names no
    # endpoint, and iris is a dedicated endpoint's model
    unnamed = {"allow_python": False, "ephemeral_storage_mb": 2048}
    legacy = staged(gate, bundles["good"], "good", dedicated_endpoints={"iris": unnamed})
    candidates = {"default": "candidate-default", "fraud": "candidate-fraud"}
    functions = CandidateFunctions({f: gate.endpoint() for f in candidates.values()})
    # WHEN SmokeTest runs THEN it refuses, saying how to go on, and calls no function
    with pytest.raises(InvalidStateError, match=r"predates per-endpoint candidate.*slipway retry"):
        smoke_test_candidate(functions, gate.repository, candidates, legacy)
    assert functions.invoked == []
    # AND in such a policy a model of the default endpoint, which names none either, is
    # tested on the default's candidate, as it was
    old = {**legacy.policy.dump(), "default_endpoint": unnamed}
    assert GatePolicy.parse(old).candidate_endpoint_for("churn") == "default"


def test_an_endpoint_without_a_candidate_function_is_a_wiring_error(gate, bundles):
    fraud = {"name": "fraud", "allow_python": False, "ephemeral_storage_mb": 2048}
    state = staged(gate, bundles["good"], "good", dedicated_endpoints={"iris": fraud})
    with pytest.raises(InvalidStateError, match="no candidate function smoke-tests endpoint"):
        smoke_test_candidate(gate.endpoint(), gate.repository, CANDIDATES, state)


def test_a_python_candidates_smoke_test_ends_the_environments_it_ran_in(gate, bundles, tmp_path):
    # GIVEN the candidate function, and a scikit-learn candidate smoke-tested there
    endpoint = gate.endpoint()
    run(steps.RELEASE_LOCK, smoke_test_with(endpoint, staged(gate, bundles["good"], "good")))
    assert endpoint.environments == 1  # nothing of a bundle's own code ran in it
    # WHEN a python-flavor candidate is smoke-tested there
    state = staged(gate, python_bundle_with(tmp_path, "iris", "py", ""), "py")
    smoke_test_with(endpoint, state)
    # THEN the function got a new configuration: the next request starts a fresh environment
    assert endpoint.environments == 2
    assert len(endpoint.variables[GENERATION]) == 32  # a new one each time


class Slowed:
    """The endpoint function, each call delayed: the first by ``first`` seconds (a cold
    environment: image, imports, the bundle's download), the others by ``warm``."""

    def __init__(self, endpoint: Any, first: float, warm: float) -> None:
        self.endpoint, self.delays = endpoint, [first]
        self.warm = warm

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        time.sleep(self.delays.pop() if self.delays else self.warm)
        return self.endpoint.invoke(FunctionName=FunctionName, Payload=Payload)


def test_a_slow_first_call_is_judged_by_the_cold_budget_alone(gate, bundles):
    # GIVEN budgets of 2 s for the first call and 0.2 s for warm ones
    state = staged(
        gate, bundles["good"], "good", smoke_cold_budget_ms=2000, smoke_warm_budget_ms=200
    )
    # WHEN the first call takes 0.5 s (a cold environment) and the warm ones answer at once
    outcome = smoke_test_candidate(
        Slowed(gate.endpoint(), first=0.5, warm=0), gate.repository, CANDIDATES, state
    )
    # THEN the model passes: its first call is within the cold budget, its warm calls too
    assert 500 <= outcome.first_call_ms < 2000
    assert outcome.warm_call_ms < 200 and outcome.warm_calls == WARM_CALLS


def test_a_first_call_over_the_cold_budget_is_refused_naming_both_numbers(gate, bundles):
    state = staged(
        gate, bundles["good"], "good", smoke_cold_budget_ms=100, smoke_warm_budget_ms=200
    )
    with pytest.raises(SmokeTestTooSlowError) as refused:
        smoke_test_candidate(
            Slowed(gate.endpoint(), first=0.3, warm=0), gate.repository, CANDIDATES, state
        )
    assert re.fullmatch(
        r"the first call took \d+ ms \(model load \d+ ms\), over this environment's cold "
        r"budget \(smoke_cold_budget_ms\) of 100 ms",
        str(refused.value),
    )
    assert int(re.search(r"took (\d+) ms", str(refused.value))[1]) >= 300


def test_slow_warm_calls_are_refused_by_the_warm_budget(gate, bundles):
    # GIVEN a generous cold budget, and warm calls that each take 0.15 s
    state = staged(
        gate, bundles["good"], "good", smoke_cold_budget_ms=10000, smoke_warm_budget_ms=50
    )
    with pytest.raises(SmokeTestTooSlowError) as refused:
        smoke_test_candidate(
            Slowed(gate.endpoint(), first=0, warm=0.15), gate.repository, CANDIDATES, state
        )
    # THEN the reason names the warm budget with both numbers, and not the cold one
    reason = str(refused.value)
    assert re.fullmatch(
        rf"the warm calls took (\d+) ms \(median of {WARM_CALLS}\), over this environment's "
        r"warm budget \(smoke_warm_budget_ms\) of 50 ms",
        reason,
    )
    assert int(re.search(r"took (\d+) ms", reason)[1]) >= 150


def test_a_policy_or_outcome_written_with_one_budget_still_parses():
    # GIVEN an execution started before cold and warm calls had budgets of their own
    legacy = load_event("promotion_state_start.json")["policy"]
    del legacy["smoke_cold_budget_ms"], legacy["smoke_warm_budget_ms"]
    legacy["smoke_test_budget_ms"] = 3000
    # THEN its one budget judges both kinds of call, as it judged every call then
    policy = GatePolicy.parse(legacy)
    assert (policy.smoke_cold_budget_ms, policy.smoke_warm_budget_ms) == (3000, 3000)
    # AND a smoke test it passed then is read as one (cold) call
    outcome = SmokeTestOutcome.parse(
        {
            "version": "1",
            "latency_ms": 812.5,
            "model_load_ms": 40.0,
            "cold_start": True,
            "budget_ms": 3000,
        }
    )
    assert (outcome.first_call_ms, outcome.cold_budget_ms) == (812.5, 3000)
    assert (outcome.warm_calls, outcome.warm_call_ms, outcome.warm_budget_ms) == (0, None, None)


class WrongAnswers:
    """An endpoint function that answers the staging route with other outputs."""

    def __init__(self, version: str, outputs: list) -> None:
        self.body = json.dumps({"model": "iris", "version": version, "outputs": outputs})
        self.version = version

    def invoke(self, FunctionName, Payload):
        import io

        answer = {
            "statusCode": 200,
            "headers": {"content-type": "application/json", "x-model-version": self.version},
            "body": self.body,
        }
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


def test_smoke_test_rejects_an_answer_that_differs_from_the_input_example(gate, bundles):
    state = staged(gate, bundles["good"], "good")
    expected = gate.repository.get_version("iris", "good")["input_example"]["expected_output"]
    wrong = [(label + 1) % 3 for label in expected]
    with pytest.raises(SmokeTestFailedError, match=re.escape(f"endpoint answered {wrong}")):
        smoke_test_candidate(WrongAnswers("good", wrong), gate.repository, CANDIDATES, state)


# -- approval ------------------------------------------------------------------------------


def test_auto_approval_is_recorded_as_the_policy(gate, bundles):
    state = run(steps.AUTO_APPROVE, smoke_tested(gate, bundles["good"], "good"))
    assert state.approval.approved_by == "policy"
    item = gate.repository.get_version("iris", "good")
    assert item["status"] == VersionStatus.APPROVED
    assert item["smoke_test_result"] == state.smoke_test.dump()
    assert ("approval", "approved") in outcomes(gate.repository, "iris", "good")


def test_waiting_for_approval_stores_the_token_announces_and_audits(gate, bundles, monkeypatch):
    # GIVEN an approval topic with a subscriber
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="approvals")["TopicArn"]
    inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn["Attributes"]["QueueArn"])
    monkeypatch.setenv("SLIPWAY_APPROVAL_TOPIC_ARN", topic)
    state = smoke_tested(gate, bundles["good"], "good", approval="manual")
    # WHEN WaitForApproval's function is called with its task token
    request = ApprovalRequest.template(state.dump(), "token-from-step-functions")
    assert request_approval(request, LambdaContext()) == {"requested": True}
    # THEN the version waits with its token, the team hears of it, and it is audited
    item = gate.repository.get_version("iris", "good")
    assert item["status"] == VersionStatus.AWAITING_APPROVAL
    assert item["approval_token"] and "token-from-step-functions" not in item["approval_token"]
    (message,) = sqs.receive_message(QueueUrl=inbox)["Messages"]
    announced = json.loads(json.loads(message["Body"])["Message"])
    assert announced["model"] == "iris" and announced["approve"] == "slipway approve iris good"
    assert ("approval-requested", "awaiting-approval") in outcomes(gate.repository, "iris", "good")


# -- canary --------------------------------------------------------------------------------


def test_a_canary_without_a_live_version_is_skipped(gate, bundles):
    canary = {"canary": {"share": 0.5, "bake_seconds": 1800}}
    state = run(steps.START_CANARY, approved(gate, bundles["good"], "good", **canary))
    assert state.canary.stable is None
    assert state.canary.first_check_seconds == 0  # no 30 idle minutes: nothing to compare
    assert run(steps.CHECK_CANARY, state).canary_check.verdict == "skipped"
    assert ("canary-start", "skipped") in outcomes(gate.repository, "iris", "good")


def test_a_canary_takes_its_share_of_live_traffic(gate, bundles):
    live(gate, bundles["good"], "good")
    canary = {"canary": {"share": 0.25}}
    state = run(steps.START_CANARY, approved(gate, bundles["better"], "better", **canary))
    assert state.canary.stable == "good" and state.canary.share == 0.25
    pointer = gate.repository.get_pointer("iris")
    assert pointer["version"] == "good"
    assert pointer["canary_version"] == "better" and pointer["canary_weight"] == 0.25


def put_serving_metrics(
    version: str,
    *,
    requests: int,
    errors: int,
    at: datetime,
    rejections: int = 0,
    environment: str = ENVIRONMENT,
) -> None:
    """What the endpoint's embedded-metric-format lines become in CloudWatch."""
    dimensions = [
        {"Name": "model", "Value": "iris"},
        {"Name": "version", "Value": version},
        {"Name": "environment", "Value": environment},
    ]
    data = [
        {"MetricName": Metric.INVOCATIONS, "Value": requests},
        {"MetricName": Metric.ERRORS, "Value": errors},
        {"MetricName": Metric.SCHEMA_REJECTIONS, "Value": rejections},
        {"MetricName": Metric.LATENCY, "Value": 12.0},
    ]
    boto3.client("cloudwatch").put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[{**d, "Dimensions": dimensions, "Timestamp": at} for d in data],
    )


@pytest.fixture
def cloudwatch_percentiles():
    """moto's CloudWatch learns percentiles as the embedded cloud teaches it (AWS has them)."""
    from slipway.local.moto_patches import teach_percentile_statistics

    teach_percentile_statistics()


def canary_started(gate: Gate, bundles) -> PromotionState:
    live(gate, bundles["good"], "good")
    canary = {"canary": {"share": 0.5, "max_error_rate": 0.01}}
    return run(steps.START_CANARY, approved(gate, bundles["better"], "better", **canary))


def test_a_healthy_canary_passes(gate, bundles, cloudwatch_percentiles):
    state = canary_started(gate, bundles)
    started = datetime.fromisoformat(state.canary.started_at)
    put_serving_metrics("better", requests=40, errors=0, at=started + timedelta(seconds=1))
    put_serving_metrics("good", requests=40, errors=0, at=started + timedelta(seconds=1))
    checked = check_canary(
        state,
        gate.repository,
        boto3.client("cloudwatch"),
        ENVIRONMENT,
        now=lambda: started + timedelta(minutes=1),
    )
    assert checked.verdict == "passed" and checked.requests == 40
    assert ("canary-check", "passed") in outcomes(gate.repository, "iris", "better")


def test_a_canary_with_errors_fails_with_every_problem(gate, bundles, cloudwatch_percentiles):
    state = canary_started(gate, bundles)
    started = datetime.fromisoformat(state.canary.started_at)
    put_serving_metrics("better", requests=40, errors=10, at=started + timedelta(seconds=1))
    put_serving_metrics("good", requests=40, errors=0, at=started + timedelta(seconds=1))
    with pytest.raises(CanaryFailedError, match=r"error rate 25.0% \(limit 1.0%, stable 0.0%\)"):
        check_canary(
            state,
            gate.repository,
            boto3.client("cloudwatch"),
            ENVIRONMENT,
            now=lambda: started + timedelta(minutes=1),
        )


def test_a_canary_never_counts_another_environments_requests(gate, bundles, cloudwatch_percentiles):
    """Two environments in one account and region (the embedded cloud's local and rehearsal
    always are) serve the same model and versions: each canary reads its own series only."""
    # GIVEN a canary started two minutes ago (its bake is over)
    state = canary_started(gate, bundles)
    started = datetime.now(UTC) - timedelta(minutes=2)
    document = state.dump()
    document["canary"]["started_at"] = started.isoformat()
    state = PromotionState.parse(document)
    at = started + timedelta(seconds=1)
    # AND another environment's endpoint failing every request to the same versions
    other = "rehearsal"
    put_serving_metrics("better", requests=400, errors=400, at=at, environment=other)
    put_serving_metrics("good", requests=400, errors=0, at=at, environment=other)
    # AND this environment's canary healthy
    put_serving_metrics("better", requests=40, errors=0, at=at)
    put_serving_metrics("good", requests=40, errors=0, at=at)
    # WHEN its CheckCanary runs, with the environment's name infra declares for it
    checked = run(steps.CHECK_CANARY, state).canary_check
    # THEN it passes on its own 40 requests: none of the other environment's counted
    assert checked.verdict == "passed" and checked.requests == 40


def test_a_canary_is_judged_on_traffic_from_its_start_only(gate, bundles, cloudwatch_percentiles):
    # GIVEN the smoke test's retries answered by the stale staging version (the stable one),
    # rejected for the candidate's new schema a second before the canary started
    state = canary_started(gate, bundles)
    started = datetime.fromisoformat(state.canary.started_at)
    before = started - timedelta(seconds=1)
    put_serving_metrics("good", requests=5, errors=0, rejections=5, at=before)
    # AND a canary that rejects every live request after it
    put_serving_metrics("better", requests=40, errors=0, rejections=40, at=started)
    put_serving_metrics("good", requests=40, errors=0, at=started + timedelta(seconds=1))
    # THEN the stable version's rate is its canary-time rate, and the candidate fails on it
    with pytest.raises(CanaryFailedError, match=r"schema-rejection rate 100.0% .*stable 0.0%"):
        check_canary(
            state,
            gate.repository,
            boto3.client("cloudwatch"),
            ENVIRONMENT,
            now=lambda: started + timedelta(minutes=1),
        )


def checked_after(state: PromotionState, gate: Gate, seconds: float):
    started = datetime.fromisoformat(state.canary.started_at)
    later = started + timedelta(seconds=seconds)
    return check_canary(
        state, gate.repository, boto3.client("cloudwatch"), ENVIRONMENT, now=lambda: later
    )


WAITING = {"share": 0.5, "bake_seconds": 60, "min_requests": 20, "max_bake_seconds": 600}


def test_a_canary_is_judged_only_after_its_bake_and_its_minimum_of_requests(
    gate, bundles, cloudwatch_percentiles
):
    live(gate, bundles["good"], "good")
    state = run(steps.START_CANARY, approved(gate, bundles["better"], "better", canary=WAITING))
    assert state.canary.first_check_seconds == 5  # checked every few seconds from then on
    started = datetime.fromisoformat(state.canary.started_at)
    put_serving_metrics("better", requests=5, errors=0, at=started + timedelta(seconds=1))
    put_serving_metrics("good", requests=5, errors=0, at=started + timedelta(seconds=1))
    # WHEN it is checked before its bake ended, or after it with 5 of 20 requests
    # THEN it is not judged yet (one request once made a canary pass)
    for seconds in (30, 120):
        with pytest.raises(CanaryStillBakingError, match="5 requests"):
            checked_after(state, gate, seconds)
    # AND past its longest bake without enough requests it fails, saying what it lacked
    with pytest.raises(CanaryFailedError, match="5 client requests in 601 s; it needs 20"):
        checked_after(state, gate, 601)
    # AND with enough requests after its bake, it passes
    put_serving_metrics("better", requests=20, errors=0, at=started + timedelta(seconds=2))
    assert checked_after(state, gate, 120).verdict == "passed"


def test_a_canary_failing_on_enough_requests_fails_before_its_bake_ends(
    gate, bundles, cloudwatch_percentiles
):
    live(gate, bundles["good"], "good")
    bake = {**WAITING, "bake_seconds": 1800, "max_error_rate": 0.01}
    state = run(steps.START_CANARY, approved(gate, bundles["better"], "better", canary=bake))
    started = datetime.fromisoformat(state.canary.started_at)
    put_serving_metrics("better", requests=20, errors=20, at=started + timedelta(seconds=1))
    put_serving_metrics("good", requests=20, errors=0, at=started + timedelta(seconds=1))
    with pytest.raises(CanaryFailedError, match=r"failed early, after 10 s .*error rate 100.0%"):
        checked_after(state, gate, 10)


DELAYED = {**WAITING, "metrics_delay_seconds": 120}


def test_a_canary_is_first_checked_once_its_metrics_can_be_read(gate, bundles):
    live(gate, bundles["good"], "good")
    state = run(steps.START_CANARY, approved(gate, bundles["better"], "better", canary=DELAYED))
    # the delay, then every few seconds: no check finds an empty window
    assert state.canary.first_check_seconds == 120 + 5


def test_a_canary_bakes_until_its_time_can_be_read(gate, bundles, cloudwatch_percentiles):
    # GIVEN a 60 s bake whose metrics CloudWatch shows up to 120 s late, and enough requests
    live(gate, bundles["good"], "good")
    state = run(steps.START_CANARY, approved(gate, bundles["better"], "better", canary=DELAYED))
    started = datetime.fromisoformat(state.canary.started_at)
    put_serving_metrics("better", requests=20, errors=0, at=started + timedelta(seconds=1))
    put_serving_metrics("good", requests=20, errors=0, at=started + timedelta(seconds=1))
    # WHEN it is checked before any of its metrics can be read, THEN it reads nothing yet
    with pytest.raises(CanaryStillBakingError, match="first metrics can be read 120 s after"):
        checked_after(state, gate, 100)
    # AND once its bake's time has passed but not all of it can be read, it still bakes
    with pytest.raises(CanaryStillBakingError, match=r"after 59 s of 60 s \(read up to 120 s"):
        checked_after(state, gate, 179)
    # AND it passes once the whole bake can be read
    assert checked_after(state, gate, 181).verdict == "passed"


def test_requests_whose_metrics_cannot_be_read_yet_are_not_counted(
    gate, bundles, cloudwatch_percentiles
):
    # GIVEN requests in the last 120 s before the check (in AWS not extracted yet, or only
    # partly), and failing ones in the readable part
    live(gate, bundles["good"], "good")
    bake = {**DELAYED, "max_error_rate": 0.01}
    state = run(steps.START_CANARY, approved(gate, bundles["better"], "better", canary=bake))
    started = datetime.fromisoformat(state.canary.started_at)
    put_serving_metrics("better", requests=20, errors=20, at=started + timedelta(seconds=1))
    put_serving_metrics("better", requests=500, errors=0, at=started + timedelta(seconds=200))
    put_serving_metrics("good", requests=20, errors=0, at=started + timedelta(seconds=1))
    # WHEN it is checked at 300 s, THEN it is judged on what was readable: 20 failing requests
    with pytest.raises(CanaryFailedError, match=r"20 requests \(20 errors.*error rate 100.0%"):
        checked_after(state, gate, 300)


def test_the_longest_bake_is_counted_on_readable_time(gate, bundles, cloudwatch_percentiles):
    live(gate, bundles["good"], "good")
    state = run(steps.START_CANARY, approved(gate, bundles["better"], "better", canary=DELAYED))
    started = datetime.fromisoformat(state.canary.started_at)
    put_serving_metrics("better", requests=5, errors=0, at=started + timedelta(seconds=1))
    # 600 s of bake allowed: requests of its last two minutes may still arrive at 700 s
    with pytest.raises(CanaryStillBakingError):
        checked_after(state, gate, 700)
    with pytest.raises(CanaryFailedError, match="5 client requests in 601 s; it needs 20"):
        checked_after(state, gate, 721)


# -- Promote, ReleaseLock, RecordFailure ---------------------------------------------------


def test_a_candidate_whose_bundle_was_deleted_in_the_gate_does_not_go_live(gate, bundles):
    # GIVEN an approved candidate whose registered object version was deleted meanwhile
    state = approved(gate, bundles["good"], "good")
    gate.s3.delete_object(Bucket=BUCKET, Key=state.key, VersionId=state.version_id)
    # THEN Promote refuses it, saying so; nothing is live
    with pytest.raises(BundleDeletedError, match="was deleted from the bucket"):
        run(steps.PROMOTE, state)
    assert gate.repository.get_pointer("iris") is None


def decisions_counted(capsys: pytest.CaptureFixture[str], metric: Metric) -> list[dict]:
    """The embedded-metric-format lines a step printed that count ``metric``."""
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    return [b for b in blobs if metric in b]


def test_promote_moves_live_and_archives_the_version_it_replaces(gate, bundles, capsys):
    # GIVEN a live version and an approved candidate
    live(gate, bundles["good"], "good")
    state = approved(gate, bundles["better"], "better")
    capsys.readouterr()
    # WHEN Promote runs
    state = run(steps.PROMOTE, state)
    # THEN live moves, the replaced version is archived, and the promotion is audited, counted
    assert state.promoted.previous_version == "good"
    assert gate.repository.get_pointer("iris")["version"] == "better"
    assert gate.repository.get_version("iris", "good")["status"] == VersionStatus.ARCHIVED
    assert gate.repository.get_version("iris", "better")["status"] == VersionStatus.LIVE
    assert ("promote", "live") in outcomes(gate.repository, "iris", "better")
    (counted,) = decisions_counted(capsys, Metric.PROMOTIONS)
    assert counted[Metric.PROMOTIONS] == [1.0] and counted["model"] == "iris"
    assert counted["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
    # AND in its environment's series: environments may share an account and region
    assert counted["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["environment"]]
    assert counted["environment"] == ENVIRONMENT


def test_the_declared_workflow_takes_a_good_version_live_in_order(gate, bundles):
    final = live(gate, bundles["good"], "good")
    assert final.promoted.version == "good" and final.unlock.released
    assert outcomes(gate.repository, "iris", "good") == [
        ("provenance", "skipped"),  # this environment takes direct uploads
        ("register", "registered"),
        ("stage", "staged"),
        ("approval", "approved"),
        ("promote", "live"),
    ]


def test_a_duplicate_upload_ends_the_workflow_as_already_registered(gate, bundles):
    # GIVEN a live version WHEN the same bytes are uploaded again
    live(gate, bundles["good"], "good")
    _, passed = gate.walk(steps.PROMOTION, uploaded(gate, bundles["good"], "good"))
    # THEN the workflow ends successfully right after Register
    assert passed[-2:] == [steps.NEW_VERSION.state, steps.NEW_VERSION.end]


def test_record_failure_rejects_the_version_takes_its_traffic_and_frees_the_model(
    gate, bundles, capsys
):
    # GIVEN a candidate holding the lock and a canary share when its check fails
    live(gate, bundles["good"], "good")
    state = run(steps.ACQUIRE_LOCK, approved(gate, bundles["better"], "better"))
    state = run(
        steps.START_CANARY,
        state.model_copy(
            update={
                "policy": state.policy.model_copy(
                    update={"canary": state.policy.canary.model_copy(update={"share": 0.5})}
                )
            }
        ),
    )
    capsys.readouterr()
    # WHEN RecordFailure runs with the error Step Functions caught
    state = run(steps.RECORD_FAILURE, failed(state, "CanaryFailedError", "error rate 25%"))
    # THEN the reason is recorded, the canary and the lock are gone, live is untouched
    assert state.failure.reason == "CanaryFailedError: error rate 25%"
    item = gate.repository.get_version("iris", "better")
    assert item["status"] == VersionStatus.REJECTED
    assert item["rejection_reason"] == state.failure.reason
    pointer = gate.repository.get_pointer("iris")
    assert pointer["version"] == "good" and "canary_version" not in pointer
    # AND nothing is staged: staging named the rejected candidate (finding 10)
    assert gate.repository.get_pointer("iris", Stage.STAGING) is None
    assert outcomes(gate.repository, "iris", "better")[-1] == ("reject", "rejected")
    (counted,) = decisions_counted(capsys, Metric.REJECTIONS)
    assert (counted["model"], counted["error"]) == ("iris", "CanaryFailedError")
    assert counted["environment"] == ENVIRONMENT  # its environment's series
    assert run(steps.ACQUIRE_LOCK, registered(gate, bundles["weak"], "weak")).lock


def test_a_failed_upload_under_a_canarys_version_touches_nothing_of_that_version(
    gate, bundles, tmp_path
):
    # GIVEN version 'better' in its canary, holding the model's promotion lock
    live(gate, bundles["good"], "good")
    state = run(steps.ACQUIRE_LOCK, approved(gate, bundles["better"], "better"))
    canary = state.policy.canary.model_copy(update={"share": 0.5})
    policy = state.policy.model_copy(update={"canary": canary})
    run(steps.START_CANARY, state.model_copy(update={"policy": policy}))
    before = gate.repository.get_version("iris", "better")
    # WHEN someone uploads garbage under the same version number and its execution fails
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not a bundle at all")
    hostile = gate.upload(garbage, "iris", "better")
    assert hostile.execution_name != state.execution_name
    run(steps.RECORD_FAILURE, failed(hostile, "InvalidBundleError", "not a gzip file"))
    # THEN the real version keeps its canary, its status and its lock
    pointer = gate.repository.get_pointer("iris")
    assert (pointer["canary_version"], pointer["canary_execution"]) == (
        "better",
        state.execution_name,
    )
    assert gate.repository.get_version("iris", "better")["status"] == before["status"]
    with pytest.raises(StillWaiting):
        run(steps.ACQUIRE_LOCK, registered(gate, bundles["weak"], "weak"))


def test_record_failure_before_validate_files_the_reason_under_the_key(gate, bundles):
    state = gate.upload(bundles["good"], "iris", "9")
    state = run(steps.RECORD_FAILURE, failed(state, "UploadKeyError", "manifest says iris/good"))
    assert (state.failure.name, state.failure.version) == ("iris", "9")
    assert gate.repository.get_version("iris", "9") is None  # nothing was registered
    assert outcomes(gate.repository, "iris", "9") == [("reject", "rejected")]


def test_an_infrastructure_failure_is_failed_not_a_verdict(gate, bundles):
    # GIVEN two registered versions whose promotions end: one by a verdict, one by a fault
    judged = run(steps.ACQUIRE_LOCK, registered(gate, bundles["good"], "good"))
    run(steps.RECORD_FAILURE, failed(judged, "EvaluationFailedError", "accuracy 0.5 misses"))
    run(steps.RELEASE_LOCK, judged)
    broken = run(steps.ACQUIRE_LOCK, registered(gate, bundles["better"], "better"))
    run(steps.RECORD_FAILURE, failed(broken, "Lambda.ServiceException", "throttled"))
    # THEN the verdict rejects its version, and the fault only fails the other
    assert gate.repository.get_version("iris", "good")["status"] == VersionStatus.REJECTED
    item = gate.repository.get_version("iris", "better")
    assert item["status"] == VersionStatus.FAILED
    assert item["rejection_reason"] == "Lambda.ServiceException: throttled"
    assert outcomes(gate.repository, "iris", "better")[-1] == ("reject", "failed")


def test_every_verdict_is_an_error_the_gate_raises_or_the_workflow_names():
    import functions.exceptions
    import model_runtime.exceptions
    import registry.exceptions
    from registry.verdicts import VERDICT_ERRORS

    raised = {
        name
        for module in (model_runtime.exceptions, functions.exceptions, registry.exceptions)
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, Exception)
    }
    timed_out = {t.token_wait.error for t in steps.PROMOTION.tasks() if t.token_wait}
    named = {"ApprovalRejected", "ApprovalTimedOut"}  # a person, and nobody
    assert named - {"ApprovalRejected"} <= timed_out
    assert VERDICT_ERRORS - raised == named  # no typo stands for a verdict


def test_record_failure_of_a_key_outside_models_is_filed_as_unrecognised(gate, bundles):
    state = gate.upload(bundles["good"], "iris", "1").model_copy(update={"key": "elsewhere/x"})
    state = run(steps.RECORD_FAILURE, failed(state, "UploadKeyError", "not a bundle key"))
    assert state.failure.name == UNRECOGNISED_UPLOADS


def test_record_failure_records_even_a_state_that_breaks_the_contract(gate):
    # a document a future version of the state machine might send: the reason still lands
    document = {
        "key": "models/iris/3/bundle.tar.gz",
        "execution_name": "iris-3-abc",
        "error": {"Error": "States.Runtime", "Cause": "something upstream"},
        "surprise": True,
    }
    from functions.record_failure.handler import handler

    result = handler(document, LambdaContext())
    assert result["reason"] == "States.Runtime: something upstream"
    history = gate.repository.audit_history("iris", "3")
    assert [e["step"] for e in history] == [AuditStep.REJECT]


@pytest.mark.parametrize(
    "document",
    [
        ["not", "an", "object"],
        None,
        {"key": "models/iris/3/bundle.tar.gz", "error": {"Error": "X", "Cause": {"nested": 1}}},
        {"key": "models/iris/" + "v" * 960 + "/bundle.tar.gz", "execution_name": "iris-x"},
        {"key": "models/iris/3/bundle.tar.gz", "execution_name": "x" * 5000},
        {"error": {"Error": "States.Runtime", "Cause": "c" * 250_000}},
    ],
    ids=["list", "null", "object-cause", "long-key", "long-execution", "huge-cause"],
)
def test_record_failure_records_a_reason_whatever_the_document(gate, document):
    from functions.record_failure.handler import handler

    result = handler(document, LambdaContext())
    assert result["reason"] and len(result["reason"]) <= REASON_LIMIT
    history = gate.repository.audit_history(result["name"], result["version"])
    assert [event["outcome"] for event in history] == ["failed"]  # no verdict on a model


def test_a_rejected_reason_reads_the_lambda_error_message_or_plain_text(gate, bundles):
    from functions.record_failure.handler import failure_reason

    lambda_error = StepError(
        Error="CorruptBundleError",
        Cause=json.dumps({"errorType": "CorruptBundleError", "errorMessage": "bad sha256"}),
    )
    assert failure_reason(lambda_error) == "CorruptBundleError: bad sha256"
    assert failure_reason(StepError(Error="States.Timeout", Cause="took too long")) == (
        "States.Timeout: took too long"
    )
    assert failure_reason(StepError(Error="ApprovalRejected")) == "ApprovalRejected"
    assert failure_reason(None) == "UnknownError"


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_large_manifest_goes_through_the_gate_in_a_small_state(gate, bundles, tmp_path):
    # GIVEN a bundle whose manifest is 240 KB (parameters of a big search, say): whole, it
    # once travelled in the state and ended the execution with States.DataLimitExceeded
    def pad(manifest: dict) -> None:
        manifest["lineage"]["params"]["search_log"] = "x" * 240_000

    large = with_manifest(bundles["good"], tmp_path, pad)
    # WHEN it is promoted by the declared workflow
    final = live(gate, large, "good")
    # THEN it goes live, and no state document on the way carried the manifest
    assert final.promoted.version == "good"
    assert len(json.dumps(final.dump())) < 8_000
    registered = gate.repository.get_version("iris", "good")
    assert len(registered["lineage"]["params"]["search_log"]) == 240_000


def with_manifest(bundle: Path, tmp_path: Path, change: Callable[[dict], None]) -> Path:
    """A copy of ``bundle`` whose manifest ``change`` edited (files and digests untouched)."""
    import tarfile

    opened = tmp_path / "opened"
    with tarfile.open(bundle) as archive:
        archive.extractall(opened, filter="data")
    manifest = json.loads((opened / "manifest.json").read_text())
    change(manifest)
    (opened / "manifest.json").write_text(json.dumps(manifest))
    changed = tmp_path / "changed.tar.gz"
    with tarfile.open(changed, "w:gz") as archive:
        for path in sorted(opened.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(opened)), recursive=False)
    return changed


def test_a_failure_after_promote_leaves_the_live_version_live(gate, bundles):
    # GIVEN a version the workflow promoted, whose ReleaseLock then fails past its retries
    state = run(steps.ACQUIRE_LOCK, approved(gate, bundles["good"], "good"))
    state = run(steps.PROMOTE, state)
    assert gate.repository.get_version("iris", "good")["status"] == VersionStatus.LIVE
    # WHEN RecordFailure runs for that failure
    run(steps.RECORD_FAILURE, failed(state, "Lambda.ServiceException", "throttled"))
    # THEN the version stays live (the pointer serves it), staged, and the lock is free
    assert gate.repository.get_version("iris", "good")["status"] == VersionStatus.LIVE
    assert gate.repository.get_pointer("iris")["version"] == "good"
    assert gate.repository.get_pointer("iris", Stage.STAGING)["version"] == "good"
    assert gate.repository.lock_holder("iris") is None


def test_the_smoke_tests_calls_are_timed_as_one_attempt_each():
    # a retried invoke would be timed as one slow call, and a throttle as the model's latency
    from registry import aws

    client = aws.timed_lambda_client()
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
    # a cold start as long as Lambda allows is waited for, never invoked a second time
    assert client.meta.config.read_timeout > aws.LAMBDA_MAX_TIMEOUT_SECONDS
    source = (Path(__file__).resolve().parents[2] / "model_runtime/jobs/smoke_test.py").read_text()
    assert "aws.timed_lambda_client()" in source and 'aws.client("lambda")' not in source
