"""Data capture in the templates: what moto cannot hold Slipway to.

The embedded cloud delivers captured lines for real (tests/workflow), but AWS rules it does
not enforce are asserted here: at most two subscription filters per log group, Firehose's
role limited to its own prefixes, SSE on the streams, the bucket's expiry of captured data.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from registry.monitoring_settings import MONITORING

pytestmark = pytest.mark.infra
ENVIRONMENTS = ("local", "dev", "staging", "prod")


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_kind_of_line_has_a_firehose_stream_into_its_prefix(synthesized, env):
    template = synthesized(env).template_json
    streams = resources(template, "AWS::KinesisFirehose::DeliveryStream")
    prefixes = sorted(s["ExtendedS3DestinationConfiguration"]["Prefix"] for s in streams.values())
    assert prefixes == ["capture/", "feedback/"]
    for stream in streams.values():
        destination = stream["ExtendedS3DestinationConfiguration"]
        assert stream["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}
        assert destination["CompressionFormat"] == "GZIP"
        assert destination["ErrorOutputPrefix"] == destination["Prefix"].rstrip("/") + "-errors/"
        processors = destination["ProcessingConfiguration"]["Processors"]
        assert [p["Type"] for p in processors] == [
            "Decompression",
            "CloudWatchLogProcessing",
            "AppendDelimiterToRecord",  # one message a line, as Athena and the reader want
        ]
        assert processors[1]["Parameters"] == [
            {"ParameterName": "DataMessageExtraction", "ParameterValue": "true"}
        ]
        assert destination["CloudWatchLoggingOptions"]["Enabled"] is True


def test_where_a_key_encrypts_the_bucket_firehose_writes_with_it(synthesized):
    synthesized("prod").template.has_resource_properties(
        "AWS::KinesisFirehose::DeliveryStream",
        {
            "ExtendedS3DestinationConfiguration": {
                "EncryptionConfiguration": {
                    "KMSEncryptionConfig": {
                        "AWSKMSKeyARN": Match.any_value(),
                    }
                }
            }
        },
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_live_endpoint_log_group_has_the_two_filters_and_candidates_none(synthesized, env):
    template = synthesized(env).template_json
    filters = resources(template, "AWS::Logs::SubscriptionFilter")
    by_group: dict[str, list[str]] = {}
    for properties in filters.values():
        group = json.dumps(properties["LogGroupName"])
        by_group.setdefault(group, []).append(properties["FilterPattern"])
    assert by_group, "no subscription filter"
    for group, patterns in by_group.items():
        # CloudWatch Logs allows two subscription filters per log group
        assert sorted(patterns) == ['{ $.message = "capture" }', '{ $.message = "feedback" }']
        assert "Candidate" not in group
    assert len(by_group) == len(synthesized_endpoints(synthesized, env))


def synthesized_endpoints(synthesized, env: str) -> list[str]:
    from infra.config import load_environment
    from tests.conftest import CDK_JSON

    context = json.loads(CDK_JSON.read_text())["context"]["environments"]
    return [e.name for e in load_environment(context, env).endpoints]


@pytest.mark.parametrize("env", ("local", "prod"))
def test_firehose_roles_write_only_their_own_prefixes_and_never_delete(synthesized, env):
    template = synthesized(env).template_json
    policies = {
        logical_id: properties
        for logical_id, properties in resources(template, "AWS::IAM::Policy").items()
        if "DeliveryRole" in logical_id
    }
    assert len(policies) == 2
    for logical_id, policy in policies.items():
        prefix = "capture" if "CaptureDeliveryRole" in logical_id else "feedback"
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            assert not any("Delete" in action or action.endswith("*") for action in actions)
            text = json.dumps(statement["Resource"])
            if any(action in actions for action in ("s3:PutObject", "s3:GetObject")):
                assert f"/{prefix}/*" in text and f"/{prefix}-errors/*" in text
                assert "models/" not in text


@pytest.mark.parametrize("env", ("local", "prod"))
def test_captured_data_expires_after_the_environments_retention(synthesized, env):
    from infra.config import load_environment
    from tests.conftest import CDK_JSON

    context = json.loads(CDK_JSON.read_text())["context"]["environments"]
    days = load_environment(context, env).monitoring.capture_retention_days
    buckets = resources(synthesized(env).template_json, "AWS::S3::Bucket")
    rules = [
        rule
        for bucket in buckets.values()
        for rule in bucket.get("LifecycleConfiguration", {}).get("Rules", [])
        if rule.get("Prefix", "").startswith(("capture", "feedback"))
    ]
    assert sorted(rule["Prefix"] for rule in rules) == [
        "capture-errors/",
        "capture/",
        "feedback-errors/",
        "feedback/",
    ]
    for rule in rules:
        assert rule["ExpirationInDays"] == days
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}


def test_live_endpoints_know_the_capture_settings(synthesized):
    template = synthesized("local").template_json
    functions = resources(template, "AWS::Lambda::Function")
    serving = [
        f for f in functions.values() if f.get("Handler") == "model_runtime.serving.handler.handler"
    ]
    assert serving
    for function in serving:
        settings = json.loads(function["Environment"]["Variables"][MONITORING])
        assert settings["capture_rate"] == 1.0  # the local environment captures everything


def test_firehose_settings_are_ones_aws_accepts(synthesized):
    """Rules Firehose enforces at CreateDeliveryStream and moto does not (Firehose developer
    guide: buffering hints; custom prefixes' semantic rules)."""
    template = synthesized("prod").template_json
    for stream in resources(template, "AWS::KinesisFirehose::DeliveryStream").values():
        destination = stream["ExtendedS3DestinationConfiguration"]
        hints = destination["BufferingHints"]
        assert 1 <= hints["SizeInMBs"] <= 128 and 0 <= hints["IntervalInSeconds"] <= 900
        prefix, errors = destination["Prefix"], destination["ErrorOutputPrefix"]
        assert prefix != errors and len(prefix) <= 512 and len(errors) <= 512
        assert "!{firehose:error-output-type}" not in prefix
        # no expression in Prefix (Firehose appends yyyy/MM/dd/HH/, the layout the job
        # reads); an ErrorOutputPrefix with an expression must name the error type
        assert "!{" not in prefix
        assert "!{" not in errors or "!{firehose:error-output-type}" in errors
        # SSE on a DirectPut stream takes an AWS-owned or a customer-managed key
        assert stream["DeliveryStreamType"] == "DirectPut"
        assert stream["DeliveryStreamEncryptionConfigurationInput"]["KeyType"] in (
            "AWS_OWNED_CMK",
            "CUSTOMER_MANAGED_CMK",
        )
