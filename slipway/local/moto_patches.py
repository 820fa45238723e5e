"""What the embedded cloud teaches moto, so CDK-deployed Slipway stacks behave as in AWS.

Each patch closes one gap between moto and AWS (docs/architecture.md lists what remains):
- Step Functions state machines created by CloudFormation land in the executing backend;
- S3 buckets created by CloudFormation honour VersioningConfiguration and
  NotificationConfiguration.EventBridgeConfiguration;
- KMS keys created by CloudFormation keep their ``KeySpec`` and ``KeyUsage`` (an
  environment's asymmetric attestation key signs);
- ``AWS::Lambda::Url`` is created (moto's CloudFormation skips it) and ``FunctionUrl`` resolves;
- stack updates keep a parameter the first deploy left to its default (CDK's
  ``BootstrapVersion`` arrives with UsePreviousValue, which moto cannot find);
- SendTaskFailure keeps its ``cause`` (moto's response handler drops it);
- CloudWatch answers percentile statistics (``p99``) as it does in AWS;
- a DynamoDB Query reads the items it can match, not a sorted copy of the whole table
  (``query_only_what_can_match``: the console's pages over 10,000 versions), and a
  projection converts the attributes it names, not the whole item once per name, and an
  answer's attribute values are written out directly, not member by member through moto's
  generic serializer;
- Lambda code runs in the local executor instead of Docker, and the embedded-metric-format
  lines it prints become CloudWatch metrics;
- data capture's Firehose streams, subscription filters and alarms come from the templates
  and behave as in AWS (``monitoring_resources.py``).

Every patch wraps or replaces a moto internal, so each one first checks, through
:func:`moto_internal`, that its target still exists with the signature it was written for.
``check_targets()`` runs every check at once; a fast unit test calls it, so a moto upgrade
that moves a target fails with the target's name instead of a strange embedded cloud.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import json
import logging
import math
import threading
import time
from datetime import UTC, datetime
from typing import Any

import moto
from moto.awslambda import models as lambda_models
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudwatch import models as cloudwatch_models
from moto.core import serialize as moto_serialize
from moto.core.common_models import CloudFormationModel
from moto.core.config import default_user_config
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.models import dynamo_type as dynamodb_types
from moto.dynamodb.models import table as dynamodb_table
from moto.events import models as events_models
from moto.kms import models as kms_models
from moto.logs import models as logs_models
from moto.s3 import models as s3_models
from moto.sqs import models as sqs_models
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.parser import models as sfn_parser_models
from moto.stepfunctions.parser.asl.utils import boto_client as sfn_boto_client
from moto.stepfunctions.parser.backend import execution as sfn_execution

from slipway.local import monitoring_resources
from slipway.local.credentials import LocalCredentials
from slipway.local.executor import FunctionSpec, Invocation, LocalExecutor

_installed: dict[str, Any] = {}
_log = logging.getLogger("slipway.local")


class MotoPatchError(RuntimeError):
    """A moto internal that a patch relies on is gone or has changed shape."""


# (owner, attribute, the parameter names the patch was written against; None: not callable)
_QUERY_PARAMETERS = (
    "self",
    "hash_key",
    "range_comparison",
    "range_objs",
    "limit",
    "exclusive_start_key",
    "scan_index_forward",
    "projection_expressions",
    "index_name",
    "consistent_read",
    "filter_expression",
    "hash_key_conditions",
    "range_key_conditions",
    "filter_kwargs",
)
TARGETS: list[tuple[Any, str, tuple[str, ...] | None]] = [
    (dynamodb_table.Table, "query", _QUERY_PARAMETERS),
    (dynamodb_table.Table, "all_items", ("self",)),
    (dynamodb_table.Table, "sorted_items", ("self", "hash_key_attrs", "range_key_attrs", "items")),
    (
        dynamodb_table.Table,
        "_generate_attr_to_sort_by",
        ("self", "hash_key_attrs", "range_key_attrs"),
    ),
    (dynamodb_types.Item, "project", ("self", "projection_expressions")),
    (moto_serialize, "SERVICE_SPECIFIC_SERIALIZERS", None),
    (moto_serialize, "JSONSerializer", None),
    (
        moto_serialize.ResponseSerializer,
        "_serialize",
        ("self", "serialized", "value", "shape", "key"),
    ),
    (
        moto_serialize.ResponseSerializer,
        "_default_serialize",
        ("self", "serialized", "value", "shape", "key"),
    ),
    (moto_serialize.ResponseSerializer, "_base64", ("self", "value")),
    (dynamodb_responses.DynamoHandler, "call_action", ("self",)),
    (dynamodb_responses.DynamoHandler, "_get_action", ("self",)),
    (dynamodb_types, "serializer", None),
    (dynamodb_types, "deserializer", None),
    (dynamodb_types, "find_nested_key", ("keys", "dct", "processed_keys", "result")),
    (dynamodb_types, "merge_dicts", ("dict1", "dict2", "append_lists")),
    (sfn_boto_client, "boto_client_for", ("region", "service", "state_credentials")),
    (sfn_models, "stepfunctions_backends", None),
    (sfn_parser_models, "stepfunctions_parser_backends", None),
    (
        s3_models.FakeBucket,
        "create_from_cloudformation_json",
        ("resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"),
    ),
    (
        s3_models.FakeBucket,
        "update_from_cloudformation_json",
        (
            "original_resource",
            "new_resource_name",
            "cloudformation_json",
            "account_id",
            "region_name",
        ),
    ),
    (s3_models, "NotificationConfiguration", ("topic", "queue", "cloud_function", "event_bridge")),
    (
        cfn_models.CloudFormationBackend,
        "_resolve_update_parameters",
        ("self", "instance", "incoming_params"),
    ),
    (sfn_responses.StepFunctionResponse, "send_task_failure", ("self",)),
    (sfn_parser_models.StepFunctionsParserBackend, "stop_execution", ("self", "execution_arn")),
    (sfn_execution.BaseExecutionWorkerCommunication, "_reflect_execution_status", ("self",)),
    (
        sfn_parser_models.StepFunctionsParserBackend,
        "send_task_failure",
        ("self", "task_token", "error", "cause"),
    ),
    (cloudwatch_models.Statistics, "get_statistics_for_type", ("self", "stat")),
    (events_models, "events_backends", None),
    (sqs_models.Queue, "add_message", ("self", "message")),
    (events_models.EventsBackend, "put_events", ("self", "events")),
    (events_models.Rule, "send_to_targets", ("self", "original_event", "transform_input")),
    (cloudwatch_models.Statistics, "metric_single_values_list", None),
    (cloudwatch_models.CloudWatchBackend, "put_metric_data", ("self", "namespace", "metric_data")),
    (cloudwatch_models, "cloudwatch_backends", None),
    (lambda_models.LambdaFunction, "_invoke_lambda", ("self", "event")),
    (lambda_models, "lambda_backends", None),
    (sfn_responses.StepFunctionResponse, "_get_param", ("self", "param_name", "if_none")),
    (logs_models.LogsBackend, "create_log_stream", ("self", "log_group_name", "log_stream_name")),
    (logs_models.LogsBackend, "ensure_log_group", ("self", "log_group_name")),
    (
        logs_models.LogsBackend,
        "put_log_events",
        ("self", "log_group_name", "log_stream_name", "log_events"),
    ),
    (
        lambda_models.LambdaBackend,
        "invoke",
        ("self", "function_name", "qualifier", "body", "headers", "response_headers"),
    ),
    (lambda_models.LambdaBackend, "list_functions", ("self", "func_version")),
    (lambda_models.LambdaBackend, "get_function_url_config", ("self", "name_or_arn")),
    (
        lambda_models.LambdaBackend,
        "create_function_url_config",
        ("self", "name_or_arn", "config"),
    ),
    (lambda_models.LambdaBackend, "delete_function_url_config", ("self", "name_or_arn")),
    (
        lambda_models.LambdaFunction,
        "create_from_cloudformation_json",
        ("resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"),
    ),
    (lambda_models.LambdaFunction, "get_configuration", ("self", "on_create")),
    (
        kms_models.Key,
        "create_from_cloudformation_json",
        ("resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"),
    ),
    (
        kms_models.KmsBackend,
        "create_key",
        (
            "self",
            "policy",
            "key_usage",
            "key_spec",
            "description",
            "tags",
            "multi_region",
            "origin",
        ),
    ),
    (cfn_parsing, "get_model_list", ()),
    (cfn_parsing, "get_model_map", ()),
    (cfn_parsing, "get_name_type_map", ()),
]
# Attributes of a moto LambdaFunction the executor reads (checked on a real one in the tests).
LAMBDA_FUNCTION_ATTRIBUTES = (
    "package_type",
    "logs_backend",
    "logs_group_name",
    "function_arn",
    "function_name",
    "handler",
    "code_sha_256",
    "code_bytes",
    "environment_vars",
    "timeout",
    "memory_size",
    "region",
    "account_id",
    "url_config",
)
# Attributes of a moto Function URL config that FunctionUrlResource reads (checked likewise).
FUNCTION_URL_CONFIG_ATTRIBUTES = ("url", "function")


def moto_internal(owner: Any, attribute: str, parameters: tuple[str, ...] | None = None) -> Any:
    """``owner.attribute``, after checking it has the parameters a patch was written for."""
    where = f"{getattr(owner, '__name__', owner)}.{attribute}"
    if not hasattr(owner, attribute):
        raise MotoPatchError(
            f"moto {moto.__version__} has no {where}; the embedded cloud's patch for it "
            "(slipway/local/moto_patches.py) must follow moto's change"
        )
    target = getattr(owner, attribute)
    if parameters is not None:
        actual = tuple(inspect.signature(target).parameters)
        if actual != parameters:
            raise MotoPatchError(
                f"moto {moto.__version__} changed {where}{actual}; the embedded cloud's "
                f"patch was written for {parameters} (slipway/local/moto_patches.py)"
            )
    return target


# moto's Step Functions interpreter calls the server (Lambda, SQS, SNS, DynamoDB tasks) with
# a client signed "ak"; the embedded cloud answers only its per-start key. These modules took
# the factory by name when they were imported, so each gets the replacement.
_INTERPRETER_CLIENT_USERS = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_aws_sdk",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_dynamodb",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_events",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs",
)
_interpreter_credentials: dict[str, LocalCredentials] = {}


def _sign_interpreter_calls(credentials: LocalCredentials) -> None:
    import importlib

    import boto3
    from botocore.config import Config
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    _interpreter_credentials["current"] = credentials
    original = _target(sfn_boto_client, "boto_client_for")
    if getattr(original, "signs_with_local_key", False):
        return

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # as moto's own, but signed with this start's key
        key = _interpreter_credentials["current"]
        endpoint = {}
        if not botocore_stubber.enabled:  # in-process mocks need no endpoint
            endpoint["endpoint_url"] = f"http://localhost:{moto_server_port()}"
        return boto3.client(
            service_name=service,
            region_name=region,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
            **endpoint,
        )

    boto_client_for.signs_with_local_key = True  # type: ignore[attr-defined]
    sfn_boto_client.boto_client_for = boto_client_for
    for name in _INTERPRETER_CLIENT_USERS:
        module = importlib.import_module(name)
        if getattr(module, "boto_client_for", None) is not original:
            raise MotoPatchError(
                f"moto {moto.__version__}: {name} no longer takes boto_client_for by name; "
                "the embedded cloud's patch for it (slipway/local/moto_patches.py) must follow"
            )
        module.boto_client_for = boto_client_for  # type: ignore[attr-defined]


def issued_by_sts(access_key_id: str) -> bool:
    """Whether this cloud's STS issued the key (AssumeRole, answered only to key holders)."""
    from moto.sts.models import sts_backends

    from slipway.local.cloud import ACCOUNT_ID

    backend = sts_backends[ACCOUNT_ID]["aws"]
    return backend.get_assumed_role_from_access_key(access_key_id) is not None


def check_targets() -> None:
    """Check every moto internal the patches rely on; raise naming the first that moved."""
    for owner, attribute, parameters in (*TARGETS, *monitoring_resources.TARGETS):
        moto_internal(owner, attribute, parameters)


def _target(owner: Any, attribute: str) -> Any:
    (parameters,) = [p for o, a, p in TARGETS if o is owner and a == attribute]
    return moto_internal(owner, attribute, parameters)


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


def function_urls(account_id: str, region: str) -> dict[str, str]:
    """Function URL (as the stack outputs name it) -> function ARN, for every URL deployed."""
    backend = lambda_models.lambda_backends[account_id][region]
    urls = {}
    for function in backend.list_functions():
        config = getattr(function, "url_config", None)
        if config is not None:
            urls[f"{config.url}/"] = str(function.function_arn)
    return urls


def invoke_function(
    account_id: str, region: str, function_arn: str, event: Any
) -> tuple[bytes, bool]:
    """Lambda Invoke through moto's own backend, in this process: (payload, function error).

    The same path as the Invoke API (the function runs in its warm worker, its logs and
    metrics are kept), without a round trip through HTTP and botocore for each request.
    """
    backend = lambda_models.lambda_backends[account_id][region]
    response_headers: dict[str, str] = {}
    payload = backend.invoke(function_arn, None, json.dumps(event), {}, response_headers)
    raw = payload.encode() if isinstance(payload, str) else (payload or b"")
    return raw, "x-amz-function-error" in response_headers


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
    create = _target(bucket_cls, "create_from_cloudformation_json")
    update = _target(bucket_cls, "update_from_cloudformation_json")

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


def _patch_kms_key() -> None:
    """moto's CloudFormation makes every ``AWS::KMS::Key`` a symmetric encryption key; an
    environment's attestation key is asymmetric (``KeySpec`` ECC_NIST_P256, ``KeyUsage``
    SIGN_VERIFY), and Sign refuses a symmetric one. Keys that ask for the default are made
    by moto's own code."""
    key_cls = kms_models.Key
    create = _target(key_cls, "create_from_cloudformation_json")
    _target(kms_models.KmsBackend, "create_key")

    def create_key(
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        key_spec = properties.get("KeySpec", "SYMMETRIC_DEFAULT")
        key_usage = properties.get("KeyUsage", "ENCRYPT_DECRYPT")
        if (key_spec, key_usage) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"):
            return create(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        policy = properties.get("KeyPolicy")
        key = kms_models.kms_backends[account_id][region_name].create_key(
            # moto reads a key's policy as JSON text (its own path hands on the template's
            # object, which the first Sign would fail to read)
            policy=json.dumps(policy) if isinstance(policy, dict) else policy,
            key_usage=key_usage,
            key_spec=key_spec,
            description=properties.get("Description"),
            tags=properties.get("Tags", []),
        )
        key.key_rotation_status = properties.get("EnableKeyRotation", False)
        key.enabled = properties.get("Enabled", True)
        return key

    key_cls.create_from_cloudformation_json = staticmethod(create_key)  # type: ignore[method-assign,assignment]


def _patch_stack_update_parameters() -> None:
    backend_cls = cfn_models.CloudFormationBackend
    resolve = _target(backend_cls, "_resolve_update_parameters")

    def resolve_known(self: Any, instance: Any, incoming_params: list[dict[str, str]]) -> Any:
        known = [
            parameter
            for parameter in incoming_params
            if not parameter.get("UsePreviousValue")
            or parameter["ParameterKey"] in instance.parameters
        ]
        return resolve(self, instance, known)

    backend_cls._resolve_update_parameters = resolve_known  # type: ignore[method-assign]


_failure_cause: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "failure_cause", default=None
)


def abort_stopped_executions() -> None:
    """moto's interpreter notices a StopExecution only when its current state ends, so an
    execution waiting for a task token stays RUNNING for good, and when its worker does end
    it may report FAILED; AWS reports ABORTED at once, and for good. The stopped execution
    is marked so, and its worker's own report cannot undo that. Either way, the end is
    announced on EventBridge, as AWS does (:func:`announce_end`). Idempotent."""
    from moto.stepfunctions.parser.api import ExecutionStatus

    backend_cls = sfn_parser_models.StepFunctionsParserBackend
    stop = _target(backend_cls, "stop_execution")
    if getattr(stop, "_slipway_aborts", False):
        return
    reflect = _target(sfn_execution.BaseExecutionWorkerCommunication, "_reflect_execution_status")

    def stop_execution(self: Any, execution_arn: str) -> Any:
        execution = stop(self, execution_arn)
        if execution.exec_status == ExecutionStatus.RUNNING:
            execution.slipway_stopped = True
            execution.exec_status = ExecutionStatus.ABORTED
            execution.stop_date = execution.stop_date or datetime.now(UTC)
            announce_end(execution)
        return execution

    def reflect_execution_status(self: Any) -> None:
        reflect(self)
        if getattr(self.execution, "slipway_stopped", False):
            self.execution.exec_status = ExecutionStatus.ABORTED
        announce_end(self.execution)

    stop_execution._slipway_aborts = True  # type: ignore[attr-defined]
    backend_cls.stop_execution = stop_execution  # type: ignore[method-assign]
    sfn_execution.BaseExecutionWorkerCommunication._reflect_execution_status = (  # type: ignore[method-assign]
        reflect_execution_status
    )


def status_change_event(execution: Any) -> dict[str, Any]:
    """The "Step Functions Execution Status Change" event AWS puts on the default bus when
    a standard workflow's execution ends (as PutEvents takes it)."""

    def millis(moment: Any) -> int | None:
        return int(moment.timestamp() * 1000) if moment is not None else None

    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "status": status,
        "startDate": millis(execution.start_date),
        "stopDate": millis(execution.stop_date),
        "input": json.dumps(execution.input_data, separators=(",", ":")),
        "inputDetails": {"included": True},
        "output": None,
        "outputDetails": None,
        "error": execution.error,
        "cause": execution.cause,
    }
    return {
        "Source": "aws.states",
        "DetailType": "Step Functions Execution Status Change",
        "Detail": json.dumps(detail),
        "Resources": [execution.exec_arn],
        "EventBusName": "default",
    }


def announce_end(execution: Any) -> None:
    """Put the ended execution's status change on EventBridge, once, from another thread
    (AWS delivers it asynchronously; a rule's target may call back into this cloud)."""
    if getattr(execution, "slipway_announced", False):
        return
    execution.slipway_announced = True
    event = status_change_event(execution)
    backend = _target(events_models, "events_backends")[execution.account_id][execution.region_name]

    def put() -> None:
        try:
            backend.put_events([event])
        except Exception:  # best effort, as in AWS: AcquireLock does not depend on it
            _log.exception("could not announce the end of %s", execution.exec_arn)

    threading.Thread(target=put, name="announce-execution-end", daemon=True).start()


_pollers: dict[str, Any] = {}
_inline_delivery_off = threading.Lock()


def poll_event_sources(poller: Any) -> None:
    """Messages sent to a queue with an event source mapping are left in the queue for
    ``poller`` (slipway/local/queue_poller.py), which is woken, instead of being handed to
    the function inside SendMessage and deleted whatever it answered. Idempotent; a later
    call swaps the poller."""
    _pollers["active"] = poller
    add = _target(sqs_models.Queue, "add_message")
    if getattr(add, "_slipway_polled", False):
        return

    def add_message(self: Any, message: Any) -> None:
        # moto delivers inline to the mappings the queue lists: it lists none meanwhile
        # (the poller reads Lambda's own list of mappings)
        with _inline_delivery_off:
            mappings = self.lambda_event_source_mappings
            self.lambda_event_source_mappings = {}
            try:
                add(self, message)
            finally:
                self.lambda_event_source_mappings = mappings
        active = _pollers.get("active")
        if active is not None:
            active.wake(self.queue_arn)

    add_message._slipway_polled = True  # type: ignore[attr-defined]
    sqs_models.Queue.add_message = add_message  # type: ignore[method-assign]


def honour_disabled_rules() -> None:
    """moto's EventBridge delivers events to a rule's targets whatever its state; AWS
    delivers nothing to a DISABLED rule. Idempotent."""
    send = _target(events_models.Rule, "send_to_targets")
    if getattr(send, "_slipway_honours_state", False):
        return

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if self.state == "ENABLED":
            send(self, original_event, transform_input)

    send_to_targets._slipway_honours_state = True  # type: ignore[attr-defined]
    events_models.Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def keep_task_failure_causes() -> None:
    """moto's response handler reads ``error`` but not ``cause``; its backend takes both.
    The handler is wrapped to carry the request's cause to the backend call it makes.
    Idempotent."""
    response_cls = sfn_responses.StepFunctionResponse
    backend_cls = sfn_parser_models.StepFunctionsParserBackend
    respond = _target(response_cls, "send_task_failure")
    fail = _target(backend_cls, "send_task_failure")
    if getattr(fail, "_slipway_keeps_cause", False):
        return

    def send_task_failure_response(self: Any) -> Any:
        token = _failure_cause.set(self._get_param("cause"))
        try:
            return respond(self)
        finally:
            _failure_cause.reset(token)

    def send_task_failure(self: Any, task_token: Any, error: Any = None, cause: Any = None) -> Any:
        return fail(self, task_token, error=error, cause=cause or _failure_cause.get())

    send_task_failure._slipway_keeps_cause = True  # type: ignore[attr-defined]
    response_cls.send_task_failure = send_task_failure_response  # type: ignore[method-assign]
    backend_cls.send_task_failure = send_task_failure  # type: ignore[method-assign]


def _publish_embedded_metrics(account_id: str, region: str, logs: str) -> None:
    from slipway.local.emf import metric_data_from_logs

    backend = cloudwatch_models.cloudwatch_backends[account_id][region]
    arrived: set[tuple[str, str]] = set()
    for namespace, metric_data in metric_data_from_logs(logs).items():
        backend.put_metric_data(namespace, metric_data)
        arrived.update((namespace, datum["MetricName"]) for datum in metric_data)
    if arrived:  # alarms on these metrics are judged now, as CloudWatch would
        monitoring_resources.evaluate_alarms(account_id, region, arrived)


def teach_percentile_statistics() -> None:
    """CloudWatch answers ``pNN`` statistics (nearest rank); moto answers None. Idempotent."""
    statistics = cloudwatch_models.Statistics
    plain = _target(statistics, "get_statistics_for_type")
    if getattr(plain, "_slipway_percentiles", False):
        return

    def get_statistics_for_type(self: Any, stat: str) -> Any:
        if len(stat) > 1 and stat[0] == "p" and stat[1:].replace(".", "", 1).isdigit():
            values = sorted(self.metric_single_values_list)
            if not values:
                return None
            rank = max(math.ceil(float(stat[1:]) / 100 * len(values)) - 1, 0)  # nearest rank
            return values[min(rank, len(values) - 1)]
        return plain(self, stat)

    get_statistics_for_type._slipway_percentiles = True  # type: ignore[attr-defined]
    statistics.get_statistics_for_type = get_statistics_for_type  # type: ignore[method-assign]


_streams_created: set[tuple[int, str, str]] = set()


# The table and the key conditions of the Query this thread is answering, if any.
_answering_query: contextvars.ContextVar[tuple[Any, list[tuple[str, Any]]] | None] = (
    contextvars.ContextVar("slipway_answering_query", default=None)
)


def query_only_what_can_match() -> None:
    """moto answers a Query by sorting every item of the table (``Table.all_items``) and
    then keeping those of the queried partition: a Query costs about a second at 90,000
    items, where DynamoDB reads one partition. While a Query is answered, ``all_items``
    offers only the items whose key attributes equal the Query's hash key conditions (the
    partition, or the index's partition), in the same order; moto's own checks, sorting,
    paging and filters then run on them unchanged. Every other caller gets every item."""
    table_class = dynamodb_table.Table
    query = _target(table_class, "query")
    all_items = _target(table_class, "all_items")
    if getattr(query, "narrowed", False):
        return

    @functools.wraps(query)  # its signature stays moto's (check_targets reads it)
    def narrowed_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name") or (args[6] if len(args) > 6 else None)
        conditions = list(kwargs.get("hash_key_conditions") or [])
        if index_name is None and hash_key is not None:
            conditions = [(self.hash_key_attr, hash_key)]
        token = _answering_query.set((self, conditions) if conditions else None)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _answering_query.reset(token)

    @functools.wraps(all_items)
    def narrowed_all_items(self: Any) -> list[Any]:
        answering = _answering_query.get()
        if answering is None or answering[0] is not self:
            return all_items(self)  # type: ignore[no-any-return]
        conditions = answering[1]
        if conditions == [(self.hash_key_attr, conditions[0][1])] and self.range_key_attr:
            partition = self.items.get(conditions[0][1])  # not [...]: a defaultdict
            candidates = list(partition.values()) if partition else []
        else:  # an index's partition: its items are anywhere in the table
            candidates = _index_partition(self, conditions)
        # moto's order (its keys compare by cast_value), each key cast once, not per comparison
        if self.range_key_attr:
            return sorted(candidates, key=lambda x: (x.hash_key.cast_value, x.range_key.cast_value))
        return sorted(candidates, key=lambda x: x.hash_key.cast_value)

    @functools.wraps(table_class.sorted_items)
    def sorted_items(
        self: Any, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Any]
    ) -> list[Any]:
        # as moto's, with each item's key attributes cast once instead of at every comparison
        attributes = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda x: tuple(x.attrs[name].cast_value for name in attributes))
        return items

    narrowed_query.narrowed = True  # type: ignore[attr-defined]
    narrowed_query.original = query  # type: ignore[attr-defined]
    narrowed_all_items.original = all_items  # type: ignore[attr-defined]
    sorted_items.original = _target(table_class, "sorted_items")  # type: ignore[attr-defined]
    table_class.query = narrowed_query
    table_class.all_items = narrowed_all_items
    table_class.sorted_items = sorted_items


def project_only_named_attributes() -> None:
    """moto projects an item (GetItem, BatchGetItem, Query with a ProjectionExpression) by
    converting the whole item to plain JSON, deep copies included, once per projected name:
    the registry's model listing, 15 names over version items that carry manifests, took a
    third of a second per page. The same projection from only the attributes it names,
    each converted once."""
    item_class = dynamodb_types.Item
    original = _target(item_class, "project")
    if getattr(original, "named_only", False):
        return
    serializer = _target(dynamodb_types, "serializer")
    deserializer = _target(dynamodb_types, "deserializer")
    find_nested_key = _target(dynamodb_types, "find_nested_key")  # what moto's own uses
    merge_dicts = _target(dynamodb_types, "merge_dicts")

    @functools.wraps(original)
    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        # a path starts at a top-level attribute, perhaps indexed: "a[1]" starts at "a"
        named = {expr[0] for expr in projection_expressions}
        named |= {name.split("[", 1)[0] for name in named}
        regular = {
            name: deserializer.deserialize(self.attrs[name].to_regular_json())
            for name in named
            if name in self.attrs
        }
        result: dict[str, Any] = {}
        for expr in projection_expressions:
            merge_dicts(result, find_nested_key(expr, regular))
        return item_class(
            hash_key=self.hash_key,
            range_key=self.range_key,
            attrs=serializer.serialize(result)["M"],
        )

    project.named_only = True  # type: ignore[attr-defined]
    project.original = original  # type: ignore[attr-defined]
    item_class.project = project


# The members of DynamoDB's AttributeValue, as its service model declares them.
_ATTRIBUTE_VALUE_MEMBERS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})


def serialize_attribute_values_directly() -> None:
    """moto writes every answer out by walking the operation's output shape, asking for each
    of a structure's members by every name it might have: an AttributeValue costs ten such
    look-ups, and a listing of 150 projected items spent two thirds of its time there (the
    console's models page). DynamoDB's answers are written by moto's own JSON serializer,
    except that an AttributeValue is written directly, by the same rules: a member that is
    None is left out, strings and numbers are ``str``, binaries base64, maps and lists
    recursively. One difference, on AWS's side: a map with an empty-string key is written as
    it is, where moto's serializer mangles it into the value's own members."""
    specific = _target(moto_serialize, "SERVICE_SPECIFIC_SERIALIZERS")
    json_serializer = _target(moto_serialize, "JSONSerializer")
    if getattr(specific.get("dynamodb", {}).get("json"), "writes_attribute_values", False):
        return
    generic = _target(moto_serialize.ResponseSerializer, "_serialize")
    _target(moto_serialize.ResponseSerializer, "_default_serialize")
    _target(moto_serialize.ResponseSerializer, "_base64")

    def attribute_value(serializer: Any, value: dict[str, Any]) -> dict[str, Any]:
        written: dict[str, Any] = {}
        for member, content in value.items():
            if content is None or member not in _ATTRIBUTE_VALUE_MEMBERS:
                continue
            if member == "M":
                written[member] = {  # as moto's map: a value that is None is left out
                    name: attribute_value(serializer, inner) if isinstance(inner, dict) else inner
                    for name, inner in content.items()
                    if inner is not None
                }
            elif member == "L":
                written[member] = [
                    attribute_value(serializer, inner) if isinstance(inner, dict) else inner
                    for inner in content
                ]
            elif member == "B":
                written[member] = serializer._base64(content)
            elif member == "BS":
                written[member] = [serializer._base64(inner) for inner in content]
            elif member in ("S", "N"):
                written[member] = content if content in ({}, []) else str(content)
            elif member in ("SS", "NS"):
                written[member] = [inner if inner in ({}, []) else str(inner) for inner in content]
            else:  # NULL, BOOL
                written[member] = content
        return written

    class DirectAttributeValueSerializer(json_serializer):  # type: ignore[misc,valid-type]
        def _serialize(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
            if shape.name == "AttributeValue" and isinstance(value, dict):
                self._default_serialize(serialized, attribute_value(self, value), shape, key)
                return
            generic(self, serialized, value, shape, key)

    DirectAttributeValueSerializer.writes_attribute_values = True  # type: ignore[attr-defined]
    specific["dynamodb"] = {**specific.get("dynamodb", {}), "json": DirectAttributeValueSerializer}


# DynamoDB actions that change nothing; any other action (a write, a transaction, a table's
# change or restore) makes every index partition found so far stale.
_READ_ACTIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "DescribeTable",
        "ListTables",
        "DescribeTimeToLive",
        "DescribeContinuousBackups",
        "ListTagsOfResource",
        "DescribeEndpoints",
    }
)
_writes = {"generation": 0}
_writes_lock = threading.Lock()
# (table, conditions) -> (write generation when found, the partition's items)
_index_partitions: dict[tuple[int, tuple[tuple[str, str, Any], ...]], tuple[int, list[Any]]] = {}


def count_dynamodb_writes() -> None:
    """Every DynamoDB action that is not a read moves the write generation, before and after
    it runs: an index partition found while it ran is not kept past it."""
    handler = dynamodb_responses.DynamoHandler
    original = _target(handler, "call_action")
    if getattr(original, "counts_writes", False):
        return

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        if self._get_action() in _READ_ACTIONS:
            return original(self)
        _moved()
        try:
            return original(self)
        finally:
            _moved()

    call_action.counts_writes = True  # type: ignore[attr-defined]
    handler.call_action = call_action  # type: ignore[method-assign]


def _moved() -> None:
    with _writes_lock:
        _writes["generation"] += 1
        _index_partitions.clear()


def _index_partition(table: Any, conditions: list[tuple[str, Any]]) -> list[Any]:
    """The items under an index's hash key conditions: found by walking the table (about
    50 ms at 90,000 items), and kept until the next DynamoDB action that is not a read
    (every item the embedded cloud writes comes through the API: functions, the Step
    Functions interpreter and CloudFormation's tables alike). Without the write count
    installed, the table is walked every time."""
    key = (id(table), tuple((name, value.type, repr(value.value)) for name, value in conditions))
    generation = _writes["generation"]
    kept = _index_partitions.get(key)
    if kept is not None and kept[0] == generation and count_dynamodb_writes_installed():
        return list(kept[1])
    (name, value), *others = conditions
    wanted = (value.type, value.value)
    found = [
        item
        for hash_set in table.items.values()
        for item in (hash_set.values() if table.range_key_attr else (hash_set,))
        if (attribute := item.attrs.get(name)) is not None
        and (attribute.type, attribute.value) == wanted
        and all(_same(item.attrs.get(n), v) for n, v in others)
    ]
    with _writes_lock:
        if _writes["generation"] == generation:
            _index_partitions[key] = (generation, found)
    return list(found)


def count_dynamodb_writes_installed() -> bool:
    return bool(getattr(dynamodb_responses.DynamoHandler.call_action, "counts_writes", False))


def _same(attribute: Any, value: Any) -> bool:
    """A key attribute equal to a condition's value (DynamoType's type and value)."""
    return attribute is not None and attribute.type == value.type and attribute.value == value.value


def _save_logs(logs_backend: Any, group: str, result: Invocation) -> None:
    """What the function printed, into its execution environment's stream (as in Lambda,
    one stream per environment, not one per invocation)."""
    stream = (id(logs_backend), group, result.log_stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in (result.logs or " ").splitlines()]
    if stream in _streams_created:  # moto's "already exists" error is costly to build
        try:
            logs_backend.put_log_events(group, result.log_stream, events)
            return
        except logs_models.ResourceNotFoundException:
            _streams_created.discard(stream)  # someone deleted the group: Lambda recreates it
    logs_backend.ensure_log_group(group)
    with contextlib.suppress(logs_models.ResourceAlreadyExistsException):
        logs_backend.create_log_stream(group, result.log_stream)
    _streams_created.add(stream)
    logs_backend.put_log_events(group, result.log_stream, events)


def _deliver(
    logs_backend: Any, group: str, account_id: str, region: str, result: Invocation
) -> None:
    """What CloudWatch Logs does with a function's output: keep it in the environment's
    stream, and turn its embedded-metric-format lines into metrics. Done before the answer
    is returned, so whoever reads logs or metrics after an answer finds them."""
    try:
        _save_logs(logs_backend, group, result)
    except Exception:  # lost log lines must not lose the metrics, nor the answer
        _log.exception("could not keep the logs of an invocation in %s", group)
    try:
        _publish_embedded_metrics(account_id, region, result.logs)
    except Exception:
        _log.exception("could not turn the metrics of an invocation in %s into data", group)


def _tail(text: str, limit: int) -> str:
    encoded = text.encode()
    return encoded[-limit:].decode(errors="ignore") if len(encoded) > limit else text


def _patch_lambda_invoke(executor: LocalExecutor) -> None:
    _target(lambda_models.LambdaFunction, "_invoke_lambda")  # replaced whole, on purpose

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
            log_group=self.logs_group_name,
        )
        result = executor.invoke(spec, event if event is not None else {})
        _deliver(self.logs_backend, self.logs_group_name, self.account_id, self.region, result)
        # Invoke's LogResult carries the last 4 KB of the logs, as in AWS
        return result.payload, result.errored, _tail(result.logs, 4096)

    lambda_models.LambdaFunction._invoke_lambda = invoke_locally  # type: ignore[method-assign]


def honour_logging_config() -> None:
    """A function logs to the log group its ``LoggingConfig`` names (Slipway gives each
    function one of its own, with the environment's retention), as in AWS; moto drops the
    setting and logs to ``/aws/lambda/<name>``. GetFunctionConfiguration names the group."""
    create = _target(lambda_models.LambdaFunction, "create_from_cloudformation_json").__func__
    configuration = _target(lambda_models.LambdaFunction, "get_configuration")

    def create_with_log_group(
        cls: Any,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        function = create(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        logging_config = cloudformation_json["Properties"].get("LoggingConfig") or {}
        if logging_config.get("LogGroup"):
            function.logs_group_name = logging_config["LogGroup"]
        return function

    def configuration_with_log_group(self: Any, on_create: bool = False) -> dict[str, Any]:
        answer: dict[str, Any] = configuration(self, on_create)
        answer["LoggingConfig"] = {"LogFormat": "Text", "LogGroup": self.logs_group_name}
        return answer

    lambda_models.LambdaFunction.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
        create_with_log_group
    )
    lambda_models.LambdaFunction.get_configuration = configuration_with_log_group  # type: ignore[method-assign]


def install(executor: LocalExecutor, credentials: LocalCredentials) -> None:
    """Apply every patch once per process; later calls only swap the executor and the
    credentials."""
    if not _installed:
        check_targets()
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    _patch_lambda_invoke(executor)
    _sign_interpreter_calls(credentials)
    if _installed:
        return
    sfn_models.stepfunctions_backends = sfn_parser_models.stepfunctions_parser_backends  # type: ignore[assignment]
    _patch_s3_bucket()
    _patch_kms_key()
    _patch_stack_update_parameters()
    keep_task_failure_causes()
    abort_stopped_executions()
    honour_disabled_rules()
    teach_percentile_statistics()
    query_only_what_can_match()
    count_dynamodb_writes()
    project_only_named_attributes()
    serialize_attribute_values_directly()
    honour_logging_config()
    monitoring_resources.install()
    for cached in ("get_model_list", "get_model_map", "get_name_type_map"):
        _target(cfn_parsing, cached).cache_clear()  # FunctionUrlResource joins the models
    _installed["done"] = True
