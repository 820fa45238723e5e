"""What every Slipway function gets: its own log group with the environment's retention,
X-Ray tracing, and the newest Python runtime the CDK knows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_14

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


@dataclass(frozen=True)
class Observability:
    """Per-environment logging policy, handed to every construct that makes functions."""

    log_retention_days: int = 30
    retain_logs: bool = False

    @property
    def retention(self) -> logs.RetentionDays:
        return _RETENTION[self.log_retention_days]

    def log_group(self, scope: Construct, id_: str) -> logs.LogGroup:
        return logs.LogGroup(
            scope,
            id_,
            retention=self.retention,
            removal_policy=RemovalPolicy.RETAIN if self.retain_logs else RemovalPolicy.DESTROY,
        )

    def function_props(self, scope: Construct, id_: str) -> dict[str, Any]:
        """Props for a lambda Function: a log group of its own and active tracing."""
        return {"log_group": self.log_group(scope, f"{id_}Logs"), "tracing": lambda_.Tracing.ACTIVE}
