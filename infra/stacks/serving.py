"""ServingStack: the model endpoints declared in cdk.json, each behind an IAM Function URL."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig, endpoint_function_output, endpoint_url_output
from infra.model_endpoint import ModelEndpoint
from infra.observability_defaults import Observability


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
        self.endpoints = {
            endpoint.name: ModelEndpoint(
                self,
                f"Endpoint-{endpoint.name}",
                config=endpoint,
                bucket=bucket,
                table=table,
                embedded=config.embedded,
                pointer_cache_seconds=config.pointer_cache_seconds,
                trusted_model_types=config.trusted_model_types,
                observability=observability,
            )
            for endpoint in config.endpoints
        }
        for name, endpoint in self.endpoints.items():
            CfnOutput(self, endpoint_url_output(name), value=endpoint.function_url.url)
            CfnOutput(self, endpoint_function_output(name), value=endpoint.function.function_name)
