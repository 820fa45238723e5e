"""The CloudWatch metrics Slipway writes: one namespace, and each metric and dimension name.

The endpoint and the control-plane functions write them (embedded metric format, through
Powertools), the canary check reads them back, and the alarms and dashboard chart them, so
the names are declared here once and a rename is one change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum

from registry.environment import ENVIRONMENT_NAME

NAMESPACE = "Slipway"
# the environment dimension's value where nothing was deployed (``slipway serve``, a test):
# no environment's name has brackets (registry/names.py), so no environment reads it
UNDEPLOYED = "(undeployed)"


def environment_name(environ: Mapping[str, str] = os.environ) -> str:
    """The environment infra deployed this function into, for the ``environment``
    dimension. Without the setting, a value no environment reads rather than an error: a
    metric never fails the request or the step that counts it."""
    return environ.get(ENVIRONMENT_NAME, UNDEPLOYED)


class Metric(StrEnum):
    # per request, by the endpoint: dimensions model, version, environment (and traffic off
    # the live path) for a request a model answered; and function_name for every request
    # (the 5xx alarm's)
    INVOCATIONS = "Invocations"
    ERRORS = "Errors"
    SCHEMA_REJECTIONS = "SchemaRejections"
    LATENCY = "Latency"
    COLD_START = "ColdStart"  # dimension function_name
    # per promotion, by the workflow and the registry: dimension environment (metadata: model)
    PROMOTIONS = "Promotions"  # a version went live
    REJECTIONS = "Rejections"  # the gate stopped a version (metadata: the error type)
    ROLLBACKS = "Rollbacks"
    # per monitor report, by the monitor job: dimensions model, version, environment
    MAX_PSI = "MaxPsi"  # the highest PSI of the version's columns and output in the window
    DRIFTED_COLUMNS = "DriftedColumns"  # columns at or above the environment's psi_alarm
    LIVE_METRIC = "LiveMetric"  # the exam's metric on labelled live traffic (metadata: name)
    # per monitor run, by the monitor job: dimension environment; the alarms watch these
    VERSIONS_DRIFTING = "VersionsDrifting"
    VERSIONS_DEGRADED = "VersionsDegraded"
    MONITOR_FAILURES = "MonitorFailures"  # versions a run could not judge (its answer names them)


class Dimension(StrEnum):
    MODEL = "model"
    VERSION = "version"
    TRAFFIC = "traffic"
    # Environments may share an account and region (the embedded cloud's always do), and a
    # metric is its namespace, name and dimensions: without the environment, one's canary
    # would count the requests another's endpoint served. Function names are the
    # environment's own already, so the per-function series needs none. The decision counts
    # (promotions, rejections, rollbacks) have it as their one dimension.
    ENVIRONMENT = "environment"
    FUNCTION_NAME = "function_name"
