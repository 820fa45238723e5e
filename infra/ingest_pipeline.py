"""IngestPipeline: S3 uploads under models/ become promotion executions, at least once."""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.code_assets import ControlPlaneCode
from infra.observability_defaults import Observability
from infra.queued_rule import queued_rule
from registry.environment import STATE_MACHINE_ARN
from registry.names import MODELS_PREFIX


class IngestPipeline(Construct):
    """EventBridge rule (prefix models/) -> SQS queue with a DLQ -> ingest Lambda, which
    starts one execution per uploaded object version."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        state_machine: sfn.IStateMachine,
        observability: Observability,
        control_plane_code: ControlPlaneCode,
    ) -> None:
        super().__init__(scope, id_)
        parts = queued_rule(
            self,
            rule_id="UploadRule",
            rule_description="Bundles uploaded under models/ start a promotion",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"prefix": MODELS_PREFIX}]},
                },
            ),
            handler="functions.ingest.handler.handler",
            function_description="Starts one promotion execution per uploaded object version",
            environment={STATE_MACHINE_ARN: state_machine.state_machine_arn},
            observability=observability,
            control_plane_code=control_plane_code,
            # a flood of uploads must not starve the account of Lambda concurrency
            max_concurrency=10,
        )
        self.rule, self.queue, self.function = parts.rule, parts.queue, parts.function
        self.dead_letter_queue = parts.dead_letter_queue
        state_machine.grant_start_execution(self.function)
