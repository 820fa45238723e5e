"""MonitoringStack: the alarm topic, the alarms and the dashboard of one environment."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.monitoring import Monitoring
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
        **kwargs: Any,
    ):
        super().__init__(scope, id_, **kwargs)
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
            },
            canary_check=workflow.promotion_workflow.function_of(CHECK_CANARY),
        )
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.alarm_topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
