"""DutyPolicies: one managed policy per duty of the people who use an environment.

Slipway's functions get exactly what their code calls; so do people. Each policy holds what
the `slipway` commands of one duty call (slipway/cli.py, slipway/target.py, slipway/invoke.py,
slipway/promotion.py), on this environment's resources only. An administrator attaches them
to the roles, groups or permission sets of the people who have that duty.

- deployer: `cdk deploy`/`cdk destroy` after the one-time `cdk bootstrap`. The CDK CLI does
  everything through the bootstrap roles, so assuming them is the whole policy.
- pusher: `push`, `status [--watch]`, `pull`, `lineage`, `invoke --stage staging`,
  `monitor` (the registry API) and `monitor run` (the monitor job's function).
- approver: `approve`, `reject`, `rollback`, `retry`, `models`, `versions` (the registry
  API; who may decide is the registry's `approvers` list, which IAM cannot express),
  `lineage` (the table, by key, and the registry API), `monitor` and `monitor run`.
- caller: `invoke` on the live endpoints.

Every command reads the stacks' outputs first (cloudformation:DescribeStacks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, DefaultStackSynthesizer, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.least_privilege import executions_of
from infra.monitor_job import monitor_function_name
from registry.names import MODELS_PREFIX

# What CDK's own grant_invoke_url gives (aws-cdk-lib's function-base): function URLs made
# since October 2025 need lambda:InvokeFunction as well as lambda:InvokeFunctionUrl. The
# conditions keep both to requests through the URL, authenticated by SigV4: an identity
# that could invoke the function directly could hand it a Function URL event naming
# someone else as the caller.
INVOKE_URL = "lambda:InvokeFunctionUrl"
INVOKE_VIA_URL = "lambda:InvokeFunction"
URL_ONLY_CONDITIONS = {
    INVOKE_URL: {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
    INVOKE_VIA_URL: {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
}
# The roles `cdk bootstrap` makes; the CDK CLI assumes them to deploy.
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")


class DutyPolicies(Construct):
    """The deployer, pusher, approver and caller policies of one environment, named
    ``slipway-<env>-<duty>``."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: str,
        stack_names: Sequence[str],
        bucket: s3.IBucket,
        table: dynamodb.ITable,
        state_machine_name: str,
        registry_function: lambda_.IFunction,
        candidate_functions: Sequence[lambda_.IFunction],
        endpoints: Mapping[lambda_.IFunction, str | None],
        duty_roles: Mapping[str, Sequence[str]],
    ) -> None:
        """``endpoints``: each live endpoint's function, with the alias its URL points at
        (None: the URL is the function's own). ``duty_roles``: roles of this account that
        CloudFormation attaches each duty's policy to (and detaches on destroy)."""
        super().__init__(scope, id_)
        stack = Stack.of(self)
        stacks = [
            stack.format_arn(service="cloudformation", resource="stack", resource_name=f"{name}/*")
            for name in stack_names
        ]

        def read_outputs() -> iam.PolicyStatement:
            return iam.PolicyStatement(
                sid="ReadStackOutputs", actions=["cloudformation:DescribeStacks"], resources=stacks
            )

        def policy(duty: str, *statements: iam.PolicyStatement) -> iam.ManagedPolicy:
            # A managed policy's description is immutable, and a policy with a fixed name
            # cannot be replaced: it must never change, whatever its statements become.
            return iam.ManagedPolicy(
                self,
                duty.capitalize(),
                managed_policy_name=f"slipway-{environment}-{duty}",
                description=duty_description(environment, duty),
                statements=list(statements),
                roles=[
                    iam.Role.from_role_name(self, f"{duty.capitalize()}Role{i}", name)
                    for i, name in enumerate(duty_roles.get(duty, ()))
                ],
            )

        self.deployer = policy(
            "deployer",
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles",
                actions=["sts:AssumeRole"],
                resources=[
                    stack.format_arn(
                        service="iam",
                        region="",
                        resource="role",
                        resource_name=f"cdk-{DefaultStackSynthesizer.DEFAULT_QUALIFIER}-{role}"
                        f"-role-{stack.account}-{stack.region}",
                    )
                    for role in BOOTSTRAP_ROLES
                ],
            ),
        )

        def read_registry() -> iam.PolicyStatement:
            # status, lineage, pull: a version, its pointer and audit trail, by key (the
            # table only: no index, no scan)
            return iam.PolicyStatement(
                sid="ReadRegistry",
                actions=["dynamodb:GetItem", "dynamodb:Query"],
                resources=[table.table_arn],
            )

        def run_monitor() -> iam.PolicyStatement:
            # monitor run: the monitor job, invoked now (by its name: the job's stack
            # depends on this one)
            return iam.PolicyStatement(
                sid="RunMonitor",
                actions=["lambda:InvokeFunction"],
                resources=[
                    stack.format_arn(
                        service="lambda",
                        resource="function",
                        resource_name=monitor_function_name(environment),
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )

        models = bucket.arn_for_objects(f"{MODELS_PREFIX}*")
        pusher_statements = [
            read_outputs(),
            *invoke_through_url("CallRegistry", [registry_function.function_arn]),
            # push: PutObject, or Create/UploadPart/CompleteMultipartUpload (all PutObject),
            # and AbortMultipartUpload when a large upload fails
            iam.PolicyStatement(
                sid="UploadBundles",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[models],
            ),
            # pull: the exact object version the registry recorded
            iam.PolicyStatement(
                sid="DownloadBundles",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[models],
            ),
            read_registry(),
            # status: the newest object version of an upload names its promotion (no listing
            # of executions, which a busy account throttles)
            iam.PolicyStatement(
                sid="FindPromotions",
                actions=["s3:ListBucketVersions"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": f"{MODELS_PREFIX}*"}},
            ),
            iam.PolicyStatement(
                sid="FollowPromotions",
                actions=["states:DescribeExecution", "states:GetExecutionHistory"],
                resources=[executions_of(self, state_machine_name)],
            ),
            # invoke --stage staging: each endpoint's candidate function, which has no URL
            iam.PolicyStatement(
                sid="CallCandidates",
                actions=["lambda:InvokeFunction"],
                resources=[candidate.function_arn for candidate in candidate_functions],
            ),
            run_monitor(),
        ]
        if bucket.encryption_key is not None:
            pusher_statements.append(
                iam.PolicyStatement(
                    sid="EncryptAndDecryptBundles",
                    # PutObject needs a data key; multipart parts and GetObject decrypt
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[bucket.encryption_key.key_arn],
                )
            )
        self.pusher = policy(
            "pusher",
            *pusher_statements,
        )
        approver_statements = [
            read_outputs(),
            # lineage: what is to be decided (datasets, metrics, audit trail) reads the table
            read_registry(),
            *invoke_through_url("CallRegistry", [registry_function.function_arn]),
            run_monitor(),
        ]
        self.approver = policy("approver", *approver_statements)
        # The pusher's and approver's statements by Sid: CI roles (infra/ci_access.py) hold
        # subsets of them, so a grant is written once.
        self.statements: dict[str, iam.PolicyStatement] = {
            statement.sid: statement
            for statement in (*pusher_statements, *approver_statements)
            if statement.sid is not None
        }
        targets = []
        for function, alias in endpoints.items():
            targets.append(function.function_arn)
            if alias is not None:
                targets.append(f"{function.function_arn}:{alias}")
        self.caller = policy(
            "caller",
            read_outputs(),
            *invoke_through_url("CallEndpoints", targets),
        )

    @property
    def by_duty(self) -> dict[str, iam.ManagedPolicy]:
        return {
            "Deployer": self.deployer,
            "Pusher": self.pusher,
            "Approver": self.approver,
            "Caller": self.caller,
        }


def invoke_through_url(sid: str, function_arns: list[str]) -> list[iam.PolicyStatement]:
    """Both actions an IAM-auth Function URL checks, each kept to calls through the URL."""
    return [
        iam.PolicyStatement(
            sid=f"{sid}{action.split(':')[1]}",
            actions=[action],
            resources=function_arns,
            conditions=URL_ONLY_CONDITIONS[action],
        )
        for action in (INVOKE_URL, INVOKE_VIA_URL)
    ]


def duty_description(environment: str, duty: str) -> str:
    """The policy's description: fixed for good once deployed (IAM cannot change it)."""
    return f"Slipway {environment}: the {duty} duty (docs/deploy.md, Who may do what)"
