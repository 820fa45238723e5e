"""Running the promotion gate's steps in this process: moto for AWS, the declared handlers,
real state documents. Shared by the gate's unit tests."""

from __future__ import annotations

import importlib
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from mangum import Mangum

from functions.ingest.executions import execution_input
from model_runtime.model_store import ModelStore
from model_runtime.serving.app import create_app
from registry import aws
from registry import workflow as steps
from registry.candidate_functions import encode
from registry.environment import CANDIDATE_FUNCTIONS, TABLE_NAME
from registry.executions import UploadEvent, execution_arn
from registry.names import upload_key
from registry.repository import LineageRepository
from registry.statuses import ServingRole
from registry.workflow import Choice, Condition, SucceedIf, Task, Workflow
from registry.workflow_state import ExecutionInput, LockRequest, PromotionState
from tests.conftest import LambdaContext, load_event

BUCKET = "slipway-unit-artifacts"
BUNDLE_CACHE_DIR = "SLIPWAY_BUNDLE_CACHE_DIR"
# the unit tests' environment, as infra names it on the functions (ENVIRONMENT_NAME)
ENVIRONMENT = "unit"


class ForkedLambda:
    """The python sandbox's handler run in a fork of this process, answering as Lambda's
    Invoke does (moto runs functions only in Docker). The fork keeps moto's in-process mock,
    which answers the presigned URL the handler fetches; and what the handler does to its own
    process (adopting orphans, refusing to be traced) stays out of the test run's."""

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms  # what the function's context says is left

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        context = LambdaContext()
        context.get_remaining_time_in_millis = lambda: self.remaining_ms  # type: ignore[method-assign]
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the fork: answer, and never return into pytest
            try:
                os.close(read_end)
                from model_runtime.jobs.sandbox import handler

                try:
                    result: Any = {"payload": handler(json.loads(Payload), context)}
                except Exception as exc:  # Lambda reports an unhandled error so
                    result = {"error": {"errorType": type(exc).__name__, "errorMessage": str(exc)}}
                with os.fdopen(write_end, "w") as out:
                    out.write(json.dumps(result))
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as answer_pipe:
            answer = json.loads(answer_pipe.read() or '{"error": {"errorType": "Crashed"}}')
        os.waitpid(pid, 0)
        if "error" in answer:
            payload = io.BytesIO(json.dumps(answer["error"]).encode())
            return {"Payload": payload, "FunctionError": "Unhandled"}
        return {"Payload": io.BytesIO(json.dumps(answer["payload"]).encode())}


def failed(state: PromotionState, error: str, message: str) -> PromotionState:
    """The state as a step's Catch leaves it: the error Step Functions caught."""
    from registry.workflow_state import StepError

    cause = json.dumps({"errorType": error, "errorMessage": message})
    return state.model_copy(update={"error": StepError(Error=error, Cause=cause)})


def sandbox_reference(gate: Gate, bundle: Path, key: str) -> dict[str, Any]:
    """What Validate sends the python sandbox for ``bundle``: a presigned URL of the object
    version just uploaded (under x/<key>), its digest and size."""
    from model_runtime.extraction import sha256_file

    response = gate.s3.put_object(Bucket=BUCKET, Key=f"x/{key}", Body=bundle.read_bytes())
    url = gate.s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": BUCKET, "Key": f"x/{key}", "VersionId": response["VersionId"]},
    )
    return {"url": url, "digest": sha256_file(bundle), "size": bundle.stat().st_size}


def resolve(dotted: str) -> Callable[..., Any]:
    """The function a step's declared handler names."""
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def answer(task: Task, state: PromotionState, output: Any) -> PromotionState:
    """Store a step's answer where the declaration says, checking it has the declared type,
    as Step Functions' ResultPath does (and the next step's parse would)."""
    result = task.result_type.parse(output)
    return PromotionState.parse({**state.dump(), task.result: result.dump()})


def run(task: Task, state: PromotionState) -> PromotionState:
    """Call the task's declared handler with the state document, in an environment holding
    only the settings the task declares (as infra deploys it); store its answer. The audit
    events it writes must be the ones it declares."""
    before = _audit_steps()
    payload: dict[str, Any] = state.dump()
    holder = None
    if task.input is LockRequest:  # as the state machine builds it, for a running execution
        started_with = {field: payload[field] for field in ExecutionInput.model_fields}
        holder = running_execution(state.execution_name, started_with)
        payload = lock_request(payload, holder)
    with declared_environment(task):
        output = resolve(task.handler)(payload, LambdaContext())
    written = _audit_steps() - before
    assert {step for _, step in written} <= set(task.audit), (
        f"{task.state} wrote audit events {sorted(written)}; it declares {task.audit}"
    )
    if holder is not None:  # the step is answered through its task token
        output = token_answer(holder)
    return answer(task, state, output)


class StillWaiting(AssertionError):
    """A step answered through its task token has no answer (yet): it waits in line."""


class TokenFailed(Exception):
    """A step's task token was answered with a failure (SendTaskFailure)."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


def lock_request(state: dict[str, Any], holder: str) -> dict[str, Any]:
    """AcquireLock's request for the running execution ``holder``, with the token of its
    first wait, as the state machine fills it in."""
    sfn = boto3.client("stepfunctions")
    started = sfn.describe_execution(executionArn=holder)["startDate"]
    return LockRequest.template(state, holder, started.isoformat(), lock_token(holder))


def _history(arn: str) -> list[dict[str, Any]]:
    return boto3.client("stepfunctions").get_execution_history(executionArn=arn)["events"]  # type: ignore[no-any-return]


def lock_token(arn: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for event in _history(arn):
            if event["type"] == "TaskScheduled":
                body = json.loads(event["taskScheduledEventDetails"]["parameters"])["MessageBody"]
                if body.get("wait") == "Lock":
                    return str(body["token"])
        time.sleep(0.05)
    raise AssertionError(f"{arn} never waited for its lock token")


def token_answer(arn: str, within: float = 3.0) -> Any:
    """What the first wait of the execution ``arn`` was answered with: its output, or
    TokenFailed; StillWaiting when nobody answered it within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for event in _history(arn):
            if event["type"] == "TaskSucceeded":
                return json.loads(event["taskSucceededEventDetails"]["output"])
            if event["type"] == "TaskFailed":
                details = event["taskFailedEventDetails"]
                raise TokenFailed(details.get("error", ""), details.get("cause", ""))
        time.sleep(0.05)
    raise StillWaiting(f"nobody answered the lock token of {arn}")


def token_waiting_machine(name: str, waits: tuple[str, ...] = ("Wait",)) -> tuple[str, str]:
    """A state machine whose tasks (``waits``, in turn) each send their task token to an
    SQS queue and wait for it: its executions run until someone answers the last one or
    stops them. (machine ARN, queue URL); made once per moto backend."""
    sfn = boto3.client("stepfunctions")
    queue = boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"]
    machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    if name in machines:
        return machines[name], queue
    states: dict[str, Any] = {}
    for at, wait in enumerate(waits):
        body = {"token.$": "$$.Task.Token", "wait": wait}
        states[wait] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": queue, "MessageBody": body},
            # each answer kept apart when there are several; a single one is the output
            **({"ResultPath": f"$.{wait.lower()}"} if len(waits) > 1 else {}),
            **({"Next": waits[at + 1]} if at + 1 < len(waits) else {"End": True}),
        }
    definition = {"StartAt": waits[0], "States": states}
    machine = sfn.create_state_machine(
        name=name,
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/gate",
    )["stateMachineArn"]
    return machine, queue


def running_execution(name: str, input_document: dict[str, Any] | None = None) -> str:
    """The ARN of a real execution named ``name`` in moto that runs until stopped (it waits
    for a task token nobody sends): what holds a lock while a promotion is in flight."""
    sfn = boto3.client("stepfunctions")
    # it waits for its lock (AcquireLock's token), then for good
    machine, _ = token_waiting_machine("lock-holders", waits=("Lock", "Hold"))
    try:
        return str(
            sfn.start_execution(
                stateMachineArn=machine, name=name, input=json.dumps(input_document or {})
            )["executionArn"]
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        return execution_arn(machine, name)


@contextmanager
def declared_environment(task: Task) -> Iterator[None]:
    """Only the SLIPWAY_ variables infra gives this task's function."""
    from model_runtime.jobs import evaluate
    from model_runtime.serving import dependencies, settings

    declared = set(task.settings) | ({TABLE_NAME} if task.uses_table else set())
    # infra sets no bundle cache (Lambda's /tmp is the default); tests keep theirs in tmp_path
    declared.add(BUNDLE_CACHE_DIR)
    # moto runs executions in threads that read os.environ whole (botocore copies it): a
    # change while one of them moves on raises KeyError in it, so change it only when all wait
    executions_settled()
    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith("SLIPWAY_") and n not in declared]:
        del os.environ[name]
    dependencies.get_model_store.cache_clear()
    settings.get_registry_store_settings.cache_clear()
    evaluate.judging_store.cache_clear()
    try:
        yield
    finally:
        executions_settled()  # a step may have answered a token: let that execution move on
        for name in [n for n in os.environ if n not in saved]:
            del os.environ[name]
        os.environ.update(saved)
        dependencies.get_model_store.cache_clear()
        settings.get_registry_store_settings.cache_clear()
        evaluate.judging_store.cache_clear()


def executions_settled(within: float = 10.0) -> None:
    """Wait until every running execution in moto waits for a task token (its last event
    is TaskSubmitted): then none of moto's execution threads is doing anything."""
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + within
    for machine in sfn.list_state_machines()["stateMachines"]:
        running = sfn.list_executions(
            stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
        )["executions"]
        for execution in running:
            while _history(execution["executionArn"])[-1]["type"] != "TaskSubmitted":
                status = sfn.describe_execution(executionArn=execution["executionArn"])["status"]
                if status != "RUNNING":
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"{execution['executionArn']} never settled")
                time.sleep(0.02)


def _audit_steps() -> set[tuple[str, str]]:
    """(key, step) of every audit event in the table (moto's, so a scan is cheap)."""
    from registry import aws

    table = aws.lineage_repository()._table
    items = table.scan(
        FilterExpression="begins_with(sk, :a)", ExpressionAttributeValues={":a": "AUDIT#"}
    )
    return {(item["pk"] + item["sk"], item["step"]) for item in items["Items"]}


def holds(condition: Condition, state: PromotionState) -> bool:
    value: Any = state.dump()
    for part in condition.path.removeprefix("$.").split("."):
        value = value[part]
    if condition.equals is not None:
        return bool(value == condition.equals)
    return bool(value > condition.greater_than)


@dataclass
class InProcessEndpoint:
    """Lambda Invoke of the endpoint function, answered by the real serving app in this
    process (moto runs function code only in Docker). Its one environment is the app and its
    store; a configuration update starts a fresh one, as Lambda does."""

    new_store: Callable[[], ModelStore]
    calls: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    environments: int = 0

    def __post_init__(self) -> None:
        self._start_environment()

    def _start_environment(self) -> None:
        self._handler = Mangum(create_app(self.new_store()), lifespan="off")
        self.environments += 1

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        event = json.loads(Payload)
        self.calls.append(event)
        answer = self._handler(event, LambdaContext())
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}

    def get_function_configuration(self, FunctionName: str) -> dict[str, Any]:
        return {
            "Environment": {"Variables": dict(self.variables)},
            "LastUpdateStatus": "Successful",
        }

    def update_function_configuration(
        self, FunctionName: str, Environment: dict[str, Any]
    ) -> dict[str, Any]:
        self.variables = dict(Environment["Variables"])
        self._start_environment()
        return self.get_function_configuration(FunctionName)


@dataclass
class Gate:
    """An account in moto with the artifact bucket and the lineage table."""

    s3: Any
    repository: LineageRepository
    cache_dir: Path
    start: dict[str, Any] = field(default_factory=lambda: load_event("promotion_state_start.json"))

    def upload(self, bundle: Path, name: str, version: str, **policy: Any) -> PromotionState:
        """Upload a bundle; the state document its execution starts with."""
        key = upload_key(name, version)
        size = bundle.stat().st_size
        response = self.s3.put_object(Bucket=BUCKET, Key=key, Body=bundle.read_bytes())
        upload = UploadEvent(BUCKET, key, response["VersionId"], size)
        # what ingest starts the execution with, and the policy its first state adds
        document = execution_input(upload).dump()
        document["policy"] = merge(self.start["policy"], policy)
        return PromotionState.parse(document)

    def endpoint(self) -> InProcessEndpoint:
        return InProcessEndpoint(
            lambda: ModelStore(
                self.repository,
                self.s3,
                self.cache_dir,
                pointer_ttl_seconds=0,
                model_cache_bytes=10**9,
                role=ServingRole.CANDIDATE,
            )
        )

    def walk(
        self,
        workflow: Workflow,
        state: PromotionState,
        runners: dict[str, Callable[[PromotionState], PromotionState]] | None = None,
    ) -> tuple[PromotionState, list[str]]:
        """Interpret the declaration as Step Functions would, for the states it declares:
        run each task (through ``runners`` where given), follow Choices, skip Waits. Returns
        the final state and the states passed, ending with the Succeed state reached."""
        passed: list[str] = []
        runners = runners or {}

        def through(nodes: tuple[Any, ...], state: PromotionState) -> tuple[PromotionState, bool]:
            for node in nodes:
                passed.append(node.state)
                if isinstance(node, Task):
                    state = (
                        runners[node.state](state) if node.state in runners else run(node, state)
                    )
                elif isinstance(node, Choice):
                    branch = node.then if holds(node.when, state) else node.otherwise
                    state, ended = through(branch, state)
                    if ended:
                        return state, True
                elif isinstance(node, SucceedIf) and holds(node.when, state):
                    passed.append(node.end)
                    return state, True
            return state, False

        final, ended = through(workflow.nodes, state)
        if not ended:
            passed.append(workflow.succeeded)
        return final, passed


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        known = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = merge(base[key], value) if known else value
    return merged


# -- a version taken to a given point of the gate ------------------------------------------


def outcomes(repository: LineageRepository, name: str, version: str) -> list[tuple[str, str]]:
    """(step, outcome) of every audit event of a version, oldest first."""
    return [(e["step"], e["outcome"]) for e in repository.audit_history(name, version)]


def uploaded(gate: Gate, bundle: Path, version: str, **policy: Any) -> PromotionState:
    """Upload a bundle built as iris <label> under the version its manifest names."""
    return gate.upload(bundle, "iris", version, **policy)


# The candidate function of each endpoint, as infra gives SmokeTest the map.
CANDIDATES = {"default": "endpoint"}


def smoke_test_with(
    endpoint: Any, state: PromotionState, candidates: dict[str, str] = CANDIDATES
) -> PromotionState:
    """SmokeTest through its declared handler, whose (timed) Lambda client is ``endpoint``."""
    original = aws.timed_lambda_client
    aws.timed_lambda_client = lambda: endpoint  # type: ignore[assignment]
    os.environ[CANDIDATE_FUNCTIONS] = encode(candidates)
    try:
        return run(steps.SMOKE_TEST, state)
    finally:
        aws.timed_lambda_client = original  # type: ignore[assignment]
        del os.environ[CANDIDATE_FUNCTIONS]


def registered(gate: Gate, bundle: Path, version: str, **policy: Any) -> PromotionState:
    return run(steps.REGISTER, run(steps.VALIDATE, uploaded(gate, bundle, version, **policy)))


def locked(gate: Gate, bundle: Path, version: str, **policy: Any) -> PromotionState:
    """Registered, and holding the model's lock, as the workflow is from AcquireLock on."""
    return run(steps.ACQUIRE_LOCK, registered(gate, bundle, version, **policy))


def staged(gate: Gate, bundle: Path, version: str, **policy: Any) -> PromotionState:
    return run(steps.STAGE, run(steps.EVALUATE, locked(gate, bundle, version, **policy)))


def smoke_tested(gate: Gate, bundle: Path, version: str, **policy: Any) -> PromotionState:
    return smoke_test_with(gate.endpoint(), staged(gate, bundle, version, **policy))


def approved(gate: Gate, bundle: Path, version: str, **policy: Any) -> PromotionState:
    return run(steps.AUTO_APPROVE, smoke_tested(gate, bundle, version, **policy))


def live(gate: Gate, bundle: Path, version: str) -> PromotionState:
    """A version taken all the way through the gate by the declared workflow."""
    endpoint = gate.endpoint()
    runners = {steps.SMOKE_TEST.state: lambda state: smoke_test_with(endpoint, state)}
    final, passed = gate.walk(steps.PROMOTION, uploaded(gate, bundle, version), runners)
    assert passed[-1] == steps.PROMOTION.succeeded, passed
    return final


def lease_ended(repository: LineageRepository, name: str) -> None:
    """Time passes: the model's lock is past its lease (registry/promotion_line.py), so its
    holder's liveness is asked before anyone takes it over."""
    from registry import keys

    repository._table.update_item(
        Key={keys.PK: keys.model_pk(name), keys.SK: keys.LOCK_SK},
        UpdateExpression="SET lease_until = :past",
        ExpressionAttributeValues={":past": 0},
    )
