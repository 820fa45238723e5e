"""The embedded cloud's EventBridge Scheduler: due rate() schedules invoke their Lambda
target with Scheduler's context attributes filled in (slipway/local/schedules.py)."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws

from slipway.local.schedules import ScheduleRunner, filled_in, interval_seconds

pytestmark = pytest.mark.unit
TARGET = "arn:aws:lambda:us-east-1:123456789012:function:monitor"


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 hour)", 3600),
        ("rate(5 minutes)", 300),
        ("rate(2 days)", 172800),
        ("cron(0 * * * ? *)", None),
        ("at(2026-12-07T10:00:00)", None),
    ],
)
def test_rate_intervals(expression, seconds):
    assert interval_seconds(expression) == seconds


def test_a_due_schedule_runs_once_per_interval_with_its_scheduled_time():
    invoked: list[tuple[str, dict]] = []
    with mock_aws():
        scheduler = boto3.client("scheduler", region_name="us-east-1")
        scheduler.create_schedule(
            Name="monitor",
            ScheduleExpression="rate(1 hour)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": TARGET,
                "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
                "Input": json.dumps({"window_end": "<aws.scheduler.scheduled-time>"}),
            },
        )
        scheduler.create_schedule(
            Name="off",
            ScheduleExpression="rate(1 minute)",
            State="DISABLED",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": TARGET, "RoleArn": "arn:aws:iam::123456789012:role/scheduler"},
        )
        runner = ScheduleRunner(
            "123456789012", "us-east-1", lambda arn, text: invoked.append((arn, json.loads(text)))
        )
        now = time.time()
        assert runner.run_due(now + 1800) == []  # not yet due
        (started,) = runner.run_due(now + 3 * 3600 + 60)  # three missed runs: one
        assert started.endswith("schedule/default/monitor")
        assert runner.run_due(now + 3 * 3600 + 120) == []
        deadline = time.monotonic() + 5
        while not invoked and time.monotonic() < deadline:
            time.sleep(0.01)
    ((arn, event),) = invoked
    assert arn == TARGET
    assert event["window_end"].endswith("Z") and "aws.scheduler" not in event["window_end"]


def test_context_attributes_are_filled_in():
    from datetime import UTC, datetime

    text = filled_in(
        '{"t": "<aws.scheduler.scheduled-time>", "a": "<aws.scheduler.schedule-arn>"}',
        "arn:s",
        datetime(2026, 12, 7, 10, 0, tzinfo=UTC),
    )
    assert json.loads(text) == {"t": "2026-12-07T10:00:00Z", "a": "arn:s"}
