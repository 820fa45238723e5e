"""The registry API (FastAPI), behind a Function URL that only accepts SigV4 (AWS_IAM).

Every read is a GetItem or a Query; lists are paginated with opaque tokens. The caller's IAM
identity, as the Function URL reports it, is the actor recorded in the audit trail.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from functions.exceptions import (
    DecisionConflictError,
    InvalidRequestError,
    NotFoundError,
    SlipwayControlError,
)
from functions.registry_api import decisions, openlineage, pages
from functions.registry_api.gate import version_gate
from registry import aws, items, problems
from registry.approval_tokens import ApprovalTokens
from registry.approvers import parse_approvers, require_approver
from registry.attestation import MAX_ENVELOPE_BYTES, Envelope, canonical_bytes, shortfall
from registry.attesting import attest, attest_after_the_fact, signer_from
from registry.chain_policy import ChainPolicy
from registry.environment import (
    APPROVAL_TOKEN_KEY,
    APPROVERS,
    CHAIN_POLICY,
    ENVIRONMENT_NAME,
    SEPARATION_OF_DUTIES,
    STATE_MACHINE_ARN,
    required,
)
from registry.exceptions import (
    InvalidPageTokenError,
    LockLostError,
    NotAnApproverError,
    NotAttestableError,
    PointerConflictError,
    PromotionLockedError,
    RegistryError,
    SelfApprovalError,
    TableBusyError,
    UploadDeclarationConflictError,
    VersionConflictError,
    VersionNotRegisteredError,
)
from registry.executions import execution_arn
from registry.keys import VERSION_PREFIX
from registry.monitoring_settings import MAX_WINDOW_TEXT, parse_window
from registry.names import NAME_PATTERN, SHA256_PATTERN, VERSION_PATTERN
from registry.repository import LineageRepository, ModelOverview
from registry.statuses import Stage, VersionStatus
from registry.strict_json import StrictJsonError, load_strict_json

NAME = Path(pattern=NAME_PATTERN.pattern)
VERSION = Path(pattern=VERSION_PATTERN.pattern)
SHA256 = Path(pattern=SHA256_PATTERN.pattern)
Limit = Annotated[int, Query(ge=1, le=100)]
router = APIRouter(prefix="/v1")
logger = Logger(service="slipway-registry")


def get_repository() -> LineageRepository:
    return aws.lineage_repository()


def get_stepfunctions() -> Any:
    return aws.client("stepfunctions")


def get_approvers() -> tuple[str, ...]:
    return parse_approvers(required(APPROVERS))


def get_approval_tokens() -> ApprovalTokens:
    return ApprovalTokens(aws.client("kms"), required(APPROVAL_TOKEN_KEY))


def get_kms() -> Any:
    return aws.client("kms")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=1000)


class RollbackDecision(Decision):
    to: str | None = Field(None, description="a version that was live; default: the last good")

    @field_validator("to")
    @classmethod
    def _a_version(cls, value: str | None) -> str | None:
        if value is not None and not VERSION_PATTERN.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not a version")
        return value


def actor_of(request: Request) -> str:
    """The caller's IAM ARN from the Function URL event (AWS_IAM auth puts it there); 'local'
    outside AWS, where no event carries a caller."""
    event = request.scope.get("aws.event") or {}
    if "requestContext" not in event:
        return "local"
    return LambdaFunctionUrlEvent(event).request_context.authorizer.iam.user_arn or "local"


@router.get("/identity")
def identity(
    request: Request, approvers: tuple[str, ...] = Depends(get_approvers)
) -> dict[str, Any]:
    """Who the caller is to this registry: the actor its audit trail would record, and
    whether that actor may decide about versions (asked, never refused: a console shows it
    before a decision is tried)."""
    actor = actor_of(request)
    try:
        require_approver(actor, approvers)
        approver = True
    except NotAnApproverError:
        approver = False
    return {
        "actor": actor,
        "approver": approver,
        "environment": required(ENVIRONMENT_NAME),
        "separation_of_duties": json.loads(required(SEPARATION_OF_DUTIES)) is True,
    }


@router.get("/models")
def list_models(
    limit: Limit = 50,
    next_token: str | None = None,
    repository: LineageRepository = Depends(get_repository),
) -> dict[str, Any]:
    """Model summaries in name order, each with its stages, its newest version's status
    and its newest monitor verdict: one Query and a few BatchGetItem calls per page, however
    long the page."""
    page = repository.list_models(limit, pages.decode(next_token))
    overviews = repository.model_overviews(page.items)
    return {
        "models": [_listed_model(item, overviews[item["name"]]) for item in page.items],
        "next_token": pages.encode(page.next_key),
    }


def _listed_model(item: dict[str, Any], overview: ModelOverview) -> dict[str, Any]:
    """A model as listed: the version it serves (its live pointer, an item of its own)
    next to the newest one registered, which may still be in its gate or rejected."""
    live, staging, latest = overview.live, overview.staging, overview.latest
    return {
        **items.public(item),
        "live_version": live["version"] if live else None,
        "stages": {
            "live": {
                "version": live["version"],
                "canary_version": live.get("canary_version"),
                "canary_weight": live.get("canary_weight"),
            }
            if live
            else None,
            "staging": {"version": staging["version"]} if staging else None,
        },
        "latest": {
            "version": latest["version"],
            "status": latest.get("status"),
            "status_changed_at": latest.get("status_changed_at"),
            "reason": latest.get("rejection_reason") or latest.get("cancel_reason"),
        }
        if latest
        else None,
        "monitor": item.get("monitor"),
    }


@router.get("/models/{name}")
def describe_model(
    name: str = NAME, repository: LineageRepository = Depends(get_repository)
) -> dict[str, Any]:
    model = repository.get_model(name)
    if model is None:
        raise NotFoundError(f"model {name!r} is not registered")
    stages = {stage: repository.get_pointer(name, stage) for stage in Stage}
    return {
        **items.public(model),
        "stages": {k: items.public(v) if v else None for k, v in stages.items()},
    }


@router.get("/models/{name}/versions")
def list_versions(
    name: str = NAME,
    status: VersionStatus | None = None,
    limit: Limit = 50,
    next_token: str | None = None,
    repository: LineageRepository = Depends(get_repository),
) -> dict[str, Any]:
    page = repository.list_versions(name, status, limit, pages.decode(next_token))
    return {
        "versions": [_public_version(i) for i in page.items],
        "next_token": pages.encode(page.next_key),
    }


# What every version item has; an item without one of them is damaged, and said to be so.
VERSION_FIELDS = ("version", "status", "registered_at", "bundle")


def _public_version(item: dict[str, Any]) -> dict[str, Any]:
    """A version as listed; a damaged item (written by hand, or by an old bug) is listed
    with what it lacks instead of failing the whole listing."""
    public = items.public(item)
    missing = [field for field in VERSION_FIELDS if field not in item]
    if missing:
        public.setdefault("version", str(item.get("sk", "")).removeprefix(VERSION_PREFIX))
        public["damaged"] = f"the item lacks {', '.join(missing)}"
    return public


def _version(repository: LineageRepository, name: str, version: str) -> dict[str, Any]:
    item = repository.get_version(name, version)
    if item is None:
        raise NotFoundError(f"model {name!r} has no registered version {version!r}")
    return item


@router.get("/models/{name}/versions/{version}")
def describe_version(
    name: str = NAME,
    version: str = VERSION,
    repository: LineageRepository = Depends(get_repository),
) -> dict[str, Any]:
    item = _version(repository, name, version)
    public = items.public(item)
    if public.get("received_attestation"):
        public["received_attestation"] = _readable(public["received_attestation"])
    return {
        **public,
        "audit": [items.public(e) for e in repository.audit_history(name, version)],
        # what this environment signed about the version, oldest first (bounded)
        "attestations": [
            _readable(items.public(a)) for a in repository.attestations(name, version)
        ],
        # the version's newest monitor reports (slipway monitor): its life after the gate
        "monitoring": [
            items.public(r) for r in repository.monitor_reports(name, version, LINEAGE_REPORTS)
        ],
    }


def _readable(attestation: dict[str, Any]) -> dict[str, Any]:
    """An attestation item with its envelope as the JSON object it is (kept as its text)."""
    envelope = attestation.get("envelope")
    return {**attestation, "envelope": load_strict_json(envelope) if envelope else None}


# How many of a version's newest monitor reports its description carries.
LINEAGE_REPORTS = 5


@router.get("/models/{name}/versions/{version}/gate")
def describe_gate(
    name: str = NAME,
    version: str = VERSION,
    repository: LineageRepository = Depends(get_repository),
    sfn: Any = Depends(get_stepfunctions),
) -> dict[str, Any]:
    """The version's gate, step by step, from its newest promotion execution's history."""
    item = _version(repository, name, version)
    return version_gate(
        sfn, required(STATE_MACHINE_ARN), {**item, "name": name, "version": version}
    )


@router.get("/models/{name}/monitoring")
def monitoring_reports(
    name: str = NAME,
    version: Annotated[str | None, Query(pattern=VERSION_PATTERN.pattern)] = None,
    limit: Limit = 20,
    window: Annotated[str | None, Query(max_length=MAX_WINDOW_TEXT)] = None,
    repository: LineageRepository = Depends(get_repository),
) -> dict[str, Any]:
    """A version's monitor reports, newest first (default: the live version's): verdict,
    window, the most drifted columns, the live metric, and where the whole report is.
    ``window`` (``24h``, ``7d``): only reports over a window that long."""
    try:
        hours = parse_window(window) if window is not None else None
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from None
    if version is None:
        pointer = repository.get_pointer(name)
        if pointer is None:
            raise NotFoundError(f"model {name!r} has no live version; name a version")
        version = str(pointer["version"])
    reports = repository.monitor_reports(name, version, limit, window_hours=hours)
    if not reports and repository.get_version(name, version) is None:
        raise NotFoundError(f"model {name!r} has no registered version {version!r}")
    return {"model": name, "version": version, "reports": [items.public(r) for r in reports]}


@router.get("/models/{name}/versions/{version}/openlineage")
def export_openlineage(
    name: str = NAME,
    version: str = VERSION,
    repository: LineageRepository = Depends(get_repository),
    sfn: Any = Depends(get_stepfunctions),
) -> list[dict[str, Any]]:
    item = _version(repository, name, version)
    return openlineage.run_events(
        item,
        started_at=_execution_started(sfn, item.get("execution")),
        attestations=repository.attestations(name, version),
    )


def _execution_started(sfn: Any, execution: str | None) -> str | None:
    """When the execution that registered a version started; None once Step Functions no
    longer keeps it (90 days after it closed)."""
    if not execution:
        return None
    arn = execution_arn(required(STATE_MACHINE_ARN), execution)
    try:
        started = sfn.describe_execution(executionArn=arn)["startDate"]
    except sfn.exceptions.ExecutionDoesNotExist:
        return None
    return str(started.astimezone(UTC).isoformat(timespec="milliseconds"))


@router.get("/datasets/{sha256}/models")
def models_using_dataset(
    sha256: str = SHA256,
    limit: Limit = 50,
    next_token: str | None = None,
    repository: LineageRepository = Depends(get_repository),
) -> dict[str, Any]:
    page = repository.dataset_users(sha256, limit, pages.decode(next_token))
    versions = [
        {
            "model": edge["name"],
            "version": edge["version"],
            "role": edge["role"],
            "uri": edge["uri"],
            "live": bool(edge.get("live")),
        }
        for edge in page.items
    ]
    return {"dataset": sha256, "versions": versions, "next_token": pages.encode(page.next_key)}


@router.get("/code/models")
def models_built_from_code(
    repository: Annotated[str, Query(min_length=1, max_length=2048)],
    commit: Annotated[str, Query(min_length=1, max_length=128)],
    limit: Limit = 50,
    next_token: str | None = None,
    registry: LineageRepository = Depends(get_repository),
) -> dict[str, Any]:
    """The versions built from one commit of a code repository (the code edges)."""
    page = registry.code_users(repository, commit, limit, pages.decode(next_token))
    versions = [
        {"model": edge["name"], "version": edge["version"], "dirty": bool(edge.get("dirty"))}
        for edge in page.items
    ]
    return {
        "repository": repository,
        "commit": commit,
        "versions": versions,
        "next_token": pages.encode(page.next_key),
    }


class UploadDeclaration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sha256: str = Field(pattern=SHA256_PATTERN.pattern)
    # the earlier environment's attestation (`slipway promote`): kept as sent, for the gate
    # verifies the signature over exactly what was signed; its shape is checked here
    attestation: dict[str, Any] | None = None

    @field_validator("attestation")
    @classmethod
    def _an_envelope(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if len(canonical_bytes(value)) > MAX_ENVELOPE_BYTES:
            raise ValueError(f"an attestation has at most {MAX_ENVELOPE_BYTES} bytes")
        Envelope.model_validate(value)  # a ValidationError names what is malformed
        return value


async def strict_declaration(request: Request) -> UploadDeclaration:
    """The body, read so that a repeated key is refused rather than "the last one wins"."""
    try:
        return UploadDeclaration.model_validate(load_strict_json(await request.body()))
    except StrictJsonError as exc:
        raise InvalidRequestError(f"request body: {exc}") from None
    except ValidationError as exc:
        problems_found = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidRequestError(f"request body: {problems_found}") from None


@router.put("/models/{name}/versions/{version}/upload")
def declare_upload(
    request: Request,
    name: str = NAME,
    version: str = VERSION,
    declaration: UploadDeclaration = Depends(strict_declaration),
    repository: LineageRepository = Depends(get_repository),
) -> dict[str, Any]:
    """Declare, under the caller's identity, the bundle about to be uploaded as this
    version (``slipway push`` does it first): the gate attributes those bytes to the
    caller, and refuses other bytes under the version."""
    attestation = declaration.attestation
    envelope = canonical_bytes(attestation).decode() if attestation else None
    chain = accepts_from()
    # judged now as the gate will judge it: only a declaration that can pass takes the
    # version number from another person's (the gate still decides, and records why)
    refused = (
        None
        if chain is None
        else shortfall(envelope, chain, declaration.sha256, name, version, datetime.now(UTC))
    )
    item = repository.declare_upload(
        name,
        version,
        declaration.sha256,
        actor_of(request),
        attestation=envelope,
        attested=chain is not None and refused is None,
    )
    answer = {
        "model": name,
        "version": version,
        "sha256": item["digest"],
        "declared_by": item["declared_by"],
        "declared_at": item["declared_at"],
        "attestation": attestation["statement_sha256"] if attestation else None,
    }
    if refused is not None:
        answer["provenance"] = f"the gate will refuse this upload: {refused}"
    return answer


def accepts_from() -> ChainPolicy | None:
    """The environment's chain policy, as infra wrote it from cdk.json (None: direct uploads)."""
    document = json.loads(required(CHAIN_POLICY))
    return None if document is None else ChainPolicy.model_validate(document)


@router.post("/models/{name}/versions/{version}/attestation")
def issue_attestation(
    name: str = NAME,
    version: str = VERSION,
    repository: LineageRepository = Depends(get_repository),
    kms: Any = Depends(get_kms),
) -> dict[str, Any]:
    """A statement of what this environment did with the version, signed now over its
    current record: what `slipway promote` carries to the next environment. 409 when the
    version was never approved nor live here."""
    _version(repository, name, version)
    envelope = attest(
        repository, kms, signer_from(os.environ), name, version, "requested", fresh=True
    )
    return envelope.model_dump(mode="json")


_DECISIONS = {"approve": decisions.approve, "reject": decisions.reject}


# before the {action} route below, which would take "retry" for an action it does not know
@router.post("/models/{name}/versions/{version}/retry")
def retry(
    request: Request,
    decision: Decision,
    name: str = NAME,
    version: str = VERSION,
    repository: LineageRepository = Depends(get_repository),
    sfn: Any = Depends(get_stepfunctions),
    approvers: tuple[str, ...] = Depends(get_approvers),
) -> dict[str, Any]:
    """Run the gate again for a version that failed (not one rejected by a verdict)."""
    require_approver(actor_of(request), approvers)
    machine = required(STATE_MACHINE_ARN)
    return decisions.retry(
        repository, sfn, machine, name, version, actor_of(request), decision.reason
    )


@router.post("/models/{name}/versions/{version}/{action}")
def decide(
    request: Request,
    decision: Decision,
    action: Literal["approve", "reject"],
    name: str = NAME,
    version: str = VERSION,
    repository: LineageRepository = Depends(get_repository),
    sfn: Any = Depends(get_stepfunctions),
    tokens: ApprovalTokens = Depends(get_approval_tokens),
    approvers: tuple[str, ...] = Depends(get_approvers),
    kms: Any = Depends(get_kms),
) -> dict[str, Any]:
    """Approve or reject a version waiting for manual approval."""
    require_approver(actor_of(request), approvers)
    decide_version = _DECISIONS[action]
    decided = decide_version(
        repository, sfn, tokens, name, version, actor_of(request), decision.reason
    )
    if action == "approve":  # the approval, signed by the environment
        attest_after_the_fact(repository, kms, os.environ, name, version, "approved")
    return decided


@router.post("/models/{name}/rollback")
def rollback(
    request: Request,
    decision: RollbackDecision,
    name: str = NAME,
    repository: LineageRepository = Depends(get_repository),
    sfn: Any = Depends(get_stepfunctions),
    approvers: tuple[str, ...] = Depends(get_approvers),
) -> dict[str, Any]:
    """Live goes back to the last good version before the current one, or to ``to``; a
    promotion in flight is cancelled."""
    require_approver(actor_of(request), approvers)
    actor = actor_of(request)
    return decisions.rollback(repository, sfn, name, actor, decision.reason, decision.to)


REGISTRY_PROBLEMS: dict[type[Exception], problems.ProblemType] = {
    NotFoundError: problems.NOT_FOUND,
    InvalidRequestError: problems.BAD_REQUEST,
    DecisionConflictError: problems.CONFLICT,
    InvalidPageTokenError: problems.BAD_REQUEST,
    PointerConflictError: problems.CONFLICT,
    LockLostError: problems.CONFLICT,
    VersionNotRegisteredError: problems.CONFLICT,
    VersionConflictError: problems.CONFLICT,
    PromotionLockedError: problems.CONFLICT,
    UploadDeclarationConflictError: problems.CONFLICT,
    NotAttestableError: problems.CONFLICT,
    SelfApprovalError: problems.FORBIDDEN,
    NotAnApproverError: problems.FORBIDDEN,
    TableBusyError: problems.BUSY,
}


def create_app() -> FastAPI:
    app = FastAPI(title="Slipway registry", version="1")
    app.include_router(router)
    problems.install_problem_handlers(
        app, logger, REGISTRY_PROBLEMS, bases=(SlipwayControlError, RegistryError)
    )
    return app
