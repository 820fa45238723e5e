"""An EventBridge rule whose events wait in an SQS queue (with a dead-letter queue) for a
Lambda function that reports, per record, which ones failed.

The queue absorbs bursts and keeps every event until the function has handled it; after
five failed receives a message waits in the DLQ (``slipway``'s operators redrive it), not
lost. Events the queue cannot take (a deleted queue, a missing permission) wait there too.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.code_assets import ControlPlaneCode
from infra.nag_suppressions import DEAD_LETTER_QUEUE, suppress_on_resource
from infra.observability_defaults import PYTHON_RUNTIME, Observability

MAX_RECEIVES = 5
FUNCTION_TIMEOUT = Duration.seconds(30)


@dataclass(frozen=True)
class QueuedRule:
    rule: events.Rule
    queue: sqs.Queue
    dead_letter_queue: sqs.Queue
    function: lambda_.Function


def queued_rule(
    scope: Construct,
    *,
    rule_id: str,
    rule_description: str,
    event_pattern: events.EventPattern,
    handler: str,
    function_description: str,
    environment: dict[str, str],
    observability: Observability,
    control_plane_code: ControlPlaneCode,
    max_concurrency: int | None = None,
) -> QueuedRule:
    """The rule, queues and function, made as children of ``scope`` (ids DeadLetterQueue,
    Queue, ``rule_id`` and Function)."""
    dead_letter_queue = sqs.Queue(
        scope,
        "DeadLetterQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    suppress_on_resource(dead_letter_queue, *DEAD_LETTER_QUEUE)
    queue = sqs.Queue(
        scope,
        "Queue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        # six times the function's timeout, as Lambda advises for an SQS event source
        visibility_timeout=Duration.seconds(FUNCTION_TIMEOUT.to_seconds() * 6),
        dead_letter_queue=sqs.DeadLetterQueue(
            max_receive_count=MAX_RECEIVES, queue=dead_letter_queue
        ),
    )
    rule = events.Rule(
        scope,
        rule_id,
        description=rule_description,
        event_pattern=event_pattern,
        targets=[targets.SqsQueue(queue, dead_letter_queue=dead_letter_queue)],
    )
    function = lambda_.Function(
        scope,
        "Function",
        runtime=PYTHON_RUNTIME,
        handler=handler,
        code=control_plane_code.code,
        layers=[control_plane_code.dependencies],
        timeout=FUNCTION_TIMEOUT,
        memory_size=256,
        description=function_description,
        environment=environment,
        **observability.function_props(scope, "Function"),
    )
    function.add_event_source(
        # max_concurrency caps the event source, not the function: reserving concurrency
        # instead would fail the deploy on an account whose quota is still 10 (Lambda keeps
        # 10 unreserved), and an SQS source ignores reserved concurrency when it scales
        sources.SqsEventSource(
            queue, batch_size=10, report_batch_item_failures=True, max_concurrency=max_concurrency
        )
    )
    return QueuedRule(rule, queue, dead_letter_queue, function)
