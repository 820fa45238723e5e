"""ModelEndpoint: the serving app behind a Function URL that only accepts SigV4 (AWS_IAM)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.constants import BUNDLE_CACHE_DIR, POINTER_CACHE_SECONDS, TABLE_NAME
from infra.config import EndpointConfig
from infra.least_privilege import READ_ITEMS, grant_read_objects, grant_table
from infra.observability_defaults import Observability
from infra.runtime_function import RuntimeFunction


class ModelEndpoint(Construct):
    """One serving function; it answers for every model whose pointer the table holds."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EndpointConfig,
        bucket: s3.IBucket,
        table: dynamodb.ITable,
        embedded: bool,
        observability: Observability,
    ) -> None:
        super().__init__(scope, id_)
        self.function = RuntimeFunction(
            self,
            "Serving",
            handler="model_runtime.serving.handler.handler",
            embedded=embedded,
            memory_size=config.memory_mb,
            timeout=Duration.seconds(config.timeout_seconds),
            environment={
                TABLE_NAME: table.table_name,
                BUNDLE_CACHE_DIR: "/tmp/slipway",
                POINTER_CACHE_SECONDS: "5",
            },
            description=f"Slipway model endpoint '{config.name}'",
            observability=observability,
        ).function
        grant_read_objects(bucket, self.function)
        grant_table(table, self.function, *READ_ITEMS)
        self.function_url = self.function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.AWS_IAM
        )
