"""The embedded cloud's data capture and alarms (slipway/local/monitoring_resources.py),
against moto in process: filter patterns, Firehose's message extraction, alarm judgement."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from slipway.local import monitoring_resources
from slipway.local.monitoring_resources import evaluate_alarms, pattern_matches

pytestmark = pytest.mark.unit
ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ('{ $.message = "capture" }', '{"message":"capture","x":1}', True),
        ('{ $.message = "capture" }', '{"message":"prediction"}', False),
        ('{ $.message = "capture" }', "START RequestId: 1", False),
        ('{ $.message != "capture" }', '{"message":"prediction"}', True),
        ('{ $.a.b = 2 && $.c = "x" }', '{"a":{"b":2},"c":"x"}', True),
        ('{ $.a.b = 2 && $.c = "x" }', '{"a":{"b":3},"c":"x"}', False),
        ("ERROR", "an ERROR line", None),  # not a JSON pattern: moto's matching decides
        ("{ $.a = 1 || $.b = 2 }", '{"a":1}', None),
    ],
)
def test_json_filter_patterns(pattern, message, expected):
    assert pattern_matches(pattern, message) is expected


@pytest.fixture
def patched():
    monitoring_resources.install()
    with mock_aws():
        yield


def test_a_filtered_subscription_delivers_only_matching_messages_one_a_line_gzipped(patched):
    s3, logs, firehose = (boto3.client(s, region_name=REGION) for s in ("s3", "logs", "firehose"))
    s3.create_bucket(Bucket="artifacts")
    processing = {
        "Enabled": True,
        "Processors": [
            {
                "Type": "Decompression",
                "Parameters": [{"ParameterName": "CompressionFormat", "ParameterValue": "GZIP"}],
            },
            {
                "Type": "CloudWatchLogProcessing",
                "Parameters": [
                    {"ParameterName": "DataMessageExtraction", "ParameterValue": "true"}
                ],
            },
            {"Type": "AppendDelimiterToRecord"},
        ],
    }
    arn = firehose.create_delivery_stream(
        DeliveryStreamName="capture",
        ExtendedS3DestinationConfiguration={
            "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose",
            "BucketARN": "arn:aws:s3:::artifacts",
            "Prefix": "capture/",
            "CompressionFormat": "GZIP",
            "ProcessingConfiguration": processing,
        },
    )["DeliveryStreamARN"]
    logs.create_log_group(logGroupName="endpoint")
    logs.create_log_stream(logGroupName="endpoint", logStreamName="s")
    logs.put_subscription_filter(
        logGroupName="endpoint",
        filterName="capture",
        filterPattern='{ $.message = "capture" }',
        destinationArn=arn,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/logs",
    )
    now = int(time.time() * 1000)
    messages = [
        '{"message":"capture","n":1}',
        '{"message":"prediction"}',
        "REPORT x",
        '{"message":"capture","n":2}',
    ]
    logs.put_log_events(
        logGroupName="endpoint",
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": m} for m in messages],
    )
    logs.put_log_events(
        logGroupName="endpoint",
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": '{"message":"prediction"}'}],
    )
    (item,) = s3.list_objects_v2(Bucket="artifacts")["Contents"]  # nothing for the 2nd call
    assert item["Key"].startswith("capture/") and item["Key"].endswith(".gz")
    body = s3.get_object(Bucket="artifacts", Key=item["Key"])["Body"].read()
    lines = gzip.decompress(body).decode().splitlines()
    assert [json.loads(line)["n"] for line in lines] == [1, 2]


def put(cloudwatch, value: float, dimensions: list[dict], minutes_ago: float = 0) -> None:
    cloudwatch.put_metric_data(
        Namespace="Slipway",
        MetricData=[
            {
                "MetricName": "DriftingVersions",
                "Value": value,
                "Dimensions": dimensions,
                "Timestamp": datetime.now(UTC) - timedelta(minutes=minutes_ago),
            }
        ],
    )


def test_an_alarm_is_judged_on_its_own_series_as_data_arrives(patched):
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    mine = [{"Name": "environment", "Value": "local"}]
    cloudwatch.put_metric_alarm(
        AlarmName="drift",
        Namespace="Slipway",
        MetricName="DriftingVersions",
        Dimensions=mine,
        Statistic="Maximum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )

    def state() -> str:
        evaluate_alarms(ACCOUNT, REGION, {("Slipway", "DriftingVersions")})
        return cloudwatch.describe_alarms(AlarmNames=["drift"])["MetricAlarms"][0]["StateValue"]

    put(cloudwatch, 3, [{"Name": "environment", "Value": "rehearsal"}])  # another environment
    put(cloudwatch, 0, mine)
    assert state() == "OK"
    put(cloudwatch, 2, mine, minutes_ago=20)  # outside the alarm's one period
    assert state() == "OK"
    put(cloudwatch, 1, mine)
    assert state() == "ALARM"
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["drift"])["MetricAlarms"]
    assert "Threshold Crossed" in alarm["StateReason"]
    put(cloudwatch, 0, mine, minutes_ago=-1)  # the newest period's maximum stays 1
    assert state() == "ALARM"


def capture_stack(expression: str, threshold: int, pattern: str, buffer_seconds: int) -> str:
    """A stack of the four resource types the embedded cloud builds from templates."""
    stream = "DataCaptureCaptureStream"
    resources = {
        "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "endpoint"}},
        stream: {
            "Type": "AWS::KinesisFirehose::DeliveryStream",
            "Properties": {
                "DeliveryStreamType": "DirectPut",
                "ExtendedS3DestinationConfiguration": {
                    "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose",
                    "BucketARN": "arn:aws:s3:::artifacts",
                    "Prefix": "capture/",
                    "BufferingHints": {"IntervalInSeconds": buffer_seconds, "SizeInMBs": 64},
                },
            },
        },
        "Filter": {
            "Type": "AWS::Logs::SubscriptionFilter",
            "Properties": {
                "LogGroupName": {"Ref": "Group"},
                "FilterPattern": pattern,
                "DestinationArn": {"Fn::GetAtt": [stream, "Arn"]},
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/logs",
            },
        },
        "Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Namespace": "Slipway",
                "MetricName": "DriftingVersions",
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "EvaluationPeriods": 1,
                "Period": 300,
                "Threshold": threshold,
                "Statistic": "Maximum",
            },
        },
        "Schedule": {
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "ScheduleExpression": expression,
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": {
                    "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:monitor",
                    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler",
                },
            },
        },
    }
    return json.dumps({"Resources": resources})


def test_a_stack_update_changes_the_resources_in_place_and_a_delete_removes_them(patched):
    from moto.cloudformation import parsing

    for cached in ("get_model_list", "get_model_map", "get_name_type_map"):
        getattr(parsing, cached).cache_clear()  # the resource classes join moto's models
    cfn, logs, cloudwatch, scheduler, firehose = (
        boto3.client(s, region_name=REGION)
        for s in ("cloudformation", "logs", "cloudwatch", "scheduler", "firehose")
    )
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="artifacts")

    def deployed() -> tuple:
        (alarm,) = cloudwatch.describe_alarms()["MetricAlarms"]
        (schedule,) = scheduler.list_schedules()["Schedules"]
        (subscription,) = logs.describe_subscription_filters(logGroupName="endpoint")[
            "subscriptionFilters"
        ]
        (stream,) = firehose.list_delivery_streams()["DeliveryStreamNames"]
        destination = firehose.describe_delivery_stream(DeliveryStreamName=stream)[
            "DeliveryStreamDescription"
        ]["Destinations"][0]["ExtendedS3DestinationDescription"]
        return (
            (alarm["AlarmName"], alarm["Threshold"]),
            (schedule["Name"], scheduler.get_schedule(Name=schedule["Name"])["ScheduleExpression"]),
            (subscription["filterName"], subscription["filterPattern"]),
            (stream, destination["BufferingHints"]["IntervalInSeconds"]),
            subscription["destinationArn"].endswith(f"/{stream}"),
        )

    # GIVEN a deployed stack
    cfn.create_stack(
        StackName="serving", TemplateBody=capture_stack("rate(1 hour)", 1, '{ $.a = "x" }', 300)
    )
    alarm, schedule, subscription, stream, _ = deployed()
    # WHEN each of the four resources changes in the next deployment
    cfn.update_stack(
        StackName="serving",
        TemplateBody=capture_stack("rate(5 minutes)", 2, '{ $.a = "y" }', 60),
    )
    # THEN each changed, under the same name, and the filter still reaches its stream
    assert deployed() == (
        (alarm[0], 2.0),
        (schedule[0], "rate(5 minutes)"),
        (subscription[0], '{ $.a = "y" }'),
        (stream[0], 60),
        True,
    )
    # AND deleting the stack leaves none of them behind
    cfn.delete_stack(StackName="serving")
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    assert scheduler.list_schedules()["Schedules"] == []
    assert firehose.list_delivery_streams()["DeliveryStreamNames"] == []


def test_a_late_datum_hides_no_other_and_judging_reads_only_the_alarms_series(patched):
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    mine = [{"Name": "environment", "Value": "local"}]
    cloudwatch.put_metric_alarm(
        AlarmName="drift",
        Namespace="Slipway",
        MetricName="DriftingVersions",
        Dimensions=mine,
        Statistic="Maximum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )

    def state() -> str:
        evaluate_alarms(ACCOUNT, REGION, {("Slipway", "DriftingVersions")})
        return cloudwatch.describe_alarms(AlarmNames=["drift"])["MetricAlarms"][0]["StateValue"]

    put(cloudwatch, 0, mine)
    assert state() == "OK"
    # GIVEN a breaching datum now, then one from 20 minutes ago arriving after it
    put(cloudwatch, 2, mine)
    put(cloudwatch, 0, mine, minutes_ago=20)
    # THEN the late one is outside the alarm's range and the breach still counts
    assert state() == "ALARM"
    # AND an endpoint's traffic of other metrics does not make judging slower
    endpoint = [{"Name": "function_name", "Value": "endpoint"}]
    for _ in range(40):
        cloudwatch.put_metric_data(
            Namespace="Slipway",
            MetricData=[{"MetricName": "Latency", "Value": 1.0, "Dimensions": endpoint}] * 1000,
        )
    state()  # indexes what arrived
    put(cloudwatch, 0, mine)
    started = time.perf_counter()
    evaluate_alarms(ACCOUNT, REGION, {("Slipway", "DriftingVersions")})
    assert time.perf_counter() - started < 0.01  # scanning the 40,000 took ~40 ms


def test_without_the_delimiter_processor_messages_run_together():
    from slipway.local.monitoring_resources import message_delimiter

    assert message_delimiter({"ProcessingConfiguration": {"Processors": []}}) == ""
    with_it = {"ProcessingConfiguration": {"Processors": [{"Type": "AppendDelimiterToRecord"}]}}
    assert message_delimiter(with_it) == "\n"
