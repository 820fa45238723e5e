"""SlipwayStack: one environment's data, ingest path, promotion workflow and endpoints."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.artifact_store import ArtifactStore
from infra.config import EnvironmentConfig
from infra.ingest_pipeline import IngestPipeline
from infra.lineage_table import LineageTable
from infra.model_endpoint import ModelEndpoint
from infra.monitoring import Monitoring
from infra.nag_suppressions import apply_nag_suppressions
from infra.observability_defaults import Observability
from infra.promotion_workflow import PromotionPolicy, PromotionWorkflow
from infra.registry_api import RegistryApi


class SlipwayStack(Stack):
    """Composes the constructs and wires grants and outputs; holds no logic of its own."""

    def __init__(self, scope: Construct, id_: str, *, config: EnvironmentConfig, **kwargs: Any):
        # a stack holding data to keep cannot be deleted by accident either
        super().__init__(scope, id_, termination_protection=config.retain_data, **kwargs)
        self.artifact_store = ArtifactStore(
            self, "ArtifactStore", retain=config.retain_data, kms_key=config.kms_key
        )
        self.lineage_table = LineageTable(self, "LineageTable", retain=config.retain_data)
        bucket, table = self.artifact_store.bucket, self.lineage_table.table
        observability = Observability(config.log_retention_days, retain_logs=config.retain_data)
        self.endpoints = {
            endpoint.name: ModelEndpoint(
                self,
                f"Endpoint-{endpoint.name}",
                config=endpoint,
                bucket=bucket,
                table=table,
                embedded=config.embedded,
                observability=observability,
            )
            for endpoint in config.endpoints
        }
        self.promotion_workflow = PromotionWorkflow(
            self,
            "PromotionWorkflow",
            bucket=bucket,
            table=table,
            endpoint_function=self.endpoints["default"].function,
            embedded=config.embedded,
            observability=observability,
            policy=PromotionPolicy(
                approval=config.approval,
                approval_timeout_minutes=config.approval_timeout_minutes,
                champion_margin=config.champion_margin,
                smoke_test_budget_ms=config.smoke_test_budget_ms,
                canary_share=config.canary.share,
                canary_bake_seconds=config.canary.bake_minutes * 60,
                canary_max_error_rate=config.canary.max_error_rate,
                canary_max_schema_rejection_rate=config.canary.max_schema_rejection_rate,
                canary_max_p99_ms=config.canary.max_p99_ms,
            ),
        )
        self.registry_api = RegistryApi(
            self,
            "RegistryApi",
            table=table,
            state_machine=self.promotion_workflow.state_machine,
            embedded=config.embedded,
            observability=observability,
        )
        self.ingest_pipeline = IngestPipeline(
            self,
            "IngestPipeline",
            bucket=bucket,
            state_machine=self.promotion_workflow.state_machine,
            observability=observability,
        )

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            environment=config.name,
            endpoints={name: endpoint.function for name, endpoint in self.endpoints.items()},
            endpoint_timeouts_ms={e.name: e.timeout_seconds * 1000 for e in config.endpoints},
            state_machine=self.promotion_workflow.state_machine,
            ingest_dead_letter_queue=self.ingest_pipeline.dead_letter_queue,
            canary_check=self.promotion_workflow.control_functions["check_canary"],
        )
        apply_nag_suppressions(self)
        CfnOutput(self, "Environment", value=config.name)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.alarm_topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
        CfnOutput(self, "RegistryUrl", value=self.registry_api.function_url.url)
        CfnOutput(self, "ApprovalTopicArn", value=self.promotion_workflow.approval_topic.topic_arn)
        CfnOutput(self, "ArtifactBucketName", value=bucket.bucket_name)
        CfnOutput(self, "LineageTableName", value=table.table_name)
        CfnOutput(
            self, "StateMachineArn", value=self.promotion_workflow.state_machine.state_machine_arn
        )
        CfnOutput(
            self, "IngestDeadLetterQueueUrl", value=self.ingest_pipeline.dead_letter_queue.queue_url
        )
        for name, endpoint in self.endpoints.items():
            suffix = "".join(part.capitalize() for part in name.split("-"))
            CfnOutput(self, f"EndpointUrl{suffix}", value=endpoint.function_url.url)
            CfnOutput(self, f"EndpointFunction{suffix}", value=endpoint.function.function_name)
