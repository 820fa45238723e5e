"""The execution-ended rule's handler: an execution that ended without its last steps
(stopped by hand) leaves no lock held and no version under way; a repeated or late event
changes nothing."""

from __future__ import annotations

import json

import boto3
import pytest

from functions.execution_ended.handler import close_ended_execution, handler
from registry import workflow as steps
from registry.statuses import VersionStatus
from slipway.local.moto_patches import abort_stopped_executions
from tests.conftest import LambdaContext, load_event
from tests.unit.gate import StillWaiting, registered, run, running_execution, token_answer

pytestmark = pytest.mark.unit


def status_change(arn: str, included: bool = True) -> dict:
    """The EventBridge event AWS sends when the execution ``arn`` ended (its documented
    shape, filled from the execution as Step Functions describes it)."""
    described = boto3.client("stepfunctions").describe_execution(executionArn=arn)
    event = load_event("eventbridge_sfn_execution_status_change.json")
    event["resources"] = [arn]
    event["detail"].update(
        executionArn=arn,
        stateMachineArn=described["stateMachineArn"],
        name=described["name"],
        status=described["status"],
        input=described["input"] if included else None,
        inputDetails={"included": included},
    )
    return event


def sqs_batch(*events: dict) -> dict:
    batch = load_event("sqs_batch.json")
    (template,) = batch["Records"]
    batch["Records"] = [
        {**template, "messageId": f"m-{at}", "body": json.dumps(event)}
        for at, event in enumerate(events)
    ]
    return batch


def test_a_stopped_holder_frees_its_lock_and_fails_its_version(gate, bundles):
    abort_stopped_executions()  # as the embedded cloud has it: AWS reports ABORTED at once
    # GIVEN version good holding the lock, version better waiting behind it
    first = run(steps.ACQUIRE_LOCK, registered(gate, bundles["good"], "good"))
    second = registered(gate, bundles["better"], "better")
    with pytest.raises(StillWaiting):
        run(steps.ACQUIRE_LOCK, second)
    # WHEN an operator stops the holder's execution, and its end is announced
    arn = running_execution(first.execution_name)
    boto3.client("stepfunctions").stop_execution(executionArn=arn)
    answer = handler(sqs_batch(status_change(arn, included=False)), LambdaContext())
    # THEN nothing failed, the version says why it ended, and the next one holds the lock
    assert answer == {"batchItemFailures": []}
    item = gate.repository.get_version("iris", "good")
    assert item["status"] == VersionStatus.FAILED
    assert item["rejection_reason"].startswith("ExecutionEnded: its execution ended ABORTED")
    assert token_answer(running_execution(second.execution_name)) == {"held": True}
    assert gate.repository.lock_holder("iris")["execution"] == second.execution_name
    unlock = [e for e in gate.repository.audit_history("iris", "good") if e["step"] == "unlock"]
    assert unlock[0]["reason"] == "released when its execution ended ABORTED"
    # AND the same event again changes nothing (events arrive at least once)
    again = close_ended_execution(
        status_change(arn)["detail"], gate.repository, boto3.client("stepfunctions")
    )
    assert again == "iris good: lock not held, status unchanged"
    assert gate.repository.lock_holder("iris")["execution"] == second.execution_name


def test_an_execution_that_decided_its_version_keeps_that_decision(gate, bundles):
    abort_stopped_executions()
    state = run(steps.ACQUIRE_LOCK, registered(gate, bundles["good"], "good"))
    gate.repository.reject_version(
        "iris", "good", state.execution_name, "judged", VersionStatus.REJECTED
    )
    arn = running_execution(state.execution_name)
    boto3.client("stepfunctions").stop_execution(executionArn=arn)
    done = close_ended_execution(
        status_change(arn)["detail"], gate.repository, boto3.client("stepfunctions")
    )
    assert done == "iris good: lock released, status unchanged"
    assert gate.repository.get_version("iris", "good")["status"] == VersionStatus.REJECTED
    assert gate.repository.lock_holder("iris") is None


def test_events_of_other_uploads_and_unknown_statuses_are_left_alone(gate):
    sfn = boto3.client("stepfunctions")
    arn = running_execution("not-a-model", {"key": "elsewhere/file.txt"})
    detail = status_change(arn)["detail"]
    assert close_ended_execution({**detail, "status": "ABORTED"}, gate.repository, sfn) == (
        "not a model upload"
    )
    assert close_ended_execution(detail, gate.repository, sfn).startswith("nothing to do")
