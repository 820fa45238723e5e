"""Per-environment settings from cdk.json, parsed once into typed, validated config.

Nested constructs receive these objects and never read context or the process environment.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from registry.approvers import APPROVER_PATTERN, MAX_APPROVERS
from registry.attestation import load_public_key
from registry.chain_policy import (
    ACCOUNT_PATTERN,
    DEFAULT_MAX_AGE_HOURS,
    EMBEDDED_PUBLIC_KEY,
    MAX_PUBLIC_KEY_CHARS,
    REGION_PATTERN,
    ChainRequirement,
)
from registry.exam import Metric
from registry.lineage_audit import LineagePolicy
from registry.monitoring_settings import MonitoringSettings
from registry.names import CONFIG_NAME_PATTERN, NAME_PATTERN
from registry.statuses import ApprovalPolicy, LinePolicy, NotComparablePolicy
from registry.workflow_state import MAX_MODEL_EXAMS

DEFAULT_ENVIRONMENT = "local"
_NAME = CONFIG_NAME_PATTERN.pattern
_PINNED = r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9][A-Za-z0-9.+!_-]*$"  # name==version
_TYPE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"  # module.Name
# The retention periods CloudWatch Logs accepts.
# A promotion may wait for approval for days; Step Functions ends it after this long. Its
# waits must fit: in line for the lock, for approval, for a canary's requests, and the steps.
WORKFLOW_TIMEOUT_SECONDS = 8 * 24 * 3600
# A container image's cold start on Lambda (image, runtime imports, a bundle's download and
# load) takes seconds; the smoke test's first call pays it.
DEFAULT_SMOKE_COLD_BUDGET_MS = 10000
GATE_STEPS_SECONDS = 6 * 3600  # what the gate's own steps may take, retries included
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
# How long after a request its metrics can be read in AWS. The endpoint's metrics are
# embedded-metric-format log lines: Lambda delivers them to CloudWatch Logs, which extracts
# the metrics ("EMF metric generation depends on your log publishing flow because CloudWatch
# Logs needs to process logs", docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
# CloudWatch_Embedded_Metric_Format_Alarms.html), and Lambda sends its own metrics at 1-minute
# intervals (docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html). AWS states no
# bound; two minutes covers the usual log delivery and a 1-minute aggregation period. The
# embedded cloud turns the lines into metrics as the invocation ends: no delay there.
AWS_METRICS_DELAY_SECONDS = 120


class ConfigError(Exception):
    """cdk.json does not describe a usable environment; the message lists every problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CanaryConfig(_Strict):
    share: float = Field(0.1, ge=0.0, le=1.0, description="share of live traffic for a candidate")
    # A canary is checked every few seconds, each check a few events of the execution's
    # history, which Step Functions caps at 25,000: six hours at most.
    bake_minutes: int = Field(10, ge=0, le=360)
    min_requests: int = Field(
        20, ge=1, le=10_000_000, description="client requests to the candidate before judging"
    )
    max_bake_minutes: int = Field(
        60, ge=0, le=360, description="how long a canary may wait for min_requests, then fails"
    )

    @model_validator(mode="after")
    def _waits_at_least_its_bake(self) -> CanaryConfig:
        if self.max_bake_minutes < self.bake_minutes:
            raise ValueError(
                f"max_bake_minutes ({self.max_bake_minutes}) is shorter than bake_minutes "
                f"({self.bake_minutes})"
            )
        return self

    max_error_rate: float = Field(0.01, ge=0.0, le=1.0)
    max_schema_rejection_rate: float = Field(0.05, ge=0.0, le=1.0)
    max_p99_ms: float = Field(1000.0, gt=0.0)
    metrics_delay_seconds: int | None = Field(
        None,
        ge=0,
        le=900,
        description="how long after a request its metrics can be read: the canary judges "
        "traffic up to this long ago, so its bake ends this much later; default: "
        f"{AWS_METRICS_DELAY_SECONDS} in AWS, 0 in the embedded cloud",
    )


class ExamConfig(_Strict):
    """The environment's exam for a model (``exam``) or for one model (``model_exams``): a
    manifest may only ask for a stricter bar. Unset parts are the manifest's choice."""

    metric: Metric | None = Field(None, description="the metric every candidate is judged by")
    threshold: float | None = Field(
        None, description="the lowest score (for errors such as rmse: the highest) that passes"
    )
    champion_margin: float | None = Field(
        None, ge=0.0, description="how much better than live; default: champion_margin"
    )


# -- CI: GitHub Actions roles (infra/ci_access.py) -------------------------------------------
# GitHub's OIDC issuer, the audience aws-actions/configure-aws-credentials asks for, and the
# subject claims a job's token carries ("repo:OWNER/REPO:ref:refs/heads/BRANCH" for a job on a
# branch without an environment, "repo:OWNER/REPO:environment:NAME" for a job that names one):
# docs.github.com/en/actions/reference/security/oidc and .../security-hardening-your-deployments/
# configuring-openid-connect-in-amazon-web-services.
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com"
# GitHub: an owner is letters, digits and single dashes (39 at most); a repository letters,
# digits, '.', '_' and '-' (100 at most). No wildcard fits: the trust policy compares exactly.
_GITHUB_REPOSITORY = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"
# A branch or GitHub environment as it appears in the subject claim; ':' would make the claim
# ambiguous and '*' or '?' would read as a pattern to a person, so neither is accepted.
_CLAIM_PART = r"^[A-Za-z0-9._/-]{1,255}$"
_GITHUB_PROVIDER_ARN = (
    rf"^arn:aws[a-z-]*:iam::\d{{12}}:oidc-provider/{re.escape(GITHUB_OIDC_HOST)}$"
)


class CiConfig(_Strict):
    """Which GitHub Actions jobs of one repository may act on this environment, one IAM role
    per duty; a duty left unset gets no role. docs/cicd.md walks through it."""

    github_repository: str = Field(
        pattern=_GITHUB_REPOSITORY, description="OWNER/REPO, as GitHub spells it"
    )
    push_branch: str | None = Field(
        None,
        pattern=_CLAIM_PART,
        description="jobs on this branch (outside any GitHub environment) may push bundles",
    )
    promote_environment: str | None = Field(
        None,
        pattern=_CLAIM_PART,
        description="the GitHub environment of the jobs that promote a version into this "
        "environment (its required reviewers then guard them)",
    )
    promote_source_environment: str | None = Field(
        None,
        pattern=_CLAIM_PART,
        description="the GitHub environment of the jobs that promote a version out of this "
        "environment into the next: they may read its registry and bundles, nothing else",
    )
    approve_environment: str | None = Field(
        None,
        pattern=_CLAIM_PART,
        description="the GitHub environment of the jobs that approve or reject versions here",
    )
    oidc_provider_arn: str | None = Field(
        None,
        pattern=_GITHUB_PROVIDER_ARN,
        description="the account's GitHub OIDC provider, when it has one already (an account "
        "holds one per issuer); unset: this environment creates it",
    )
    max_session_hours: int = Field(
        1, ge=1, le=12, description="how long a job's credentials last (IAM's least: 1 hour)"
    )

    @model_validator(mode="after")
    def _grants_something_and_keeps_duties_apart(self) -> CiConfig:
        problems = []
        duties = (self.push_branch, self.promote_environment, self.promote_source_environment)
        if not any((*duties, self.approve_environment)):
            problems.append(
                "ci grants nothing: set push_branch, promote_environment, "
                "promote_source_environment or approve_environment (or remove the block)"
            )
        if self.approve_environment is not None and self.approve_environment in (
            self.promote_environment,
            self.promote_source_environment,
        ):
            problems.append(
                f"approve_environment {self.approve_environment!r} is also a promote "
                "environment: one job could then ship a version and approve it"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


# -- end of CI ---------------------------------------------------------------------------------


class EndpointConfig(_Strict):
    """One serving function. 'default' serves every model; a dedicated endpoint serves only
    the models it lists, with its own memory, timeout, architecture and concurrency."""

    name: str = Field(pattern=_NAME)
    memory_mb: int = Field(2048, ge=128, le=10240)
    timeout_seconds: int = Field(30, ge=1, le=900)
    # Lambda allows 512-10240 MB of /tmp; the embedded cloud does not check the range.
    ephemeral_storage_mb: int = Field(
        2048,
        ge=512,
        le=10240,
        description="the function's /tmp; bundles cached on disk and the largest bundle the "
        "endpoint extracts (a little under half of it) are derived from it",
    )
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    reserved_concurrency: int | None = Field(None, ge=1)
    provisioned_concurrency: int = Field(0, ge=0)
    models: list[str] = Field(default_factory=list)
    allow_python: bool = Field(
        False,
        description="run python-flavor bundles, whose own code then runs in this endpoint's "
        "process next to its other models; other endpoints refuse them",
    )
    extra_libraries: list[Annotated[str, Field(pattern=_PINNED)]] = Field(
        default_factory=list,
        description="pinned libraries (name==version) installed into this endpoint's image "
        "beyond the runtime's, e.g. xgboost-cpu or lightgbm for their flavors; the workflow's "
        "model steps get every endpoint's, so a model is judged where it can be loaded",
    )


def endpoint_url_output(endpoint: str) -> str:
    """The stack output naming an endpoint's URL: 'fraud-score' -> 'EndpointUrlFraudScore'.

    The serving stack writes it and the CLI reads it, so it is built here and nowhere else.
    """
    return "EndpointUrl" + _camel(endpoint)


def endpoint_function_output(endpoint: str) -> str:
    """The stack output naming an endpoint's function: 'EndpointFunctionFraudScore'."""
    return "EndpointFunction" + _camel(endpoint)


def candidate_function_output(endpoint: str) -> str:
    """The stack output naming the candidate function built like an endpoint, which the
    CLI invokes for --stage staging: 'CandidateFunctionFraudScore'."""
    return "CandidateFunction" + _camel(endpoint)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


class AcceptsFromConfig(_Strict):
    """The environment this one takes models from (``dev -> staging -> prod``): its gate
    accepts a version only with that environment's attestation, verified with the public key
    written here (configured, never fetched at run time), proving what ``require`` asks."""

    environment: str = Field(pattern=_NAME, description="the earlier environment's cdk.json name")
    account: str = Field(pattern=ACCOUNT_PATTERN, description="the earlier environment's account")
    region: str = Field(pattern=REGION_PATTERN, description="the earlier environment's region")
    public_key: str = Field(
        min_length=1,
        max_length=MAX_PUBLIC_KEY_CHARS,
        description="the earlier environment's attestation key, base64 DER (P-256), as "
        "`slipway attestation-key --env <earlier>` prints it; embedded environments may write "
        f"{EMBEDDED_PUBLIC_KEY!r}, filled in from the deployed key when the chain is deployed",
    )
    require: ChainRequirement = ChainRequirement()
    max_age_hours: int = Field(
        DEFAULT_MAX_AGE_HOURS, ge=1, le=24 * 366, description="an older attestation is stale"
    )


# Each endpoint adds a live and a candidate function, stack outputs and exports, an entry in
# SmokeTest's environment (Lambda: 4 KB of variables) and ARNs in its role's inline policy
# (IAM: 10,240 characters): well inside those limits at this many.
MAX_ENDPOINTS = 20


class EnvironmentConfig(_Strict):
    name: str = Field(pattern=_NAME)
    account: str = Field(pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    embedded: bool = Field(
        False, description="targets the embedded cloud: zip packaging instead of image assets"
    )
    approval: ApprovalPolicy = ApprovalPolicy.AUTO
    approval_timeout_minutes: int = Field(
        1440, ge=1, le=525600, description="a waiting version is rejected after this long"
    )
    approvers: list[Annotated[str, Field(pattern=APPROVER_PATTERN)]] = Field(
        default_factory=list,
        max_length=MAX_APPROVERS,
        description="IAM ARN patterns (* and ? as wildcards) of who may approve, reject and "
        "roll back; empty: anyone who may call the registry",
    )
    separation_of_duties: bool = Field(
        False,
        description="every upload is declared under its uploader's identity (slipway push "
        "does it) and another person approves it; needs approval 'manual'",
    )
    champion_margin: float = Field(
        0.0, ge=0.0, description="how much better than live a candidate's metric must be"
    )
    champion_not_comparable: NotComparablePolicy = Field(
        NotComparablePolicy.REFUSE,
        description="when the live model cannot be scored on a candidate's evaluation data "
        "(it needs a column the data lacks): refuse the candidate, or judge it on its "
        "threshold alone",
    )
    smoke_cold_budget_ms: int | None = Field(
        None,
        ge=1,
        description="slowest acceptable first smoke-test call, which may start the candidate "
        "function's environment (in AWS: the image, the runtime's imports) and downloads and "
        f"loads the model; default {DEFAULT_SMOKE_COLD_BUDGET_MS} ms",
    )
    smoke_warm_budget_ms: int = Field(
        1000,
        ge=1,
        description="slowest acceptable median of the smoke test's calls after the first, "
        "the model loaded and the environment warm",
    )
    smoke_test_budget_ms: int | None = Field(
        None,
        ge=1,
        description="the older name of smoke_cold_budget_ms, read as it (its one budget "
        "judged the first call, the cold one)",
    )
    pointer_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="how long endpoints reuse a stage pointer before reading it again",
    )
    trusted_model_types: list[Annotated[str, Field(pattern=_TYPE_NAME)]] = Field(
        default_factory=list,
        description="skops types (module.Name) trusted beyond Slipway's curated allow-list, "
        "for models with types of the team's own; each is code the endpoint will import",
    )
    lock_wait_seconds: int | None = Field(
        None,
        ge=5,
        description="how long a promotion waits in line for the ones of the same model "
        "ahead of it (an approval may take days), then fails; default: what the workflow's "
        "8 days leave after the approval timeout, the longest bake and the steps",
    )
    lock_policy: LinePolicy = Field(
        LinePolicy.LATEST_WINS,
        description="when several versions of a model wait for its lock: 'latest-wins' "
        "(the newest goes next, older waiting ones are superseded) or 'queue' (each in turn)",
    )
    exam: ExamConfig = ExamConfig()
    model_exams: dict[Annotated[str, Field(pattern=NAME_PATTERN.pattern)], ExamConfig] = Field(
        default_factory=dict,
        max_length=MAX_MODEL_EXAMS,
        description="exams of particular models, over the environment's exam",
    )
    canary: CanaryConfig = CanaryConfig()
    monitoring: MonitoringSettings = Field(
        MonitoringSettings(),
        description="data capture and the monitor job: rates, retention, schedule, thresholds "
        "(registry/monitoring_settings.py)",
    )
    retain_data: bool = False
    kms_key: bool = Field(False, description="encrypt artifacts with a key the environment owns")
    ci: CiConfig | None = Field(
        None,
        description="GitHub Actions roles for this environment (infra/ci_access.py); absent: "
        "none are deployed",
    )
    model_readers: list[Annotated[str, Field(pattern=r"^\d{12}$")]] = Field(
        default_factory=list,
        description="AWS account ids whose principals may read bundles under models/ "
        "(s3:GetObject, s3:GetObjectVersion, and decrypt with the environment's key), e.g. "
        "the next environment's account, which copies a version across by its S3 version id",
    )
    duty_roles: dict[
        Literal["deployer", "pusher", "approver", "caller"],
        list[Annotated[str, Field(pattern=r"^[\w+=,.@-]{1,64}$")]],
    ] = Field(
        default_factory=dict,
        description="IAM role names (of this account) each duty's managed policy is attached "
        "to by CloudFormation, which then also detaches it when the stack is destroyed",
    )
    accepts_from: AcceptsFromConfig | None = Field(
        None,
        description="take models only from this earlier environment, with its attestation; "
        "absent: direct uploads are accepted",
    )
    lineage_policy: LineagePolicy = Field(
        LineagePolicy(),
        description="what a version's lineage must show (a clean commit, a shareable "
        "repository, durable dataset URIs); absent: nothing",
    )
    log_retention_days: int = 30
    endpoints: list[EndpointConfig] = Field(
        default_factory=lambda: [EndpointConfig(name="default")],
        min_length=1,
        max_length=MAX_ENDPOINTS,
    )

    @property
    def metrics_delay_seconds(self) -> int:
        """The canary's metrics delay: as set, or AWS's default (none when embedded)."""
        if self.canary.metrics_delay_seconds is not None:
            return self.canary.metrics_delay_seconds
        return 0 if self.embedded else AWS_METRICS_DELAY_SECONDS

    @property
    def longest_bake_seconds(self) -> int:
        """The longest a canary may take: its longest bake, read that much late."""
        return self.canary.max_bake_minutes * 60 + self.metrics_delay_seconds

    @property
    def lock_wait(self) -> int:
        """How long a version may wait in line: as set, or what the workflow's timeout
        leaves after the approval timeout, the longest bake and the steps."""
        if self.lock_wait_seconds is not None:
            return self.lock_wait_seconds
        return (
            WORKFLOW_TIMEOUT_SECONDS
            - self.approval_timeout_minutes * 60
            - self.longest_bake_seconds
            - GATE_STEPS_SECONDS
        )

    @property
    def smoke_cold_budget(self) -> int:
        """The first smoke-test call's budget: as set (or under its older name), or the
        default."""
        for budget in (self.smoke_cold_budget_ms, self.smoke_test_budget_ms):
            if budget is not None:
                return budget
        return DEFAULT_SMOKE_COLD_BUDGET_MS

    @model_validator(mode="after")
    def _consistent(self) -> EnvironmentConfig:
        problems = []
        if self.smoke_test_budget_ms is not None and self.smoke_cold_budget_ms is not None:
            problems.append(
                "smoke_test_budget_ms is the older name of smoke_cold_budget_ms: set only "
                "smoke_cold_budget_ms"
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            problems.append(
                f"log_retention_days must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
            )
        others = self.approval_timeout_minutes * 60 + self.longest_bake_seconds + GATE_STEPS_SECONDS
        if others + (self.lock_wait_seconds or 300) > WORKFLOW_TIMEOUT_SECONDS:
            problems.append(
                f"lock_wait_seconds ({self.lock_wait_seconds or 'at least 300'}), "
                f"approval_timeout_minutes ({self.approval_timeout_minutes}), the canary's "
                f"max_bake_minutes ({self.canary.max_bake_minutes}) with its metrics delay "
                f"({self.metrics_delay_seconds} s) and "
                f"{GATE_STEPS_SECONDS // 3600} h for the steps add up to more than the "
                f"workflow's {WORKFLOW_TIMEOUT_SECONDS // 86400} days: a version would be "
                "timed out before its gate decided"
            )
        if self.account in self.model_readers:
            problems.append(
                "model_readers lists the environment's own account; its principals need IAM "
                "policies, not a bucket-policy grant"
            )
        if self.ci is not None and self.embedded:
            problems.append(
                "ci: GitHub cannot reach the embedded cloud, and its IAM checks no web "
                "identity; a ci block belongs to an environment in AWS"
            )
        if self.ci is not None and not self.approvers:
            # every CI role calls the registry API (one IAM resource for all its routes):
            # without approvers, the push or promote role could approve its own version
            problems.append(
                "ci: the CI roles may call the registry API, so the environment must list its "
                "approvers (cdk.json 'approvers'), or any of them could approve, reject or "
                f"roll back; e.g. arn:aws:sts::{self.account}:assumed-role/"
                f"slipway-{self.name}-ci-approve/*"
            )
        provider = self.ci.oidc_provider_arn if self.ci else None
        if provider is not None and provider.split(":")[4] != self.account:
            problems.append(
                f"ci.oidc_provider_arn is in account {provider.split(':')[4]}, not the "
                f"environment's {self.account}: roles trust a provider of their own account"
            )
        if len(set(self.model_readers)) != len(self.model_readers):
            problems.append(f"model_readers lists an account twice: {self.model_readers}")
        if self.separation_of_duties and self.approval != ApprovalPolicy.MANUAL:
            problems.append("separation_of_duties needs approval 'manual': nobody approves 'auto'")
        exams = {"exam": self.exam} | {f"model_exams.{m}": e for m, e in self.model_exams.items()}
        for where, exam in exams.items():
            if exam.threshold is not None and exam.metric is None:
                # a bar without its metric would let a manifest pick an easier metric
                problems.append(f"{where}: a threshold needs the metric it is measured in")
        problems.extend(self._chain_problems())
        names = [endpoint.name for endpoint in self.endpoints]
        if len(set(names)) != len(names):
            problems.append(f"endpoint names must be unique, got {names}")
        if "default" not in names:
            problems.append("endpoints must include one named 'default' (the shared endpoint)")
        claimed: dict[str, str] = {}
        for endpoint in self.endpoints:
            if endpoint.name == "default" and endpoint.models:
                problems.append("the default endpoint serves every model; list none")
            for model in endpoint.models:
                if model in claimed:
                    problems.append(
                        f"model {model!r} is served by both {claimed[model]!r} "
                        f"and {endpoint.name!r}"
                    )
                claimed[model] = endpoint.name
            if endpoint.name != "default" and not endpoint.models:
                problems.append(f"dedicated endpoint {endpoint.name!r} lists no models")
            reserved = endpoint.reserved_concurrency
            if reserved is not None and endpoint.provisioned_concurrency > reserved:
                problems.append(
                    f"endpoint {endpoint.name!r}: provisioned_concurrency "
                    f"{endpoint.provisioned_concurrency} exceeds reserved_concurrency {reserved}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _chain_problems(self) -> list[str]:
        chain = self.accepts_from
        if chain is None:
            return []
        problems = []
        if chain.environment == self.name:
            problems.append("accepts_from.environment names this environment itself")
        if chain.public_key == EMBEDDED_PUBLIC_KEY:
            if not self.embedded:
                problems.append(
                    f"accepts_from.public_key: {EMBEDDED_PUBLIC_KEY!r} is only for embedded "
                    f"environments; write {chain.environment}'s key as `slipway attestation-key "
                    f"--env {chain.environment}` prints it"
                )
        else:
            try:
                load_public_key(chain.public_key)
            except ValueError as exc:
                problems.append(
                    f"accepts_from.public_key is not {chain.environment}'s attestation key: "
                    f"{exc} (expected base64 DER of a P-256 key, as `slipway attestation-key "
                    f"--env {chain.environment}` prints it)"
                )
        if chain.require.min_live_minutes and chain.require.status != "live":
            problems.append(
                "accepts_from.require.min_live_minutes needs status 'live' (only a version "
                "that went live has a live time)"
            )
        return problems

    def endpoint_for(self, model: str) -> EndpointConfig:
        """The endpoint serving ``model``: the dedicated one listing it, or 'default'."""
        listing = [e for e in self.endpoints if model in e.models]
        return listing[0] if listing else next(e for e in self.endpoints if e.name == "default")

    @property
    def runtime_libraries(self) -> list[str]:
        """Every endpoint's extra libraries: what the workflow's model steps install."""
        return sorted({library for e in self.endpoints for library in e.extra_libraries})

    @property
    def stack_name(self) -> str:
        """The prefix of the environment's stacks: slipway-<env>-data, -serving, ..."""
        return f"slipway-{self.name}"

    @property
    def stack_names(self) -> list[str]:
        return [
            f"{self.stack_name}-{part}" for part in ("data", "serving", "workflow", "monitoring")
        ]


def load_environment(context: dict[str, Any] | None, name: str | None) -> EnvironmentConfig:
    """Pick ``name`` (default 'local') from the ``environments`` context and validate it."""
    name = name or DEFAULT_ENVIRONMENT
    environments = context or {}
    if not isinstance(environments, dict) or not environments:
        raise ConfigError("cdk.json context has no 'environments' object")
    if name not in environments:
        raise ConfigError(
            f"environment {name!r} is not in cdk.json; known: {', '.join(sorted(environments))}"
        )
    entry = environments[name]
    if not isinstance(entry, dict):
        raise ConfigError(f"environments.{name} must be an object")
    try:
        config = EnvironmentConfig.model_validate({"name": name, **entry})
    except ValidationError as exc:
        problems = [
            f"environments.{name}.{'.'.join(str(p) for p in error['loc']) or '(entry)'}: "
            f"{'unknown field' if error['type'] == 'extra_forbidden' else error['msg']}"
            for error in exc.errors()
        ]
    else:
        problems = _chain_problems(config, environments)
        if not problems:
            return config
    raise ConfigError(
        f"cdk.json environment {name!r} has {len(problems)} problem(s):\n  " + "\n  ".join(problems)
    )


def _chain_problems(config: EnvironmentConfig, environments: dict[str, Any]) -> list[str]:
    """What only the whole of cdk.json can show about an environment's ``accepts_from``: the
    earlier environment exists, is where it is said to be, and lets this environment's
    account read its bundles (its ``model_readers``, the bucket grant `slipway promote`
    reads through), unless both share an account."""
    chain = config.accepts_from
    if chain is None or chain.environment == config.name:  # itself: refused already
        return []
    where = f"environments.{config.name}.accepts_from"
    earlier = environments.get(chain.environment)
    if not isinstance(earlier, dict):
        return [
            f"{where}.environment: {chain.environment!r} is not in cdk.json; known: "
            f"{', '.join(sorted(environments))}"
        ]
    problems = []
    for field in ("account", "region"):
        if earlier.get(field) != getattr(chain, field):
            problems.append(
                f"{where}.{field}: {getattr(chain, field)}, but {chain.environment} is in "
                f"{field} {earlier.get(field)}"
            )
    ring = _ring_through(config.name, environments)
    if ring:
        problems.append(
            f"{where}: the environments accept models from each other in a ring "
            f"({' <- '.join(ring)}): none takes a direct upload, so no model can ever enter it"
        )
    readers = earlier.get("model_readers") or []
    if earlier.get("account") != config.account and config.account not in readers:
        problems.append(
            f"environments.{chain.environment}.model_readers must list {config.account}: "
            f"{config.name} (that account) takes models from {chain.environment} and reads "
            f"their bundles under models/ by S3 version id; add it to "
            f"{chain.environment}'s model_readers (the bucket grant)"
        )
    return problems


def _ring_through(name: str, environments: dict[str, Any]) -> list[str]:
    """The environments from ``name`` back to ``name`` following ``accepts_from`` in
    cdk.json, if that walk comes back to it; [] when it ends (an environment that takes
    direct uploads, or one not in cdk.json)."""
    walked = [name]
    current: Any = environments.get(name)
    while isinstance(current, dict) and isinstance(current.get("accepts_from"), dict):
        earlier = current["accepts_from"].get("environment")
        if earlier == name:
            return [*walked, name]
        if not isinstance(earlier, str) or earlier in walked:
            return []  # a ring further up, not through this one: that one's own problem
        walked.append(earlier)
        current = environments.get(earlier)
    return []
