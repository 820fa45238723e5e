"""The promotion workflow, declared once: its steps, their order, and what each one needs.

``infra/promotion_workflow.py`` walks this declaration to build the functions (handler,
package, environment, grants) and the state machine (order, branches, result paths, retries,
the catch-all to RecordFailure). Handlers answer with the state field their step names here
(``registry.workflow_state``). The tests check each entry against both sides: the handler
exists and answers with the declared type, and the synthesized state machine is this one.

Adding a step is its handler, one entry below, and one row in the tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from registry.audit import AuditStep
from registry.environment import (
    APPROVAL_TOKEN_KEY,
    APPROVAL_TOPIC_ARN,
    ATTESTATION_KEY,
    CANDIDATE_FUNCTIONS,
    ENVIRONMENT_NAME,
    SANDBOX_FUNCTION,
    TRUSTED_MODEL_TYPES,
)
from registry.exceptions import (
    CanaryStillBakingError,
    PointerConflictError,
)
from registry.statuses import ApprovalPolicy, RegisterOutcome
from registry.workflow_state import (
    ApprovalRequest,
    Document,
    LockRequest,
    PromotionState,
    StepError,
    field_model,
    json_path,
)


class Package(StrEnum):
    """Where a step's code runs."""

    CONTROL_PLANE = "control-plane"  # registry/ + functions/, with the dependency layer
    RUNTIME = "runtime"  # the model runtime (an image in AWS): steps that load a model


class Permission(StrEnum):
    """What a step may do besides reading and writing the lineage table."""

    READ_BUNDLES = "read-bundles"
    INVOKE_CANDIDATES = "invoke-candidates"  # each endpoint's candidate function
    PUBLISH_APPROVAL_REQUESTS = "publish-approval-requests"
    SEAL_APPROVAL_TOKENS = "seal-approval-tokens"
    READ_SERVING_METRICS = "read-serving-metrics"
    DESCRIBE_EXECUTIONS = "describe-executions"  # of this workflow: does a lock's holder run?
    # answer the tokens of promotions waiting for a lock (the lock is theirs, or superseded)
    HAND_OVER_LOCKS = "hand-over-locks"
    RUN_BUNDLE_CODE = "run-bundle-code"  # in the python sandbox, which has no rights
    RENEW_CANDIDATE_ENVIRONMENTS = "renew-candidate-environments"  # after python candidates
    # kms:Sign with the environment's attestation key: what it did with a version, signed
    SIGN_ATTESTATIONS = "sign-attestations"


# The python sandbox is no step of its own: Validate and Evaluate call it (RUN_BUNDLE_CODE)
# to run a python-flavor bundle's code where no right of theirs is within reach.
SANDBOX_HANDLER = "model_runtime.jobs.sandbox.handler"
SANDBOX_TIMEOUT_SECONDS = 300

# A promotion waiting in line for its model's lock is woken by the one whose turn ends; a
# wait nobody answered (a hand-over lost to a crash) is re-armed this often, and looks again.
LOCK_RECHECK_SECONDS = 15 * 60

# A step that waits (for the lock, for a canary's bake) looks again this often. A canary may
# wait for its minimum number of requests up to its policy's max_bake_seconds, which cdk.json
# bounds by MAX_BAKE_SECONDS.
WAIT_INTERVAL_SECONDS = 5
MAX_BAKE_SECONDS = 6 * 3600  # each check adds events to the execution's history (<= 25,000)

# The DynamoDB calls behind the repository's methods. TransactWriteItems has no IAM action
# of its own: each Put/Update in it is authorised as PutItem/UpdateItem.
GET = ("dynamodb:GetItem",)
PUT = ("dynamodb:PutItem",)
WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem")
DELETE = ("dynamodb:DeleteItem",)
QUERY = ("dynamodb:Query",)
# Ending a turn hands the lock on: the lock and the line are read and written, the next
# promotion's token answered, and a holder that ended is asked about.
HAND_OVER = (*GET, *WRITE, *DELETE, *QUERY)

# Errors worth retrying on any step: Lambda's own transient faults and a pointer that moved
# under us (the repository's optimistic lock).
TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    PointerConflictError.__name__,
)


@dataclass(frozen=True)
class TokenWait:
    """How a step that waits for a task token ends when nobody answers in time: a Pass
    state records ``error`` with ``cause`` ({minutes}: the wait's length) for the failure
    handler. A ``rearmed`` wait is begun again every LOCK_RECHECK_SECONDS until the
    environment's lock wait is over; any other lasts the approval timeout."""

    timed_out_state: str
    error: str
    cause: str
    waiting_for: str  # what the step waits for, as the gate's view says it while it waits
    rearmed: bool = False


@dataclass(frozen=True)
class Task:
    """A state that runs one function and stores its answer in the state document.

    The function receives ``input``: the whole state document, or, for a step that waits for
    a task token, a request wrapping it with the token (``ApprovalRequest``,
    ``LockRequest``); such a step's answer is what the token is answered with."""

    state: str
    handler: str
    package: Package
    result: str
    description: str
    input: type[Document] = PromotionState
    table_actions: tuple[str, ...] = ()
    permissions: tuple[Permission, ...] = ()
    settings: tuple[str, ...] = ()  # environment variables the code reads, besides the table
    audit: tuple[AuditStep, ...] = ()  # the audit events the step writes
    token_wait: TokenWait | None = None
    wait_while: tuple[str, ...] = ()  # errors meaning "not yet": retried every few seconds
    # how long at most; the step itself ends the wait earlier, by failing clearly, when it
    # knows its own deadline
    wait_at_most_seconds: int = 0

    def __post_init__(self) -> None:
        field_model(self.result)  # a result field that does not exist fails at import
        if bool(self.wait_while) != (self.wait_at_most_seconds > 0):
            raise ValueError(f"{self.state}: a step that waits says for how long at most")
        if self.waits_for_task_token != ("task_token" in getattr(self.input, "model_fields", {})):
            raise ValueError(
                f"{self.state}: a step waiting for a task token receives a request with the "
                "token, and only such a step does"
            )

    @property
    def waits_for_task_token(self) -> bool:
        return self.token_wait is not None

    @property
    def result_path(self) -> str:
        return json_path(self.result)

    @property
    def result_type(self) -> type[Any]:
        return field_model(self.result)

    @property
    def uses_table(self) -> bool:
        return bool(self.table_actions)


@dataclass(frozen=True)
class Condition:
    """A Choice rule on one field of the state document."""

    path: str
    equals: str | None = None
    greater_than: float | None = None

    def __post_init__(self) -> None:
        if (self.equals is None) == (self.greater_than is None):
            raise ValueError("a Condition compares with exactly one of equals / greater_than")


@dataclass(frozen=True)
class Choice:
    """Take ``then`` when the condition holds, else ``otherwise``; both rejoin afterwards."""

    state: str
    when: Condition
    then: tuple[Node, ...]
    otherwise: tuple[Node, ...] = ()


@dataclass(frozen=True)
class SucceedIf:
    """End the execution successfully when the condition holds; else go on."""

    state: str
    when: Condition
    end: str
    comment: str


@dataclass(frozen=True)
class Wait:
    state: str
    seconds_path: str
    description: str = ""


@dataclass(frozen=True)
class SetPolicy:
    """The first state: writes the environment's gate policy into the document."""

    state: str
    result: str = "policy"

    @property
    def result_path(self) -> str:
        return json_path(self.result)


Node = Task | Choice | SucceedIf | Wait | SetPolicy


@dataclass(frozen=True)
class Workflow:
    nodes: tuple[Node, ...]
    on_failure: Task  # every task's catch-all leads here
    # when the failure handler itself fails: at least the lock is released, then it fails
    on_unrecorded_failure: Task
    unrecorded: str  # the Fail state after on_unrecorded_failure
    failed: str  # the Fail state after on_failure
    failure_cause: str  # the path of the reason the Fail state reports
    succeeded: str  # the Succeed state after the last node
    transient_errors: tuple[str, ...] = field(default=TRANSIENT_ERRORS)
    error: str = "error"  # where a Catch stores the failed step's StepError

    def __post_init__(self) -> None:
        if field_model(self.error) is not StepError:
            raise ValueError(f"the state document's {self.error!r} field is not a StepError")

    @property
    def error_path(self) -> str:
        return json_path(self.error)

    def tasks(self) -> list[Task]:
        """Every task, in declaration order, the failure handlers last."""
        declared = [node for node in walk(self.nodes) if isinstance(node, Task)]
        return [*declared, self.on_failure, self.on_unrecorded_failure]

    def state_names(self) -> list[str]:
        names = [node.state for node in walk(self.nodes)]
        names += [n.end for n in walk(self.nodes) if isinstance(n, SucceedIf)]
        names += [self.on_failure.state, self.failed, self.succeeded]
        names += [t.token_wait.timed_out_state for t in self.tasks() if t.token_wait]
        names += [self.on_unrecorded_failure.state, self.unrecorded]
        return names

    def task(self, state: str) -> Task:
        (found,) = [task for task in self.tasks() if task.state == state]
        return found


def walk(nodes: tuple[Node, ...]) -> Iterator[Node]:
    """Every node, branches included, in declaration order."""
    for node in nodes:
        yield node
        if isinstance(node, Choice):
            yield from walk(node.then)
            yield from walk(node.otherwise)


VALIDATE = Task(
    state="Validate",
    handler="model_runtime.jobs.validate.handler",
    package=Package.RUNTIME,
    result="validated",
    description="safe extraction, manifest, digests, loadable model",
    # the upload's declaration; the checked manifest, for Register
    table_actions=(*GET, *PUT),
    permissions=(Permission.READ_BUNDLES, Permission.RUN_BUNDLE_CODE),
    settings=(TRUSTED_MODEL_TYPES, SANDBOX_FUNCTION),
)
REGISTER = Task(
    state="Register",
    handler="functions.register.handler.handler",
    package=Package.CONTROL_PLANE,
    result="registered",
    description="the immutable version with its lineage edges",
    table_actions=(*GET, *WRITE),
    audit=(AuditStep.REGISTER,),
)
VERIFY_PROVENANCE = Task(
    state="VerifyProvenance",
    handler="functions.provenance.handler.handler",
    package=Package.CONTROL_PLANE,
    result="provenance",
    description="the earlier environment's attestation (cdk.json accepts_from) and the "
    "lineage policy",
    # the upload's declaration and the version; the received attestation and the audit
    table_actions=(*GET, *WRITE),
    audit=(AuditStep.PROVENANCE,),
)
ACQUIRE_LOCK = Task(
    state="AcquireLock",
    handler="functions.promotion_lock.handler.acquire",
    package=Package.CONTROL_PLANE,
    result="lock",
    description="one promotion per model at a time; the others wait in line",
    table_actions=HAND_OVER,
    permissions=(Permission.DESCRIBE_EXECUTIONS, Permission.HAND_OVER_LOCKS),
    audit=(AuditStep.LOCK, AuditStep.UNLOCK, AuditStep.WAIT),
    input=LockRequest,
    token_wait=TokenWait(
        timed_out_state="LockWaitTimedOut",
        error="LockWaitTimedOut",
        cause="the promotions ahead of it kept the model's lock for more than {minutes} minutes",
        waiting_for="the promotions of the model ahead of it to finish (its lock)",
        rearmed=True,
    ),
)
EVALUATE = Task(
    state="Evaluate",
    handler="model_runtime.jobs.evaluate.handler",
    package=Package.RUNTIME,
    result="evaluation",
    description="metric vs threshold and vs the live model",
    table_actions=GET,
    permissions=(Permission.READ_BUNDLES, Permission.RUN_BUNDLE_CODE),
    settings=(TRUSTED_MODEL_TYPES, SANDBOX_FUNCTION),
)
STAGE = Task(
    state="Stage",
    handler="functions.stage.handler.handler",
    package=Package.CONTROL_PLANE,
    result="staged",
    description="the staging pointer moves to the candidate",
    table_actions=(*GET, *WRITE),
    audit=(AuditStep.STAGE,),
)
SMOKE_TEST = Task(
    state="SmokeTest",
    handler="model_runtime.jobs.smoke_test.handler",
    package=Package.RUNTIME,
    result="smoke_test",
    description="the staging route of the candidate function built like the model's "
    "endpoint answers the input example",
    table_actions=GET,  # the registered input example
    permissions=(Permission.INVOKE_CANDIDATES, Permission.RENEW_CANDIDATE_ENVIRONMENTS),
    settings=(CANDIDATE_FUNCTIONS,),
)
AUTO_APPROVE = Task(
    state="AutoApprove",
    handler="functions.approval.handler.auto_approve",
    package=Package.CONTROL_PLANE,
    result="approval",
    description="the environment approves by policy",
    # the approval, then its attestation: the record read, the newest kept (older dropped)
    table_actions=(*GET, *WRITE, *QUERY, *DELETE),
    permissions=(Permission.SIGN_ATTESTATIONS,),
    settings=(ATTESTATION_KEY, ENVIRONMENT_NAME),
    audit=(AuditStep.APPROVAL,),
)
WAIT_FOR_APPROVAL = Task(
    state="WaitForApproval",
    handler="functions.approval.handler.request_approval",
    package=Package.CONTROL_PLANE,
    result="approval",
    description="a person approves or rejects through the registry",
    table_actions=WRITE,
    permissions=(Permission.PUBLISH_APPROVAL_REQUESTS, Permission.SEAL_APPROVAL_TOKENS),
    settings=(APPROVAL_TOPIC_ARN, APPROVAL_TOKEN_KEY),
    audit=(AuditStep.APPROVAL_REQUESTED,),
    input=ApprovalRequest,
    token_wait=TokenWait(
        timed_out_state="ApprovalTimedOut",
        error="ApprovalTimedOut",
        cause="no one approved or rejected the version within {minutes} minutes",
        waiting_for="a person to approve or reject it through the registry",
    ),
)
START_CANARY = Task(
    state="StartCanary",
    handler="functions.canary.handler.start",
    package=Package.CONTROL_PLANE,
    result="canary",
    description="the candidate takes a share of live traffic",
    table_actions=(*GET, *WRITE),
    audit=(AuditStep.CANARY_START,),
)
# Until the first check: none when there is nothing to compare with (StartCanary says).
BAKE_CANARY = Wait(
    state="BakeCanary",
    seconds_path=json_path("canary", "first_check_seconds"),
    description="the candidate takes its share of live traffic until its first check",
)
CHECK_CANARY = Task(
    state="CheckCanary",
    handler="functions.canary.handler.check",
    package=Package.CONTROL_PLANE,
    result="canary_check",
    description="the candidate's serving metrics vs limits and the stable version",
    table_actions=PUT,
    permissions=(Permission.READ_SERVING_METRICS,),
    settings=(ENVIRONMENT_NAME,),  # the environment's own endpoint metrics, no other's
    audit=(AuditStep.CANARY_CHECK,),
    # checked every few seconds while it bakes: it fails early with enough bad requests
    wait_while=(CanaryStillBakingError.__name__,),
    wait_at_most_seconds=MAX_BAKE_SECONDS,
)
PROMOTE = Task(
    state="Promote",
    handler="functions.promote.handler.handler",
    package=Package.CONTROL_PLANE,
    result="promoted",
    description="the live pointer moves to the candidate, and the environment attests it",
    # the pointer, then the attestation: the record read, the newest kept (older dropped)
    table_actions=(*GET, *WRITE, *QUERY, *DELETE),
    # the registered bundle is still in the bucket; what went live is signed
    permissions=(Permission.READ_BUNDLES, Permission.SIGN_ATTESTATIONS),
    # the dimension of the promotion it counts, and the signer's name
    settings=(ENVIRONMENT_NAME, ATTESTATION_KEY),
    audit=(AuditStep.PROMOTE,),
)
RELEASE_LOCK = Task(
    state="ReleaseLock",
    handler="functions.promotion_lock.handler.release",
    package=Package.CONTROL_PLANE,
    result="unlock",
    description="the next promotion of the model in line goes on",
    table_actions=HAND_OVER,
    permissions=(Permission.DESCRIBE_EXECUTIONS, Permission.HAND_OVER_LOCKS),
    audit=(AuditStep.UNLOCK,),
)
RELEASE_LOCK_UNRECORDED = Task(
    state="ReleaseLockUnrecorded",
    handler=RELEASE_LOCK.handler,  # the same function as ReleaseLock
    package=Package.CONTROL_PLANE,
    result="unlock",
    description="RecordFailure itself failed: the model's lock is released all the same",
    table_actions=HAND_OVER,
    permissions=(Permission.DESCRIBE_EXECUTIONS, Permission.HAND_OVER_LOCKS),
    audit=(AuditStep.UNLOCK,),
)
RECORD_FAILURE = Task(
    state="RecordFailure",
    handler="functions.record_failure.handler.handler",
    package=Package.CONTROL_PLANE,
    result="failure",
    description="the reason recorded, the candidate's traffic taken back, the lock handed on",
    table_actions=HAND_OVER,
    permissions=(Permission.DESCRIBE_EXECUTIONS, Permission.HAND_OVER_LOCKS),
    settings=(ENVIRONMENT_NAME,),  # the dimension of the rejection it counts
    audit=(AuditStep.REJECT, AuditStep.UNLOCK),
)

NEW_VERSION = SucceedIf(
    "NewVersion?",
    Condition(json_path("registered", "outcome"), equals=RegisterOutcome.DUPLICATE),
    end="AlreadyRegistered",
    comment="Same bytes as a registered version: nothing to do",
)

PROMOTION = Workflow(
    nodes=(
        SetPolicy("Policy"),
        VALIDATE,
        # before Register: a refused upload registers nothing, so its version number stays
        # free for the promotion that brings the attestation
        VERIFY_PROVENANCE,
        REGISTER,
        NEW_VERSION,
        ACQUIRE_LOCK,
        EVALUATE,
        STAGE,
        SMOKE_TEST,
        Choice(
            "ApprovalPolicy",
            Condition(json_path("policy", "approval"), equals=ApprovalPolicy.MANUAL),
            then=(WAIT_FOR_APPROVAL,),
            otherwise=(AUTO_APPROVE,),
        ),
        Choice(
            "CanaryPolicy",
            Condition(json_path("policy", "canary", "share"), greater_than=0),
            then=(START_CANARY, BAKE_CANARY, CHECK_CANARY),
        ),
        PROMOTE,
        RELEASE_LOCK,
    ),
    on_failure=RECORD_FAILURE,
    on_unrecorded_failure=RELEASE_LOCK_UNRECORDED,
    unrecorded="FailedUnrecorded",
    failed="Rejected",
    failure_cause=json_path("failure", "reason"),
    succeeded="Live",
)
