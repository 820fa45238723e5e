"""Embedded metric format, as CloudWatch Logs reads it: log lines that carry metrics.

In AWS, CloudWatch extracts these from a function's log stream by itself. The embedded
cloud does the same for what the local executor captured, into moto's CloudWatch.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def metric_data_from_logs(logs: str) -> dict[str, list[dict[str, Any]]]:
    """Namespace -> PutMetricData entries for every EMF line in ``logs``."""
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for line in logs.splitlines():
        line = line.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        try:
            record = json.loads(line)
            meta = record["_aws"]
            # moto keeps metric timestamps as naive UTC, as its API handlers store them.
            timestamp = datetime.fromtimestamp(meta["Timestamp"] / 1000, tz=UTC).replace(
                tzinfo=None
            )
            for directive in meta["CloudWatchMetrics"]:
                for dimension_set in directive.get("Dimensions", [[]]):
                    dimensions = [{"Name": d, "Value": str(record[d])} for d in dimension_set]
                    for metric in directive["Metrics"]:
                        values = record[metric["Name"]]
                        # EMF allows a value or an array of values (Powertools writes arrays)
                        for value in values if isinstance(values, list) else [values]:
                            by_namespace.setdefault(directive["Namespace"], []).append(
                                {
                                    "MetricName": metric["Name"],
                                    "Value": float(value),
                                    "Unit": metric.get("Unit", "None"),
                                    "Timestamp": timestamp,
                                    "Dimensions": dimensions,
                                }
                            )
        except (KeyError, TypeError, ValueError):
            continue  # not EMF after all; CloudWatch ignores such lines too
    return by_namespace
