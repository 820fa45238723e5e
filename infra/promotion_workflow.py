"""PromotionWorkflow: the Standard state machine that gates a bundle into production.

Every state lives here; every decision lives in tested Python behind a Lambda. Any failure
is caught, recorded with a readable reason by RecordFailure (which also releases the model's
promotion lock), and ends the execution without touching the live pointer.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from functions.constants import (
    APPROVAL_POLICY,
    APPROVAL_TOPIC_ARN,
    BUNDLE_CACHE_DIR,
    CANARY_BAKE_SECONDS,
    CANARY_MAX_ERROR_RATE,
    CANARY_MAX_P99_MS,
    CANARY_MAX_SCHEMA_REJECTION_RATE,
    CANARY_SHARE,
    CHAMPION_MARGIN,
    ENDPOINT_FUNCTION,
    LOCK_TTL_SECONDS,
    POINTER_CACHE_SECONDS,
    SMOKE_TEST_BUDGET_MS,
    TABLE_NAME,
)
from infra.code_assets import control_plane_code
from infra.least_privilege import READ_ITEMS, WRITE_ITEMS, grant_read_objects, grant_table
from infra.observability_defaults import PYTHON_RUNTIME, Observability
from infra.runtime_function import RuntimeFunction

# Errors worth retrying: Lambda's own transient faults and a pointer that moved under us.
TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "PointerConflictError",
]
WORKFLOW_TIMEOUT = Duration.days(8)

# What each control-plane step does to the lineage table (see functions/*/handler.py).
TABLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "register": (*READ_ITEMS, *WRITE_ITEMS),
    "acquire_lock": (*READ_ITEMS, "dynamodb:PutItem"),
    "release_lock": ("dynamodb:DeleteItem",),
    "stage": (*READ_ITEMS, *WRITE_ITEMS),
    "start_canary": (*READ_ITEMS, *WRITE_ITEMS),
    "check_canary": ("dynamodb:PutItem",),
    "auto_approve": WRITE_ITEMS,
    "request_approval": WRITE_ITEMS,
    "promote": (*READ_ITEMS, *WRITE_ITEMS),
    "record_failure": (*READ_ITEMS, *WRITE_ITEMS, "dynamodb:DeleteItem"),
}


@dataclass(frozen=True)
class PromotionPolicy:
    """The environment's rules for the gate."""

    approval: str = "auto"
    approval_timeout_minutes: int = 1440
    champion_margin: float = 0.0
    smoke_test_budget_ms: int = 10000
    pointer_cache_seconds: int = 5
    lock_wait_seconds: int = 120
    canary_share: float = 0.0
    canary_bake_seconds: int = 0
    canary_max_error_rate: float = 0.01
    canary_max_schema_rejection_rate: float = 0.05
    canary_max_p99_ms: float = 1000.0


class PromotionWorkflow(Construct):
    """Validate -> Register -> Lock -> Evaluate -> Stage -> SmokeTest -> Approve -> Canary ->
    Promote; a failed canary ends in RecordFailure, which takes the candidate's traffic away."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        table: dynamodb.ITable,
        endpoint_function: lambda_.IFunction,
        embedded: bool,
        policy: PromotionPolicy,
        observability: Observability,
    ) -> None:
        super().__init__(scope, id_)
        self._observability = observability
        table_env = {TABLE_NAME: table.table_name}
        self.approval_topic = sns.Topic(
            self,
            "ApprovalTopic",
            display_name="Slipway versions awaiting approval",
            enforce_ssl=True,
        )
        self.validate_function = self._runtime_function(
            "ValidateFunction",
            "model_runtime.jobs.validate.handler",
            embedded,
            {},
            "Validate step: safe extraction, manifest, digests, loadable model",
        )
        self.evaluate_function = self._runtime_function(
            "EvaluateFunction",
            "model_runtime.jobs.evaluate.handler",
            embedded,
            {
                **table_env,
                CHAMPION_MARGIN: str(policy.champion_margin),
                BUNDLE_CACHE_DIR: "/tmp/slipway",
            },
            "Evaluate step: metric vs threshold and vs the live model",
        )
        self.smoke_test_function = self._runtime_function(
            "SmokeTestFunction",
            "model_runtime.jobs.smoke_test.handler",
            embedded,
            {
                ENDPOINT_FUNCTION: endpoint_function.function_name,
                SMOKE_TEST_BUDGET_MS: str(policy.smoke_test_budget_ms),
                POINTER_CACHE_SECONDS: str(policy.pointer_cache_seconds),
            },
            "SmokeTest step: the endpoint's staging route answers the input example",
        )
        lock_ttl = int(WORKFLOW_TIMEOUT.to_seconds())
        control = {
            "register": ("functions.register.handler.handler", table_env),
            "acquire_lock": (
                "functions.promotion_lock.handler.acquire",
                {**table_env, LOCK_TTL_SECONDS: str(lock_ttl)},
            ),
            "release_lock": ("functions.promotion_lock.handler.release", table_env),
            "stage": (
                "functions.stage.handler.handler",
                {
                    **table_env,
                    APPROVAL_POLICY: policy.approval,
                    CANARY_SHARE: str(policy.canary_share),
                    CANARY_BAKE_SECONDS: str(policy.canary_bake_seconds),
                },
            ),
            "start_canary": ("functions.canary.handler.start", table_env),
            "check_canary": (
                "functions.canary.handler.check",
                {
                    **table_env,
                    CANARY_MAX_ERROR_RATE: str(policy.canary_max_error_rate),
                    CANARY_MAX_SCHEMA_REJECTION_RATE: str(policy.canary_max_schema_rejection_rate),
                    CANARY_MAX_P99_MS: str(policy.canary_max_p99_ms),
                },
            ),
            "auto_approve": ("functions.approval.handler.auto_approve", table_env),
            "request_approval": (
                "functions.approval.handler.request_approval",
                {**table_env, APPROVAL_TOPIC_ARN: self.approval_topic.topic_arn},
            ),
            "promote": ("functions.promote.handler.handler", table_env),
            "record_failure": ("functions.record_failure.handler.handler", table_env),
        }
        self.control_functions = {
            key: self._control_function(key, handler, environment)
            for key, (handler, environment) in control.items()
        }
        grant_read_objects(bucket, self.validate_function)
        grant_read_objects(bucket, self.evaluate_function)
        grant_table(table, self.evaluate_function, *READ_ITEMS)
        endpoint_function.grant_invoke(self.smoke_test_function)
        for key, function in self.control_functions.items():
            grant_table(table, function, *TABLE_ACTIONS[key])
        self.approval_topic.grant_publish(self.control_functions["request_approval"])
        # GetMetricData has no resource-level permissions; CloudWatch documents "*" for it.
        self.control_functions["check_canary"].add_to_role_policy(
            iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"])
        )

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(policy)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=WORKFLOW_TIMEOUT,
            comment="Slipway promotion gate",
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=observability.log_group(self, "StateMachineLogs"),
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )

    def _definition(self, policy: PromotionPolicy) -> sfn.IChainable:
        functions = self.control_functions
        record_failure = self._step("RecordFailure", functions["record_failure"], "$.failure")
        record_failure.next(
            sfn.Fail(self, "Rejected", error="PromotionRejected", cause_path="$.failure.reason")
        )

        def step(id_: str, function: lambda_.IFunction, result_path: str) -> tasks.LambdaInvoke:
            task = self._step(id_, function, result_path)
            task.add_catch(record_failure, errors=["States.ALL"], result_path="$.error")
            return task

        acquire_lock = step("AcquireLock", functions["acquire_lock"], "$.lock")
        # Waiting for another promotion of the same model: retried, then a clear failure.
        acquire_lock.add_retry(
            errors=["PromotionLockedError"],
            interval=Duration.seconds(5),
            max_attempts=max(policy.lock_wait_seconds // 5, 1),
            backoff_rate=1.0,
        )
        wait_for_approval = tasks.LambdaInvoke(
            self,
            "WaitForApproval",
            lambda_function=functions["request_approval"],
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {"state": sfn.JsonPath.entire_payload, "task_token": sfn.JsonPath.task_token}
            ),
            result_path="$.approval",
            task_timeout=sfn.Timeout.duration(Duration.minutes(policy.approval_timeout_minutes)),
        )
        approval_timed_out = sfn.Pass(
            self,
            "ApprovalTimedOut",
            result=sfn.Result.from_object(
                {
                    "Error": "ApprovalTimedOut",
                    "Cause": "no one approved or rejected the version within "
                    f"{policy.approval_timeout_minutes} minutes",
                }
            ),
            result_path="$.error",
        ).next(record_failure)
        wait_for_approval.add_catch(
            approval_timed_out, errors=["States.Timeout"], result_path="$.error"
        )
        wait_for_approval.add_catch(record_failure, errors=["States.ALL"], result_path="$.error")

        promote = step("Promote", functions["promote"], "$.promoted")
        promote.next(step("ReleaseLock", functions["release_lock"], "$.lock")).next(
            sfn.Succeed(self, "Live")
        )
        canary = (
            sfn.Choice(self, "CanaryPolicy")
            .when(
                sfn.Condition.number_greater_than("$.staged.canary.share", 0),
                step("StartCanary", functions["start_canary"], "$.canary")
                .next(
                    sfn.Wait(
                        self,
                        "BakeCanary",
                        time=sfn.WaitTime.seconds_path("$.staged.canary.bake_seconds"),
                    )
                )
                .next(step("CheckCanary", functions["check_canary"], "$.canary_check"))
                .next(promote),
            )
            .otherwise(promote)
        )
        approval = (
            sfn.Choice(self, "ApprovalPolicy")
            .when(
                sfn.Condition.string_equals("$.staged.approval", "manual"),
                wait_for_approval.next(canary),
            )
            .otherwise(step("AutoApprove", functions["auto_approve"], "$.approval").next(canary))
        )
        gate = (
            acquire_lock.next(step("Evaluate", self.evaluate_function, "$.evaluation"))
            .next(step("Stage", functions["stage"], "$.staged"))
            .next(step("SmokeTest", self.smoke_test_function, "$.smoke_test"))
            .next(approval)
        )
        already_registered = sfn.Succeed(
            self, "AlreadyRegistered", comment="Same bytes as a registered version: nothing to do"
        )
        return (
            step("Validate", self.validate_function, "$.validated")
            .next(step("Register", functions["register"], "$.registered"))
            .next(
                sfn.Choice(self, "NewVersion?")
                .when(
                    sfn.Condition.string_equals("$.registered.outcome", "duplicate"),
                    already_registered,
                )
                .otherwise(gate)
            )
        )

    def _runtime_function(
        self,
        id_: str,
        handler: str,
        embedded: bool,
        environment: dict[str, str],
        description: str,
    ) -> lambda_.Function:
        return RuntimeFunction(
            self,
            id_,
            handler=handler,
            embedded=embedded,
            memory_size=2048,
            timeout=Duration.minutes(5),
            environment=environment,
            description=description,
            observability=self._observability,
        ).function

    def _control_function(
        self, key: str, handler: str, environment: dict[str, str]
    ) -> lambda_.Function:
        id_ = "".join(part.capitalize() for part in key.split("_")) + "Function"
        return lambda_.Function(
            self,
            id_,
            runtime=PYTHON_RUNTIME,
            handler=handler,
            code=control_plane_code(),
            timeout=Duration.seconds(30),
            memory_size=256,
            environment=environment,
            description=f"Slipway promotion step: {key.replace('_', ' ')}",
            **self._observability.function_props(self, id_),
        )

    def _step(self, id_: str, function: lambda_.IFunction, result_path: str) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            id_,
            lambda_function=function,
            payload_response_only=True,
            result_path=result_path,
            retry_on_service_exceptions=False,
        )
        task.add_retry(
            errors=TRANSIENT_ERRORS,
            interval=Duration.seconds(1),
            max_attempts=3,
            backoff_rate=2.0,
        )
        return task
