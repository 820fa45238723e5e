"""A version's gate, step by step (registry/gate_steps.py, GET .../gate), read from real Step
Functions histories: moto's interpreter runs a state machine built from the declared workflow
(registry/workflow.py) the way infra builds it (Lambda tasks with their Retry and Catch, token
waits, the branches, the bake), with each step's function answering as a test scripts it."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws
from moto.awslambda import models as lambda_models

from functions.registry_api.app import create_app, get_repository
from functions.registry_api.gate import read_history, version_gate
from registry import items, keys
from registry.environment import STATE_MACHINE_ARN
from registry.gate_steps import BEYOND_HISTORY, declared_steps, gate_steps
from registry.repository import LineageRepository
from registry.workflow import (
    PROMOTION,
    TRANSIENT_ERRORS,
    Choice,
    Node,
    SetPolicy,
    SucceedIf,
    Task,
    Wait,
)
from slipway.local.moto_patches import abort_stopped_executions, keep_task_failure_causes
from tests.conftest import create_lineage_table

ROLE = "arn:aws:iam::123456789012:role/gate"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
AUTO = {"approval": "auto", "canary": {"share": 0}}
MANUAL = {"approval": "manual", "canary": {"share": 0}}
CANARY = {"approval": "auto", "canary": {"share": 0.1}}


class Script:
    """What each step's function answers, call by call: a dict is its result, a pair
    (error type, message) a failure as Lambda reports it; past the list, ``{}``."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Any]] = {}

    def invoke(self, function: Any, event: Any = None) -> tuple[str, bool, str]:
        queue = self.answers.get(function.function_name, [])
        answer = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else {})
        if isinstance(answer, tuple):
            error, message = answer
            trace = [f'  File "/var/task/{function.function_name}.py", line 1']
            body = {"errorType": error, "errorMessage": message, "stackTrace": trace}
            return json.dumps(body), True, ""
        return json.dumps(answer), False, ""


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with executing Step Functions, one function per declared task, and the gate's
    state machine; Lambda code runs as the script says (moto runs real code only in Docker)."""
    script = Script()
    keep_task_failure_causes()  # as the embedded cloud has it: a rejection keeps its cause
    abort_stopped_executions()  # and a stopped execution is ABORTED at once, as in AWS
    monkeypatch.setattr(
        lambda_models.LambdaFunction,
        "_invoke_lambda",
        lambda function, event=None: script.invoke(function, event),
    )
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as folder:
            folder.writestr("step.py", "def handler(event, context):\n    return event\n")
        role = boto3.client("iam").create_role(
            RoleName="gate", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
        )["Role"]["Arn"]
        lambdas = boto3.client("lambda")
        arns = {
            task.state: lambdas.create_function(
                FunctionName=task.state,
                Runtime="python3.12",
                Role=role,
                Handler="step.handler",
                Code={"ZipFile": archive.getvalue()},
            )["FunctionArn"]
            for task in PROMOTION.tasks()
        }
        queue = boto3.client("sqs").create_queue(QueueName="tokens")["QueueUrl"]
        machine = boto3.client("stepfunctions").create_state_machine(
            name="promotion",
            definition=json.dumps(gate_definition(arns, queue)),
            roleArn=ROLE,
        )["stateMachineArn"]
        table = create_lineage_table()
        monkeypatch.setenv(STATE_MACHINE_ARN, machine)
        yield {"script": script, "machine": machine, "queue": queue, "table": table}
        # no execution of this test goes on into the next one's moto
        sfn = boto3.client("stepfunctions")
        for running in sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")[
            "executions"
        ]:
            sfn.stop_execution(executionArn=running["executionArn"])


def gate_definition(arns: dict[str, str], queue: str) -> dict[str, Any]:
    """The promotion workflow as infra/promotion_workflow.py builds it, with SQS standing in
    for the functions a token wait invokes (the token is read back from the queue)."""
    workflow = PROMOTION
    states: dict[str, Any] = {}

    def task(node: Task, then: str, catch_to: str | None = "RecordFailure") -> str:
        if node.token_wait is not None:
            state: dict[str, Any] = {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": queue,
                    "MessageBody": {
                        "token.$": "$$.Task.Token",
                        "step": node.state,
                        "execution.$": "$$.Execution.Id",
                    },
                },
                "TimeoutSeconds": 60,
            }
        else:
            state = {"Type": "Task", "Resource": arns[node.state]}
        retry = [*TRANSIENT_ERRORS, *node.wait_while]
        state.update(
            ResultPath=node.result_path,
            Retry=[{"ErrorEquals": retry, "IntervalSeconds": 1, "MaxAttempts": 3}],
            Next=then,
        )
        if catch_to is not None:
            state["Catch"] = [
                {"ErrorEquals": ["States.ALL"], "ResultPath": workflow.error_path, "Next": catch_to}
            ]
        states[node.state] = state
        return node.state

    def chain(nodes: tuple[Node, ...], then: str) -> str:
        for node in reversed(nodes):
            then = one(node, then)
        return then

    def one(node: Node, then: str) -> str:
        if isinstance(node, Task):
            return task(node, then)
        if isinstance(node, Choice):
            rule: dict[str, Any] = {"Variable": node.when.path}
            if node.when.equals is not None:
                rule["StringEquals"] = node.when.equals
            else:
                rule["NumericGreaterThan"] = node.when.greater_than
            states[node.state] = {
                "Type": "Choice",
                "Choices": [{**rule, "Next": chain(node.then, then)}],
                "Default": chain(node.otherwise, then),
            }
            return node.state
        if isinstance(node, SucceedIf):
            states[node.end] = {"Type": "Succeed"}
            rule = {"Variable": node.when.path, "StringEquals": node.when.equals, "Next": node.end}
            states[node.state] = {"Type": "Choice", "Choices": [rule], "Default": then}
            return node.state
        if isinstance(node, Wait):
            states[node.state] = {"Type": "Wait", "SecondsPath": node.seconds_path, "Next": then}
            return node.state
        assert isinstance(node, SetPolicy)
        states[node.state] = {
            "Type": "Pass",
            "InputPath": "$.policy",
            "ResultPath": node.result_path,
            "Next": then,
        }
        return node.state

    states[workflow.succeeded] = {"Type": "Succeed"}
    states[workflow.failed] = {"Type": "Fail", "Error": "PromotionRejected", "Cause": "see it"}
    task(workflow.on_failure, workflow.failed, catch_to=None)
    start = chain(workflow.nodes, workflow.succeeded)
    return {"StartAt": start, "States": states}


def run(cloud: dict[str, Any], policy: dict[str, Any], name: str = "iris-3-run") -> str:
    """Start a promotion; it gets the model's lock at once (its token answered)."""
    sfn = boto3.client("stepfunctions")
    arn = str(
        sfn.start_execution(
            stateMachineArn=cloud["machine"], name=name, input=json.dumps({"policy": policy})
        )["executionArn"]
    )
    if "Validate" in cloud["script"].answers or "Register" not in cloud["script"].answers:
        return arn  # it stops before the lock
    sfn.send_task_success(taskToken=token_of(cloud["queue"], "AcquireLock", arn), output="{}")
    return arn


def settled(arn: str, until: Any, within: float = 20.0) -> list[dict[str, Any]]:
    """The execution's history once ``until(status, events)`` holds (or the time is up)."""
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + within
    while True:
        status = sfn.describe_execution(executionArn=arn)["status"]
        events = sfn.get_execution_history(executionArn=arn)["events"]
        if until(status, events) or time.monotonic() > deadline:
            return events
        time.sleep(0.05)


def ended(status: str, _: list[dict[str, Any]]) -> bool:
    return status != "RUNNING"


def by_step(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {step["step"]: step for step in steps}


REGISTERED = {"outcome": "registered"}


def test_a_gate_that_passed_lists_every_declared_step_in_order_with_skipped_branches(cloud):
    cloud["script"].answers["Register"] = [REGISTERED]
    arn = run(cloud, AUTO)
    events = settled(arn, ended)

    steps = gate_steps(events, status="SUCCEEDED")

    assert [s["step"] for s in steps] == [n.state for n in declared_steps()]
    states = {s["step"]: s["state"] for s in steps}
    skipped = {"WaitForApproval", "StartCanary", "BakeCanary", "CheckCanary"}
    assert {k for k, v in states.items() if v == "not-reached"} == skipped
    assert {v for k, v in states.items() if k not in skipped} == {"passed"}
    validate = by_step(steps)["Validate"]
    assert validate["attempts"] == 1 and validate["reason"] is None
    assert validate["duration_ms"] >= 0 and validate["started_at"] <= validate["ended_at"]
    assert validate["description"] == PROMOTION.task("Validate").description
    assert by_step(steps)["WaitForApproval"]["attempts"] == 0
    assert "RecordFailure" not in states  # the failure handler shows only when it ran


def test_a_retried_attempt_that_succeeds_is_a_pass_with_its_attempts(cloud):
    cloud["script"].answers["Register"] = [("PointerConflictError", "moved; retry"), REGISTERED]
    events = settled(run(cloud, AUTO), ended)

    register = by_step(gate_steps(events, status="SUCCEEDED"))["Register"]

    assert (register["state"], register["attempts"], register["reason"]) == ("passed", 2, None)


def test_a_failed_step_says_why_without_the_stack_trace_and_the_rest_is_not_reached(cloud):
    cloud["script"].answers["Register"] = [REGISTERED]
    cloud["script"].answers["Evaluate"] = [
        ("EvaluationFailedError", "accuracy 0.31 is below the threshold 0.9")
    ]
    events = settled(run(cloud, AUTO), ended)

    steps = by_step(gate_steps(events, status="FAILED"))

    evaluate = steps["Evaluate"]
    assert evaluate["state"] == "failed"
    assert evaluate["reason"] == "EvaluationFailedError: accuracy 0.31 is below the threshold 0.9"
    assert evaluate["ended_at"] is not None
    assert steps["AcquireLock"]["state"] == "passed"
    assert {steps[s]["state"] for s in ("Stage", "SmokeTest", "Promote")} == {"not-reached"}
    assert steps["RecordFailure"]["state"] == "passed"  # listed once it ran


def token_of(queue: str, step: str, execution: str, within: float = 10.0) -> str:
    sqs = boto3.client("sqs")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            body = json.loads(message["Body"])
            if (body["step"], body["execution"]) == (step, execution):
                return str(body["token"])
        time.sleep(0.05)
    raise AssertionError(f"{step} never handed out its token")


def submitted(step: str) -> Any:
    def waiting(status: str, events: list[dict[str, Any]]) -> bool:
        return any(e["type"] == "TaskSubmitted" for e in events) and status == "RUNNING"

    return waiting


def test_a_version_waiting_for_a_person_then_rejected(cloud):
    cloud["script"].answers["Register"] = [REGISTERED]
    arn = run(cloud, MANUAL)
    token = token_of(cloud["queue"], "WaitForApproval", arn)
    events = settled(arn, submitted("WaitForApproval"))

    waiting = by_step(gate_steps(events, status="RUNNING"))

    approval = waiting["WaitForApproval"]
    assert approval["state"] == "waiting"
    assert "a person to approve or reject" in approval["reason"]
    assert approval["ended_at"] is None and approval["duration_ms"] is None
    assert waiting["SmokeTest"]["state"] == "passed"
    assert waiting["AutoApprove"]["state"] == "not-reached"  # the other branch
    assert waiting["Promote"]["state"] == "not-reached"

    boto3.client("stepfunctions").send_task_failure(
        taskToken=token, error="VersionRejected", cause="rejected by alice: the labels are stale"
    )
    rejected = by_step(gate_steps(settled(arn, ended), status="FAILED"))

    assert rejected["WaitForApproval"]["state"] == "failed"
    assert rejected["WaitForApproval"]["reason"] == (
        "VersionRejected: rejected by alice: the labels are stale"
    )


def test_a_canary_baking_is_waiting_until_its_first_check(cloud):
    cloud["script"].answers["Register"] = [REGISTERED]
    cloud["script"].answers["StartCanary"] = [{"first_check_seconds": 600}]
    arn = run(cloud, CANARY)
    events = settled(arn, lambda _, ev: any(e["type"] == "WaitStateEntered" for e in ev))

    steps = by_step(gate_steps(events, status="RUNNING"))

    bake = steps["BakeCanary"]
    assert bake["state"] == "waiting"
    assert bake["description"]
    assert "first check at 20" in bake["reason"]  # an ISO time, 600 s after it began
    assert steps["StartCanary"]["state"] == "passed"
    assert steps["CheckCanary"]["state"] == "not-reached"

    boto3.client("stepfunctions").stop_execution(executionArn=arn, cause="rolled back by bob")
    stopped = by_step(gate_steps(events, status="ABORTED"))
    assert stopped["BakeCanary"]["state"] == "failed"


def test_a_canary_check_that_says_not_yet_is_waiting_with_its_words(cloud):
    cloud["script"].answers["Register"] = [REGISTERED]
    cloud["script"].answers["StartCanary"] = [{"first_check_seconds": 0}]
    cloud["script"].answers["CheckCanary"] = [
        ("CanaryStillBakingError", "canary of 3 after 40 s of 300 s: 12 requests")
    ]
    arn = run(cloud, CANARY)
    events = settled(arn, lambda _, ev: sum(e["type"] == "LambdaFunctionFailed" for e in ev) >= 1)

    check = by_step(gate_steps(events, status="RUNNING"))["CheckCanary"]

    assert check["state"] == "waiting"
    assert check["reason"] == "CanaryStillBakingError: canary of 3 after 40 s of 300 s: 12 requests"
    boto3.client("stepfunctions").stop_execution(executionArn=arn)


def test_a_step_at_work_after_a_transient_failure_is_running_and_says_so(cloud):
    cloud["script"].answers["Validate"] = [("Lambda.ServiceException", "try later"), {}]
    events = settled(
        run(cloud, AUTO), lambda _, ev: any(e["type"] == "LambdaFunctionFailed" for e in ev)
    )
    failed_at = next(i for i, e in enumerate(events) if e["type"] == "LambdaFunctionFailed")

    validate = by_step(gate_steps(events[: failed_at + 1], status="RUNNING"))["Validate"]

    assert validate["state"] == "running"
    assert validate["reason"] == "retrying after Lambda.ServiceException: try later"


# -- histories read in part -----------------------------------------------------------------


def test_the_history_is_read_in_any_order_and_a_gap_in_it_is_said(cloud):
    cloud["script"].answers["Register"] = [REGISTERED]
    arn = run(cloud, AUTO)
    events = settled(arn, ended)
    newest_first = list(reversed(events))

    assert gate_steps(newest_first, status="SUCCEEDED") == gate_steps(events, status="SUCCEEDED")

    # GIVEN only the first ten events and the last fifteen were read
    partial = events[:10] + events[-15:]
    steps = by_step(gate_steps(partial, status="SUCCEEDED", complete=False))
    # THEN the steps the run went past without a trace in what was read passed, said so;
    # the branch it skipped stays not-reached, and the end is read as it is
    assert steps["Evaluate"]["state"] == "passed"
    assert steps["Evaluate"]["reason"] == BEYOND_HISTORY
    assert steps["WaitForApproval"]["state"] == "not-reached"
    assert steps["Promote"]["state"] == "passed" and steps["Promote"]["reason"] is None
    assert {s["state"] for s in steps.values()} <= {"passed", "not-reached"}


class PagedStepFunctions:
    """moto's GetExecutionHistory answers every event at once, whatever maxResults says; this
    pages its real answer as AWS does (maxResults, nextToken, reverseOrder), counting calls."""

    def __init__(self) -> None:
        self._sfn = boto3.client("stepfunctions")
        self.calls: list[dict[str, Any]] = []

    def get_execution_history(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        events = self._sfn.get_execution_history(executionArn=request["executionArn"])["events"]
        events.sort(key=lambda e: e["id"], reverse=bool(request.get("reverseOrder")))
        start = int(request.get("nextToken", 0))
        end = start + request["maxResults"]
        page = {"events": events[start:end]}
        if end < len(events):
            page["nextToken"] = str(end)
        return page


def test_a_long_history_is_read_in_at_most_five_pages_and_said_to_be_truncated(cloud):
    cloud["script"].answers["Register"] = [REGISTERED]
    arn = run(cloud, AUTO)
    total = len(settled(arn, ended))
    paged = PagedStepFunctions()

    events, truncated = read_history(paged, arn, page_events=10)

    assert total > 50 and truncated
    assert len(paged.calls) == 5
    assert [e["id"] for e in events][:10] == list(range(1, 11))  # the beginning
    assert events[-1]["id"] == total  # and the end
    whole, cut = read_history(PagedStepFunctions(), arn, page_events=1000)
    assert not cut and [e["id"] for e in whole] == list(range(1, total + 1))


# -- the route ------------------------------------------------------------------------------


def registered(table: Any, version: str, **attributes: Any) -> None:
    table.put_item(
        Item={
            keys.PK: keys.model_pk("iris"),
            keys.SK: keys.version_sk(version),
            "kind": "version",
            "name": "iris",
            "version": version,
            "status": "registered",
            "registered_at": "2026-12-07T09:00:00.000+00:00",
            **attributes,
        }
    )


@pytest.fixture
def client(cloud):
    app = create_app()
    app.dependency_overrides[get_repository] = lambda: LineageRepository(cloud["table"])
    return TestClient(app)


def test_the_route_describes_a_running_gate(cloud, client):
    cloud["script"].answers["Register"] = [REGISTERED]
    arn = run(cloud, MANUAL, name="iris-3-abc")
    settled(arn, submitted("WaitForApproval"))
    registered(cloud["table"], "3", execution="iris-3-abc")

    gate = client.get("/v1/models/iris/versions/3/gate").json()

    assert (gate["model"], gate["version"], gate["execution"]) == ("iris", "3", "iris-3-abc")
    assert gate["status"] == "RUNNING" and gate["ended_at"] is None
    assert gate["started_at"].startswith("20") and gate["history_truncated"] is False
    assert "gone" not in gate
    assert by_step(gate["steps"])["WaitForApproval"]["state"] == "waiting"
    boto3.client("stepfunctions").stop_execution(executionArn=arn)


def test_a_retry_is_the_gate_shown_and_a_gate_step_functions_forgot_is_gone(cloud, client):
    cloud["script"].answers["Register"] = [REGISTERED]
    settled(run(cloud, AUTO, name="iris-4-retry-1"), ended)
    registered(cloud["table"], "4", execution="iris-4-first", retry_execution="iris-4-retry-1")
    registered(cloud["table"], "5", execution="iris-5-long-ago")

    retried = client.get("/v1/models/iris/versions/4/gate").json()
    gone = client.get("/v1/models/iris/versions/5/gate").json()

    assert retried["execution"] == "iris-4-retry-1" and retried["status"] == "SUCCEEDED"
    assert (
        gone["gone"] is True and gone["status"] is None and gone["execution"] == "iris-5-long-ago"
    )
    assert {s["state"] for s in gone["steps"]} == {"not-reached"}
    assert [s["step"] for s in gone["steps"]] == [n.state for n in declared_steps()]


def test_an_unknown_version_is_a_404_problem(cloud, client):
    answer = client.get("/v1/models/iris/versions/9/gate")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/models/iris/versions/..bad/gate").status_code in (400, 404, 422)


def test_version_gate_without_any_execution_is_gone(cloud):
    sfn = boto3.client("stepfunctions")
    item = items.public({"name": "iris", "version": "6"})
    gate = version_gate(sfn, cloud["machine"], item)
    assert gate["execution"] is None and gate["gone"] is True
