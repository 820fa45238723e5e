"""The monitor job's function, its schedule and its alarms, per environment.

moto's CloudFormation skips ``AWS::Scheduler::Schedule`` (and alarms), so the schedule's
shape, its role and the alarms are template assertions here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

from infra.monitor_job import MONITOR_HANDLER, SCHEDULED_INPUT, monitor_function_name
from registry.monitoring_settings import MONITORING, MonitoringSettings

CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
ENVIRONMENTS = ["local", "dev", "staging", "prod"]


def settings_of(env: str) -> MonitoringSettings:
    return MonitoringSettings.model_validate(CONTEXT["environments"][env].get("monitoring", {}))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_job_runs_on_the_environments_schedule_with_the_scheduled_time(synthesized, env):
    template = synthesized(env).template
    settings = settings_of(env)
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": settings.schedule,
            "ScheduleExpressionTimezone": "UTC",
            "State": "ENABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": {
                    "Fn::GetAtt": [Match.string_like_regexp("MonitorJobRuntimeFunction"), "Arn"]
                },
                "RoleArn": {
                    "Fn::GetAtt": [Match.string_like_regexp("MonitorJobScheduleRole"), "Arn"]
                },
                # EventBridge Scheduler fills in the run's time: a retried run judges the
                # same window, and overwrites the same report
                "Input": json.dumps(SCHEDULED_INPUT),
                "RetryPolicy": Match.object_like({"MaximumRetryAttempts": 2}),
                "DeadLetterConfig": {
                    "Arn": {
                        "Fn::GetAtt": [Match.string_like_regexp("MonitorJobDeadLetterQueue"), "Arn"]
                    }
                },
            },
        },
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_schedules_role_may_invoke_the_job_and_nothing_else(synthesized, env):
    template = synthesized(env).template_json
    roles = {
        k: v
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::IAM::Role" and k.startswith("MonitorJobScheduleRole")
    }
    ((role_id, role),) = roles.items()
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    statements = [
        s
        for v in template["Resources"].values()
        if v["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in v["Properties"]["Roles"]
        for s in v["Properties"]["PolicyDocument"]["Statement"]
    ]
    (invoke,) = [st for st in statements if st["Action"] == "lambda:InvokeFunction"]
    target, attribute = invoke["Resource"]["Fn::GetAtt"]
    assert target.startswith("MonitorJobRuntimeFunction") and attribute == "Arn"
    # and what it could not deliver goes to the job's dead-letter queue, nothing else
    (others,) = [st for st in statements if st is not invoke]
    assert "sqs:SendMessage" in json.dumps(others["Action"])
    assert others["Resource"]["Fn::GetAtt"][0].startswith("MonitorJobDeadLetterQueue")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_job_is_named_for_the_cli_and_gets_the_environments_settings(synthesized, env):
    synthesized_env = synthesized(env)
    synthesized_env.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": monitor_function_name(env),
            "Timeout": 900,
            "Environment": {
                "Variables": Match.object_like(
                    {
                        MONITORING: settings_of(env).as_variable(),
                        "SLIPWAY_ENVIRONMENT": env,
                        "SLIPWAY_ARTIFACT_BUCKET": Match.any_value(),
                        "SLIPWAY_TABLE_NAME": Match.any_value(),
                    }
                )
            },
        },
    )
    outputs = synthesized_env.template_json["Outputs"]
    assert outputs["MonitorFunctionName"]["Value"]["Ref"].startswith("MonitorJobRuntimeFunction")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_run_that_fails_after_lambdas_retries_waits_in_the_jobs_dead_letter_queue(
    synthesized, env
):
    # the schedule invokes asynchronously: Lambda retries twice, then gives up to the DLQ
    synthesized(env).template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": monitor_function_name(env),
            "DeadLetterConfig": {
                "TargetArn": {
                    "Fn::GetAtt": [Match.string_like_regexp("MonitorJobDeadLetterQueue"), "Arn"]
                }
            },
        },
    )


def test_embedded_environments_run_the_job_from_the_runtime_zip(synthesized):
    synthesized("local").template.has_resource_properties(
        "AWS::Lambda::Function",
        {"FunctionName": monitor_function_name("local"), "Handler": MONITOR_HANDLER},
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_job_reads_captures_feedback_and_bundles_and_writes_only_reports(synthesized, env):
    template = synthesized(env).template_json
    (function,) = [
        v
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and k.startswith("MonitorJobRuntimeFunction")
    ]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for v in template["Resources"].values()
        if v["Type"] == "AWS::IAM::Policy" and {"Ref": role} in v["Properties"]["Roles"]
        for s in v["Properties"]["PolicyDocument"]["Statement"]
    ]

    def on(action: str) -> str:
        return json.dumps([s["Resource"] for s in statements if action in json.dumps(s["Action"])])

    assert '"/capture/*"' in on("s3:GetObject") and '"/feedback/*"' in on("s3:GetObject")
    assert '"/models/*"' in on("s3:GetObjectVersion")
    assert '"/monitoring/*"' in on("s3:PutObject") and "/models/" not in on("s3:PutObject")
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["capture/*", "feedback/*"]}}
    (events,) = [s for s in statements if s["Action"] == "events:PutEvents"]
    assert ":event-bus/default" in json.dumps(events["Resource"])
    assert events["Condition"] == {"StringEquals": {"events:source": "slipway.monitoring"}}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_drift_and_quality_counts_alarm_on_the_environments_topic(synthesized, env):
    template = synthesized(env).template
    for metric in ("VersionsDrifting", "VersionsDegraded", "MonitorFailures"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "Slipway",
                "MetricName": metric,
                "Dimensions": [{"Name": "environment", "Value": env}],
                "Statistic": "Maximum",
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                # a quiet period keeps what the last run found
                "TreatMissingData": "ignore",
                "AlarmActions": [{"Ref": Match.string_like_regexp("MonitoringAlarmTopic")}],
            },
        )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pushers_and_approvers_may_run_the_job_and_callers_may_not(synthesized, env):
    # slipway monitor run invokes the job directly (it has no URL), by its fixed name
    template = synthesized(env).template_json
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::ManagedPolicy":
            continue
        duty = resource["Properties"]["ManagedPolicyName"].rsplit("-", 1)[1]
        statements = resource["Properties"]["PolicyDocument"]["Statement"]
        runs = [s for s in statements if s.get("Sid") == "RunMonitor"]
        if duty in ("pusher", "approver"):
            (run,) = runs
            assert run["Action"] == "lambda:InvokeFunction" and "Condition" not in run
            assert f"function:{monitor_function_name(env)}" in json.dumps(run["Resource"])
        else:
            assert runs == [], duty
