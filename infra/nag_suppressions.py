"""Every cdk-nag finding Slipway accepts, on the resource that has it, and why.

This is the one place suppressions live. Each is put on the resources whose construct path it
names and lists the exact findings it accepts there (the wildcard that is granted, not a
family of them); nothing is suppressed stack-wide. The infrastructure tests fail on any
finding that is neither fixed nor listed here, and on any listed finding that no resource
it is put on has (tests/infra/test_nag_suppressions.py), so the list cannot outgrow the
grants.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from aws_cdk import CfnResource, Stack
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo


@dataclass(frozen=True)
class Accepted:
    """A finding accepted on every resource whose construct path (within its stack) matches
    one of ``where``. ``findings`` are regexes of the finding ids cdk-nag reports for rules
    with granular findings (IAM4, IAM5); none accepts the rule on those resources as a whole."""

    rule: str
    where: tuple[str, ...]
    reason: str
    findings: tuple[str, ...] = ()


def _steps(*names: str) -> str:
    """The functions of the named workflow steps (zip functions, and runtime-image ones one
    level deeper)."""
    return rf"PromotionWorkflow/({'|'.join(names)})Function(/Function)?"


ENDPOINTS = r"(Endpoint-[a-z0-9-]+|CandidateEndpoint(-[a-z0-9-]+)?)/Serving/Function"
HAND_OVER_FUNCTIONS = (
    _steps("AcquireLock", "ReleaseLock", "RecordFailure"),
    "ExecutionEndWatch/Function",
    "RegistryApi/Function",
)
MONITOR_JOB = "MonitorJob/Runtime/Function"
OBJECT_READERS = (ENDPOINTS, _steps("Validate", "Evaluate", "Promote"), MONITOR_JOB)
TABLE_USERS = (
    ENDPOINTS,
    _steps(
        "AcquireLock",
        "ReleaseLock",
        "RecordFailure",
        "AutoApprove",
        "CheckCanary",
        "Evaluate",
        "Promote",
        "Register",
        "SmokeTest",
        "Stage",
        "StartCanary",
        "Validate",
        "VerifyProvenance",
        "WaitForApproval",
    ),
    "ExecutionEndWatch/Function",
    "RegistryApi/Function",
    MONITOR_JOB,
)
FUNCTIONS = (
    ENDPOINTS,
    _steps(r"[A-Za-z]+"),
    "IngestPipeline/Function",
    "ExecutionEndWatch/Function",
    "RegistryApi/Function",
    MONITOR_JOB,
)


def _policies(*functions: str) -> tuple[str, ...]:
    return tuple(f"{f}/ServiceRole/DefaultPolicy/Resource" for f in functions)


def _exact(finding: str) -> str:
    return "^" + "".join(f"\\{c}" if c in r".*+?()[]{}|^$\/" else c for c in finding) + "$"


IAM4, IAM5 = "AwsSolutions-IAM4", "AwsSolutions-IAM5"
ANY_RESOURCE = _exact("Resource::*")


def _arn_of(logical_id_prefix: str) -> str:
    """A resource's ARN as a finding names it: a reference within the stack, or an import
    from the stack that exports it (cdk-nag reports either, depending on when it looks)."""
    return (
        rf"(<{logical_id_prefix}[0-9A-F]{{8}}\.Arn>|"
        rf"slipway-[a-z0-9-]+:ExportsOutputFnGetAtt{logical_id_prefix}[0-9A-F]{{8}}Arn[0-9A-F]{{8}})"
    )


TABLE_INDEXES = rf"^Resource::{_arn_of('LineageTable')}\/index\/\*$"
PROMOTION_EXECUTIONS = (
    r"^Resource::arn:<AWS::Partition>:states:[a-z0-9-]+:\d{12}:"
    r"execution:slipway-[a-z0-9-]+-promotion:\*$"
)


STACK_IDS = (
    r"^Resource::arn:<AWS::Partition>:cloudformation:[a-z0-9-]+:\d{12}:"
    r"stack\/slipway-[a-z0-9-]+-(data|serving|workflow|monitoring)\/\*$"
)
MODEL_OBJECTS = rf"^Resource::{_arn_of('ArtifactStoreBucket')}\/models\/\*$"
CAPTURE_OBJECTS = rf"^Resource::{_arn_of('ArtifactStoreBucket')}\/(capture|feedback)(-errors)?\/\*$"
MONITORING_OBJECTS = (
    rf"^Resource::{_arn_of('ArtifactStoreBucket')}\/(capture|feedback|monitoring)\/\*$"
)
DUTY_POLICIES = ("DutyPolicies/(Pusher|Approver|Caller)/Resource",)


def _versions_of(logical_id_prefix: str) -> str:
    """Every version and alias of one function: what a Lambda task or invoke grant covers."""
    return rf"^Resource::{_arn_of(logical_id_prefix)}:\*$"


ACCEPTED: tuple[Accepted, ...] = (
    Accepted(
        IAM4,
        tuple(f"{f}/ServiceRole/Resource" for f in FUNCTIONS),
        "AWSLambdaBasicExecutionRole lets a function write its own logs and nothing else; AWS "
        "keeps it current",
        (
            _exact(
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            ),
        ),
    ),
    Accepted(
        IAM5,
        _policies(*FUNCTIONS),
        "X-Ray's PutTraceSegments and PutTelemetryRecords (active tracing) take no resource",
        (ANY_RESOURCE,),
    ),
    Accepted(
        IAM5,
        _policies(*HAND_OVER_FUNCTIONS),
        "Step Functions' SendTaskSuccess and SendTaskFailure take no resource (a statement "
        "scoped to a state machine is denied); the task token scopes them",
        (ANY_RESOURCE,),
    ),
    Accepted(
        IAM5,
        _policies(_steps("CheckCanary")),
        "CloudWatch GetMetricData takes no resource",
        (ANY_RESOURCE,),
    ),
    Accepted(
        IAM5,
        _policies(*OBJECT_READERS),
        "reads bundles by S3 version id: GetObject and GetObjectVersion on the artifact "
        "bucket's objects under models/, whose keys are not known before",
        (MODEL_OBJECTS,),
    ),
    Accepted(
        IAM5,
        _policies(*TABLE_USERS),
        "the lineage table's grant covers its indexes (table/index/*), as DynamoDB names "
        "them; Slipway's queries use the table and its indexes only",
        (TABLE_INDEXES,),
    ),
    Accepted(
        IAM5,
        _policies(*HAND_OVER_FUNCTIONS),
        "describes executions of the environment's own state machine (whether a lock's "
        "holder still runs; a rollback's stop); their names are not known before",
        (PROMOTION_EXECUTIONS,),
    ),
    Accepted(
        IAM5,
        _policies(MONITOR_JOB),
        "the monitor job reads what Firehose delivers under capture/ and feedback/ (keys "
        "named by delivery time and a random id) and writes reports under monitoring/ "
        "(keys named by model, version and window)",
        (MONITORING_OBJECTS,),
    ),
    Accepted(
        IAM5,
        _policies(_steps("Validate", "Evaluate")),
        "invokes the python sandbox function, by its versions (function:*)",
        (_versions_of("PromotionWorkflowPythonSandboxFunction"),),
    ),
    Accepted(
        IAM5,
        _policies(_steps("WaitForApproval")),
        "seals task tokens with the approval key: kms:GenerateDataKey* and kms:ReEncrypt* "
        "are what grant_encrypt gives, on that one key",
        (_exact("Action::kms:GenerateDataKey*"), _exact("Action::kms:ReEncrypt*")),
    ),
    Accepted(
        IAM5,
        ("PromotionWorkflow/StateMachine/Role/DefaultPolicy/Resource",),
        "Step Functions invokes each step's function by its versions (function:*); X-Ray and "
        "the log delivery APIs its logging uses take no resource",
        (ANY_RESOURCE, _versions_of(r"PromotionWorkflow[A-Za-z]+Function")),
    ),
    Accepted(
        IAM5,
        DUTY_POLICIES,
        "the CLI reads the outputs of the environment's four stacks by name; a stack's ARN "
        "ends in an id CloudFormation makes when it creates the stack",
        (STACK_IDS,),
    ),
    Accepted(
        IAM5,
        ("DutyPolicies/Pusher/Resource",),
        "pushers upload and download bundles under models/ (keys name models and versions "
        "not known before), and follow the executions of the environment's own state "
        "machine, whose names come from the uploads",
        (MODEL_OBJECTS, PROMOTION_EXECUTIONS),
    ),
    Accepted(
        IAM5,
        ("DataCapture/(Capture|Feedback)DeliveryRole/DefaultPolicy/Resource",),
        "Firehose names the objects it writes itself (hour prefixes, its stream's name, a "
        "random id); each stream's role writes under its own prefix and its errors' only",
        (CAPTURE_OBJECTS,),
    ),
    Accepted(
        "Serverless-LambdaDLQ",
        tuple(f"{f}/Resource" for f in FUNCTIONS if f != MONITOR_JOB),
        "No Slipway function is invoked asynchronously: Step Functions tasks and Function URLs "
        "invoke synchronously, and queue consumers keep failed messages in a dead-letter "
        "queue. Lambda DLQs apply only to asynchronous invocations",
    ),
    Accepted(
        "Serverless-LambdaEventSourceMappingDestination",
        (r"(IngestPipeline|ExecutionEndWatch)/Function/SqsEventSource:[A-Za-z0-9]+/Resource",),
        "An SQS event source returns failed messages to the queue; after five receives its "
        "redrive policy moves them to the dead-letter queue",
    ),
)


def apply_nag_suppressions(stack: Stack, accepted: tuple[Accepted, ...] = ACCEPTED) -> None:
    """Put each accepted finding on the resources of ``stack`` it names."""
    prefix = stack.node.path + "/"
    for construct in stack.node.find_all():
        if not isinstance(construct, CfnResource):
            continue
        path = construct.node.path.removeprefix(prefix)
        by_rule: dict[str, list[Accepted]] = defaultdict(list)
        for entry in accepted:
            if any(re.fullmatch(where, path) for where in entry.where):
                by_rule[entry.rule].append(entry)
        if by_rule:
            NagSuppressions.add_resource_suppressions(
                construct, [_suppression(rule, entries) for rule, entries in by_rule.items()]
            )


def _suppression(rule: str, entries: list[Accepted]) -> NagPackSuppression:
    findings = list(dict.fromkeys(f for entry in entries for f in entry.findings))
    return NagPackSuppression(
        id=rule,
        reason="; ".join(entry.reason for entry in entries),
        applies_to=[RegexAppliesTo(regex=f"/{finding}/") for finding in findings] or None,
    )


def suppress_on_resource(resource: object, rule: str, reason: str) -> None:
    """Accept one finding on one resource (the bucket or queue the reason is about)."""
    NagSuppressions.add_resource_suppressions(
        resource, [NagPackSuppression(id=rule, reason=reason)]
    )


DEAD_LETTER_QUEUE = (
    "Serverless-SQSRedrivePolicy",
    "This is the dead-letter queue; it has nowhere further to send messages",
)
