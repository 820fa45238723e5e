"""ModelEndpoint: the serving app behind a Function URL that only accepts SigV4 (AWS_IAM)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EndpointConfig
from infra.least_privilege import grant_read_objects, grant_table
from infra.observability_defaults import Observability
from infra.runtime_function import RuntimeFunction
from registry.environment import (
    ALLOW_PYTHON,
    ENVIRONMENT_NAME,
    POINTER_CACHE_SECONDS,
    SERVED_MODELS,
    SERVING_ROLE,
    TABLE_NAME,
    TRUSTED_MODEL_TYPES,
)
from registry.monitoring_settings import MONITORING, MonitoringSettings
from registry.statuses import ServingRole
from registry.workflow import GET

# The alias a provisioned endpoint's URL points at (not a stage, not a status).
PROVISIONED_ALIAS = "live"


class ModelEndpoint(Construct):
    """One serving function. A live endpoint takes traffic behind an IAM Function URL: the
    default one answers for every model, a dedicated one only for the models cdk.json gives
    it, and with provisioned concurrency the URL points at a 'live' alias that keeps warm
    environments ready. A candidate function, one built like each endpoint, has no URL:
    only the smoke test invokes it, and candidate functions are the only ones that load
    versions that have not passed the gate."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EndpointConfig,
        bucket: s3.IBucket,
        table: dynamodb.ITable,
        embedded: bool,
        pointer_cache_seconds: float,
        trusted_model_types: list[str],
        observability: Observability,
        role: ServingRole,
        environment_name: str,
        monitoring: MonitoringSettings,
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
                POINTER_CACHE_SECONDS: str(pointer_cache_seconds),
                SERVED_MODELS: ",".join(config.models),
                TRUSTED_MODEL_TYPES: ",".join(trusted_model_types),
                SERVING_ROLE: role,
                # a candidate function runs python bundles only where its endpoint would
                ALLOW_PYTHON: str(config.allow_python).lower(),
                # a dimension of its per-version metrics: another environment in the account
                # and region serves the same versions (model_runtime/serving/metrics.py)
                ENVIRONMENT_NAME: environment_name,
                # what it captures of its live requests (model_runtime/serving/capture.py)
                MONITORING: monitoring.as_variable(),
            },
            description=f"Slipway model endpoint '{config.name}' ({role})",
            observability=observability,
            architecture=config.architecture,
            reserved_concurrency=config.reserved_concurrency,
            extra_libraries=config.extra_libraries,
            ephemeral_storage_mb=config.ephemeral_storage_mb,
        ).function
        grant_read_objects(bucket, self.function)
        grant_table(table, self.function, *GET)
        self.function_url: lambda_.FunctionUrl | None = None
        if role is ServingRole.CANDIDATE:
            return
        target: lambda_.IFunction = self.function
        if config.provisioned_concurrency:
            target = self.function.add_alias(
                PROVISIONED_ALIAS, provisioned_concurrent_executions=config.provisioned_concurrency
            )
        self.function_url = target.add_function_url(auth_type=lambda_.FunctionUrlAuthType.AWS_IAM)
