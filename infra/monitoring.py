"""Monitoring: one alarm topic per environment, the alarms an on-call engineer needs, and a
dashboard of models and promotions built from the endpoints' embedded-metric-format data."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from registry.metrics import NAMESPACE, Dimension, Metric

FIVE_MINUTES = Duration.minutes(5)


def endpoint_server_errors(function: lambda_.IFunction) -> cloudwatch.Metric:
    """The 5xx answers of one endpoint function, all models together: the second dimension
    set of the endpoint's per-request EMF line, a metric of its own, so alarms may use it
    (an alarm cannot use a SEARCH expression over the per-version series)."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=Metric.ERRORS,
        dimensions_map={Dimension.FUNCTION_NAME: function.function_name},
        statistic="Sum",
        period=FIVE_MINUTES,
    )


def monitor_count(environment: str, metric: Metric) -> cloudwatch.Metric:
    """A count the monitor job writes once a run, for the whole environment (versions
    drifting, versions whose live metric dropped)."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=metric,
        dimensions_map={Dimension.ENVIRONMENT: environment},
        statistic="Maximum",
        period=FIVE_MINUTES,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: str,
        endpoints: dict[str, lambda_.Function],
        endpoint_timeouts_ms: dict[str, int],
        state_machine: sfn.StateMachine,
        # each dead-letter queue by a name for its alarm: what failed five times waits there
        dead_letter_queues: dict[str, sqs.IQueue],
        canary_check: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, id_)
        self.alarm_topic = sns.Topic(
            self, "AlarmTopic", display_name=f"Slipway {environment} alarms", enforce_ssl=True
        )
        # enforce_ssl gives the topic a policy of its own, which replaces SNS's default one
        # (publish allowed to the account's own sources): without this statement every alarm
        # action fails with "not authorized to perform: SNS:Publish". Scoped to this
        # account's alarms, against the confused deputy.
        stack = Stack.of(self)
        self.alarm_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.alarm_topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:"
                        f"{stack.account}:alarm:*"
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        self.alarms: list[cloudwatch.Alarm] = []
        for name, function in endpoints.items():
            self._alarm(
                f"Endpoint-{name}-Errors",
                function.metric_errors(period=FIVE_MINUTES),
                1,
                f"endpoint {name} returned function errors",
            )
            # The endpoint's own count of 5xx answers (model_runtime/serving/metrics.py): an
            # exception the app contains as a 500 problem is no Lambda error, so the alarm
            # above never sees it. Every request counts here, a model answered or not.
            self._alarm(
                f"Endpoint-{name}-ServerErrors",
                endpoint_server_errors(function),
                1,
                f"endpoint {name} answered with 5xx errors (its log lines say which: "
                "status >= 500)",
            )
            self._alarm(
                f"Endpoint-{name}-Throttles",
                function.metric_throttles(period=FIVE_MINUTES),
                1,
                f"endpoint {name} was throttled",
            )
            self._alarm(
                f"Endpoint-{name}-P99Duration",
                function.metric_duration(period=FIVE_MINUTES, statistic="p99"),
                0.8 * endpoint_timeouts_ms[name],
                f"endpoint {name} p99 duration is over 80% of its timeout",
            )
        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
                1,
                f"events wait in the {name} dead-letter queue (slipway dlq list)",
            )
        self._alarm(
            "PromotionsFailed",
            state_machine.metric_failed(period=FIVE_MINUTES),
            1,
            "a promotion was rejected or failed",
        )
        self._alarm(
            "PromotionsTimedOut",
            state_machine.metric_timed_out(period=FIVE_MINUTES),
            1,
            "a promotion timed out",
        )
        self._alarm(
            "CanaryFailed",
            canary_check.metric_errors(period=FIVE_MINUTES),
            1,
            "a canary failed its check and was rolled back",
        )
        # The monitor job's verdicts. A run writes its counts once (zero included), and a
        # period without a run keeps the alarm as it is: the alarm says what the last run found,
        # and goes back to OK when a run finds nothing, not when the next period is quiet.
        for metric, what in (
            (Metric.VERSIONS_DRIFTING, "drift against their baseline"),
            (Metric.VERSIONS_DEGRADED, "a live metric below their evaluation score"),
            (Metric.MONITOR_FAILURES, "no report, for a failure (its log names it)"),
        ):
            self._alarm(
                f"Monitor{metric}",
                monitor_count(environment, metric),
                1,
                f"the monitor job found model versions with {what} (slipway monitor NAME; "
                "docs/monitoring.md)",
                treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
            )
        self.dashboard = self._dashboard(environment, state_machine, dead_letter_queues, endpoints)

    def _alarm(
        self,
        id_: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        treat_missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> None:
        alarm = metric.create_alarm(
            self,
            id_,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=treat_missing_data,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.alarm_topic))
        self.alarms.append(alarm)

    def _dashboard(
        self,
        environment: str,
        state_machine: sfn.StateMachine,
        dead_letters: dict[str, sqs.IQueue],
        endpoints: dict[str, lambda_.Function],
    ) -> cloudwatch.Dashboard:
        def per_model(metric: Metric, statistic: str, label: str) -> cloudwatch.GraphWidget:
            # SEARCH finds every (model, version) this environment's endpoints reported,
            # however many: the schema is the live series' exact dimension set, and the
            # quoted environment an exact match (another environment in the account and
            # region reports the same model versions under its own name)
            search = cloudwatch.MathExpression(
                expression=(
                    f"SEARCH('{{{NAMESPACE},{Dimension.MODEL},{Dimension.VERSION},"
                    f'{Dimension.ENVIRONMENT}}} {Dimension.ENVIRONMENT}="{environment}" '
                    f"MetricName=\"{metric}\"', '{statistic}', 300)"
                ),
                using_metrics={},
                label=label,
                period=FIVE_MINUTES,
            )
            return cloudwatch.GraphWidget(title=label, left=[search], width=8)

        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"slipway-{environment}")
        dashboard.add_widgets(
            per_model(Metric.INVOCATIONS, "Sum", "Invocations per model version"),
            per_model(Metric.ERRORS, "Sum", "Errors per model version"),
            per_model(Metric.LATENCY, "p99", "p99 latency (ms) per model version"),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Promotions",
                left=[
                    state_machine.metric_started(label="started", period=FIVE_MINUTES),
                    state_machine.metric_succeeded(label="succeeded", period=FIVE_MINUTES),
                    state_machine.metric_failed(label="rejected or failed", period=FIVE_MINUTES),
                    *(
                        cloudwatch.Metric(
                            namespace=NAMESPACE,
                            metric_name=metric,
                            dimensions_map={Dimension.ENVIRONMENT: environment},
                            statistic="Sum",
                            period=FIVE_MINUTES,
                            label=label,
                        )
                        for metric, label in (
                            (Metric.PROMOTIONS, "went live"),
                            (Metric.REJECTIONS, "rejected by the gate"),
                            (Metric.ROLLBACKS, "rolled back"),
                        )
                    ),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="5xx answers per endpoint",
                left=[
                    endpoint_server_errors(function).with_(label=name)
                    for name, function in endpoints.items()
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queue depth",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES, label=name
                    )
                    for name, queue in dead_letters.items()
                ],
                width=8,
            ),
        )
        return dashboard
