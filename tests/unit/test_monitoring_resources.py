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
