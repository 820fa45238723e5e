"""Structured logs and per-request metrics (embedded metric format) with Powertools.

One line per request on stdout: an EMF blob, which CloudWatch Logs turns into metrics
(Invocations, Errors, SchemaRejections, Latency) and which is also the request's log record
(``"message": "prediction"``, the Lambda request id, the traffic and status), searchable in
Logs Insights. No API call is made on the request path.

Two series come out of one line. Per model, version and environment (for a request a model
answered), for the canary check and the dashboard. The environment's name (``cdk.json``,
set by infra on the endpoint and candidate functions as ``ENVIRONMENT_NAME``) is a
dimension because environments may share an account and region (the embedded cloud's
always do), and with it the series of a model version: one environment's canary would
count the requests another's endpoint served. And per function, every request included,
whether a model answered or not: an unexpected exception is contained as a 500 problem
(``registry/problems.py``), so Lambda's own ``Errors`` never sees it, and a failure before any
model was chosen (the registry unreachable, a bundle that cannot load) has no version to be
counted under. The per-function series is a metric of its own (a second EMF dimension set),
so an alarm can watch it: CloudWatch alarms cannot use a SEARCH expression. Function names
are the environment's own already, so that series needs no environment.

Only live traffic goes into the (model, version, environment) series. Requests to the
staging route or to a pinned version (the smoke test among them) carry one more dimension,
``traffic``, so they are kept apart: a smoke test retrying against a stale staging pointer
must not look like live rejections of the stable version while a canary is judged.
"""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from typing import NamedTuple

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from registry.metrics import NAMESPACE, Dimension, Metric, environment_name

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
_FUNCTION = [Dimension.FUNCTION_NAME.value]
_MODEL, _VERSION, _TRAFFIC = Dimension.MODEL.value, Dimension.VERSION.value, Dimension.TRAFFIC.value
_ENVIRONMENT = Dimension.ENVIRONMENT.value
_LIVE_DIMENSIONS = [[_MODEL, _VERSION, _ENVIRONMENT], _FUNCTION]
_OTHER_DIMENSIONS = [[_MODEL, _VERSION, _TRAFFIC, _ENVIRONMENT], _FUNCTION]
_UNSERVED_DIMENSIONS = [_FUNCTION]
# without Lambda's context (``slipway serve`` under uvicorn), as the cold-start metric says
UNNAMED_FUNCTION = "local"
# nor an environment: registry.metrics.environment_name then names none (``UNDEPLOYED``)


def emit_request_metrics(
    served: Served | None,
    status: int,
    latency_ms: float,
    request_id: str | None = None,
    function_name: str | None = None,
    path: str = "",
) -> None:
    """The EMF line Powertools' ``EphemeralMetrics`` writes for these metrics and metadata
    (a unit test compares the two), written directly: building it through Powertools cost
    85 µs a request, and a separate Powertools log line 35 µs more, together a sixth of the
    request path (bench/serving.py). One line per request, so requests served concurrently
    by uvicorn never share a blob. ``served`` is None when no model answered: the line then
    counts only in the function's series, and names the path instead."""
    function = function_name or UNNAMED_FUNCTION
    if served is None:
        dimensions = _UNSERVED_DIMENSIONS
    else:
        dimensions = _LIVE_DIMENSIONS if served.traffic is Traffic.LIVE else _OTHER_DIMENSIONS
    blob: dict[str, object] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {"Namespace": NAMESPACE, "Dimensions": dimensions, "Metrics": _REQUEST_METRICS}
            ],
        },
    }
    if served is None:
        blob[Dimension.FUNCTION_NAME.value] = function
        blob["message"] = "request"
        blob["path"] = path
    else:
        blob[_MODEL] = served.model
        blob[_VERSION] = served.version
        if served.traffic is not Traffic.LIVE:
            blob[_TRAFFIC] = served.traffic.value
        blob[_ENVIRONMENT] = environment_name()
        blob[Dimension.FUNCTION_NAME.value] = function
        if served.traffic is Traffic.LIVE:
            blob[_TRAFFIC] = served.traffic.value  # a field, no dimension
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
    metrics.add_dimension(Dimension.FUNCTION_NAME, function_name or UNNAMED_FUNCTION)
    metrics.add_metric(Metric.COLD_START, MetricUnit.Count, 1)
    metrics.flush_metrics()
