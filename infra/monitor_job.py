"""MonitorJob: the monitor job's function and the schedule that runs it (EventBridge
Scheduler), with exactly the reads and writes its code makes."""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.data_capture import BUFFER_SECONDS
from infra.least_privilege import grant_read_objects, grant_table
from infra.nag_suppressions import DEAD_LETTER_QUEUE, suppress_on_resource
from infra.observability_defaults import Observability
from infra.runtime_function import RuntimeFunction
from registry.environment import ARTIFACT_BUCKET, ENVIRONMENT_NAME, TABLE_NAME
from registry.monitoring_reports import EVENT_SOURCE
from registry.monitoring_settings import MONITORING, MonitoringSettings
from registry.names import CAPTURE_PREFIX, FEEDBACK_PREFIX, MONITORING_PREFIX

MONITOR_HANDLER = "model_runtime.jobs.monitor.handler"
# the table calls of model_runtime/jobs/monitor.py: models by the MODELS index, pointers and
# versions by key, report summaries written, and the newest verdict on the model's summary
MONITOR_TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
# the window's end, as EventBridge Scheduler fills it in at each run (a context attribute)
# and how long before it traffic may still be on its way into the bucket (Firehose's buffer
# and a minute for CloudWatch Logs): the window ends that much earlier, so no minute of
# traffic falls between two scheduled windows unjudged
SCHEDULED_INPUT = {
    "window_end": "<aws.scheduler.scheduled-time>",
    "delivery_lag_seconds": BUFFER_SECONDS + 60,
}


def monitor_function_name(environment: str) -> str:
    """The job's function name: fixed, so the duty policies (in the workflow stack, which
    this one depends on) can name it without a reference back."""
    return f"slipway-{environment}-monitor"


def default_event_bus_arn(stack: Stack) -> str:
    return stack.format_arn(service="events", resource="event-bus", resource_name="default")


class MonitorJob(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: str,
        bucket: s3.IBucket,
        table: dynamodb.ITable,
        settings: MonitoringSettings,
        embedded: bool,
        observability: Observability,
    ) -> None:
        super().__init__(scope, id_)
        # The schedule invokes the job asynchronously: a run that failed after Lambda's two
        # retries, or that the scheduler could not deliver, waits here (and its alarm rings).
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        suppress_on_resource(self.dead_letter_queue, *DEAD_LETTER_QUEUE)
        self.function = RuntimeFunction(
            self,
            "Runtime",
            handler=MONITOR_HANDLER,
            embedded=embedded,
            # a window's rows are held in memory while they are judged (model_runtime/jobs/
            # monitor.py Limits.for_memory: 200 rows a MB, about 600,000 rows at 3008 MB)
            memory_size=3008,
            timeout=Duration.minutes(15),
            environment={
                TABLE_NAME: table.table_name,
                ARTIFACT_BUCKET: bucket.bucket_name,
                ENVIRONMENT_NAME: environment,
                MONITORING: settings.as_variable(),
            },
            description="Slipway monitor job: captured traffic against each live version's "
            "baseline and evaluation score",
            observability=observability,
            function_name=monitor_function_name(environment),
            dead_letter_queue=self.dead_letter_queue,
        ).function
        grant = self.function.grant_principal
        # captured requests and feedback: listed by prefix, read; bundles by exact version
        iam.Grant.add_to_principal(
            grantee=grant,
            actions=["s3:ListBucket"],
            resource_arns=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{CAPTURE_PREFIX}*", f"{FEEDBACK_PREFIX}*"]}},
        )
        iam.Grant.add_to_principal(
            grantee=grant,
            actions=["s3:GetObject"],
            resource_arns=[
                bucket.arn_for_objects(f"{CAPTURE_PREFIX}*"),
                bucket.arn_for_objects(f"{FEEDBACK_PREFIX}*"),
            ],
        )
        grant_read_objects(bucket, grant)
        iam.Grant.add_to_principal(
            grantee=grant,
            actions=["s3:PutObject"],
            resource_arns=[bucket.arn_for_objects(f"{MONITORING_PREFIX}*")],
        )
        if bucket.encryption_key is not None:
            # a report written under the bucket's key needs a data key (reads decrypt, above)
            bucket.encryption_key.grant(grant, "kms:GenerateDataKey")
        grant_table(table, grant, *MONITOR_TABLE_ACTIONS)
        stack = Stack.of(self)
        # only its own events: a rule matching slipway.monitoring trusts what it receives
        iam.Grant.add_to_principal(
            grantee=grant,
            actions=["events:PutEvents"],
            resource_arns=[default_event_bus_arn(stack)],
            conditions={"StringEquals": {"events:source": EVENT_SOURCE}},
        )
        # The schedule's own role may invoke this function (and send to its dead-letter queue
        # what it could not deliver), nothing else; only this account's schedules may assume
        # it (against the confused deputy).
        self.schedule_role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description=f"Slipway {environment}: EventBridge Scheduler runs the monitor job",
        )
        self.schedule_role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]
            )
        )
        self.dead_letter_queue.grant_send_messages(self.schedule_role)
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            description=f"Slipway {environment}: the monitor job, {settings.schedule}",
            schedule_expression=settings.schedule,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.function.function_arn,
                role_arn=self.schedule_role.role_arn,
                input=json.dumps(SCHEDULED_INPUT),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                    arn=self.dead_letter_queue.queue_arn
                ),
                # a run judges the whole window again: a retry is harmless, a late one useless
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=2
                ),
            ),
        )
