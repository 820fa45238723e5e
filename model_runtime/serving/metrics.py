"""Structured logs and per-request metrics (embedded metric format) with Powertools.

One EMF blob per prediction request on stdout; CloudWatch Logs turns it into metrics per
model and version (Invocations, Errors, SchemaRejections, Latency), which the canary check
and dashboards read. No API call is made on the request path.

Only live traffic goes into the (model, version) series. Requests to the staging route or
to a pinned version (the smoke test among them) carry a third dimension, ``traffic``, so
they are kept apart: a smoke test retrying against a stale staging pointer must not look
like live rejections of the stable version while a canary is judged.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from registry.metrics import NAMESPACE, Dimension, Metric

logger = Logger(service="slipway-endpoint")


class Traffic(StrEnum):
    """Which route a request came by: only live traffic judges a canary."""

    LIVE = "live"
    STAGING = "staging"
    PINNED = "pinned"


class Served(NamedTuple):
    """Which model version answered a request, and for which kind of traffic."""

    model: str
    version: str
    traffic: Traffic


def emit_request_metrics(served: Served, status: int, latency_ms: float) -> None:
    # Ephemeral: an isolated blob per request, safe when uvicorn serves requests concurrently.
    metrics = EphemeralMetrics(namespace=NAMESPACE)
    metrics.add_dimension(Dimension.MODEL, served.model)
    metrics.add_dimension(Dimension.VERSION, served.version)
    if served.traffic is not Traffic.LIVE:
        metrics.add_dimension(Dimension.TRAFFIC, served.traffic.value)
    metrics.add_metric(Metric.INVOCATIONS, MetricUnit.Count, 1)
    metrics.add_metric(Metric.ERRORS, MetricUnit.Count, 1 if status >= 500 else 0)
    metrics.add_metric(Metric.SCHEMA_REJECTIONS, MetricUnit.Count, 1 if status == 422 else 0)
    metrics.add_metric(Metric.LATENCY, MetricUnit.Milliseconds, round(latency_ms, 3))
    metrics.add_metadata("status", status)
    metrics.flush_metrics()


def emit_cold_start(function_name: str) -> None:
    metrics = EphemeralMetrics(namespace=NAMESPACE)
    metrics.add_dimension(Dimension.FUNCTION_NAME, function_name or "local")
    metrics.add_metric(Metric.COLD_START, MetricUnit.Count, 1)
    metrics.flush_metrics()
