"""Grants that hold exactly the calls the code makes, not the CDK's broad read/write bundles.

The table actions and permissions of each workflow step are declared with the step
(``registry/workflow.py``); the infrastructure tests compare the synthesized policies with
their own list per function.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from registry.names import MODELS_PREFIX


def grant_table(table: dynamodb.ITable, grantee: iam.IGrantable, *actions: str) -> None:
    table.grant(grantee, *actions)


def grant_read_objects(bucket: s3.IBucket, grantee: iam.IGrantable) -> None:
    """Read exact object versions of bundles (GetObject, GetObjectVersion under models/) and
    decrypt them if a key encrypts the bucket. Nothing else in the bucket: a candidate
    function runs uploaders' code with this role."""
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:GetObject", "s3:GetObjectVersion"],
        resource_arns=[bucket.arn_for_objects(f"{MODELS_PREFIX}*")],
    )
    if bucket.encryption_key is not None:
        bucket.encryption_key.grant_decrypt(grantee)


def executions_of(scope: Construct, state_machine_name: str) -> str:
    """The ARNs of every execution of a state machine, by its name (the machine's own ARN
    would make the grantee depend on the machine, which may depend on the grantee)."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{state_machine_name}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


# Step Functions' SendTask* actions support no resource-level permissions: the Service
# Authorization Reference lists no resource type for them, and a statement scoped to a
# state machine's ARN is denied (aws-cdk discussion #26401). The task token is the scope:
# only whoever read a token can answer it, and the tokens of approvals are sealed.
TASK_RESPONSE_ACTIONS = ("states:SendTaskSuccess", "states:SendTaskFailure")


def grant_task_responses(grantee: iam.IGrantable) -> None:
    """Answer task tokens (SendTaskSuccess, SendTaskFailure), on "*", the one resource IAM
    accepts for them."""
    iam.Grant.add_to_principal(
        grantee=grantee, actions=list(TASK_RESPONSE_ACTIONS), resource_arns=["*"]
    )
