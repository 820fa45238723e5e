"""Ingest: one execution per object version, however often the event arrives."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from functions.exceptions import InvalidEventError
from functions.ingest.executions import start_promotion, upload_from_eventbridge
from registry.executions import UploadEvent, execution_name
from tests.conftest import load_event

PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


def test_reads_the_s3_object_created_event():
    upload = upload_from_eventbridge(load_event("eventbridge_s3_object_created.json"))
    assert upload == UploadEvent(
        bucket="slipway-artifacts-example",
        key="models/iris/1/bundle.tar.gz",
        version_id="IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
        size=2835,
    )


def test_a_foreign_event_is_an_invalid_event():
    with pytest.raises(InvalidEventError, match="detail"):
        upload_from_eventbridge({"source": "aws.ec2"})


def test_execution_name_is_readable_deterministic_and_version_specific():
    upload = upload_from_eventbridge(load_event("eventbridge_s3_object_created.json"))
    name = execution_name(upload)
    assert name.startswith("iris-1-") and len(name) <= 80
    assert execution_name(upload) == name
    other = UploadEvent(upload.bucket, upload.key, "another-version", upload.size)
    assert execution_name(other) != name


@mock_aws
def test_the_same_event_twice_starts_one_execution():
    # GIVEN a state machine and one upload event
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="promotion",
        definition=PASS_MACHINE,
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    upload = upload_from_eventbridge(load_event("eventbridge_s3_object_created.json"))
    # WHEN it is delivered twice
    first = start_promotion(sfn, arn, upload)
    second = start_promotion(sfn, arn, upload)
    # THEN both deliveries name the same execution, and only one exists
    assert first == second
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1


@mock_aws
def test_handler_reports_only_the_failed_records(monkeypatch, lambda_context):
    from functions.ingest import handler as ingest

    # GIVEN the deployed state machine, and a batch of one upload event and one broken message
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="promotion", definition=PASS_MACHINE, roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    monkeypatch.setenv("SLIPWAY_STATE_MACHINE_ARN", arn)
    event = load_event("sqs_batch.json")
    good = dict(
        event["Records"][0], body=json.dumps(load_event("eventbridge_s3_object_created.json"))
    )
    bad = dict(event["Records"][0], messageId="bad-one", body="{not json")
    # WHEN the ingest function receives it
    result = ingest.handler({"Records": [good, bad]}, lambda_context)
    # THEN SQS retries only the broken message, and the upload's promotion started
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-one"}]}
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert execution["name"].startswith("iris-1-")
    started = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert started["key"] == "models/iris/1/bundle.tar.gz"


@mock_aws
def test_a_batch_that_fails_whole_is_retried_whole(monkeypatch, lambda_context):
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from functions.ingest import handler as ingest

    monkeypatch.setenv("SLIPWAY_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:1:stateMachine:x")
    event = load_event("sqs_batch.json")
    bad = dict(event["Records"][0], body=json.dumps({"source": "aws.ec2"}))
    with pytest.raises(BatchProcessingError):
        ingest.handler({"Records": [bad]}, lambda_context)
