"""WorkflowStack: the ingest path, the promotion workflow and the registry API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.attestation_key import AttestationKey
from infra.ci_access import CiAccess, role_output
from infra.code_assets import ControlPlaneCode
from infra.config import EnvironmentConfig
from infra.duty_policies import DutyPolicies
from infra.execution_end_watch import ExecutionEndWatch
from infra.gate_policy import chain_policy, gate_policy
from infra.ingest_pipeline import IngestPipeline
from infra.observability_defaults import Observability
from infra.promotion_workflow import PromotionWorkflow, WorkflowOptions
from infra.registry_api import RegistryApi


def workflow_options(config: EnvironmentConfig) -> WorkflowOptions:
    """The environment's gate, as the state machine and its first state carry it."""
    return WorkflowOptions(
        state_machine_name=f"slipway-{config.name}-promotion",
        policy=gate_policy(config),
        approval_timeout_minutes=config.approval_timeout_minutes,
        lock_wait_seconds=config.lock_wait,
        trusted_model_types=tuple(config.trusted_model_types),
        runtime_libraries=tuple(config.runtime_libraries),
        environment_name=config.name,
    )


class WorkflowStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        bucket: s3.IBucket,
        table: dynamodb.ITable,
        candidate_functions: dict[str, lambda_.IFunction],
        observability: Observability,
        endpoints: Mapping[lambda_.IFunction, str | None],
        **kwargs: Any,
    ):
        super().__init__(scope, id_, **kwargs)
        options = workflow_options(config)
        self.control_plane_code = ControlPlaneCode(self, "ControlPlaneCode")
        self.attestation_key = AttestationKey(
            self, "AttestationKey", environment=config.name, retain=config.retain_data
        )
        self.promotion_workflow = PromotionWorkflow(
            self,
            "PromotionWorkflow",
            bucket=bucket,
            table=table,
            candidate_functions=candidate_functions,
            embedded=config.embedded,
            observability=observability,
            options=options,
            control_plane_code=self.control_plane_code,
            attestation_key=self.attestation_key,
        )
        state_machine = self.promotion_workflow.state_machine
        self.registry_api = RegistryApi(
            self,
            "RegistryApi",
            table=table,
            state_machine=state_machine,
            state_machine_name=options.state_machine_name,
            approval_token_key=self.promotion_workflow.approval_token_key,
            observability=observability,
            control_plane_code=self.control_plane_code,
            approvers=tuple(config.approvers),
            environment_name=config.name,
            attestation_key=self.attestation_key,
            chain_policy=chain_policy(config),
            separation_of_duties=config.separation_of_duties,
        )
        self.ingest_pipeline = IngestPipeline(
            self,
            "IngestPipeline",
            bucket=bucket,
            state_machine=state_machine,
            observability=observability,
            control_plane_code=self.control_plane_code,
        )
        self.execution_end_watch = ExecutionEndWatch(
            self,
            "ExecutionEndWatch",
            table=table,
            state_machine=state_machine,
            state_machine_name=options.state_machine_name,
            observability=observability,
            control_plane_code=self.control_plane_code,
        )
        self.duty_policies = DutyPolicies(
            self,
            "DutyPolicies",
            environment=config.name,
            stack_names=config.stack_names,
            bucket=bucket,
            table=table,
            state_machine_name=options.state_machine_name,
            registry_function=self.registry_api.function,
            candidate_functions=list(candidate_functions.values()),
            endpoints=endpoints,
            duty_roles=config.duty_roles,
        )
        for duty, policy in self.duty_policies.by_duty.items():
            CfnOutput(self, f"{duty}PolicyArn", value=policy.managed_policy_arn)
        CfnOutput(self, "Environment", value=config.name)
        CfnOutput(self, "StateMachineArn", value=state_machine.state_machine_arn)
        CfnOutput(self, "RegistryUrl", value=self.registry_api.function_url.url)
        # the key whose public half the next environment configures (accepts_from.public_key)
        CfnOutput(self, "AttestationKeyArn", value=self.attestation_key.key.key_arn)
        CfnOutput(self, "ApprovalTopicArn", value=self.promotion_workflow.approval_topic.topic_arn)
        CfnOutput(
            self, "IngestDeadLetterQueueUrl", value=self.ingest_pipeline.dead_letter_queue.queue_url
        )
        CfnOutput(self, "IngestQueueUrl", value=self.ingest_pipeline.queue.queue_url)
        CfnOutput(
            self,
            "ExecutionEndedDeadLetterQueueUrl",
            value=self.execution_end_watch.dead_letter_queue.queue_url,
        )
        CfnOutput(self, "ExecutionEndedQueueUrl", value=self.execution_end_watch.queue.queue_url)
        # GitHub Actions roles, where cdk.json has a ci block (docs/cicd.md)
        self.ci_access = None
        if config.ci is not None:
            self.ci_access = CiAccess(
                self,
                "CiAccess",
                environment=config.name,
                config=config.ci,
                duty_policies=self.duty_policies,
            )
            for duty, role in self.ci_access.roles.items():
                CfnOutput(self, role_output(duty), value=role.role_arn)
