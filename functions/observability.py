"""Structured logs for the control-plane functions (Powertools), one logger per service.

Each handler is wrapped in ``logger.inject_lambda_context`` so every line carries the
request id and the cold-start flag, and exceptions still reach Step Functions unchanged:
its Retry and Catch rules match on the exception's class name.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="slipway-workflow")
