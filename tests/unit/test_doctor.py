"""slipway doctor's examination: each inconsistency of a model's registry items is found,
explained, and a consistent model has none (moto; real executions, running or stopped)."""

from __future__ import annotations

import boto3
import pytest

from registry import keys
from registry import workflow as steps
from registry.doctor import Doctor
from registry.executions import execution_arn
from slipway.local.moto_patches import abort_stopped_executions
from tests.unit.gate import (
    StillWaiting,
    live,
    registered,
    run,
    running_execution,
    token_waiting_machine,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def doctor(gate) -> Doctor:
    abort_stopped_executions()  # as the embedded cloud has it: AWS reports ABORTED at once
    machine, _ = token_waiting_machine("lock-holders", waits=("Lock", "Hold"))
    return Doctor(
        gate.repository, boto3.client("stepfunctions"), lambda name: execution_arn(machine, name)
    )


def problems(doctor: Doctor) -> list[str]:
    return [finding.problem for finding in doctor.examine("iris")]


def stop(execution: str) -> None:
    boto3.client("stepfunctions").stop_execution(executionArn=running_execution(execution))


def test_a_consistent_model_has_nothing_to_report(gate, bundles, doctor):
    live(gate, bundles["good"], "good")
    assert doctor.examine("iris") == []
    assert doctor.examine("no-such-model") == []


def test_an_ended_holder_its_undecided_version_and_a_stale_wait_are_found(gate, bundles, doctor):
    # GIVEN a holder of the lock and a version waiting behind it, both stopped, and nobody
    # told (the execution-ended events lost)
    first = run(steps.ACQUIRE_LOCK, registered(gate, bundles["good"], "good"))
    second = registered(gate, bundles["better"], "better")
    with pytest.raises(StillWaiting):
        run(steps.ACQUIRE_LOCK, second)
    assert problems(doctor) == []  # while they run, all is well
    stop(first.execution_name)
    stop(second.execution_name)
    findings = {f.problem: f for f in doctor.examine("iris")}
    # THEN each is named, with what to do
    assert set(findings) == {"stale-lock", "stale-wait", "undecided-version"}
    assert "`slipway unlock iris`" in findings["stale-lock"].remedy
    assert first.execution_name in findings["stale-lock"].detail
    assert "ABORTED" in findings["undecided-version"].detail


def test_pointers_that_disagree_with_the_versions_are_found(gate, bundles, doctor):
    live(gate, bundles["good"], "good")
    table = gate.repository._table
    pk = keys.model_pk("iris")
    # a second version that says it is live, a canary nobody judges, a stale staging
    table.update_item(
        Key={keys.PK: pk, keys.SK: keys.version_sk("good")},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "live"},
    )
    item = table.get_item(Key={keys.PK: pk, keys.SK: keys.version_sk("good")})["Item"]
    table.put_item(Item={**item, keys.SK: keys.version_sk("ghost"), "version": "ghost"})
    table.update_item(
        Key={keys.PK: pk, keys.SK: keys.stage_sk("live")},
        UpdateExpression="SET canary_version = :v, canary_weight = :w, canary_execution = :e",
        ExpressionAttributeValues={":v": "ghost", ":w": 1, ":e": "ended-long-ago"},
    )
    table.put_item(Item={keys.PK: pk, keys.SK: keys.stage_sk("staging"), "version": "gone"})
    found = problems(doctor)
    assert set(found) == {"two-live-versions", "canary-without-promotion", "stale-staging"}
    # a pointer to a version that does not exist, and a damaged one
    table.update_item(
        Key={keys.PK: pk, keys.SK: keys.stage_sk("live")},
        UpdateExpression="SET version = :v REMOVE canary_version",
        ExpressionAttributeValues={":v": "999"},
    )
    assert "pointer-to-missing-version" in problems(doctor)
    table.update_item(
        Key={keys.PK: pk, keys.SK: keys.stage_sk("live")}, UpdateExpression="REMOVE version"
    )
    table.put_item(Item={keys.PK: pk, keys.SK: keys.version_sk("torn")})
    found = problems(doctor)
    assert "damaged-pointer" in found and "damaged-version" in found
