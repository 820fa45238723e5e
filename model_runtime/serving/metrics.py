"""Structured logs and per-request metrics (embedded metric format) with Powertools.

One line per prediction request on stdout: an EMF blob, which CloudWatch Logs turns into
metrics per model and version (Invocations, Errors, SchemaRejections, Latency) for the
canary check and dashboards, and which is also the request's log record (``"message":
"prediction"``, the Lambda request id, the traffic and status), searchable in Logs Insights.
No API call is made on the request path.

Only live traffic goes into the (model, version) series. Requests to the staging route or
to a pinned version (the smoke test among them) carry a third dimension, ``traffic``, so
they are kept apart: a smoke test retrying against a stale staging pointer must not look
like live rejections of the stable version while a canary is judged.
"""

from __future__ import annotations

import json
import sys
import time
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


_REQUEST_METRICS = [
    {"Name": Metric.INVOCATIONS.value, "Unit": MetricUnit.Count.value},
    {"Name": Metric.ERRORS.value, "Unit": MetricUnit.Count.value},
    {"Name": Metric.SCHEMA_REJECTIONS.value, "Unit": MetricUnit.Count.value},
    {"Name": Metric.LATENCY.value, "Unit": MetricUnit.Milliseconds.value},
]
_LIVE_DIMENSIONS = [[Dimension.MODEL.value, Dimension.VERSION.value]]
_OTHER_DIMENSIONS = [[Dimension.MODEL.value, Dimension.VERSION.value, Dimension.TRAFFIC.value]]


def emit_request_metrics(
    served: Served, status: int, latency_ms: float, request_id: str | None = None
) -> None:
    """The EMF line Powertools' ``EphemeralMetrics`` writes for these metrics and metadata
    (a unit test compares the two), written directly: building it through Powertools cost
    85 µs a request, and a separate Powertools log line 35 µs more, together a sixth of the
    request path (bench/serving.py). One line per request, so requests served concurrently
    by uvicorn never share a blob."""
    live = served.traffic is Traffic.LIVE
    blob: dict[str, object] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": _LIVE_DIMENSIONS if live else _OTHER_DIMENSIONS,
                    "Metrics": _REQUEST_METRICS,
                }
            ],
        },
        Dimension.MODEL.value: served.model,
        Dimension.VERSION.value: served.version,
    }
    blob[Dimension.TRAFFIC.value] = served.traffic.value  # for live traffic a field, no dimension
    blob["message"] = "prediction"
    blob["status"] = status
    if request_id is not None:
        blob["function_request_id"] = request_id
    blob[Metric.INVOCATIONS.value] = [1.0]
    blob[Metric.ERRORS.value] = [1.0 if status >= 500 else 0.0]
    blob[Metric.SCHEMA_REJECTIONS.value] = [1.0 if status == 422 else 0.0]
    blob[Metric.LATENCY.value] = [float(round(latency_ms, 3))]
    sys.stdout.write(json.dumps(blob, separators=(",", ":")) + "\n")


def emit_cold_start(function_name: str) -> None:
    metrics = EphemeralMetrics(namespace=NAMESPACE)
    metrics.add_dimension(Dimension.FUNCTION_NAME, function_name or "local")
    metrics.add_metric(Metric.COLD_START, MetricUnit.Count, 1)
    metrics.flush_metrics()
