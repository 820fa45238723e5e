"""The monitor job's outputs, declared once: where reports live, the verdicts, the events.

The job (model_runtime/jobs/monitor.py) writes them, the registry API and the CLI read them,
infra grants and routes by them, and docs/monitoring.md documents them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum

from registry.names import CAPTURE_PREFIX, MONITORING_PREFIX

# EventBridge: the job publishes to the account's default bus under this source.
EVENT_SOURCE = "slipway.monitoring"
WINDOW_END_FORMAT = "%Y-%m-%dT%H-%M-%SZ"  # S3-key and sort-key friendly (no colons)
WINDOW_END_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$")


class Verdict(StrEnum):
    """What one report says about one version in one window, worst first."""

    QUALITY = "quality"  # the live metric fell short of the version's evaluation score
    DRIFT = "drift"  # a column's (or the output's) PSI reached the environment's alarm
    NO_BASELINE = "no_baseline"  # an older bundle: nothing to compare traffic with
    NO_TRAFFIC = "no_traffic"  # fewer captured rows than min_rows: no verdict
    OK = "ok"


class DetailType(StrEnum):
    """The EventBridge detail types a team routes (to retraining, to a pager)."""

    DRIFT = "Model Drift Detected"
    QUALITY = "Model Quality Degraded"


class Role(StrEnum):
    """Which traffic of a model a report judges: the live version's, or a canary's."""

    LIVE = "live"
    CANARY = "canary"


def window_end_text(at: datetime) -> str:
    """A window's end as it appears in report keys and sort keys (UTC, to the second)."""
    return at.astimezone(UTC).strftime(WINDOW_END_FORMAT)


def report_key(model: str, version: str, window_end: datetime) -> str:
    """The S3 key of one report: the same window always lands on the same key."""
    return f"{MONITORING_PREFIX}{model}/{version}/{window_end_text(window_end)}.json"


def capture_hour_prefix(hour: datetime) -> str:
    """Firehose's date partition of one UTC hour (capture/YYYY/MM/DD/HH/)."""
    return f"{CAPTURE_PREFIX}{hour.astimezone(UTC):%Y/%m/%d/%H}/"
