"""AWS clients, created once per container and shared by the code running in it.

Plain functions take their clients as arguments; only handlers call these, so tests inject
whatever client they like (usually moto's) and nothing here is reached.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from registry.environment import TABLE_NAME, required
from registry.repository import LineageRepository


@cache
def client(service: str) -> Any:
    import boto3

    if service == "s3":
        from botocore.config import Config

        # presigned URLs too are SigV4 (botocore presigns SigV2 by default, which S3
        # refuses for buckets created since 2020)
        return boto3.client("s3", config=Config(signature_version="s3v4"))
    return boto3.client(service)  # type: ignore[call-overload]


@cache
def timed_lambda_client() -> Any:
    """Lambda, for invocations whose duration is judged (the smoke test). One attempt: a
    retried call would be timed as one slow call, a throttle judged as the model's latency.
    The read timeout outlasts any function (Lambda's limit is 900 s), so a long cold start
    is measured, not invoked a second time."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        config=Config(
            read_timeout=LAMBDA_MAX_TIMEOUT_SECONDS + 5,
            retries={"mode": "standard", "total_max_attempts": 1},
        ),
    )


# Lambda's longest function timeout.
LAMBDA_MAX_TIMEOUT_SECONDS = 900


@cache
def lineage_repository() -> LineageRepository:
    """The repository over the table this function was deployed with."""
    import boto3

    return LineageRepository(boto3.resource("dynamodb").Table(required(TABLE_NAME)))


# Lambda's payload limit for a synchronous invoke, which a Function URL request must fit.
SYNC_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024
