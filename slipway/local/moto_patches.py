"""What the embedded cloud teaches moto, so CDK-deployed Slipway stacks behave as in AWS.

Each patch closes one documented gap (see shared/aws-local-notes.md):
- Step Functions state machines created by CloudFormation land in the executing backend;
- S3 buckets created by CloudFormation honour VersioningConfiguration and
  NotificationConfiguration.EventBridgeConfiguration;
- ``AWS::Lambda::Url`` is created (moto's CloudFormation skips it) and ``FunctionUrl`` resolves;
- stack updates keep a parameter the first deploy left to its default (CDK's
  ``BootstrapVersion`` arrives with UsePreviousValue, which moto cannot find);
- SendTaskFailure keeps its ``cause`` (moto's response handler drops it);
- CloudWatch answers percentile statistics (``p99``) as it does in AWS;
- Lambda code runs in the local executor instead of Docker, and the embedded-metric-format
  lines it prints become CloudWatch metrics.
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

from moto.awslambda import models as lambda_models
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.core.common_models import CloudFormationModel
from moto.core.config import default_user_config
from moto.s3 import models as s3_models
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from slipway.local.executor import FunctionSpec, LocalExecutor

_installed: dict[str, Any] = {}


class FunctionUrlResource(CloudFormationModel):
    """``AWS::Lambda::Url`` for moto's CloudFormation, backed by moto's own URL configs."""

    def __init__(self, url_config: Any) -> None:
        self.url_config = url_config

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Url"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return str(self.url_config.function.function_arn)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("FunctionUrl", "FunctionArn")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "FunctionUrl":
            return f"{self.url_config.url}/"
        return str(self.url_config.function.function_arn)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> FunctionUrlResource:
        properties = cloudformation_json["Properties"]
        backend = lambda_models.lambda_backends[account_id][region_name]
        target = properties["TargetFunctionArn"]
        config = {"AuthType": properties.get("AuthType", "AWS_IAM")}
        if properties.get("Cors"):
            config["Cors"] = properties["Cors"]
        try:
            url_config = backend.get_function_url_config(target)
        except Exception:
            url_config = backend.create_function_url_config(target, config)
        return cls(url_config)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = lambda_models.lambda_backends[account_id][region_name]
        with contextlib.suppress(Exception):  # already gone with its function
            backend.delete_function_url_config(resource_name)


def _apply_bucket_properties(bucket: Any, properties: dict[str, Any]) -> None:
    versioning = properties.get("VersioningConfiguration", {})
    if versioning.get("Status"):
        bucket.versioning_status = versioning["Status"]
    notifications = properties.get("NotificationConfiguration", {})
    event_bridge = notifications.get("EventBridgeConfiguration", {})
    if str(event_bridge.get("EventBridgeEnabled", "")).lower() == "true":
        bucket.notification_configuration = s3_models.NotificationConfiguration(event_bridge={})


def _patch_s3_bucket() -> None:
    bucket_cls = s3_models.FakeBucket
    create, update = (
        bucket_cls.create_from_cloudformation_json,
        bucket_cls.update_from_cloudformation_json,
    )

    def create_bucket(
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        bucket = create(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        _apply_bucket_properties(bucket, cloudformation_json.get("Properties", {}))
        return bucket

    def update_bucket(
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        bucket = update(
            original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        _apply_bucket_properties(bucket, cloudformation_json.get("Properties", {}))
        return bucket

    bucket_cls.create_from_cloudformation_json = staticmethod(create_bucket)  # type: ignore[method-assign,assignment]
    bucket_cls.update_from_cloudformation_json = staticmethod(update_bucket)  # type: ignore[method-assign,assignment]


def _patch_stack_update_parameters() -> None:
    backend_cls = cfn_models.CloudFormationBackend
    resolve = backend_cls._resolve_update_parameters

    def resolve_known(self: Any, instance: Any, incoming_params: list[dict[str, str]]) -> Any:
        known = [
            parameter
            for parameter in incoming_params
            if not parameter.get("UsePreviousValue")
            or parameter["ParameterKey"] in instance.parameters
        ]
        return resolve(self, instance, known)

    backend_cls._resolve_update_parameters = resolve_known  # type: ignore[method-assign]


def _patch_send_task_failure() -> None:
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"),
            error=self._get_param("error"),
            cause=self._get_param("cause"),
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


def _publish_embedded_metrics(account_id: str, region: str, logs: str) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    from slipway.local.emf import metric_data_from_logs

    backend = cloudwatch_backends[account_id][region]
    for namespace, metric_data in metric_data_from_logs(logs).items():
        backend.put_metric_data(namespace, metric_data)


def _patch_percentile_statistics() -> None:
    from moto.cloudwatch.models import Statistics

    plain = Statistics.get_statistics_for_type

    def get_statistics_for_type(self: Any, stat: str) -> Any:
        if len(stat) > 1 and stat[0] == "p" and stat[1:].replace(".", "", 1).isdigit():
            values = sorted(self.metric_single_values_list)
            if not values:
                return None
            rank = max(math.ceil(float(stat[1:]) / 100 * len(values)) - 1, 0)  # nearest rank
            return values[min(rank, len(values) - 1)]
        return plain(self, stat)

    Statistics.get_statistics_for_type = get_statistics_for_type  # type: ignore[method-assign]


def _patch_lambda_invoke(executor: LocalExecutor) -> None:
    def invoke_locally(self: Any, event: Any = None) -> tuple[str, bool, str]:
        if self.package_type == "Image":
            message = (
                f"{self.function_name} is a container-image function; the embedded cloud runs "
                "zip packages (deploy with an environment whose 'embedded' is true)"
            )
            return (
                json.dumps({"errorType": "Runtime.InvalidEntrypoint", "errorMessage": message}),
                True,
                message,
            )
        self.logs_backend.ensure_log_group(self.logs_group_name)
        spec = FunctionSpec(
            arn=self.function_arn,
            name=self.function_name,
            handler=self.handler,
            code_sha256=self.code_sha_256,
            code_zip=self.code_bytes,
            environment=dict(self.environment_vars),
            timeout_seconds=float(self.timeout),
            memory_mb=int(self.memory_size),
            region=self.region,
        )
        result = executor.invoke(spec, event if event is not None else {})
        self.save_logs(result.logs or " ")
        _publish_embedded_metrics(self.account_id, self.region, result.logs)
        return result.payload, result.errored, result.logs

    lambda_models.LambdaFunction._invoke_lambda = invoke_locally  # type: ignore[method-assign]


def install(executor: LocalExecutor) -> None:
    """Apply every patch once per process; later calls only swap the executor."""
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    _patch_lambda_invoke(executor)
    if _installed:
        return
    sfn_models.stepfunctions_backends = stepfunctions_parser_backends  # type: ignore[assignment]
    _patch_s3_bucket()
    _patch_stack_update_parameters()
    _patch_send_task_failure()
    _patch_percentile_statistics()
    cfn_parsing.get_model_list.cache_clear()
    cfn_parsing.get_model_map.cache_clear()
    cfn_parsing.get_name_type_map.cache_clear()
    _installed["done"] = True
