"""A Lambda function running the model runtime: an image in AWS, a zip in the embedded cloud."""

from __future__ import annotations

from aws_cdk import Duration, Size
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.code_assets import runtime_image_code, runtime_zip_code
from infra.observability_defaults import PYTHON_RUNTIME, Observability
from registry.environment import EPHEMERAL_STORAGE_MB

# The workflow's model steps judge any bundle an endpoint may hold, and Evaluate holds two
# (candidate and live model): they get the most /tmp Lambda allows.
JUDGING_EPHEMERAL_STORAGE_MB = 10240


class RuntimeFunction(Construct):
    """Same handler, same environment; only the packaging differs between targets."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        handler: str,
        embedded: bool,
        memory_size: int,
        timeout: Duration,
        environment: dict[str, str] | None = None,
        description: str,
        observability: Observability,
        architecture: str = "x86_64",
        reserved_concurrency: int | None = None,
        extra_libraries: list[str] | None = None,
        ephemeral_storage_mb: int = JUDGING_EPHEMERAL_STORAGE_MB,
        function_name: str | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, id_)
        common = {
            "memory_size": memory_size,
            "timeout": timeout,
            "ephemeral_storage_size": Size.mebibytes(ephemeral_storage_mb),
            # The code derives its disk budget and extraction cap from the same number.
            "environment": {
                **(environment or {}),
                EPHEMERAL_STORAGE_MB: str(ephemeral_storage_mb),
            },
            "description": description,
            "architecture": (
                lambda_.Architecture.ARM_64
                if architecture == "arm64"
                else lambda_.Architecture.X86_64
            ),
            "reserved_concurrent_executions": reserved_concurrency,
            "function_name": function_name,
            # where an asynchronous invocation (a schedule's) goes after Lambda's retries
            "dead_letter_queue": dead_letter_queue,
            **observability.function_props(self, "Function"),
        }
        self.function: lambda_.Function
        if embedded:
            self.function = lambda_.Function(
                self,
                "Function",
                runtime=PYTHON_RUNTIME,
                handler=handler,
                code=runtime_zip_code(),
                **common,
            )
        else:
            self.function = lambda_.DockerImageFunction(
                self,
                "Function",
                code=runtime_image_code(handler, architecture, extra_libraries or []),
                **common,
            )
