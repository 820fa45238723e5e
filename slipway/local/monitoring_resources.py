"""What the embedded cloud teaches moto for monitoring: data capture and alarms, as in AWS.

moto's CloudFormation skips ``AWS::KinesisFirehose::DeliveryStream``,
``AWS::Logs::SubscriptionFilter`` and ``AWS::CloudWatch::Alarm``; its subscription filters
deliver every log event whatever the filter's pattern; its Firehose ignores processors and
compression; and its alarms never change state. Here:
- the three resource types are created from the templates, backed by moto's own models;
- a subscription filter delivers only the events its JSON pattern (``{ $.message = "x" }``,
  several joined by ``&&``) matches; other patterns keep moto's matching;
- Firehose with the Decompression and CloudWatchLogProcessing (message extraction) processors
  writes the log messages (a newline after each with AppendDelimiterToRecord), and gzips
  objects where the destination says GZIP (with AWS's ``.gz`` suffix); each delivery is
  written at once (no buffering), so what an endpoint captured is in the bucket when its
  answer is;
- an alarm on one metric is evaluated whenever the embedded cloud turns log lines into
  metrics (``evaluate_alarms``): its periods' statistic against its threshold, missing data
  as the alarm treats it. Alarms on metric math or percentiles keep their state.
"""

from __future__ import annotations

import calendar
import contextlib
import gzip
import json
import re
import threading
from datetime import UTC, datetime
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


class _Named:
    """What the four resources share (a mixin: moto finds CloudFormation models among
    ``CloudFormationModel``'s direct subclasses only). A resource is known by its name (and,
    for a subscription filter or a schedule, the log group or schedule group it is in,
    ``scope``); its ARN is its one attribute.

    A changed resource is replaced under its own name. moto updates a resource only through
    its class's ``update_from_cloudformation_json``; without one, a changed resource stays as
    it was and the stack forgets it (a later delete leaves it behind). The name is kept, so
    what refers to it by name or ARN (a subscription filter to its stream) still finds it."""

    CFN_TYPE = ""
    NAME_PROPERTY = ""

    def __init__(self, name: str, arn: str = "", scope: str = "") -> None:
        self.name, self.arn, self.scope = name, arn, scope

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @classmethod
    def _scope_of(cls, properties: dict[str, Any]) -> str:
        return ""

    @classmethod
    def _delete(cls, account_id: str, region_name: str, name: str, scope: str) -> None:
        raise NotImplementedError

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        scope = cls._scope_of(cloudformation_json["Properties"])
        with contextlib.suppress(Exception):  # already gone (with its log group, say)
            cls._delete(account_id, region_name, resource_name, scope)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        with contextlib.suppress(Exception):  # already gone
            cls._delete(account_id, region_name, original_resource.name, original_resource.scope)
        name = original_resource.name
        properties = {**cloudformation_json["Properties"], cls.NAME_PROPERTY: name}
        return cls.create_from_cloudformation_json(  # type: ignore[attr-defined]
            name, {**cloudformation_json, "Properties": properties}, account_id, region_name
        )


class DeliveryStreamResource(_Named, CloudFormationModel):
    """``AWS::KinesisFirehose::DeliveryStream`` (an S3 or extended S3 destination)."""

    CFN_TYPE, NAME_PROPERTY = "AWS::KinesisFirehose::DeliveryStream", "DeliveryStreamName"

    @classmethod
    def _delete(cls, account_id: str, region_name: str, name: str, scope: str) -> None:
        firehose_models.firehose_backends[account_id][region_name].delete_delivery_stream(name)

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


class SubscriptionFilterResource(_Named, CloudFormationModel):
    """``AWS::Logs::SubscriptionFilter`` (its scope: the log group)."""

    CFN_TYPE, NAME_PROPERTY = "AWS::Logs::SubscriptionFilter", "FilterName"

    @classmethod
    def _scope_of(cls, properties: dict[str, Any]) -> str:
        return str(properties["LogGroupName"])

    @classmethod
    def _delete(cls, account_id: str, region_name: str, name: str, scope: str) -> None:
        logs_models.logs_backends[account_id][region_name].delete_subscription_filter(scope, name)

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
        return cls(name, scope=cls._scope_of(properties))


class AlarmResource(_Named, CloudFormationModel):
    """``AWS::CloudWatch::Alarm`` on one metric (metric-math alarms are kept, never judged)."""

    CFN_TYPE, NAME_PROPERTY = "AWS::CloudWatch::Alarm", "AlarmName"

    @classmethod
    def _delete(cls, account_id: str, region_name: str, name: str, scope: str) -> None:
        cloudwatch_models.cloudwatch_backends[account_id][region_name].delete_alarms([name])

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


class ScheduleResource(_Named, CloudFormationModel):
    """``AWS::Scheduler::Schedule``, kept in moto's scheduler (its scope: the schedule
    group); ``schedules.py`` runs it."""

    CFN_TYPE, NAME_PROPERTY = "AWS::Scheduler::Schedule", "Name"

    @classmethod
    def _scope_of(cls, properties: dict[str, Any]) -> str:
        return str(properties.get("GroupName", "default"))

    @classmethod
    def _delete(cls, account_id: str, region_name: str, name: str, scope: str) -> None:
        scheduler_models.scheduler_backends[account_id][region_name].delete_schedule(scope, name)

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
            group_name=cls._scope_of(p),
            kms_key_arn=p.get("KmsKeyArn"),
            name=name,
            schedule_expression=p["ScheduleExpression"],
            schedule_expression_timezone=p.get("ScheduleExpressionTimezone"),
            start_date=p.get("StartDate"),
            state=p.get("State", "ENABLED"),
            target=dict(p["Target"]),
            action_after_completion=None,
        )
        return cls(name, schedule.arn, cls._scope_of(p))


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


def message_delimiter(destination: dict[str, Any]) -> str:
    """What follows each extracted message: a newline with the AppendDelimiterToRecord
    processor, else nothing (the messages run together, as Slipway's reader also accepts)."""
    processing = destination.get("ProcessingConfiguration") or {}
    types = {p.get("Type") for p in processing.get("Processors", [])}
    return "\n" if "AppendDelimiterToRecord" in types else ""


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
        delimiter = message_delimiter(s3_destination)
        data = "".join(event["message"] + delimiter for event in log_events).encode()
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
# a second's data points of one series, aggregated: [count, sum, minimum, maximum]
Bucket = list[float]
_STATISTICS: dict[str, Any] = {
    "Sum": lambda b: b[1],
    "Maximum": lambda b: b[3],
    "Minimum": lambda b: b[2],
    "SampleCount": lambda b: b[0],
    "Average": lambda b: b[1] / b[0],
}
SLACK_SECONDS = 300  # data a little older than an alarm's range is kept a while longer


class _AlarmSeries:
    """The data points of the series alarms watch, indexed once as they arrive, a bucket a
    second. Judging an alarm reads its own series' recent seconds, not every metric datum:
    each endpoint request writes eight, so scanning them all on each request cost time in
    proportion to the last minutes' traffic (over 100 ms a request at 20,000 requests),
    and a datum arriving out of order must not hide the others."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._reset()

    def _reset(self, source: list[Any] | None = None) -> None:
        self.source = source  # moto's list of metric data that ``seen`` counts in
        self.seen = 0  # moto's metric data indexed so far (it only appends)
        self.watched: set[tuple[str, str]] = set()
        self.seconds: dict[tuple[Any, ...], dict[int, Bucket]] = {}
        self.window: dict[tuple[Any, ...], int] = {}  # seconds kept per series

    def update(self, backend: Any) -> None:
        """Index what arrived since the last call (all of it for a newly watched metric)."""
        data = backend.metric_data
        if data is not self.source:  # the first call, or moto's backend was reset
            self._reset(data)
        for alarm in backend.alarms.values():
            key = _series_key(alarm.namespace, alarm.metric_name, alarm.dimensions)
            window = int(alarm.period) * int(alarm.evaluation_periods) + SLACK_SECONDS
            self.window[key] = max(self.window.get(key, 0), window)
        watched = {(a.namespace, a.metric_name) for a in backend.alarms.values()}
        end = len(data)
        if watched - self.watched:
            self._add(data[: self.seen], watched - self.watched)
            self.watched |= watched
        self._add(data[self.seen : end], self.watched)
        self.seen = end

    def _add(self, data: list[Any], names: set[tuple[str, str]]) -> None:
        for datum in data:
            if (datum.namespace, datum.name) not in names or not isinstance(
                datum, cloudwatch_models.MetricDatum
            ):
                continue
            key = _series_key(datum.namespace, datum.name, datum.dimensions)
            second = calendar.timegm(datum.timestamp.utctimetuple())
            bucket = self.seconds.setdefault(key, {}).get(second)
            if bucket is None:
                self.seconds[key][second] = [1.0, datum.value, datum.value, datum.value]
            else:
                bucket[0] += 1
                bucket[1] += datum.value
                bucket[2] = min(bucket[2], datum.value)
                bucket[3] = max(bucket[3], datum.value)

    def recent(self, key: tuple[Any, ...], now: int) -> dict[int, Bucket]:
        """The series' seconds within the widest range an alarm on it reads."""
        seconds = self.seconds.get(key, {})
        horizon = now - self.window.get(key, SLACK_SECONDS)
        if any(second < horizon for second in seconds):
            for second in [s for s in seconds if s < horizon]:
                del seconds[second]
        return seconds


def _series_key(namespace: str, name: str, dimensions: Any) -> tuple[Any, ...]:
    return (namespace, name, frozenset((d.name, d.value) for d in dimensions))


_series: dict[tuple[str, str], _AlarmSeries] = {}


def evaluate_alarms(account_id: str, region: str, metrics: set[tuple[str, str]]) -> None:
    """Judge the alarms on the ``(namespace, metric name)`` pairs that just got data."""
    backend = cloudwatch_models.cloudwatch_backends[account_id][region]
    now = calendar.timegm(datetime.now(UTC).utctimetuple())
    series = _series.setdefault((account_id, region), _AlarmSeries())
    with series.lock:
        series.update(backend)
        for alarm in list(backend.alarms.values()):
            if (alarm.namespace, alarm.metric_name) not in metrics:
                continue
            if alarm.statistic not in _STATISTICS or alarm.comparison_operator not in _COMPARE:
                continue
            _judge(alarm, series, now)


def _judge(alarm: Any, series: _AlarmSeries, now: int) -> None:
    period = int(alarm.period)
    periods = int(alarm.evaluation_periods)
    start = now - period * periods
    key = _series_key(alarm.namespace, alarm.metric_name, alarm.dimensions)
    buckets: list[Bucket] = [[0.0, 0.0, float("inf"), float("-inf")] for _ in range(periods)]
    for second, bucket in series.recent(key, now).items():
        if second < start:
            continue
        merged = buckets[min((second - start) // period, periods - 1)]
        merged[0] += bucket[0]
        merged[1] += bucket[1]
        merged[2] = min(merged[2], bucket[2])
        merged[3] = max(merged[3], bucket[3])
    statistic = _STATISTICS[alarm.statistic]
    compare = _COMPARE[alarm.comparison_operator]
    threshold = float(alarm.threshold)
    points = [statistic(b) if b[0] else None for b in buckets]
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
