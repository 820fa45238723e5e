"""Structured logs and metrics for the control-plane functions (Powertools).

Each handler is wrapped in ``logger.inject_lambda_context`` so every line carries the
request id and the cold-start flag, and exceptions still reach Step Functions unchanged:
its Retry and Catch rules match on the exception's class name.

What the gate decides is also counted, as embedded-metric-format lines on stdout that
CloudWatch Logs turns into metrics: no API call, nothing to fail. The dashboard charts them.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from registry.metrics import NAMESPACE, Dimension, Metric, environment_name

logger = Logger(service="slipway-workflow")


def count_decision(metric: Metric, model: str, **metadata: Any) -> None:
    """One count of a gate decision about ``model`` (a promotion, rejection or rollback).

    The model is metadata, not a dimension: one series per environment, however many models,
    and the log line still says which model it was. The environment is the dimension:
    environments may share an account and region, and each dashboard counts its own."""
    metrics = EphemeralMetrics(namespace=NAMESPACE)
    metrics.add_dimension(Dimension.ENVIRONMENT, environment_name())
    metrics.add_metric(metric, MetricUnit.Count, 1)
    metrics.add_metadata(Dimension.MODEL, model)
    for key, value in metadata.items():
        metrics.add_metadata(key, value)
    metrics.flush_metrics()
