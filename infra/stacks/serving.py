"""ServingStack: the model endpoints declared in cdk.json, each behind an IAM Function URL."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import (
    CANDIDATE_FUNCTION_OUTPUT,
    EndpointConfig,
    EnvironmentConfig,
    endpoint_function_output,
    endpoint_url_output,
)
from infra.model_endpoint import PROVISIONED_ALIAS, ModelEndpoint
from infra.observability_defaults import Observability
from registry.statuses import ServingRole


class ServingStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        bucket: s3.IBucket,
        table: dynamodb.ITable,
        observability: Observability,
        **kwargs: Any,
    ):
        super().__init__(scope, id_, **kwargs)

        def endpoint(id_: str, endpoint_config: EndpointConfig, role: ServingRole) -> ModelEndpoint:
            return ModelEndpoint(
                self,
                id_,
                config=endpoint_config,
                bucket=bucket,
                table=table,
                embedded=config.embedded,
                pointer_cache_seconds=config.pointer_cache_seconds,
                trusted_model_types=config.trusted_model_types,
                observability=observability,
                role=role,
            )

        self.endpoints = {
            e.name: endpoint(f"Endpoint-{e.name}", e, ServingRole.LIVE) for e in config.endpoints
        }
        # Candidates are smoke-tested here, never in a function that takes live traffic: it
        # can hold any model an endpoint of the environment can (libraries, memory, /tmp).
        self.candidate_endpoint = endpoint(
            "CandidateEndpoint", candidate_endpoint_config(config), ServingRole.CANDIDATE
        )
        # what callers are allowed to invoke: each live function, and the alias its URL is on
        self.url_targets: dict[lambda_.IFunction, str | None] = {
            self.endpoints[e.name].function: PROVISIONED_ALIAS
            if e.provisioned_concurrency
            else None
            for e in config.endpoints
        }
        for name, endpoint in self.endpoints.items():
            assert endpoint.function_url is not None  # live endpoints always have one
            CfnOutput(self, endpoint_url_output(name), value=endpoint.function_url.url)
            CfnOutput(self, endpoint_function_output(name), value=endpoint.function.function_name)
        CfnOutput(
            self, CANDIDATE_FUNCTION_OUTPUT, value=self.candidate_endpoint.function.function_name
        )


def candidate_endpoint_config(config: EnvironmentConfig) -> EndpointConfig:
    """The candidate function's size: the largest of the environment's endpoints."""
    endpoints = config.endpoints
    return EndpointConfig(
        name="candidates",
        memory_mb=max(e.memory_mb for e in endpoints),
        timeout_seconds=max(e.timeout_seconds for e in endpoints),
        ephemeral_storage_mb=max(e.ephemeral_storage_mb for e in endpoints),
        extra_libraries=config.runtime_libraries,
    )
