"""ExecutionEndWatch: when a promotion's execution ends, whatever it left is closed.

An execution stopped by hand, timed out, or failed in its own failure handler releases no
lock and leaves its version under way; the rule hands the lock to the next in line and
marks the version failed (functions/execution_ended/handler.py).
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.code_assets import ControlPlaneCode
from infra.least_privilege import executions_of, grant_table, grant_task_responses
from infra.observability_defaults import Observability
from infra.queued_rule import queued_rule
from registry.environment import TABLE_NAME
from registry.workflow import HAND_OVER

ENDED_STATUSES = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]


class ExecutionEndWatch(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        table: dynamodb.ITable,
        state_machine: sfn.IStateMachine,
        state_machine_name: str,
        observability: Observability,
        control_plane_code: ControlPlaneCode,
    ) -> None:
        super().__init__(scope, id_)
        parts = queued_rule(
            self,
            rule_id="EndedRule",
            rule_description="A promotion's execution ended: close what it left",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ENDED_STATUSES,
                    "stateMachineArn": [state_machine.state_machine_arn],
                },
            ),
            handler="functions.execution_ended.handler.handler",
            function_description="Closes what an ended promotion left: its lock, its version",
            environment={TABLE_NAME: table.table_name},
            observability=observability,
            control_plane_code=control_plane_code,
        )
        self.rule, self.queue, self.function = parts.rule, parts.queue, parts.function
        self.dead_letter_queue = parts.dead_letter_queue
        grant_table(table, self.function, *HAND_OVER)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution"],
                resources=[executions_of(self, state_machine_name)],
            )
        )
        grant_task_responses(self.function)  # the next in line's token
