"""PromotionWorkflow: the Standard state machine that gates a bundle into production.

Nothing about the workflow's shape is written here: the steps, their order, branches, result
fields, table actions, permissions and settings are declared in ``registry/workflow.py``,
and this construct walks that declaration to build one function per task (with exactly the
grants and environment the task declares) and the state machine. Every task's failure is
caught and recorded with a readable reason by the declared failure handler, which also
releases the model's promotion lock; the live pointer never moves on failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.attestation_key import AttestationKey
from infra.code_assets import ControlPlaneCode
from infra.gate_policy import WORKFLOW_TIMEOUT_SECONDS
from infra.least_privilege import (
    executions_of,
    grant_read_objects,
    grant_table,
    grant_task_responses,
)
from infra.observability_defaults import PYTHON_RUNTIME, Observability
from infra.runtime_function import RuntimeFunction
from registry.candidate_functions import encode as encode_candidates
from registry.environment import (
    APPROVAL_TOKEN_KEY,
    APPROVAL_TOPIC_ARN,
    ATTESTATION_KEY,
    CANDIDATE_FUNCTIONS,
    ENVIRONMENT_NAME,
    SANDBOX_FUNCTION,
    SANDBOX_SCRATCH,
    TABLE_NAME,
    TRUSTED_MODEL_TYPES,
)
from registry.workflow import (
    LOCK_RECHECK_SECONDS,
    PROMOTION,
    SANDBOX_HANDLER,
    SANDBOX_TIMEOUT_SECONDS,
    WAIT_INTERVAL_SECONDS,
    Choice,
    Condition,
    Node,
    Package,
    Permission,
    SetPolicy,
    SucceedIf,
    Task,
    TokenWait,
    Wait,
    Workflow,
)
from registry.workflow_state import ApprovalRequest, GatePolicy, LockRequest, StepError

WORKFLOW_TIMEOUT = Duration.seconds(WORKFLOW_TIMEOUT_SECONDS)


@dataclass(frozen=True)
class WorkflowOptions:
    """What the environment decides about the state machine itself (infra/config.py)."""

    # named, so a step may be granted its executions without referring to the state machine
    # (which refers to the step's function: a cycle)
    state_machine_name: str
    policy: GatePolicy
    approval_timeout_minutes: int
    lock_wait_seconds: int
    trusted_model_types: tuple[str, ...]
    runtime_libraries: tuple[str, ...]
    environment_name: str  # CheckCanary reads its own environment's endpoint metrics only


class PromotionWorkflow(Construct):
    """The declared promotion workflow (``registry.workflow.PROMOTION``), deployed."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        table: dynamodb.ITable,
        candidate_functions: dict[str, lambda_.IFunction],
        embedded: bool,
        options: WorkflowOptions,
        observability: Observability,
        control_plane_code: ControlPlaneCode,
        attestation_key: AttestationKey,
        workflow: Workflow = PROMOTION,
    ) -> None:
        super().__init__(scope, id_)
        self._observability = observability
        self._options = options
        self._workflow = workflow
        self.approval_topic = sns.Topic(
            self,
            "ApprovalTopic",
            display_name="Slipway versions awaiting approval",
            enforce_ssl=True,
        )
        # Task tokens of waiting approvals are stored sealed with this key: WaitForApproval
        # may only encrypt, the registry API only decrypt (registry/approval_tokens.py).
        self.approval_token_key = kms.Key(
            self,
            "ApprovalTokenKey",
            description="Slipway: seals the task tokens of versions awaiting approval",
            enable_key_rotation=True,
            pending_window=Duration.days(7),
            removal_policy=RemovalPolicy.DESTROY,  # it only guards tokens of waiting versions
        )
        # python-flavor bundles' own code runs here for Validate and Evaluate, whose roles
        # read every bundle and write the registry; this one is granted nothing
        self.sandbox_function = RuntimeFunction(
            self,
            "PythonSandboxFunction",
            handler=SANDBOX_HANDLER,
            embedded=embedded,
            memory_size=2048,
            timeout=Duration.seconds(SANDBOX_TIMEOUT_SECONDS),
            # in AWS the function's whole /tmp is scratch, emptied around every request; the
            # embedded cloud's functions share the machine's, so there it keeps a folder
            environment={} if embedded else {SANDBOX_SCRATCH: "/tmp"},
            description="Slipway python sandbox: runs a bundle's own code, with no rights",
            observability=observability,
            extra_libraries=list(options.runtime_libraries),
        ).function
        settings = {
            SANDBOX_FUNCTION: self.sandbox_function.function_name,
            TABLE_NAME: table.table_name,
            # each endpoint's candidate function, which SmokeTest picks by the model's endpoint
            CANDIDATE_FUNCTIONS: encode_candidates(
                {name: f.function_name for name, f in candidate_functions.items()}
            ),
            APPROVAL_TOPIC_ARN: self.approval_topic.topic_arn,
            APPROVAL_TOKEN_KEY: self.approval_token_key.key_arn,
            TRUSTED_MODEL_TYPES: ",".join(options.trusted_model_types),
            ENVIRONMENT_NAME: options.environment_name,
            ATTESTATION_KEY: attestation_key.key.key_arn,
        }
        policy = options.policy
        python_endpoints = {
            e.name
            for e in (policy.default_endpoint, *policy.dedicated_endpoints.values())
            if e.allow_python
        }
        renewable = [f for name, f in candidate_functions.items() if name in python_endpoints]

        def renew_candidates(function: lambda_.Function) -> None:
            """A new configuration is the one way to end the environments a candidate ran in.
            Only candidates of endpoints that allow python ever run a bundle's own code, and
            the action could give any other a new handler: only they are granted."""
            if renewable:
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=[
                            "lambda:GetFunctionConfiguration",
                            "lambda:UpdateFunctionConfiguration",
                        ],
                        resources=[c.function_arn for c in renewable],
                    )
                )

        permissions: dict[Permission, Callable[[lambda_.Function], None]] = {
            Permission.READ_BUNDLES: lambda f: grant_read_objects(bucket, f),
            Permission.INVOKE_CANDIDATES: lambda f: f.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"],
                    resources=[c.function_arn for c in candidate_functions.values()],
                )
            ),
            Permission.RUN_BUNDLE_CODE: lambda f: self.sandbox_function.grant_invoke(f),
            Permission.RENEW_CANDIDATE_ENVIRONMENTS: renew_candidates,
            Permission.PUBLISH_APPROVAL_REQUESTS: lambda f: self.approval_topic.grant_publish(f),
            Permission.SEAL_APPROVAL_TOKENS: lambda f: self.approval_token_key.grant_encrypt(f),
            # GetMetricData has no resource-level permissions; CloudWatch documents "*".
            Permission.READ_SERVING_METRICS: lambda f: f.add_to_role_policy(
                iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"])
            ),
            Permission.DESCRIBE_EXECUTIONS: lambda f: f.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["states:DescribeExecution"],
                    resources=[executions_of(self, options.state_machine_name)],
                )
            ),
            Permission.HAND_OVER_LOCKS: grant_task_responses,
            Permission.SIGN_ATTESTATIONS: attestation_key.grant_sign,
        }
        self.functions: dict[str, lambda_.Function] = {}
        by_handler: dict[str, lambda_.Function] = {}
        for task in workflow.tasks():
            if task.handler in by_handler:  # two states of one step (ReleaseLock's)
                self.functions[task.state] = by_handler[task.handler]
                continue
            environment = {name: settings[name] for name in task.settings}
            if task.uses_table:
                environment[TABLE_NAME] = settings[TABLE_NAME]
            function = (
                self._runtime_function(task, embedded, environment)
                if task.package == Package.RUNTIME
                else self._control_function(task, environment, control_plane_code)
            )
            if task.table_actions:
                grant_table(table, function, *task.table_actions)
            for permission in task.permissions:
                permissions[permission](function)
            self.functions[task.state] = by_handler[task.handler] = function

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=options.state_machine_name,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=WORKFLOW_TIMEOUT,
            comment="Slipway promotion gate",
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=observability.log_group(self, "StateMachineLogs"),
                level=sfn.LogLevel.ALL,
                # not the states' input and output: the task-token step's input holds the
                # token (Step Functions' own execution history keeps them, for operators)
                include_execution_data=False,
            ),
        )

    def function_of(self, task: Task) -> lambda_.Function:
        """The function running a declared task."""
        return self.functions[task.state]

    # -- the state machine, built backwards from the end of the declaration ----------------

    def _definition(self) -> sfn.IChainable:
        workflow = self._workflow
        record_failure = self._task(workflow.on_failure)
        record_failure.next(
            sfn.Fail(
                self,
                workflow.failed,
                error="PromotionRejected",
                cause_path=workflow.failure_cause,
            )
        )
        # RecordFailure failing must not keep the lock (8 days): release it, then fail
        release = self._task(workflow.on_unrecorded_failure).next(
            sfn.Fail(
                self,
                workflow.unrecorded,
                error="PromotionFailedUnrecorded",
                cause="the failure handler failed; the model's lock was released, the "
                "version's status may not say why (see the execution history)",
            )
        )
        record_failure.add_catch(release, errors=["States.ALL"], result_path=workflow.error_path)
        self._record_failure = record_failure
        return self._chain(workflow.nodes, sfn.Succeed(self, workflow.succeeded))

    def _chain(self, nodes: tuple[Node, ...], then: sfn.IChainable) -> sfn.IChainable:
        """The states of ``nodes`` in order, the last one continuing to ``then``."""
        for node in reversed(nodes):
            then = self._state(node, then)
        return then

    def _state(self, node: Node, then: sfn.IChainable) -> sfn.IChainable:
        if isinstance(node, Task):
            task = self._caught_task(node)
            task.next(then)  # type: ignore[arg-type]
            return task
        if isinstance(node, Choice):
            return (
                sfn.Choice(self, node.state)
                .when(self._condition(node.when), self._chain(node.then, then))
                .otherwise(self._chain(node.otherwise, then))
            )
        if isinstance(node, SucceedIf):
            return (
                sfn.Choice(self, node.state)
                .when(self._condition(node.when), sfn.Succeed(self, node.end, comment=node.comment))
                .otherwise(then)
            )
        if isinstance(node, Wait):
            return sfn.Wait(
                self, node.state, time=sfn.WaitTime.seconds_path(node.seconds_path)
            ).next(then)  # type: ignore[arg-type]
        if isinstance(node, SetPolicy):
            return sfn.Pass(
                self,
                node.state,
                result=sfn.Result.from_object(self._options.policy.dump()),
                result_path=node.result_path,
            ).next(then)  # type: ignore[arg-type]
        raise TypeError(f"the workflow declares a node this construct cannot build: {node!r}")

    @staticmethod
    def _condition(condition: Condition) -> sfn.Condition:
        if condition.equals is not None:
            return sfn.Condition.string_equals(condition.path, condition.equals)
        assert condition.greater_than is not None
        return sfn.Condition.number_greater_than(condition.path, condition.greater_than)

    def _caught_task(self, task: Task) -> tasks.LambdaInvoke:
        """A task whose every failure ends in the failure handler, with its reason."""
        state = self._task(task)
        if task.token_wait is not None:
            wait = task.token_wait
            minutes = (
                self._options.lock_wait_seconds // 60
                if wait.rearmed
                else self._options.approval_timeout_minutes
            )
            timed_out = sfn.Pass(
                self,
                wait.timed_out_state,
                result=sfn.Result.from_object(
                    StepError(Error=wait.error, Cause=wait.cause.format(minutes=minutes)).dump()
                ),
                result_path=self._workflow.error_path,
            ).next(self._record_failure)
            state.add_catch(
                timed_out, errors=["States.Timeout"], result_path=self._workflow.error_path
            )
        state.add_catch(
            self._record_failure, errors=["States.ALL"], result_path=self._workflow.error_path
        )
        return state

    def _task(self, task: Task) -> tasks.LambdaInvoke:
        if task.token_wait is not None:
            return self._token_task(task, task.token_wait)
        state = tasks.LambdaInvoke(
            self,
            task.state,
            lambda_function=self.functions[task.state],
            payload_response_only=True,
            result_path=task.result_path,
            retry_on_service_exceptions=False,
        )
        self._retry_transient_errors(state)
        if task.wait_while:
            # Not yet (the canary still bakes): look again every few seconds; the step
            # fails clearly once its own deadline passed.
            state.add_retry(
                errors=list(task.wait_while),
                interval=Duration.seconds(WAIT_INTERVAL_SECONDS),
                max_attempts=max(task.wait_at_most_seconds // WAIT_INTERVAL_SECONDS, 1),
                backoff_rate=1.0,
            )
        return state

    def _token_task(self, task: Task, wait: TokenWait) -> tasks.LambdaInvoke:
        """A step answered through its task token: by a person (approval), or by the
        promotion whose turn ends (the lock). A re-armed wait nobody answered is begun
        again, with a new token, until the environment's lock wait is over."""
        token = sfn.JsonPath.task_token
        if task.input is LockRequest:
            payload = LockRequest.template(
                state=sfn.JsonPath.entire_payload,
                execution_arn=sfn.JsonPath.string_at("$$.Execution.Id"),
                started_at=sfn.JsonPath.string_at("$$.Execution.StartTime"),
                task_token=token,
            )
        else:
            payload = ApprovalRequest.template(state=sfn.JsonPath.entire_payload, task_token=token)
        lock_wait = self._options.lock_wait_seconds
        one_wait = min(LOCK_RECHECK_SECONDS, lock_wait)
        timeout = (
            Duration.seconds(one_wait)
            if wait.rearmed
            else Duration.minutes(self._options.approval_timeout_minutes)
        )
        state = tasks.LambdaInvoke(
            self,
            task.state,
            lambda_function=self.functions[task.state],
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(payload),
            result_path=task.result_path,
            task_timeout=sfn.Timeout.duration(timeout),
            retry_on_service_exceptions=False,
        )
        self._retry_transient_errors(state)
        if wait.rearmed:
            state.add_retry(
                errors=["States.Timeout"],
                interval=Duration.seconds(1),
                max_attempts=lock_wait // one_wait - 1,  # the waits add up to lock_wait
                backoff_rate=1.0,
            )
        return state

    def _retry_transient_errors(self, state: tasks.LambdaInvoke) -> None:
        state.add_retry(
            errors=list(self._workflow.transient_errors),
            interval=Duration.seconds(1),
            max_attempts=3,
            backoff_rate=2.0,
        )

    # -- functions --------------------------------------------------------------------------

    def _runtime_function(
        self, task: Task, embedded: bool, environment: dict[str, str]
    ) -> lambda_.Function:
        return RuntimeFunction(
            self,
            f"{task.state}Function",
            handler=task.handler,
            embedded=embedded,
            memory_size=2048,
            # longer than the python sandbox may take, more than once (Evaluate: candidate
            # and champion, in batches), so a slow bundle ends in a named refusal
            timeout=Duration.minutes(15),
            environment=environment,
            description=f"{task.state} step: {task.description}",
            observability=self._observability,
            extra_libraries=list(self._options.runtime_libraries),
        ).function

    def _control_function(
        self, task: Task, environment: dict[str, str], code: ControlPlaneCode
    ) -> lambda_.Function:
        id_ = f"{task.state}Function"
        return lambda_.Function(
            self,
            id_,
            runtime=PYTHON_RUNTIME,
            handler=task.handler,
            code=code.code,
            layers=[code.dependencies],
            timeout=Duration.seconds(30),
            memory_size=256,
            environment=environment,
            description=f"Slipway promotion step {task.state}: {task.description}",
            **self._observability.function_props(self, id_),
        )
