"""The CloudWatch metrics Slipway writes: one namespace, and each metric and dimension name.

The endpoint and the control-plane functions write them (embedded metric format, through
Powertools), the canary check reads them back, and the alarms and dashboard chart them, so
the names are declared here once and a rename is one change.
"""

from __future__ import annotations

from enum import StrEnum

NAMESPACE = "Slipway"


class Metric(StrEnum):
    # per request, by the endpoint: dimensions model, version, environment (and traffic off
    # the live path) for a request a model answered; and function_name for every request
    # (the 5xx alarm's)
    INVOCATIONS = "Invocations"
    ERRORS = "Errors"
    SCHEMA_REJECTIONS = "SchemaRejections"
    LATENCY = "Latency"
    COLD_START = "ColdStart"  # dimension function_name
    # per promotion, by the workflow and the registry (metadata: model)
    PROMOTIONS = "Promotions"  # a version went live
    REJECTIONS = "Rejections"  # the gate stopped a version (metadata: the error type)
    ROLLBACKS = "Rollbacks"


class Dimension(StrEnum):
    MODEL = "model"
    VERSION = "version"
    TRAFFIC = "traffic"
    # Environments may share an account and region (the embedded cloud's always do), and a
    # metric is its namespace, name and dimensions: without the environment, one's canary
    # would count the requests another's endpoint served. Function names are the
    # environment's own already, so the per-function series needs none.
    ENVIRONMENT = "environment"
    FUNCTION_NAME = "function_name"
