"""IngestPipeline: S3 uploads under models/ become promotion executions, at least once."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.code_assets import ControlPlaneCode
from infra.nag_suppressions import DEAD_LETTER_QUEUE, suppress_on_resource
from infra.observability_defaults import PYTHON_RUNTIME, Observability
from registry.environment import STATE_MACHINE_ARN
from registry.names import MODELS_PREFIX


class IngestPipeline(Construct):
    """EventBridge rule (prefix models/) -> SQS queue with a DLQ -> ingest Lambda.

    The queue absorbs bursts and keeps every event until the ingest function has started
    its execution; after five failed receives a message waits in the DLQ, not lost.
    """

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
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        suppress_on_resource(self.dead_letter_queue, *DEAD_LETTER_QUEUE)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(180),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=5, queue=self.dead_letter_queue
            ),
        )
        self.rule = events.Rule(
            self,
            "UploadRule",
            description="Bundles uploaded under models/ start a promotion",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"prefix": MODELS_PREFIX}]},
                },
            ),
            # events the queue cannot take (deleted queue, missing permission) wait here
            targets=[targets.SqsQueue(self.queue, dead_letter_queue=self.dead_letter_queue)],
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=PYTHON_RUNTIME,
            handler="functions.ingest.handler.handler",
            code=control_plane_code.code,
            layers=[control_plane_code.dependencies],
            timeout=Duration.seconds(30),
            memory_size=256,
            description="Starts one promotion execution per uploaded object version",
            environment={STATE_MACHINE_ARN: state_machine.state_machine_arn},
            # a flood of uploads must not starve the account of Lambda concurrency
            reserved_concurrent_executions=10,
            **observability.function_props(self, "Function"),
        )
        self.function.add_event_source(
            sources.SqsEventSource(self.queue, batch_size=10, report_batch_item_failures=True)
        )
        state_machine.grant_start_execution(self.function)
