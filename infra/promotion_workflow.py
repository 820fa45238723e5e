"""PromotionWorkflow: the Standard state machine that gates a bundle into production.

Every state lives here; every decision lives in tested Python behind a Lambda. Any failure
is caught, recorded with a readable reason by RecordFailure, and ends the execution without
touching the live pointer.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from functions.constants import TABLE_NAME
from infra.code_assets import control_plane_code
from infra.runtime_function import RuntimeFunction

# Errors worth retrying: Lambda's own transient faults and a pointer that moved under us.
TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "PointerConflictError",
]


class PromotionWorkflow(Construct):
    """Validate -> Register -> (duplicate? done) -> Promote; failures -> RecordFailure -> Fail."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        table: dynamodb.ITable,
        embedded: bool,
    ) -> None:
        super().__init__(scope, id_)
        table_env = {TABLE_NAME: table.table_name}
        self.validate_function = RuntimeFunction(
            self,
            "ValidateFunction",
            handler="model_runtime.jobs.validate.handler",
            embedded=embedded,
            memory_size=2048,
            timeout=Duration.minutes(5),
            description="Validate step: safe extraction, manifest, digests, loadable model",
        ).function
        self.register_function = self._control_function(
            "RegisterFunction",
            "functions.register.handler.handler",
            table_env,
            "Register step: immutable version with lineage edges",
        )
        self.promote_function = self._control_function(
            "PromoteFunction",
            "functions.promote.handler.handler",
            table_env,
            "Promote step: moves the live pointer, audited",
        )
        self.record_failure_function = self._control_function(
            "RecordFailureFunction",
            "functions.record_failure.handler.handler",
            table_env,
            "Records why a promotion was rejected",
        )
        bucket.grant_read(self.validate_function)
        table.grant_read_write_data(self.register_function)
        table.grant_read_write_data(self.promote_function)
        table.grant_read_write_data(self.record_failure_function)

        record_failure = self._step(
            "RecordFailure", self.record_failure_function, "$.failure"
        ).next(sfn.Fail(self, "Rejected", error="PromotionRejected", cause_path="$.failure.reason"))
        validate = self._step("Validate", self.validate_function, "$.validated", record_failure)
        register = self._step("Register", self.register_function, "$.registered", record_failure)
        promote = self._step("Promote", self.promote_function, "$.promoted", record_failure)
        already_registered = sfn.Succeed(
            self, "AlreadyRegistered", comment="Same bytes as a registered version: nothing to do"
        )
        definition = validate.next(register).next(
            sfn.Choice(self, "NewVersion?")
            .when(
                sfn.Condition.string_equals("$.registered.outcome", "duplicate"), already_registered
            )
            .otherwise(promote.next(sfn.Succeed(self, "Live")))
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.hours(2),
            comment="Slipway promotion: validate, register, promote",
        )

    def _control_function(
        self, id_: str, handler: str, environment: dict[str, str], description: str
    ) -> lambda_.Function:
        return lambda_.Function(
            self,
            id_,
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler=handler,
            code=control_plane_code(),
            timeout=Duration.seconds(30),
            memory_size=256,
            environment=environment,
            description=description,
        )

    def _step(
        self,
        id_: str,
        function: lambda_.IFunction,
        result_path: str,
        on_failure: sfn.IChainable | None = None,
    ) -> tasks.LambdaInvoke:
        step = tasks.LambdaInvoke(
            self,
            id_,
            lambda_function=function,
            payload_response_only=True,
            result_path=result_path,
            retry_on_service_exceptions=False,
        )
        step.add_retry(
            errors=TRANSIENT_ERRORS,
            interval=Duration.seconds(1),
            max_attempts=3,
            backoff_rate=2.0,
        )
        if on_failure is not None:
            step.add_catch(on_failure, errors=["States.ALL"], result_path="$.error")
        return step
