"""WorkflowStack: the ingest path, the promotion workflow and the registry API."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.ingest_pipeline import IngestPipeline
from infra.observability_defaults import Observability
from infra.promotion_workflow import PromotionPolicy, PromotionWorkflow
from infra.registry_api import RegistryApi


def promotion_policy(config: EnvironmentConfig) -> PromotionPolicy:
    return PromotionPolicy(
        approval=config.approval,
        approval_timeout_minutes=config.approval_timeout_minutes,
        champion_margin=config.champion_margin,
        smoke_test_budget_ms=config.smoke_test_budget_ms,
        canary_share=config.canary.share,
        canary_bake_seconds=config.canary.bake_minutes * 60,
        canary_max_error_rate=config.canary.max_error_rate,
        canary_max_schema_rejection_rate=config.canary.max_schema_rejection_rate,
        canary_max_p99_ms=config.canary.max_p99_ms,
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
        smoke_test_endpoint: lambda_.IFunction,
        observability: Observability,
        **kwargs: Any,
    ):
        super().__init__(scope, id_, **kwargs)
        self.promotion_workflow = PromotionWorkflow(
            self,
            "PromotionWorkflow",
            bucket=bucket,
            table=table,
            endpoint_function=smoke_test_endpoint,
            embedded=config.embedded,
            observability=observability,
            policy=promotion_policy(config),
        )
        state_machine = self.promotion_workflow.state_machine
        self.registry_api = RegistryApi(
            self,
            "RegistryApi",
            table=table,
            state_machine=state_machine,
            embedded=config.embedded,
            observability=observability,
        )
        self.ingest_pipeline = IngestPipeline(
            self,
            "IngestPipeline",
            bucket=bucket,
            state_machine=state_machine,
            observability=observability,
        )
        CfnOutput(self, "Environment", value=config.name)
        CfnOutput(self, "StateMachineArn", value=state_machine.state_machine_arn)
        CfnOutput(self, "RegistryUrl", value=self.registry_api.function_url.url)
        CfnOutput(self, "ApprovalTopicArn", value=self.promotion_workflow.approval_topic.topic_arn)
        CfnOutput(
            self, "IngestDeadLetterQueueUrl", value=self.ingest_pipeline.dead_letter_queue.queue_url
        )
