"""Alarms and the dashboard: what an on-call engineer is paged for, per environment."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
ENVIRONMENTS = ["local", "dev", "staging", "prod"]


def alarms(template: dict) -> dict[str, dict]:
    return {
        k: v["Properties"]
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::CloudWatch::Alarm"
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_alarm_pages_the_environments_topic(synthesized, env):
    template = synthesized(env).template_json
    found = alarms(template)
    endpoints = [e["name"] for e in CONTEXT["environments"][env]["endpoints"]]
    # four per endpoint, plus three DLQ depths (uploads, ended executions, monitor runs),
    # failed and timed-out promotions, the canary, and the monitor job's drift, quality and
    # failure counts
    assert len(found) == 4 * len(endpoints) + 9
    dead_letters = [k for k in found if "DeadLetters" in k]
    assert {k.split("DeadLetters")[0] for k in dead_letters} == {
        "MonitoringIngest",
        "MonitoringExecutionEnded",
        "MonitoringMonitorJob",
    }
    for properties in found.values():
        (action,) = properties["AlarmActions"]
        assert action["Ref"].startswith("MonitoringAlarmTopic")
        # the monitor job's alarms keep their state between runs (tests/infra/test_monitor_job.py)
        monitor = properties.get("MetricName") in (
            "VersionsDrifting",
            "VersionsDegraded",
            "MonitorFailures",
        )
        assert properties["TreatMissingData"] == ("ignore" if monitor else "notBreaching")
    assert template["Outputs"]["AlarmTopicArn"]["Value"]["Ref"].startswith("MonitoringAlarmTopic")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_p99_duration_alarms_fire_before_the_timeout(synthesized, env):
    found = alarms(synthesized(env).template_json)
    for endpoint in CONTEXT["environments"][env]["endpoints"]:
        (p99,) = [
            p
            for k, p in found.items()
            if k.startswith(f"MonitoringEndpoint{endpoint['name']}P99Duration")
        ]
        assert p99["ExtendedStatistic"] == "p99"
        assert p99["Threshold"] == 0.8 * endpoint["timeout_seconds"] * 1000


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_dashboard_shows_models_promotions_and_dead_letters(synthesized, env):
    template = synthesized(env).template_json
    (dashboard,) = [
        v for v in template["Resources"].values() if v["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for expected in (
        "SEARCH",
        "Invocations",
        "Latency",
        "Errors",
        "Promotions",
        "Rejections",
        "Rollbacks",
        "ApproximateNumberOfMessagesVisible",
    ):
        assert expected in body, expected


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cloudwatch_may_publish_to_the_alarm_topic_only_for_this_accounts_alarms(synthesized, env):
    # an SNS topic with a policy of its own (enforce_ssl makes one) loses SNS's default
    # policy: unless the policy lets CloudWatch publish, no alarm ever reaches anyone
    resources = synthesized(env).template_json["Resources"]
    (policy,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SNS::TopicPolicy"
        and r["Properties"]["Topics"][0]["Ref"].startswith("MonitoringAlarmTopic")
    ]
    statements = policy["PolicyDocument"]["Statement"]
    (publish,) = [
        s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert publish["Effect"] == "Allow" and publish["Action"] == "sns:Publish"
    assert publish["Resource"]["Ref"].startswith("MonitoringAlarmTopic")
    account, region = (
        CONTEXT["environments"][env]["account"],
        CONTEXT["environments"][env]["region"],
    )
    source = json.dumps(publish["Condition"]["ArnLike"]["aws:SourceArn"])
    assert f":cloudwatch:{region}:{account}:alarm:*" in source
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    # and the TLS-only deny is still there
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s) for s in statements)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_endpoint_alarms_on_its_own_5xx_answers(synthesized, env):
    # GIVEN the endpoint contains unexpected exceptions as 500 problems, which Lambda's own
    # Errors metric never counts: the alarm watches the endpoint's per-function EMF series,
    # a plain metric (no SEARCH expression: CloudWatch alarms cannot use one)
    from aws_cdk.assertions import Match

    template = synthesized(env).template
    endpoints = CONTEXT["environments"][env]["endpoints"]
    server_errors = {
        "Namespace": "Slipway",
        "MetricName": "Errors",
        "Dimensions": [{"Name": "function_name", "Value": Match.any_value()}],
        "Statistic": "Sum",
        "Period": 300,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": Match.string_like_regexp("^MonitoringAlarmTopic")}],
    }
    template.resource_properties_count_is("AWS::CloudWatch::Alarm", server_errors, len(endpoints))
    # AND each names its endpoint's function (the name Lambda's context gives the app), the
    # same function whose Lambda metrics the endpoint's other alarms watch
    found = alarms(synthesized(env).template_json)
    for endpoint in endpoints:
        name = endpoint["name"]
        (server_errors,) = [p for k, p in found.items() if f"Endpoint{name}ServerErrors" in k]
        (lambda_errors,) = [p for k, p in found.items() if f"Endpoint{name}Errors" in k]
        (dimension,) = server_errors["Dimensions"]
        (function,) = lambda_errors["Dimensions"]
        assert function["Name"] == "FunctionName"
        assert dimension["Value"] == function["Value"]
        assert "ServingFunction" in json.dumps(dimension["Value"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_writes_reads_and_charts_its_own_endpoint_metrics(synthesized, env):
    """Environments may share an account and region: every per-version series carries the
    environment's name, so one's canary and dashboard never count another's requests."""
    from aws_cdk.assertions import Match

    template = synthesized(env).template
    endpoints = CONTEXT["environments"][env]["endpoints"]
    # GIVEN every endpoint's serving and candidate function (the smoke test runs the
    # serving app there too) writes its metrics under the environment's name
    for role in ("live", "candidate"):
        named = {"SLIPWAY_SERVING_ROLE": role, "SLIPWAY_ENVIRONMENT": env}
        template.resource_properties_count_is(
            "AWS::Lambda::Function",
            {"Environment": {"Variables": Match.object_like(named)}},
            len(endpoints),
        )
    # AND the canary check reads by it, and the functions that count promotions,
    # rejections and rollbacks count under it
    for handler in (
        "functions.canary.handler.check",
        "functions.promote.handler.handler",
        "functions.record_failure.handler.handler",
        "functions.registry_api.handler.handler",
    ):
        template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": handler,
                "Environment": {"Variables": Match.object_like({"SLIPWAY_ENVIRONMENT": env})},
            },
        )
    # AND no function anywhere names another environment
    functions = [
        v["Properties"]
        for v in synthesized(env).template_json["Resources"].values()
        if v["Type"] == "AWS::Lambda::Function"
    ]
    names = {
        f.get("Environment", {}).get("Variables", {}).get("SLIPWAY_ENVIRONMENT") for f in functions
    }
    assert names <= {env, None}
    # THEN the dashboard's per-version charts search this environment's series only: the
    # schema is the live series' exact dimension set, the environment an exact match
    (dashboard,) = [
        v
        for v in synthesized(env).template_json["Resources"].values()
        if v["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body = rendered_body(dashboard["Properties"]["DashboardBody"])
    searches = [
        json.loads(f'"{found}"')  # as the body's JSON string holds it
        for found in re.findall(r'"expression":"((?:[^"\\]|\\.)*)"', body)
    ]
    assert len(searches) == 3
    for search in searches:
        assert search.startswith(
            f'SEARCH(\'{{Slipway,model,version,environment}} environment="{env}" MetricName='
        ), search
    # AND its promotion counts are this environment's
    for metric in ("Promotions", "Rejections", "Rollbacks"):
        charted = f'["Slipway","{metric}","environment","{env}"'
        assert charted in body, metric


def rendered_body(body: object) -> str:
    """The dashboard body as CloudWatch receives it (CDK joins it from parts with tokens)."""
    if isinstance(body, str):
        return body
    (separator, parts) = body["Fn::Join"]  # type: ignore[index]
    return separator.join(p if isinstance(p, str) else "TOKEN" for p in parts)
