"""ServingStack: the model endpoints declared in cdk.json, each behind an IAM Function URL."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import (
    EndpointConfig,
    EnvironmentConfig,
    candidate_function_output,
    endpoint_function_output,
    endpoint_url_output,
)
from infra.data_capture import DataCapture
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
                environment_name=config.name,
                monitoring=config.monitoring,
            )

        self.endpoints = {
            e.name: endpoint(f"Endpoint-{e.name}", e, ServingRole.LIVE) for e in config.endpoints
        }
        # Candidates are smoke-tested in a function built like the endpoint that will serve
        # them (architecture, memory, /tmp, libraries, python allowance, models), never in a
        # function that takes live traffic.
        self.candidate_endpoints = {
            e.name: endpoint(
                candidate_construct_id(e.name), candidate_endpoint_config(e), ServingRole.CANDIDATE
            )
            for e in config.endpoints
        }
        # what callers are allowed to invoke: each live function, and the alias its URL is on
        self.url_targets: dict[lambda_.IFunction, str | None] = {
            self.endpoints[e.name].function: PROVISIONED_ALIAS
            if e.provisioned_concurrency
            else None
            for e in config.endpoints
        }
        # what the live endpoints capture, into the bucket (candidates serve no live traffic)
        self.data_capture = DataCapture(
            self,
            "DataCapture",
            bucket=bucket,
            log_groups={name: e.function.log_group for name, e in self.endpoints.items()},
            observability=observability,
        )
        for name, endpoint in self.endpoints.items():
            assert endpoint.function_url is not None  # live endpoints always have one
            CfnOutput(self, endpoint_url_output(name), value=endpoint.function_url.url)
            CfnOutput(self, endpoint_function_output(name), value=endpoint.function.function_name)
        for name, candidate in self.candidate_endpoints.items():
            CfnOutput(self, candidate_function_output(name), value=candidate.function.function_name)


def candidate_endpoint_config(endpoint: EndpointConfig) -> EndpointConfig:
    """The candidate function of an endpoint: the endpoint itself, without the concurrency
    it reserves or keeps warm for live traffic (the candidate takes none)."""
    return endpoint.model_copy(update={"reserved_concurrency": None, "provisioned_concurrency": 0})


def candidate_construct_id(endpoint: str) -> str:
    """The default endpoint's candidate keeps the id of the one candidate there was before
    each endpoint had its own: the deployed workflow stack imports that function's ARN, and
    CloudFormation refuses to delete an export another stack still uses."""
    return "CandidateEndpoint" if endpoint == "default" else f"CandidateEndpoint-{endpoint}"
