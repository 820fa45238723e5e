"""Properties of the synthesized templates, for the embedded (local) and AWS (dev, prod) targets."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ["local", "dev", "staging", "prod"]


def resources(template_json: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template_json["Resources"].items() if v["Type"] == kind}


def state_machine_definition(template_json: dict[str, Any]) -> dict[str, Any]:
    """The ASL document, with CloudFormation tokens replaced by placeholders."""
    (machine,) = resources(template_json, "AWS::StepFunctions::StateMachine").values()
    definition = machine["Properties"]["DefinitionString"]
    if isinstance(definition, dict):
        _, parts = definition["Fn::Join"]
        definition = "".join(part if isinstance(part, str) else "TOKEN" for part in parts)
    return json.loads(definition)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_artifact_bucket_is_versioned_private_encrypted_and_tls_only(synthesized, env):
    template = synthesized(env).template
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": Match.object_like(
                {"ServerSideEncryptionConfiguration": Match.any_value()}
            ),
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )
    # EventBridge delivery must not depend on a Lambda-backed custom resource.
    template.resource_count_is("Custom::S3BucketNotifications", 0)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_lineage_table_is_on_demand_with_point_in_time_recovery(synthesized, env):
    synthesized(env).template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_prod_retains_its_data_and_local_does_not(synthesized):
    prod = synthesized("prod").template
    prod.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain"})
    prod.has_resource_properties("AWS::DynamoDB::Table", {"DeletionProtectionEnabled": True})
    prod.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})
    synthesized("local").template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Delete"})


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_uploads_reach_the_ingest_function_through_a_queue_with_a_dead_letter_queue(
    synthesized, env
):
    template = synthesized(env).template
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [Match.any_value()]},
                    "object": {"key": [{"prefix": "models/"}]},
                },
            },
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {
                            "Fn::GetAtt": [Match.string_like_regexp("IngestPipelineQueue"), "Arn"]
                        }
                    }
                )
            ],
        },
    )
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": 5},
            "SqsManagedSseEnabled": True,
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": 10},
    )


def happy_path(states: dict[str, Any], start: str) -> list[str]:
    """State names from ``start`` following Next, and each Choice's Default."""
    path, name = [], start
    while name:
        path.append(name)
        state = states[name]
        name = state.get("Next") or state.get("Default")
    return path


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_promotion_workflow_gates_every_step_and_records_failures(synthesized, env):
    synthesized(env).template.has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"StateMachineType": "STANDARD"}
    )
    definition = state_machine_definition(synthesized(env).template_json)
    states = definition["States"]
    assert happy_path(states, definition["StartAt"]) == [
        "Validate",
        "Register",
        "NewVersion?",
        "AcquireLock",
        "Evaluate",
        "Stage",
        "SmokeTest",
        "ApprovalPolicy",
        "AutoApprove",
        "CanaryPolicy",
        "Promote",
        "ReleaseLock",
        "Live",
    ]
    assert states["NewVersion?"]["Choices"][0]["Next"] == "AlreadyRegistered"
    assert states["Rejected"] == {
        "Type": "Fail",
        "Error": "PromotionRejected",
        "CausePath": "$.failure.reason",
    }
    assert happy_path(states, "RecordFailure") == ["RecordFailure", "Rejected"]
    tasks = [n for n, s in states.items() if s["Type"] == "Task" and n != "RecordFailure"]
    for name in tasks:
        catches = states[name]["Catch"]
        assert catches[-1] == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Next": "RecordFailure",
        }, name
        transient = states[name].get("Retry", [{}])[0]
        if name != "WaitForApproval":
            assert "Lambda.ServiceException" in transient["ErrorEquals"]
        assert all("States.ALL" not in r["ErrorEquals"] for r in states[name].get("Retry", []))
    # a second promotion of the same model waits for the lock, then fails clearly
    lock_retry = states["AcquireLock"]["Retry"][-1]
    assert lock_retry["ErrorEquals"] == ["PromotionLockedError"]
    assert lock_retry["MaxAttempts"] * lock_retry["IntervalSeconds"] >= 60


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_manual_approval_waits_for_a_task_token_with_a_timeout(synthesized, env):
    states = state_machine_definition(synthesized(env).template_json)["States"]
    manual = states["ApprovalPolicy"]["Choices"][0]
    assert manual["StringEquals"] == "manual" and manual["Next"] == "WaitForApproval"
    wait = states["WaitForApproval"]
    assert wait["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert wait["TimeoutSeconds"] > 0
    assert wait["Catch"][0] == {
        "ErrorEquals": ["States.Timeout"],
        "ResultPath": "$.error",
        "Next": "ApprovalTimedOut",
    }
    assert states["ApprovalTimedOut"]["Next"] == "RecordFailure"
    assert wait["Next"] == "CanaryPolicy"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_canary_bakes_then_is_checked_before_promotion(synthesized, env):
    states = state_machine_definition(synthesized(env).template_json)["States"]
    (canary,) = states["CanaryPolicy"]["Choices"]
    assert canary["Variable"] == "$.staged.canary.share"
    assert canary["NumericGreaterThan"] == 0
    assert happy_path(states, canary["Next"]) == [
        "StartCanary",
        "BakeCanary",
        "CheckCanary",
        "Promote",
        "ReleaseLock",
        "Live",
    ]
    assert states["BakeCanary"] == {
        "Type": "Wait",
        "SecondsPath": "$.staged.canary.bake_seconds",
        "Next": "CheckCanary",
    }
    assert states["CheckCanary"]["Catch"][-1]["Next"] == "RecordFailure"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_endpoint_requires_iam_auth(synthesized, env):
    template_json = synthesized(env).template_json
    urls = resources(template_json, "AWS::Lambda::Url")
    assert urls, "an endpoint has no Function URL"
    assert {url["Properties"]["AuthType"] for url in urls.values()} == {"AWS_IAM"}


def test_prod_declares_a_dedicated_endpoint_next_to_the_default(synthesized):
    outputs = synthesized("prod").template_json["Outputs"]
    assert {"EndpointUrlDefault", "EndpointUrlFraud"} <= set(outputs)


def test_embedded_target_ships_zips_and_aws_targets_ship_the_runtime_image(synthesized):
    local = resources(synthesized("local").template_json, "AWS::Lambda::Function")
    assert {f["Properties"].get("PackageType", "Zip") for f in local.values()} == {"Zip"}
    dev = resources(synthesized("dev").template_json, "AWS::Lambda::Function")
    images = [f for f in dev.values() if f["Properties"].get("PackageType") == "Image"]
    # the model-touching steps and the endpoint run in the same runtime image
    commands = sorted(f["Properties"]["ImageConfig"]["Command"][0] for f in images)
    assert commands == [
        "functions.registry_api.handler.handler",
        "model_runtime.jobs.evaluate.handler",
        "model_runtime.jobs.smoke_test.handler",
        "model_runtime.jobs.validate.handler",
        "model_runtime.serving.handler.handler",
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_stack_outputs_tell_the_cli_where_things_are(synthesized, env):
    outputs = synthesized(env).template_json["Outputs"]
    assert {
        "ArtifactBucketName",
        "LineageTableName",
        "StateMachineArn",
        "EndpointUrlDefault",
        "RegistryUrl",
        "ApprovalTopicArn",
    } <= set(outputs)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_iam_statement_allows_every_action(synthesized, env):
    for policy in resources(synthesized(env).template_json, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert "*" not in actions


def test_runtime_code_never_imports_the_cdk():
    for package in ("functions", "model_runtime"):
        for source in (REPO_ROOT / package).rglob("*.py"):
            tree = ast.parse(source.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                bad = [n for n in names if n.split(".")[0] in ("aws_cdk", "constructs", "infra")]
                assert not bad, f"{source} imports {bad}"


def test_the_table_declared_for_cloudformation_has_the_repositorys_key_schema(synthesized):
    from functions.lineage.keys import create_table_request

    request = create_table_request("any")
    (table,) = resources(synthesized("local").template_json, "AWS::DynamoDB::Table").values()
    properties = table["Properties"]
    assert properties["KeySchema"] == request["KeySchema"]
    assert sorted(properties["AttributeDefinitions"], key=str) == sorted(
        request["AttributeDefinitions"], key=str
    )
    (index,) = properties["GlobalSecondaryIndexes"]
    (expected,) = request["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["KeySchema"]) == (
        expected["IndexName"],
        expected["KeySchema"],
    )


def test_a_dedicated_endpoint_gets_its_own_size_concurrency_and_models(synthesized):
    template = synthesized("prod").template
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "MemorySize": 4096,
            "Timeout": 10,
            "Architectures": ["arm64"],
            "ReservedConcurrentExecutions": 50,
            "Environment": {
                "Variables": Match.object_like({"SLIPWAY_SERVED_MODELS": "fraud-score"})
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Alias",
        {"Name": "live", "ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": 5}},
    )
    template.has_resource_properties(
        "AWS::Lambda::Url",
        {"AuthType": "AWS_IAM", "Qualifier": "live"},
    )


def test_stacks_that_retain_data_are_termination_protected(synthesized):
    import aws_cdk  # noqa: F401  (the manifest records termination protection)

    for env, protected in (("prod", True), ("local", False)):
        manifest = json.loads((synthesized(env).outdir / "manifest.json").read_text())
        for part in ("data", "serving", "workflow", "monitoring"):
            properties = manifest["artifacts"][f"slipway-{env}-{part}"]["properties"]
            assert bool(properties.get("terminationProtection")) is protected, (env, part)
