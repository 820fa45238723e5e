"""MonitoringStack: the monitor job and its schedule, the alarm topic, the alarms and the
dashboard of one environment."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.monitor_job import MonitorJob
from infra.monitoring import Monitoring
from infra.observability_defaults import Observability
from infra.stacks.serving import ServingStack
from infra.stacks.workflow import WorkflowStack
from registry.workflow import CHECK_CANARY


class MonitoringStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        serving: ServingStack,
        workflow: WorkflowStack,
        bucket: s3.IBucket,
        table: dynamodb.ITable,
        observability: Observability,
        **kwargs: Any,
    ):
        super().__init__(scope, id_, **kwargs)
        self.monitor_job = MonitorJob(
            self,
            "MonitorJob",
            environment=config.name,
            bucket=bucket,
            table=table,
            settings=config.monitoring,
            embedded=config.embedded,
            observability=observability,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            environment=config.name,
            endpoints={name: e.function for name, e in serving.endpoints.items()},
            endpoint_timeouts_ms={e.name: e.timeout_seconds * 1000 for e in config.endpoints},
            state_machine=workflow.promotion_workflow.state_machine,
            dead_letter_queues={
                "Ingest": workflow.ingest_pipeline.dead_letter_queue,
                "ExecutionEnded": workflow.execution_end_watch.dead_letter_queue,
                "MonitorJob": self.monitor_job.dead_letter_queue,
            },
            canary_check=workflow.promotion_workflow.function_of(CHECK_CANARY),
        )
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.alarm_topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
        # `slipway monitor run` invokes it
        CfnOutput(self, "MonitorFunctionName", value=self.monitor_job.function.function_name)
