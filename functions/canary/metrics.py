"""Reading the serving metrics the endpoint emits (embedded metric format) from CloudWatch."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from functions.canary.judgement import ServingStats
from registry.metrics import NAMESPACE, Dimension, Metric

_COUNTS = {
    "invocations": Metric.INVOCATIONS,
    "errors": Metric.ERRORS,
    "schema": Metric.SCHEMA_REJECTIONS,
}


def serving_stats(
    cloudwatch: Any,
    environment: str,
    model: str,
    version: str,
    start: datetime,
    end: datetime,
) -> ServingStats:
    """Sums and p99 latency of one model version over [start, end], in one GetMetricData.

    Only the (model, version, environment) series is read: live traffic, of the given
    environment's endpoints only (another environment in the same account and region writes
    the same model and versions under its own name). The endpoint keeps staging and
    pinned-version requests (the smoke test's) under one more dimension, so they do not count.
    """
    period = max(60, math.ceil((end - start).total_seconds() / 60) * 60)
    dimensions = [
        {"Name": Dimension.MODEL, "Value": model},
        {"Name": Dimension.VERSION, "Value": version},
        {"Name": Dimension.ENVIRONMENT, "Value": environment},
    ]

    def query(id_: str, metric: str, stat: str) -> dict[str, Any]:
        return {
            "Id": id_,
            "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        }

    queries = [query(id_, metric, "Sum") for id_, metric in _COUNTS.items()]
    queries.append(query("p99", Metric.LATENCY, "p99"))
    response = cloudwatch.get_metric_data(
        MetricDataQueries=queries,
        StartTime=start,
        EndTime=end,  # the caller's window ends where metrics can be read (readable_window)
    )
    values = {r["Id"]: r.get("Values", []) for r in response["MetricDataResults"]}
    p99 = values.get("p99") or []
    return ServingStats(
        invocations=sum(values.get("invocations", [])),
        errors=sum(values.get("errors", [])),
        schema_rejections=sum(values.get("schema", [])),
        p99_ms=max(p99) if p99 else None,
    )
