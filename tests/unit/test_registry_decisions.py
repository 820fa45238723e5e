"""Approve, reject and roll back through the registry API's handler, with real Function URL
events, against moto: a real execution waits on its task token and is resumed by it."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from botocore.exceptions import ClientError

from examples.iris.train import train_and_package
from functions.approval.handler import request_approval
from functions.exceptions import ApprovalNotRecordedError
from functions.registry_api import pages
from functions.registry_api.handler import handler as registry
from registry import workflow as steps
from registry.approval_tokens import ApprovalTokens
from registry.audit import POLICY_ACTOR
from registry.environment import APPROVAL_TOKEN_KEY, APPROVERS, STATE_MACHINE_ARN
from registry.exceptions import LockLostError, SelfApprovalError
from registry.executions import execution_arn
from registry.metrics import Metric
from registry.statuses import Stage, VersionStatus
from registry.workflow_state import Approval, ApprovalRequest, PromotionState
from slipway.local.moto_patches import abort_stopped_executions
from tests.conftest import LambdaContext, load_event
from tests.unit.gate import (
    answer,
    approved,
    failed,
    live,
    outcomes,
    registered,
    run,
    smoke_tested,
    token_waiting_machine,
    uploaded,
)

CALLER = "arn:aws:sts::123456789012:assumed-role/ml-engineer/ml-engineer"  # in the event


def call(
    method: str,
    path: str,
    body: Any = None,
    query: str = "",
    caller: str = CALLER,
    raw: str | None = None,
) -> tuple[int, Any]:
    """The registry API's answer to a Function URL request, as Lambda runs it."""
    event = copy.deepcopy(load_event("function_url_predict.json"))
    event["requestContext"]["authorizer"]["iam"]["userArn"] = caller
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["rawQueryString"] = query
    if raw is not None:
        event["body"] = raw
    elif body is None:
        event.pop("body", None)
    else:
        event["body"] = json.dumps(body)
    response = registry(event, LambdaContext())
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body)
    return response["statusCode"], json.loads(body)


@pytest.fixture
def waiting(gate, bundles):
    """iris 'good' awaiting approval, its token from a real execution that waits on it."""
    return wait_for_approval(gate, bundles)


def wait_for_approval(gate: Any, bundles: dict[str, Any], **policy: Any) -> Waiting:
    from slipway.local.moto_patches import keep_task_failure_causes

    keep_task_failure_causes()  # as the embedded cloud does: AWS keeps a failure's cause
    sfn, sqs = boto3.client("stepfunctions"), boto3.client("sqs")
    machine, inbox = token_waiting_machine("gate")
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    token = json.loads(poll(lambda: sqs.receive_message(QueueUrl=inbox).get("Messages"))[0]["Body"])
    topic = boto3.client("sns").create_topic(Name="approvals")["TopicArn"]
    state = smoke_tested(gate, bundles["good"], "good", approval="manual", **policy)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLIPWAY_APPROVAL_TOPIC_ARN", topic)
        request_approval(ApprovalRequest.template(state.dump(), token["token"]), LambdaContext())
    return Waiting(execution, state, token["token"])


@dataclass(frozen=True)
class Waiting:
    execution: str  # the ARN of the execution waiting on the token
    state: PromotionState  # the promotion's document when it began to wait
    token: str


def poll(read: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("nothing arrived")


def ended(execution: str) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    return poll(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d
    )


def test_approving_resumes_the_execution_and_keeps_the_whole_history(gate, waiting):
    # WHEN a person approves the waiting version
    status, body = call("POST", "/v1/models/iris/versions/good/approve", {"reason": "reviewed"})
    # THEN the execution goes on with who approved, and the version says so
    assert status == 200, body
    assert body == {"model": "iris", "version": "good", "status": "approved", "by": CALLER}
    described = ended(waiting.execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"approved_by": CALLER, "reason": "reviewed"}
    item = gate.repository.get_version("iris", "good")
    assert item["status"] == VersionStatus.APPROVED and item["approved_by"] == CALLER
    assert item.get("approval_token") is None
    # the request and the decision are both in the audit trail (one once overwrote the other)
    history = outcomes(gate.repository, "iris", "good")
    assert history[-2:] == [("approval-requested", "awaiting-approval"), ("approval", "approved")]
    approval = gate.repository.audit_history("iris", "good")[-1]
    assert approval["actor"] == CALLER and approval["reason"] == "reviewed"
    # AND Promote acts on that approval, recorded by the registry
    resumed = answer(steps.WAIT_FOR_APPROVAL, waiting.state, json.loads(described["output"]))
    assert run(steps.PROMOTE, resumed).promoted.version == "good"


OTHER = "arn:aws:sts::123456789012:assumed-role/ml-reviewer/rita"


def test_the_uploader_may_not_approve_where_duties_are_separated(gate, bundles):
    # GIVEN the caller declared iris good, uploaded it, and it waits for approval
    digest = hashlib.sha256(bundles["good"].read_bytes()).hexdigest()
    status, declared = call("PUT", "/v1/models/iris/versions/good/upload", {"sha256": digest})
    assert status == 200 and declared["declared_by"] == CALLER
    waiting = wait_for_approval(gate, bundles, separation_of_duties=True)
    assert gate.repository.get_version("iris", "good")["uploaded_by"] == CALLER
    # WHEN the uploader approves it THEN the registry refuses, and the version still waits
    status, problem = call("POST", "/v1/models/iris/versions/good/approve", {"reason": "mine"})
    assert status == 403 and "another person approves it" in problem["detail"], problem
    assert gate.repository.get_version("iris", "good")["status"] == "awaiting-approval"
    # AND another person's approval goes through, and Promote acts on it
    status, body = call(
        "POST", "/v1/models/iris/versions/good/approve", {"reason": "reviewed"}, caller=OTHER
    )
    assert status == 200 and body["by"] == OTHER
    output = json.loads(ended(waiting.execution)["output"])
    resumed = answer(steps.WAIT_FOR_APPROVAL, waiting.state, output)
    assert run(steps.PROMOTE, resumed).promoted.version == "good"


def test_only_the_listed_approvers_decide(gate, waiting, monkeypatch):
    # GIVEN an environment whose cdk.json lists its approvers' role, and a caller outside it
    monkeypatch.setenv(APPROVERS, json.dumps([f"{OTHER.rsplit('/', 1)[0]}/*"]))
    path = "/v1/models/iris/versions/good/approve"
    # WHEN the caller approves, rejects or rolls back THEN the registry refuses, unchanged
    for route in (path, path.replace("approve", "reject"), "/v1/models/iris/rollback"):
        status, problem = call("POST", route, {"reason": "mine"})
        assert status == 403 and "not among this environment's approvers" in problem["detail"]
    assert gate.repository.get_version("iris", "good")["status"] == "awaiting-approval"
    # AND a listed approver's decision goes through
    status, body = call("POST", path, {"reason": "reviewed"}, caller=OTHER)
    assert status == 200 and body["by"] == OTHER


def test_a_declaration_body_with_a_repeated_key_is_a_bad_request(gate):
    body = '{"sha256": "' + "c" * 64 + '", "sha256": "' + "d" * 64 + '"}'
    status, problem = call("PUT", "/v1/models/iris/versions/9/upload", raw=body)
    assert status == 400 and "'sha256' appears twice" in problem["detail"]
    assert gate.repository.upload_declaration("iris", "9") is None


def test_promote_refuses_an_uploader_approval_recorded_around_the_rule(gate, bundles):
    # GIVEN an approval by the uploader in the registry, written past the API's check
    digest = hashlib.sha256(bundles["good"].read_bytes()).hexdigest()
    gate.repository.declare_upload("iris", "good", digest, CALLER)
    waiting = wait_for_approval(gate, bundles, separation_of_duties=True)
    execution = gate.repository.get_version("iris", "good")["execution"]
    assert gate.repository.record_approval("iris", "good", execution, CALLER, "")
    resumed = answer(steps.WAIT_FOR_APPROVAL, waiting.state, {"approved_by": CALLER})
    # THEN Promote refuses it, and live does not move
    with pytest.raises(SelfApprovalError, match="another person approves it"):
        run(steps.PROMOTE, resumed)
    assert gate.repository.get_pointer("iris") is None


def test_rejecting_fails_the_execution_with_the_reason(gate, waiting):
    status, body = call("POST", "/v1/models/iris/versions/good/reject", {"reason": "drift"})
    assert status == 200 and body["status"] == "rejecting"
    described = ended(waiting.execution)
    assert described["status"] == "FAILED"
    assert described["error"] == "ApprovalRejected"
    assert described["cause"] == f"rejected by {CALLER}: drift"


def test_a_decision_on_a_version_that_does_not_wait_is_a_conflict(gate, waiting):
    assert call("POST", "/v1/models/iris/versions/good/approve", {})[0] == 200
    status, problem = call("POST", "/v1/models/iris/versions/good/approve", {})
    assert status == 409
    assert problem["type"] == "https://slipway.dev/problems/conflict"
    assert "not waiting for approval (status approved)" in problem["detail"]
    status, problem = call("POST", "/v1/models/iris/versions/nope/reject", {})
    assert status == 404 and problem["type"] == "https://slipway.dev/problems/not-found"


def test_rollback_points_live_back_and_records_who_and_why(gate, bundles, capsys):
    # GIVEN two versions that went live in turn
    live(gate, bundles["good"], "good")
    live(gate, bundles["better"], "better")
    capsys.readouterr()
    # WHEN someone rolls the model back through the registry API
    status, body = call("POST", "/v1/models/iris/rollback", {"reason": "complaints"})
    # THEN live is the version before, and who and why are recorded, the rollback counted
    assert status == 200, body
    assert body == {
        "model": "iris",
        "live_version": "good",
        "rolled_back": "better",
        "cancelled": None,  # no promotion was in flight
        "by": CALLER,
    }
    assert gate.repository.get_pointer("iris", Stage.LIVE)["version"] == "good"
    rolled = gate.repository.get_version("iris", "better")
    assert rolled["status"] == VersionStatus.ROLLED_BACK and rolled["rolled_back_by"] == CALLER
    assert outcomes(gate.repository, "iris", "better")[-1] == ("rollback", "rolled-back")
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [blob["model"] for blob in printed if Metric.ROLLBACKS in blob] == ["iris"]
    # AND in its environment's series (environments may share an account and region)
    (counted,) = [blob for blob in printed if Metric.ROLLBACKS in blob]
    assert counted["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["environment"]]
    assert counted["environment"] == "unit"


def test_rollback_without_a_previous_version_is_a_conflict(gate, bundles):
    assert call("POST", "/v1/models/iris/rollback", {})[0] == 404  # nothing live yet
    live(gate, bundles["good"], "good")
    status, problem = call("POST", "/v1/models/iris/rollback", {})
    assert status == 409 and "no good version live before good" in problem["detail"]


def test_rollbacks_go_back_through_good_versions_and_never_toggle(gate, bundles, tmp_path):
    # GIVEN three versions that went live in turn
    third = tmp_path / "third.tar.gz"
    train_and_package(third, name="iris", version="third", c=0.9)
    for bundle, version in ((bundles["good"], "good"), (bundles["better"], "better")):
        live(gate, bundle, version)
    live(gate, third, "third")

    def rollback(**body: Any) -> tuple[int, Any]:
        return call("POST", "/v1/models/iris/rollback", {"reason": "drill", **body})

    # WHEN the model is rolled back again and again THEN each goes one good version back,
    # never to a version rolled back from (three rollbacks once gave v1, v2, v1)
    assert rollback()[1]["live_version"] == "better"
    assert rollback()[1]["live_version"] == "good"
    status, problem = rollback()
    assert status == 409 and "no good version live before good" in problem["detail"]
    # AND a version that was live can be chosen by name, even one rolled back from
    assert rollback(to="third")[1] == {
        "model": "iris",
        "live_version": "third",
        "rolled_back": "good",
        "cancelled": None,
        "by": CALLER,
    }
    assert gate.repository.get_version("iris", "good")["status"] == VersionStatus.ROLLED_BACK
    # AND never one that was not, nor something that is not a version
    run(steps.REGISTER, run(steps.VALIDATE, uploaded(gate, bundles["weak"], "weak")))
    status, problem = rollback(to="weak")
    assert status == 409 and "has never been live (status registered)" in problem["detail"]
    assert rollback(to="good\n")[0] == 400
    assert gate.repository.lock_holder("iris") is None


def test_a_rollback_cancels_the_promotion_in_flight_which_then_moves_nothing(
    gate, bundles, tmp_path
):
    abort_stopped_executions()  # as the embedded cloud has it: AWS reports ABORTED at once
    # GIVEN two versions that went live, and a third approved, about to start its canary
    live(gate, bundles["good"], "good")
    live(gate, bundles["better"], "better")
    third = tmp_path / "third.tar.gz"
    train_and_package(third, name="iris", version="third", c=0.9)
    in_flight = approved(gate, third, "third")
    execution = gate.repository.lock_holder("iris")["execution_arn"]
    # WHEN someone rolls the model back
    status, body = call("POST", "/v1/models/iris/rollback", {"reason": "bad week"})
    # THEN live goes back, and the promotion in flight is cancelled: stopped, recorded by whom
    assert status == 200, body
    assert (body["live_version"], body["cancelled"]) == ("good", "third")
    sfn = boto3.client("stepfunctions")
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"
    cancelled = gate.repository.get_version("iris", "third")
    assert cancelled["status"] == VersionStatus.CANCELLED
    assert (cancelled["cancelled_by"], cancelled["cancel_reason"]) == (CALLER, "bad week")
    assert outcomes(gate.repository, "iris", "third")[-1] == ("cancel", "cancelled")
    # AND the steps it had in flight when it was stopped move nothing any more
    for step in (steps.START_CANARY, steps.PROMOTE):
        with pytest.raises(LockLostError, match="no longer holds the model's lock"):
            run(step, in_flight)
    assert gate.repository.get_pointer("iris")["version"] == "good"
    assert gate.repository.get_pointer("iris").get("canary_version") is None
    # AND its failure handler, had it run, would not call it rejected
    run(steps.RECORD_FAILURE, in_flight)
    assert gate.repository.get_version("iris", "third")["status"] == VersionStatus.CANCELLED
    assert gate.repository.lock_holder("iris") is None


def test_the_registry_lists_versions_built_from_a_commit(gate, bundles):
    live(gate, bundles["good"], "good")
    code = gate.repository.get_version("iris", "good")["lineage"]["code"]
    query = urlencode({"repository": code["repository"], "commit": code["commit"]})
    status, body = call("GET", "/v1/code/models", query=query)
    assert status == 200, body
    assert body["versions"] == [{"model": "iris", "version": "good", "dirty": code["dirty"]}]


def test_a_page_token_for_another_listing_is_a_bad_request(gate, bundles):
    # GIVEN two versions of iris and a real token for its first page
    live(gate, bundles["good"], "good")
    live(gate, bundles["better"], "better")
    status, first = call("GET", "/v1/models/iris/versions", query="limit=1")
    assert status == 200 and first["next_token"]
    assert call("GET", "/v1/models/iris/versions", query=f"next_token={first['next_token']}")[0]
    # WHEN tokens are forged: another model's partition, keys of another index, not a key
    forged = [
        pages.encode({"pk": "MODEL#other", "sk": "VERSION#1"}),
        pages.encode({"gsi1pk": "MODELS", "gsi1sk": "iris", "pk": "MODEL#iris", "sk": "MODEL"}),
        pages.encode({"surprise": "x"}),
        "not-base64!",
    ]
    for token in forged:
        status, problem = call("GET", "/v1/models/iris/versions", query=f"next_token={token}")
        # THEN each is a 400 problem naming the token, never a 500
        assert status == 400 and "next_token" in problem["detail"], (token, problem)
    status, problem = call("GET", "/v1/models", query=f"next_token={forged[0]}")
    assert status == 400, problem


def test_the_stored_task_token_is_sealed_for_its_own_version(gate, waiting):
    # GIVEN a version waiting for approval
    sealed = gate.repository.get_version("iris", "good")["approval_token"]
    # THEN what registry readers can read is not the token
    assert waiting.token not in sealed
    tokens = ApprovalTokens(boto3.client("kms"), os.environ[APPROVAL_TOKEN_KEY])
    execution = waiting.state.execution_name
    assert tokens.unseal(sealed, "iris", "good", execution) == waiting.token
    # AND it opens only for the version and execution it was sealed for
    with pytest.raises(ClientError, match="InvalidCiphertext"):
        tokens.unseal(sealed, "iris", "other", execution)


def test_an_approval_sent_around_the_registry_does_not_promote(gate, waiting):
    # GIVEN someone who read the task token WHEN they call SendTaskSuccess themselves
    forged = Approval(approved_by="arn:aws:iam::123456789012:user/mallory", reason="trust me")
    boto3.client("stepfunctions").send_task_success(
        taskToken=waiting.token, output=forged.model_dump_json()
    )
    assert ended(waiting.execution)["status"] == "SUCCEEDED"
    resumed = answer(steps.WAIT_FOR_APPROVAL, waiting.state, forged.dump())
    # THEN Promote refuses the approval nobody recorded, and live does not move
    with pytest.raises(ApprovalNotRecordedError, match="did not record"):
        run(steps.PROMOTE, resumed)
    assert gate.repository.get_pointer("iris") is None
    # AND neither does an approval claiming to be the policy's in a manual environment
    policy = resumed.model_copy(update={"approval": Approval(approved_by=POLICY_ACTOR)})
    with pytest.raises(ApprovalNotRecordedError):
        run(steps.PROMOTE, policy)


def test_a_failed_version_is_retried_on_its_own_bytes_and_a_rejected_one_is_not(
    gate, bundles, monkeypatch
):
    machine, _ = token_waiting_machine("retried-promotions")
    monkeypatch.setenv(STATE_MACHINE_ARN, machine)
    # GIVEN a version whose promotion broke down (not a verdict)
    broken = run(steps.ACQUIRE_LOCK, registered(gate, bundles["good"], "good"))
    run(steps.RECORD_FAILURE, failed(broken, "Lambda.ServiceException", "throttled"))
    # WHEN an approver retries it
    status, body = call("POST", "/v1/models/iris/versions/good/retry", {"reason": "it passed"})
    # THEN a new execution runs the gate on the same object version, audited
    assert status == 200, body
    described = boto3.client("stepfunctions").describe_execution(
        executionArn=execution_arn(machine, body["execution"])
    )
    assert json.loads(described["input"])["version_id"] == broken.version_id
    assert outcomes(gate.repository, "iris", "good")[-1] == ("retry", "retried")
    # AND while it runs, no second one starts
    assert call("POST", "/v1/models/iris/versions/good/retry", {})[0] == 409
    # AND its Register takes the version up again instead of calling it a duplicate
    again = run(steps.REGISTER, broken.model_copy(update={"execution_name": body["execution"]}))
    assert again.registered.outcome == "registered"
    item = gate.repository.get_version("iris", "good")
    assert (item["status"], item["execution"]) == ("registered", body["execution"])
    # AND a version rejected by a verdict is not retried: its bytes were judged
    judged = run(steps.ACQUIRE_LOCK, registered(gate, bundles["better"], "better"))
    run(steps.RECORD_FAILURE, failed(judged, "EvaluationFailedError", "misses the threshold"))
    status, problem = call("POST", "/v1/models/iris/versions/better/retry", {})
    assert status == 409 and "only a failed or superseded version is retried" in problem["detail"]


def test_damaged_items_are_named_instead_of_failing_the_registry(gate, bundles):
    # GIVEN a good version, and items damaged by hand or by an old bug: a version item with
    # nothing but a status, and a live pointer that names no version
    live(gate, bundles["good"], "good")
    table = gate.repository._table
    table.put_item(Item={"pk": "MODEL#iris", "sk": "VERSION#999", "status": "archived"})
    # WHEN the versions are listed THEN every version is, the damaged one saying so
    status, body = call("GET", "/v1/models/iris/versions")
    assert status == 200, body
    listed = {v["version"]: v for v in body["versions"]}
    assert "damaged" not in listed["good"]
    assert listed["999"]["damaged"] == "the item lacks version, registered_at, bundle"
    # AND a rollback over a damaged pointer is refused, saying what to repair (was a 500)
    table.put_item(Item={"pk": "MODEL#iris", "sk": "STAGE#live", "kind": "pointer"})
    status, problem = call("POST", "/v1/models/iris/rollback", {"reason": "x"})
    assert status == 409 and "live pointer of iris is damaged" in problem["detail"]
    assert gate.repository.lock_holder("iris") is None


def test_models_are_listed_with_the_version_they_serve_beside_the_latest(gate, bundles):
    # GIVEN iris 'good' live, and 'better' registered after it (still in its gate)
    live(gate, bundles["good"], "good")
    registered(gate, bundles["better"], "better")
    status, body = call("GET", "/v1/models")
    assert status == 200, body
    (iris,) = body["models"]
    assert (iris["live_version"], iris["latest_version"]) == ("good", "better")
    assert not {"pk", "sk", "gsi1pk", "gsi1sk"} & iris.keys()


def test_an_openlineage_run_whose_execution_is_gone_starts_at_its_registration(
    gate, bundles, monkeypatch
):
    machine, _ = token_waiting_machine("lineage-runs")
    monkeypatch.setenv(STATE_MACHINE_ARN, machine)
    # GIVEN a version whose registering execution Step Functions no longer keeps
    registered(gate, bundles["good"], "good")
    status, body = call("GET", "/v1/models/iris/versions/good/openlineage")
    # THEN the start is unknown: both events carry the registration's time, not a guess
    assert status == 200, body
    start, complete = body
    registered_at = gate.repository.get_version("iris", "good")["registered_at"]
    assert start["eventTime"] == complete["eventTime"] == registered_at
