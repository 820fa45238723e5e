"""Per-request serving metrics in CloudWatch embedded metric format (EMF).

One JSON line per prediction request on stdout; CloudWatch Logs turns it into metrics per
model and version (Invocations, Errors, SchemaRejections, Latency), which the canary check
and the dashboards read. No API call is made on the request path.
"""

from __future__ import annotations

import json
import os
import sys
import time

NAMESPACE = os.environ.get("SLIPWAY_METRICS_NAMESPACE", "Slipway")
_METRICS = [
    {"Name": "Invocations", "Unit": "Count"},
    {"Name": "Errors", "Unit": "Count"},
    {"Name": "SchemaRejections", "Unit": "Count"},
    {"Name": "Latency", "Unit": "Milliseconds"},
]


def emit_request_metrics(model: str, version: str, status: int, latency_ms: float) -> None:
    record = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {"Namespace": NAMESPACE, "Dimensions": [["model", "version"]], "Metrics": _METRICS}
            ],
        },
        "model": model,
        "version": version,
        "status": status,
        "Invocations": 1,
        "Errors": 1 if status >= 500 else 0,
        "SchemaRejections": 1 if status == 422 else 0,
        "Latency": round(latency_ms, 3),
    }
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
