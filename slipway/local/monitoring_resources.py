"""What the embedded cloud teaches moto for monitoring: data capture and alarms, as in AWS.

moto's CloudFormation skips ``AWS::KinesisFirehose::DeliveryStream``,
``AWS::Logs::SubscriptionFilter`` and ``AWS::CloudWatch::Alarm``; its subscription filters
deliver every log event whatever the filter's pattern; its Firehose ignores processors and
compression; and its alarms never change state. Here:
- the three resource types are created from the templates, backed by moto's own models;
- a subscription filter delivers only the events its JSON pattern (``{ $.message = "x" }``,
  several joined by ``&&``) matches; other patterns keep moto's matching;
- Firehose with the Decompression and CloudWatchLogProcessing (message extraction) processors
  writes the log messages, one a line, and gzips objects where the destination says GZIP (with
  AWS's ``.gz`` suffix); each delivery is written at once (no buffering), so what an endpoint
  captured is in the bucket when its answer is;
- an alarm on one metric is evaluated whenever the embedded cloud turns log lines into
  metrics (``evaluate_alarms``): its periods' statistic against its threshold, missing data
  as the alarm treats it. Alarms on metric math or percentiles keep their state.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch import models as cloudwatch_models
from moto.core.common_models import CloudFormationModel
from moto.firehose import models as firehose_models
from moto.logs import models as logs_models
from moto.logs.utils import EventMessageFilter
from moto.s3 import models as s3_models
from moto.scheduler import models as scheduler_models

# (owner, attribute, parameters) of the moto internals used here, checked like moto_patches'
TARGETS: list[tuple[Any, str, tuple[str, ...] | None]] = [
    (
        logs_models.LogStream,
        "_send_log_events",
        ("self", "service", "destination_arn", "filter_name", "log_events"),
    ),
    (
        firehose_models.FirehoseBackend,
        "send_log_event",
        (
            "self",
            "delivery_stream_arn",
            "filter_name",
            "log_group_name",
            "log_stream_name",
            "log_events",
        ),
    ),
    (
        firehose_models.FirehoseBackend,
        "put_s3_records",
        ("self", "delivery_stream_name", "version_id", "s3_destination", "records"),
    ),
    (
        firehose_models.FirehoseBackend,
        "_format_s3_object_path",
        ("delivery_stream_name", "version_id", "prefix"),
    ),
    (firehose_models.FirehoseBackend, "lookup_name_from_arn", ("self", "arn")),
    (firehose_models.FirehoseBackend, "delete_delivery_stream", ("self", "delivery_stream_name")),
    (firehose_models, "firehose_backends", None),
    (logs_models, "logs_backends", None),
    (
        logs_models.LogsBackend,
        "put_subscription_filter",
        (
            "self",
            "log_group_name",
            "filter_name",
            "filter_pattern",
            "destination_arn",
            "role_arn",
        ),
    ),
    (
        logs_models.LogsBackend,
        "delete_subscription_filter",
        ("self", "log_group_name", "filter_name"),
    ),
    (cloudwatch_models.CloudWatchBackend, "put_metric_alarm", None),
    (cloudwatch_models.CloudWatchBackend, "delete_alarms", ("self", "alarm_names")),
    (cloudwatch_models.Alarm, "update_state", ("self", "reason", "reason_data", "state_value")),
    (s3_models, "s3_backends", None),
    (scheduler_models, "scheduler_backends", None),
    (scheduler_models.EventBridgeSchedulerBackend, "create_schedule", None),
    (
        scheduler_models.EventBridgeSchedulerBackend,
        "delete_schedule",
        ("self", "group_name", "name"),
    ),
]


# ---- CloudFormation resources -------------------------------------------------------------


class DeliveryStreamResource(CloudFormationModel):
    """``AWS::KinesisFirehose::DeliveryStream`` (an S3 or extended S3 destination)."""

    def __init__(self, name: str, arn: str) -> None:
        self.name, self.arn = name, arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::KinesisFirehose::DeliveryStream"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "DeliveryStreamName"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> DeliveryStreamResource:
        properties = cloudformation_json["Properties"]
        name = properties.get("DeliveryStreamName", resource_name)[:64]
        backend = firehose_models.firehose_backends[account_id][region_name]
        arn = backend.create_delivery_stream(
            region_name,
            name,
            properties.get("DeliveryStreamType", "DirectPut"),
            kinesis_stream_source_configuration=None,  # type: ignore[arg-type]
            delivery_stream_encryption_configuration_input=properties.get(
                "DeliveryStreamEncryptionConfigurationInput"
            ),
            s3_destination_configuration=properties.get("S3DestinationConfiguration"),
            extended_s3_destination_configuration=properties.get(
                "ExtendedS3DestinationConfiguration"
            ),
            redshift_destination_configuration=None,  # type: ignore[arg-type]
            elasticsearch_destination_configuration=None,  # type: ignore[arg-type]
            splunk_destination_configuration=None,  # type: ignore[arg-type]
            http_endpoint_destination_configuration=None,  # type: ignore[arg-type]
            snowflake_destination_configuration=None,  # type: ignore[arg-type]
            iceberg_destination_configuration=None,  # type: ignore[arg-type]
            tags=[],
        )
        return cls(name, arn)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = firehose_models.firehose_backends[account_id][region_name]
        with contextlib.suppress(Exception):
            backend.delete_delivery_stream(resource_name)


class SubscriptionFilterResource(CloudFormationModel):
    """``AWS::Logs::SubscriptionFilter``."""

    def __init__(self, log_group: str, name: str) -> None:
        self.log_group, self.name = log_group, name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Logs::SubscriptionFilter"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "FilterName"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> SubscriptionFilterResource:
        properties = cloudformation_json["Properties"]
        name = properties.get("FilterName", resource_name)
        backend = logs_models.logs_backends[account_id][region_name]
        backend.put_subscription_filter(
            properties["LogGroupName"],
            name,
            properties["FilterPattern"],
            properties["DestinationArn"],
            properties.get("RoleArn", ""),
        )
        return cls(properties["LogGroupName"], name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = logs_models.logs_backends[account_id][region_name]
        group = cloudformation_json["Properties"]["LogGroupName"]
        with contextlib.suppress(Exception):  # gone with its log group
            backend.delete_subscription_filter(group, resource_name)


class AlarmResource(CloudFormationModel):
    """``AWS::CloudWatch::Alarm`` on one metric (metric-math alarms are kept, never judged)."""

    def __init__(self, name: str, arn: str) -> None:
        self.name, self.arn = name, arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> AlarmResource:
        p = cloudformation_json["Properties"]
        name = p.get("AlarmName", resource_name)
        backend = cloudwatch_models.cloudwatch_backends[account_id][region_name]
        alarm = backend.put_metric_alarm(
            name=name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p.get("Period", 60)),
            threshold=float(p.get("Threshold", 0)),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription", ""),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions"),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(name, alarm.alarm_arn)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = cloudwatch_models.cloudwatch_backends[account_id][region_name]
        with contextlib.suppress(Exception):
            backend.delete_alarms([resource_name])


class ScheduleResource(CloudFormationModel):
    """``AWS::Scheduler::Schedule``, kept in moto's scheduler; ``schedules.py`` runs it."""

    def __init__(self, name: str, arn: str) -> None:
        self.name, self.arn = name, arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::Schedule"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ScheduleResource:
        p = cloudformation_json["Properties"]
        name = p.get("Name", resource_name)[:64]
        backend = scheduler_models.scheduler_backends[account_id][region_name]
        schedule = backend.create_schedule(
            description=p.get("Description", ""),
            end_date=p.get("EndDate"),
            flexible_time_window=p.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            group_name=p.get("GroupName", "default"),
            kms_key_arn=p.get("KmsKeyArn"),
            name=name,
            schedule_expression=p["ScheduleExpression"],
            schedule_expression_timezone=p.get("ScheduleExpressionTimezone"),
            start_date=p.get("StartDate"),
            state=p.get("State", "ENABLED"),
            target=dict(p["Target"]),
            action_after_completion=None,
        )
        return cls(name, schedule.arn)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = scheduler_models.scheduler_backends[account_id][region_name]
        group = cloudformation_json["Properties"].get("GroupName", "default")
        with contextlib.suppress(Exception):
            backend.delete_schedule(group, resource_name)


# ---- Subscription filter patterns ---------------------------------------------------------

# one comparison of a JSON filter pattern: $.field.path (=|!=) "text" or bare token
_COMPARISON = re.compile(r'^\s*\$\.([A-Za-z0-9_.]+)\s*(=|!=)\s*("(?:[^"\\]|\\.)*"|[^\s&|()]+)\s*$')


def pattern_matches(pattern: str, message: str) -> bool | None:
    """Whether ``message`` matches a JSON filter pattern of comparisons joined by ``&&``;
    None where the pattern is of another kind (moto's matching then decides)."""
    text = pattern.strip()
    if not (text.startswith("{") and text.endswith("}")) or "||" in text:
        return None
    comparisons = [_COMPARISON.match(part) for part in text[1:-1].split("&&")]
    if not all(comparisons):
        return None
    try:
        document = json.loads(message)
    except ValueError:
        return False
    for comparison in comparisons:
        assert comparison is not None
        path, operator, expected = comparison.groups()
        value: Any = document
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        wanted = json.loads(expected) if expected.startswith('"') else expected
        equal = value is not None and str(value) == str(wanted)
        if equal != (operator == "="):
            return False
    return True


def _matches(pattern: str, message: str) -> bool:
    if not pattern:
        return True
    judged = pattern_matches(pattern, message)
    return EventMessageFilter(pattern).matches(message) if judged is None else judged


def _filter_subscriptions() -> None:
    original = logs_models.LogStream._send_log_events

    def send_matching(
        self: Any, service: str, destination_arn: str, filter_name: str, log_events: list[Any]
    ) -> None:
        subscription = self.log_group.subscription_filters.get(filter_name)
        pattern = subscription.filter_pattern if subscription is not None else ""
        matching = [event for event in log_events if _matches(pattern, event["message"])]
        if matching:
            original(self, service, destination_arn, filter_name, matching)

    logs_models.LogStream._send_log_events = send_matching  # type: ignore[method-assign]


# ---- Firehose processors and compression --------------------------------------------------


def extracts_messages(destination: dict[str, Any]) -> bool:
    """Decompression + CloudWatchLogProcessing with DataMessageExtraction, as configured."""
    processing = destination.get("ProcessingConfiguration") or {}
    if str(processing.get("Enabled", "")).lower() != "true":
        return False
    types = {p.get("Type"): p for p in processing.get("Processors", [])}
    extraction = types.get("CloudWatchLogProcessing", {}).get("Parameters", [])
    return "Decompression" in types and any(
        p.get("ParameterName") == "DataMessageExtraction"
        and str(p.get("ParameterValue")).lower() == "true"
        for p in extraction
    )


def _process_firehose() -> None:
    original_send = firehose_models.FirehoseBackend.send_log_event

    def send_log_event(
        self: Any,
        delivery_stream_arn: str,
        filter_name: str,
        log_group_name: str,
        log_stream_name: str,
        log_events: list[dict[str, Any]],
    ) -> None:
        stream = self.lookup_name_from_arn(delivery_stream_arn)
        destination = stream.destinations[0] if stream is not None else {}
        s3_destination = destination.get("ExtendedS3") or destination.get("S3") or {}
        if stream is None or not extracts_messages(s3_destination):
            original_send(
                self,
                delivery_stream_arn,
                filter_name,
                log_group_name,
                log_stream_name,
                log_events,
            )
            return
        data = "".join(event["message"] + "\n" for event in log_events).encode()
        self.put_s3_records(
            stream.delivery_stream_name, stream.version_id, s3_destination, [{"Data": data}]
        )

    def put_s3_records(
        self: Any,
        delivery_stream_name: str,
        version_id: str,
        s3_destination: dict[str, Any],
        records: list[dict[str, bytes]],
    ) -> list[dict[str, str]]:
        bucket_name = s3_destination["BucketARN"].split(":")[-1]
        key = self._format_s3_object_path(
            delivery_stream_name, version_id, s3_destination.get("Prefix", "")
        )
        body = b"".join(record["Data"] for record in records)
        if s3_destination.get("CompressionFormat") == "GZIP":
            body, key = gzip.compress(body), key + ".gz"
        s3_models.s3_backends[self.account_id][self.partition].put_object(bucket_name, key, body)
        return [{"RecordId": f"{key}#{i}"} for i in range(len(records))]

    firehose_models.FirehoseBackend.send_log_event = send_log_event  # type: ignore[method-assign]
    firehose_models.FirehoseBackend.put_s3_records = put_s3_records  # type: ignore[method-assign]


# ---- Alarm evaluation ---------------------------------------------------------------------

_COMPARE = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
_STATISTICS = {
    "Sum": sum,
    "Maximum": max,
    "Minimum": min,
    "SampleCount": len,
    "Average": lambda values: sum(values) / len(values),
}


def evaluate_alarms(account_id: str, region: str, metrics: set[tuple[str, str]]) -> None:
    """Judge the alarms on the ``(namespace, metric name)`` pairs that just got data."""
    backend = cloudwatch_models.cloudwatch_backends[account_id][region]
    now = datetime.now(UTC).replace(tzinfo=None)  # moto keeps naive UTC times
    for alarm in list(backend.alarms.values()):
        if (alarm.namespace, alarm.metric_name) not in metrics:
            continue
        if alarm.statistic not in _STATISTICS or alarm.comparison_operator not in _COMPARE:
            continue
        _judge(alarm, backend, now)


def _judge(alarm: Any, backend: Any, now: datetime) -> None:
    period = timedelta(seconds=int(alarm.period))
    periods = int(alarm.evaluation_periods)
    start = now - period * periods
    wanted = {(d.name, d.value) for d in alarm.dimensions}
    values: list[list[float]] = [[] for _ in range(periods)]
    for datum in reversed(backend.metric_data):  # appended as they arrive: newest last
        if datum.timestamp < start - timedelta(minutes=5):
            break
        if (datum.namespace, datum.name) != (alarm.namespace, alarm.metric_name):
            continue
        if {(d.name, d.value) for d in datum.dimensions} != wanted or datum.timestamp < start:
            continue
        if isinstance(datum, cloudwatch_models.MetricDatum):
            index = min(int((datum.timestamp - start) / period), periods - 1)
            values[index].append(datum.value)
    statistic = _STATISTICS[alarm.statistic]
    compare = _COMPARE[alarm.comparison_operator]
    threshold = float(alarm.threshold)
    points = [statistic(v) if v else None for v in values]
    missing = alarm.treat_missing_data or "missing"
    breaching = sum(
        1
        for point in points
        if (point is not None and compare(point, threshold))
        or (point is None and missing == "breaching")
    )
    needed = int(alarm.datapoints_to_alarm or periods)
    if breaching >= needed:
        state = "ALARM"
    elif any(point is not None for point in points):
        state = "OK"
    else:
        return
    if state == alarm.state_value:
        return
    seen = [p for p in points if p is not None]
    reason = (
        f"Threshold Crossed: {len(seen)} datapoint(s) {seen} against the threshold "
        f"({threshold}) with {alarm.comparison_operator}: {state}"
    )
    alarm.update_state(reason, json.dumps({"version": "1.0", "recentDatapoints": seen}), state)


_installed: dict[str, bool] = {}


def install() -> None:
    """Apply these patches once per process (the resource classes join moto's
    CloudFormation by being defined; moto_patches clears its model cache)."""
    if _installed:
        return
    _filter_subscriptions()
    _process_firehose()
    _installed["done"] = True
