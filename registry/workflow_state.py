"""The promotion workflow's state document: the one JSON object every step reads and writes.

Step Functions hands each task the whole document and stores the task's answer under the
field its step declares (``registry.workflow``). Every field is declared and typed here; the
handlers parse and answer through these models, and the state machine's paths are built
from them with :func:`json_path`, which refuses a field that does not exist. Renaming a
field is therefore one change here, and a step answering anything else fails its tests.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from registry.chain_policy import ChainPolicy
from registry.exam import Metric
from registry.exceptions import InvalidStateError
from registry.lineage_audit import LineagePolicy
from registry.names import CONFIG_NAME_PATTERN, NAME_PATTERN, VERSION_PATTERN
from registry.statuses import (
    ApprovalPolicy,
    CanaryVerdict,
    LinePolicy,
    NotComparablePolicy,
    RegisterOutcome,
)
from registry.uploads import MAX_IDENTITY_CHARS

# Every text in the document has a bound, so the whole document has one: Step Functions fails
# an execution whose state passes 256 KiB, in a way no Catch sees (a test adds them up).
Name = Annotated[str, Field(max_length=64, pattern=NAME_PATTERN.pattern)]
EndpointName = Annotated[str, Field(max_length=31, pattern=CONFIG_NAME_PATTERN.pattern)]
Version = Annotated[str, Field(max_length=64, pattern=VERSION_PATTERN.pattern)]
Digest = Annotated[str, Field(max_length=64, pattern=r"^[0-9a-f]{64}$")]
Timestamp = Annotated[str, Field(max_length=40)]
REASON_LIMIT = 2000
Reason = Annotated[str, Field(max_length=REASON_LIMIT)]  # RecordFailure's: type and message
ExecutionName = Annotated[str, Field(max_length=80, pattern=r"^[A-Za-z0-9_-]{1,80}$")]


class Document(BaseModel):
    """A part of the state document: strict (unknown fields are drift), immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def parse(cls, data: Any) -> typing.Self:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or '(root)'}: {error['msg']}"
                for error in exc.errors()
            )
            raise InvalidStateError(
                f"{cls.__name__} does not fit the contract: {problems}"
            ) from None

    def dump(self) -> dict[str, Any]:
        """The JSON a Lambda answers with."""
        return self.model_dump(mode="json")


# -- the gate policy: written into every execution when the state machine is synthesized ---


class CanaryPolicy(Document):
    share: float
    bake_seconds: int  # the least time a canary takes live traffic before it may pass
    min_requests: int = 1  # client requests to the candidate before it is judged at all
    max_bake_seconds: int = 3600  # how long it may wait for them; then it fails
    max_error_rate: float
    max_schema_rejection_rate: float
    max_p99_ms: float
    # how long after a request its metrics can be read (CloudWatch extracts them from log
    # lines): the check reads traffic only up to this long ago, so the bake ends this later
    metrics_delay_seconds: int = Field(0, ge=0)


class Exam(Document):
    """The environment's bar for a model; unset parts are the manifest's (or, for the
    margin, the environment's ``champion_margin``)."""

    metric: Metric | None = None
    threshold: float | None = None  # the lowest score (highest error) a candidate may have
    champion_margin: float | None = None


# models with an exam of their own, per environment: bounded, as every part of the document
MAX_MODEL_EXAMS = 100


class ServingEndpoint(Document):
    """What the gate must know of the endpoint that will serve a model, so a version that
    endpoint would refuse fails at Validate rather than at the smoke test, and the smoke
    test runs in the candidate function built like it."""

    # cdk.json's name; None in a policy written before each endpoint had a candidate of
    # its own (an execution started before that deploy): see GatePolicy.candidate_endpoint_for
    name: EndpointName | None = None
    allow_python: bool
    ephemeral_storage_mb: int = Field(ge=512, le=10240)


class GatePolicy(Document):
    """The environment's rules for the gate. Its values come from ``cdk.json`` (the defaults
    live in ``infra/config.py``); the state machine's first state writes them into the
    document, so every step of one execution judges by the same rules."""

    approval: ApprovalPolicy
    # every upload declared under its uploader's identity, who may not approve it
    separation_of_duties: bool
    champion_margin: float
    champion_not_comparable: NotComparablePolicy
    exam: Exam
    model_exams: dict[Name, Exam] = Field(max_length=MAX_MODEL_EXAMS)
    # the endpoint serving a model: the default one, or the dedicated one listing the model
    default_endpoint: ServingEndpoint
    dedicated_endpoints: dict[Name, ServingEndpoint] = Field(max_length=MAX_MODEL_EXAMS)
    # the smoke test's first call starts the candidate's environment and loads the model;
    # the calls after it show what a warm endpoint answers in: each has its own budget
    smoke_cold_budget_ms: float
    smoke_warm_budget_ms: float
    pointer_cache_seconds: float
    lock_ttl_seconds: int
    # who goes next when several versions wait for the model's lock
    lock_policy: LinePolicy = LinePolicy.LATEST_WINS
    canary: CanaryPolicy
    # the environment versions must come from, with its attestation (None: direct uploads),
    # and what their lineage must show; absent in a policy written before either existed
    chain: ChainPolicy | None = None
    lineage_policy: LineagePolicy = LineagePolicy()

    @model_validator(mode="before")
    @classmethod
    def _one_budget_before(cls, data: Any) -> Any:
        """A policy written before cold and warm calls had budgets of their own (an
        execution started before a deploy): its one budget judged every call, so it is
        both."""
        if isinstance(data, dict) and "smoke_test_budget_ms" in data:
            data = dict(data)
            budget = data.pop("smoke_test_budget_ms")
            data.setdefault("smoke_cold_budget_ms", budget)
            data.setdefault("smoke_warm_budget_ms", budget)
        return data

    def endpoint_for(self, model: str) -> ServingEndpoint:
        return self.dedicated_endpoints.get(model, self.default_endpoint)

    def candidate_endpoint_for(self, model: str) -> str:
        """The endpoint whose candidate function smoke-tests ``model``: the one serving it.

        A policy written before candidates were per endpoint names none. Its default-endpoint
        models go to the default's candidate; a dedicated endpoint's model cannot be placed,
        and is refused rather than tested in a function unlike the one that will serve it."""
        serving = self.endpoint_for(model)
        if serving.name is not None:
            return serving.name
        if model in self.dedicated_endpoints:
            raise InvalidStateError(
                f"this execution's gate policy predates per-endpoint candidate functions and "
                f"does not say which endpoint serves {model}: run `slipway retry {model} "
                "VERSION` to take the gate again under the deployed definition"
            )
        return "default"

    def exam_for(self, model: str) -> Exam:
        """The model's own exam over the environment's, the margin defaulting to
        ``champion_margin``."""
        own = self.model_exams.get(model, Exam())
        return Exam(
            metric=own.metric or self.exam.metric,
            threshold=own.threshold if own.threshold is not None else self.exam.threshold,
            champion_margin=next(
                m
                for m in (own.champion_margin, self.exam.champion_margin, self.champion_margin)
                if m is not None
            ),
        )


# -- what each step answers ---------------------------------------------------------------


class Validated(Document):
    """The bundle Validate checked: its manifest stays in the registry, found by digest."""

    name: Name
    version: Version
    digest: Digest
    size: int
    # who declared these bytes (registry/uploads.py); None where nobody did
    uploaded_by: str | None = Field(None, max_length=MAX_IDENTITY_CHARS)


class Registered(Document):
    outcome: RegisterOutcome
    name: Name
    version: Version


class Provenance(Document):
    """What VerifyProvenance found: the earlier environment's attestation verified (its
    environment and statement digest), or nothing required here."""

    outcome: Literal["verified", "not-required"]
    environment: EndpointName | None = None  # a cdk.json name, bounded like an endpoint's
    statement_sha256: Digest | None = None


class LockHeld(Document):
    held: Literal[True]


class LockReleased(Document):
    released: bool


class EvaluationOutcome(Document):
    metric: Annotated[str, Field(max_length=64)]
    direction: Literal["maximize", "minimize"]
    value: float
    threshold: float
    rows: int
    live_version: Version | None
    live_value: float | None
    margin: float
    comparable: bool = True
    not_comparable_reason: Annotated[str, Field(max_length=1000)] | None = None
    meets_threshold: bool
    beats_live: bool


class Staged(Document):
    previous_version: Version | None


class SmokeTestOutcome(Document):
    """The smoke test's calls: the first (it may start the candidate function's environment,
    and it loads the model), and the warm ones after it, each judged by its own budget."""

    version: Version
    # whose candidate function answered; None in an outcome recorded before there was one
    # per endpoint
    endpoint: EndpointName | None = None
    first_call_ms: float
    model_load_ms: float
    cold_start: bool  # the first call started the environment
    cold_budget_ms: float
    # the median of the warm calls; None in an outcome recorded before they were made
    warm_call_ms: float | None
    warm_calls: int = Field(ge=0)
    warm_budget_ms: float | None

    @model_validator(mode="before")
    @classmethod
    def _one_call_before(cls, data: Any) -> Any:
        """An outcome recorded before warm calls were timed (an execution that passed its
        smoke test before a deploy): one call, judged by one budget."""
        if isinstance(data, dict) and "latency_ms" in data:
            data = dict(data)
            data["first_call_ms"] = data.pop("latency_ms")
            data["cold_budget_ms"] = data.pop("budget_ms", None)
            data.update(warm_call_ms=None, warm_calls=0, warm_budget_ms=None)
        return data


class Approval(Document):
    approved_by: Annotated[str, Field(max_length=2048)]  # an IAM ARN
    reason: Annotated[str, Field(max_length=1000)] = ""


class CanaryStarted(Document):
    stable: Version | None
    started_at: Timestamp
    share: float
    first_check_seconds: int = 0  # none when there is nothing to compare with


class CanaryChecked(Document):
    verdict: CanaryVerdict
    requests: float | None = None


class Promoted(Document):
    name: Name
    version: Version
    previous_version: Version | None


class StepError(Document):
    """What a Catch stores: Step Functions' error name and its cause (Lambda's JSON)."""

    # Step Functions' own bounds on a task failure's error and cause. A Lambda cause is the
    # runtime's error JSON, written ASCII-only (json.dumps), so in the document each of its
    # characters takes at most two bytes (a quote or backslash escaped).
    Error: Annotated[str, Field(max_length=256, json_schema_extra={"x-ascii": True})] | None = None
    Cause: Annotated[str, Field(max_length=32768, json_schema_extra={"x-ascii": True})] | None = (
        None
    )


class Failure(Document):
    name: Annotated[str, Field(max_length=64)]  # a model's, or the unrecognised uploads'
    version: Version
    reason: Reason


# -- the document -------------------------------------------------------------------------


class ExecutionInput(Document):
    """What ingest starts an execution with: one uploaded object version, and the
    execution's name (a pure function of bucket, key and object version)."""

    bucket: str = Field(max_length=63)
    key: str = Field(max_length=1024)
    version_id: str = Field(max_length=1024)
    size: int
    execution_name: ExecutionName


class PromotionState(ExecutionInput):
    """The execution input, the gate policy the first state adds, and each step's answer."""

    policy: GatePolicy
    validated: Validated | None = None
    registered: Registered | None = None
    provenance: Provenance | None = None
    lock: LockHeld | None = None
    evaluation: EvaluationOutcome | None = None
    staged: Staged | None = None
    smoke_test: SmokeTestOutcome | None = None
    approval: Approval | None = None
    canary: CanaryStarted | None = None
    canary_check: CanaryChecked | None = None
    promoted: Promoted | None = None
    unlock: LockReleased | None = None
    error: StepError | None = None
    failure: Failure | None = None

    def candidate(self) -> tuple[str, str]:
        """(name, version) of the model being promoted, as Validate established them."""
        return self.require_validated().name, self.require_validated().version

    def require_validated(self) -> Validated:
        if self.validated is None:
            raise InvalidStateError(
                "this step runs after Validate, but the state has no 'validated'"
            )
        return self.validated

    def require(self, field: str) -> Any:
        """A step's answer that a later step depends on; its absence is a wiring error."""
        value = getattr(self, field)
        if value is None:
            raise InvalidStateError(f"this step needs '{field}', which no earlier step wrote")
        return value


# A bound on a task token (older API models say 1,024 characters, newer ones 2,048).
TASK_TOKEN_LIMIT = 2048

# The ARN Step Functions gives a standard workflow's execution ($$.Execution.Id).
EXECUTION_ARN_PATTERN = r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]{1,80}:[^:]{1,80}$"


class LockRequest(Document):
    """What AcquireLock's function receives: the state, its own execution's ARN (the lock
    keeps it, so a later promotion can ask whether the holder still runs) and start (the
    order of the line), and the token that answers it when the lock is its own."""

    state: PromotionState
    execution_arn: str = Field(max_length=2048, pattern=EXECUTION_ARN_PATTERN)
    started_at: str = Field(max_length=64)
    task_token: str = Field(max_length=TASK_TOKEN_LIMIT)

    @staticmethod
    def template(
        state: Any, execution_arn: Any, started_at: Any, task_token: Any
    ) -> dict[str, Any]:
        return {
            "state": state,
            "execution_arn": execution_arn,
            "started_at": started_at,
            "task_token": task_token,
        }


class ApprovalRequest(Document):
    """What WaitForApproval's function receives: the state and the token to resume it."""

    state: PromotionState
    task_token: str

    @staticmethod
    def template(state: Any, task_token: Any) -> dict[str, Any]:
        """The request with its two parts filled in: the state machine fills them with its
        JsonPaths (the whole document, the task token), tests with values. A rename of a
        field above without this fails ``test_workflow_declaration``."""
        return {"state": state, "task_token": task_token}


def field_model(*fields: str) -> type[Any]:
    """The type a field of the state document holds (``Optional`` unwrapped)."""
    model: Any = PromotionState
    annotation: Any = None
    for depth, field in enumerate(fields):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise KeyError(f"{'.'.join(fields[:depth])} has no fields")
        info = model.model_fields.get(field)
        if info is None:
            raise KeyError(f"{'.'.join(fields[: depth + 1])} is not a field of the state document")
        annotation = _unwrap_optional(info.annotation)
        model = annotation
    return typing.cast(type[Any], annotation)


def json_path(*fields: str) -> str:
    """The JSONPath of a field, checked against the document: ``$.policy.canary.share``."""
    field_model(*fields)
    return "$." + ".".join(fields)


def _unwrap_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
