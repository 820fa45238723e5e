"""RegistryApi: the registry's HTTP API behind a Function URL that only accepts SigV4."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.constants import TABLE_NAME
from infra.least_privilege import READ_ITEMS, WRITE_ITEMS, grant_table
from infra.observability_defaults import Observability
from infra.runtime_function import RuntimeFunction


class RegistryApi(Construct):
    """Reads the lineage table; approve/reject resume the waiting promotion execution."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        table: dynamodb.ITable,
        state_machine: sfn.IStateMachine,
        embedded: bool,
        observability: Observability,
    ) -> None:
        super().__init__(scope, id_)
        self.function = RuntimeFunction(
            self,
            "Api",
            handler="functions.registry_api.handler.handler",
            embedded=embedded,
            memory_size=512,
            timeout=Duration.seconds(30),
            environment={TABLE_NAME: table.table_name},
            description="Slipway registry API",
            observability=observability,
        ).function
        grant_table(table, self.function, *READ_ITEMS, "dynamodb:Query", *WRITE_ITEMS)
        # Task tokens are not resources IAM can scope; the actions are granted on the
        # workflow's state machine, as AWS documents for SendTask*.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                resources=[state_machine.state_machine_arn],
            )
        )
        self.function_url = self.function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.AWS_IAM
        )
