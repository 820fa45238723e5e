"""RegistryApi: the registry's HTTP API behind a Function URL that only accepts SigV4."""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.attestation_key import AttestationKey
from infra.code_assets import ControlPlaneCode
from infra.least_privilege import executions_of, grant_table, grant_task_responses
from infra.observability_defaults import PYTHON_RUNTIME, Observability
from registry.chain_policy import ChainPolicy
from registry.environment import (
    APPROVAL_TOKEN_KEY,
    APPROVERS,
    ATTESTATION_KEY,
    CHAIN_POLICY,
    ENVIRONMENT_NAME,
    SEPARATION_OF_DUTIES,
    STATE_MACHINE_ARN,
    TABLE_NAME,
)
from registry.workflow import HAND_OVER


class RegistryApi(Construct):
    """Reads the lineage table; approve/reject resume the waiting promotion execution.

    A control-plane function: FastAPI and its kin come from the control plane's layer, so the
    registry does not need the model runtime's image.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        table: dynamodb.ITable,
        state_machine: sfn.IStateMachine,
        state_machine_name: str,
        approval_token_key: kms.IKey,
        observability: Observability,
        control_plane_code: ControlPlaneCode,
        approvers: tuple[str, ...],
        environment_name: str,
        attestation_key: AttestationKey,
        chain_policy: ChainPolicy | None,
        separation_of_duties: bool = False,
    ) -> None:
        super().__init__(scope, id_)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=PYTHON_RUNTIME,
            handler="functions.registry_api.handler.handler",
            code=control_plane_code.code,
            layers=[control_plane_code.dependencies],
            memory_size=512,
            timeout=Duration.seconds(30),
            environment={
                TABLE_NAME: table.table_name,
                APPROVAL_TOKEN_KEY: approval_token_key.key_arn,
                APPROVERS: json.dumps(list(approvers)),
                STATE_MACHINE_ARN: state_machine.state_machine_arn,  # retries of failed ones
                # the dimension of the rollbacks it counts, and the name attestations carry
                ENVIRONMENT_NAME: environment_name,
                ATTESTATION_KEY: attestation_key.key.key_arn,
                # a declaration's attestation, judged as the gate will (cdk.json accepts_from)
                CHAIN_POLICY: json.dumps(chain_policy and chain_policy.model_dump()),
                # told to callers (GET /v1/identity): may uploaders approve their own?
                SEPARATION_OF_DUTIES: json.dumps(separation_of_duties),
            },
            description="Slipway registry API",
            **observability.function_props(self, "Function"),
        )
        # a rollback takes the model's lock, drops a cancelled staging pointer, and hands
        # the lock on when it is done: the same reads and writes as every turn's end
        grant_table(table, self.function, *HAND_OVER)
        # a model listing reads each page's pointers and newest versions in batches
        grant_table(table, self.function, "dynamodb:BatchGetItem")
        approval_token_key.grant_decrypt(self.function)  # opens sealed task tokens
        # approvals, and the fresh statements `slipway promote` carries on, are signed
        attestation_key.grant_sign(self.function)
        # approvals answer their sealed tokens; a rollback hands the lock to the next in line
        grant_task_responses(self.function)
        # a failed version's gate, run again
        state_machine.grant_start_execution(self.function)
        # a rollback stops the promotion in flight, after asking whether it still runs; a
        # version's gate is read from its execution's history
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "states:DescribeExecution",
                    "states:StopExecution",
                    "states:GetExecutionHistory",
                ],
                resources=[executions_of(self, state_machine_name)],
            )
        )
        self.function_url = self.function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.AWS_IAM
        )
