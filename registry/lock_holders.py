"""Whether a promotion lock's holder still runs: Step Functions knows, the table does not.

Shared by AcquireLock (which takes over a lock whose holder ended) and ``slipway unlock``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def holder_status(sfn: Any, holder: dict[str, Any]) -> str | None:
    """The holding execution's status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED,
    or GONE when Step Functions no longer knows it); None when the lock does not say
    which execution holds it (a lock written before locks kept their holder's ARN)."""
    arn = holder.get("execution_arn")
    if not arn:
        return None
    try:
        return str(sfn.describe_execution(executionArn=arn)["status"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return "GONE"
        raise
