"""Every cdk-nag finding Slipway accepts, with the resource it applies to and why.

This is the one place suppressions live; the infrastructure tests fail on any finding that
is neither fixed nor listed here.
"""

from __future__ import annotations

from aws_cdk import Stack
from cdk_nag import NagPackSuppression, NagSuppressions

LAMBDA_BASIC_EXECUTION = (
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)


def _regex(pattern: str) -> dict[str, str]:
    return {"regex": f"/{pattern}/g"}


STACK_SUPPRESSIONS = [
    NagPackSuppression(
        id="AwsSolutions-IAM4",
        reason="AWSLambdaBasicExecutionRole lets a function write its own logs and nothing "
        "else; AWS keeps it current",
        applies_to=[LAMBDA_BASIC_EXECUTION],
    ),
    NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason="Wildcards that IAM offers no narrower form of: object-level S3 reads of the "
        "artifact bucket (grant_read: s3:GetObject*, s3:GetBucket*, s3:List* on bucket/*), the "
        "lineage table's indexes (table/index/*), Lambda ARNs with version qualifiers that "
        "Step Functions invokes (function:*), KMS data-key actions on the environment's own "
        "key, and services without resource-level permissions: X-Ray trace segments, "
        "CloudWatch GetMetricData, Step Functions' SendTaskSuccess and SendTaskFailure (the task "
        "token scopes them), and the log delivery APIs Step Functions logging uses; and "
        "the executions of the environment's own state machine, which AcquireLock describes "
        "to learn whether a lock's holder still runs (execution names are not known before)",
        applies_to=[
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            "Action::kms:GenerateDataKey*",
            "Action::kms:ReEncrypt*",
            "Resource::*",
            # the same three, as a reference within a stack or an import from another stack
            _regex(
                r"^Resource::(<ArtifactStoreBucket[0-9A-F]+\.Arn>|"
                r"slipway-[a-z0-9-]+-data:ExportsOutputFnGetAttArtifactStoreBucket\w+)\/\*$"
            ),
            _regex(
                r"^Resource::(<LineageTable[0-9A-F]+\.Arn>|"
                r"slipway-[a-z0-9-]+-data:ExportsOutputFnGetAttLineageTable\w+)\/index\/\*$"
            ),
            _regex(
                r"^Resource::arn:<AWS::Partition>:states:[^:]+:[^:]+:"
                r"execution:slipway-[a-z0-9-]+-promotion:\*$"
            ),
            _regex(
                r"^Resource::(<[A-Za-z0-9]+Function[A-Za-z0-9]*\.Arn>|"
                r"slipway-[a-z0-9-]+-serving:ExportsOutputFnGetAtt\w+Function\w+):\*$"
            ),
        ],
    ),
    NagPackSuppression(
        id="Serverless-LambdaDLQ",
        reason="No Slipway function is invoked asynchronously: Step Functions tasks and Function "
        "URLs invoke synchronously, and the ingest function reads an SQS queue whose redrive "
        "policy keeps failed messages in a dead-letter queue. Lambda DLQs apply only to "
        "asynchronous invocations",
    ),
    NagPackSuppression(
        id="Serverless-LambdaEventSourceMappingDestination",
        reason="An SQS event source returns failed messages to the queue; after five receives "
        "its redrive policy moves them to the ingest dead-letter queue",
    ),
]


def apply_nag_suppressions(stack: Stack) -> None:
    NagSuppressions.add_stack_suppressions(stack, STACK_SUPPRESSIONS, apply_to_nested_stacks=True)


def suppress_on_resource(resource: object, rule: str, reason: str) -> None:
    """Accept one finding on one resource (the bucket or queue the reason is about)."""
    NagSuppressions.add_resource_suppressions(
        resource, [NagPackSuppression(id=rule, reason=reason)]
    )


ACCESS_LOG_BUCKET = (
    "AwsSolutions-S1",
    "This is the access-log bucket; logging it to itself would loop",
)
DEAD_LETTER_QUEUE = (
    "Serverless-SQSRedrivePolicy",
    "This is the dead-letter queue; it has nowhere further to send messages",
)
