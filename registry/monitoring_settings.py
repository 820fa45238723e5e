"""An environment's monitoring settings (cdk.json ``monitoring``): what endpoints capture and
what the monitor job judges by.

Declared here, below both users: infra validates them as part of the environment's config and
hands them to functions as one JSON variable (``SLIPWAY_MONITORING``); the endpoint reads the
capture part, the monitor job the rest. Lambda allows 4 KB of variables per function, so the
serialized settings are bounded.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from registry.names import NAME_PATTERN

MONITORING = "SLIPWAY_MONITORING"
# Room for the function's other variables within Lambda's 4 KB.
MAX_SETTINGS_BYTES = 2048
MAX_EXCLUDED_COLUMNS = 50
# What one captured line may hold: CloudWatch Logs takes events up to 256 KB (a Lambda log
# line beyond that is cut), so a big request captures its first rows that fit.
MAX_CAPTURE_LINE_BYTES = 200 * 1024
# What S3 lifecycle rules accept, and a year and a half at most: captured requests are
# personal data in many teams' hands.
CAPTURE_RETENTION_DAYS = (1, 548)
# The longest window a report judges (``window_hours``, a run's or a reader's ``--window``).
MAX_WINDOW_HOURS = 24 * 31
MAX_WINDOW_TEXT = 16
WINDOW_PATTERN = re.compile(r"^(\d{1,4})([hd])$")
# The drift comparison's defaults (model_runtime/monitoring/drift.py reads them from here).
DEFAULT_PSI_ALARM = 0.1
DEFAULT_MISSING_RATE_ALARM = 0.1
DEFAULT_UNSEEN_ALARM = 0.1

ColumnName = Annotated[str, Field(min_length=1, max_length=256)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelCapture(_Strict):
    """One model's capture: its own rate, and columns never to be captured (personal data)."""

    capture_rate: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="share of its live requests captured; default: the environment's capture_rate",
    )
    exclude: list[ColumnName] = Field(
        default_factory=list,
        max_length=MAX_EXCLUDED_COLUMNS,
        description="input columns never written into a capture (left out of rows sent by "
        "name, null in rows sent by position)",
    )


class MonitoringSettings(_Strict):
    capture_rate: float = Field(
        0.1, ge=0.0, le=1.0, description="share of each model's live requests captured"
    )
    capture_retention_days: int = Field(
        30,
        ge=CAPTURE_RETENTION_DAYS[0],
        le=CAPTURE_RETENTION_DAYS[1],
        description="captured requests and feedback are deleted from the bucket after this long",
    )
    schedule: str = Field(
        "rate(1 hour)",
        # what Scheduler accepts: a positive value, the unit singular for 1 and plural above
        pattern=r"^(rate\((1 (minute|hour|day)|([2-9]|[1-9]\d{1,3}) (minutes|hours|days))\)"
        r"|cron\([^()]{1,200}\))$",
        description="when the monitor job runs (an EventBridge Scheduler expression: "
        "rate(1 hour), rate(30 minutes), cron(...))",
    )
    window_hours: int = Field(
        24, ge=1, le=MAX_WINDOW_HOURS, description="how much traffic a report judges"
    )
    psi_alarm: float = Field(
        DEFAULT_PSI_ALARM,
        gt=0.0,
        le=10.0,
        description="a column's PSI at or above this (and above its sampling noise) is drift: "
        "the moderate band's start, which a half-standard-deviation shift (PSI about 0.22) "
        "clears; 0.25 alarms on major drift only",
    )
    # Both are shares, so above 1 nothing could alarm; at 0 every column would (a change of
    # 0 or an unseen share of 0 reaches it), so both must be above 0.
    missing_rate_alarm: float = Field(
        DEFAULT_MISSING_RATE_ALARM,
        gt=0.0,
        le=1.0,
        description="a column whose missing rate rose by this much or more over its "
        "baseline's (0.1: from 2% to 12% of rows) is drift",
    )
    unseen_alarm: float = Field(
        DEFAULT_UNSEEN_ALARM,
        gt=0.0,
        le=1.0,
        description="a column whose share of values the training data never had (numbers "
        "outside its range, new categories, text lengths outside its lengths) is this much "
        "or more is drift",
    )
    quality_drop_alarm: float = Field(
        0.05,
        ge=0.0,
        description="a degradation is the live metric worse than the version's evaluation "
        "score by more than this and by more than sampling noise: an absolute fall for shares "
        "(accuracy, f1, precision, recall) and r2, a relative rise for errors (rmse, mae, "
        "mape: 0.05 is 5% worse)",
    )
    min_rows: int = Field(
        100, ge=1, le=10_000_000, description="fewer captured rows than this: no verdict"
    )
    models: dict[Annotated[str, Field(pattern=NAME_PATTERN.pattern)], ModelCapture] = Field(
        default_factory=dict, max_length=100, description="per-model capture settings"
    )

    @model_validator(mode="after")
    def _fits_a_variable(self) -> MonitoringSettings:
        size = len(self.as_variable().encode())
        if size > MAX_SETTINGS_BYTES:
            raise ValueError(
                f"the monitoring settings are {size} bytes as JSON; functions get them as one "
                f"variable of at most {MAX_SETTINGS_BYTES} bytes (Lambda allows 4 KB of "
                "variables): list fewer models or excluded columns"
            )
        return self

    def as_variable(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_defaults=True), sort_keys=True)

    def capture_of(self, model: str) -> tuple[float, frozenset[str]]:
        """(rate, excluded columns) for one model's live requests."""
        own = self.models.get(model)
        if own is None:
            return self.capture_rate, frozenset()
        rate = own.capture_rate if own.capture_rate is not None else self.capture_rate
        return rate, frozenset(own.exclude)


def parse_window(text: str) -> int:
    """A window such as ``24h`` or ``7d``, as hours (1 to ``MAX_WINDOW_HOURS``): what
    `slipway monitor --window` and the registry API's ``window`` take."""
    match = WINDOW_PATTERN.fullmatch(text.strip()) if len(text) <= MAX_WINDOW_TEXT else None
    hours = int(match[1]) * (24 if match[2] == "d" else 1) if match else 0
    if not 1 <= hours <= MAX_WINDOW_HOURS:
        raise ValueError(
            f"window {text!r}: give hours or days, e.g. 24h or 7d, "
            f"from 1h to {MAX_WINDOW_HOURS}h ({MAX_WINDOW_HOURS // 24}d)"
        )
    return hours


def parse_settings(raw: str | None) -> MonitoringSettings:
    """The variable's settings; unset means the defaults (``slipway serve``, older stacks)."""
    if not raw:
        return MonitoringSettings()
    try:
        return MonitoringSettings.model_validate_json(raw)
    except ValidationError as exc:
        raise ValueError(f"{MONITORING} is not valid monitoring settings: {exc}") from None


@cache
def monitoring_settings() -> MonitoringSettings:
    return parse_settings(os.environ.get(MONITORING))
