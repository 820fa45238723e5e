"""Security and operations checks on every environment's template: cdk-nag, cfn-lint,
least-privilege policies per function, logging, tracing, retention, encryption."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.config import load_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ["local", "rehearsal", "dev", "staging", "prod"]
CONTEXT = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]["environments"]

GET, PUT, UPDATE, DELETE, QUERY = (
    f"dynamodb:{a}" for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query")
)
OBJECTS = {"s3:GetObject", "s3:GetObjectVersion"}
# What each function's code calls, by construct path; the synthesized policies must hold
# exactly this (X-Ray and the SQS event source's own actions aside).
# ending a turn hands the model's lock to the next in line (registry/promotion_line.py):
# the lock and the line read and written, the holder asked about, the next one's token
# answered (or failed, when it is superseded)
HAND_OVER = {
    GET,
    PUT,
    UPDATE,
    DELETE,
    QUERY,
    "states:DescribeExecution",
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
}
EXPECTED_ACTIONS: dict[str, set[str]] = {
    "PromotionWorkflowValidateFunction": OBJECTS | {GET, PUT, "lambda:InvokeFunction"},
    "PromotionWorkflowEvaluateFunction": OBJECTS | {GET, "lambda:InvokeFunction"},
    # runs python-flavor bundles' own code: no right at all besides its logs and traces
    "PromotionWorkflowPythonSandboxFunction": set(),
    "PromotionWorkflowSmokeTestFunction": {
        "lambda:InvokeFunction",
        "lambda:GetFunctionConfiguration",
        "lambda:UpdateFunctionConfiguration",
        GET,
    },
    "PromotionWorkflowRegisterFunction": {GET, PUT, UPDATE},
    # the declaration and the version read; the received attestation and the audit written
    "PromotionWorkflowVerifyProvenanceFunction": {GET, PUT, UPDATE},
    "PromotionWorkflowAcquireLockFunction": HAND_OVER,
    "PromotionWorkflowReleaseLockFunction": HAND_OVER,
    "PromotionWorkflowStageFunction": {GET, PUT, UPDATE},
    "PromotionWorkflowStartCanaryFunction": {GET, PUT, UPDATE},
    "PromotionWorkflowCheckCanaryFunction": {PUT, "cloudwatch:GetMetricData"},
    # and the attestation of the approval: the record read, the newest 20 kept
    "PromotionWorkflowAutoApproveFunction": {GET, PUT, UPDATE, QUERY, DELETE},
    "PromotionWorkflowWaitForApprovalFunction": {PUT, UPDATE, "sns:Publish"},
    "PromotionWorkflowPromoteFunction": OBJECTS | {GET, PUT, UPDATE, QUERY, DELETE},
    "PromotionWorkflowRecordFailureFunction": HAND_OVER,
    "IngestPipelineFunction": {"states:StartExecution"},
    "ExecutionEndWatchFunction": HAND_OVER,
    "Endpoint": OBJECTS | {GET},  # every endpoint, the default and dedicated ones
    "CandidateEndpoint": OBJECTS | {GET},
    # captured requests and feedback listed and read, bundles by exact version, reports
    # written; models, pointers and versions read, report summaries written; its events
    # (and the newest verdict updated on the model's summary item)
    "MonitorJobRuntimeFunction": OBJECTS
    | {"s3:ListBucket", "s3:PutObject", GET, QUERY, PUT, UPDATE, "events:PutEvents"},
    "RegistryApiFunction": {
        GET,
        QUERY,
        PUT,
        UPDATE,
        DELETE,  # a rollback releases the lock it took and hands it on
        "dynamodb:BatchGetItem",  # a model listing's pointers and newest versions
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:StartExecution",  # a failed version, retried
        # a rollback stops the promotion in flight
        "states:DescribeExecution",
        "states:StopExecution",
        "states:GetExecutionHistory",  # a version's gate, step by step
    },
}
IGNORED_PREFIXES = ("xray:", "sqs:", "kms:")
# CDK's own function that empties buckets when a stack that keeps no data is deleted
# (infra/artifact_store.py); it runs only then, and its code is CDK's
CDK_PROVIDERS = ("CustomS3AutoDeleteObjectsCustomResourceProvider",)


def slipway_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: v
        for k, v in resources(template, "AWS::Lambda::Function").items()
        if not k.startswith(CDK_PROVIDERS)
    }


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cdk_nag_aws_solutions_and_serverless_find_nothing_unsuppressed(synthesized, env):
    assert synthesized(env).nag_findings == []


def test_cfn_lint_finds_nothing_in_any_environment(synthesized):
    templates = [
        str(t) for env in ENVIRONMENTS for t in synthesized(env).outdir.glob("*.template.json")
    ]
    assert len(templates) == 4 * len(ENVIRONMENTS)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), *templates],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def policy_actions(template: dict[str, Any]) -> dict[str, set[str]]:
    """Actions of each role's inline policies, by the logical id of the role."""
    by_role: dict[str, set[str]] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        actions = set()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            listed = statement["Action"]
            actions |= set(listed if isinstance(listed, list) else [listed])
        for role in policy["Properties"]["Roles"]:
            by_role.setdefault(role["Ref"], set()).update(actions)
    return by_role


RENEW_CANDIDATES = {"lambda:GetFunctionConfiguration", "lambda:UpdateFunctionConfiguration"}


def expected_actions(function: str, env: str) -> set[str]:
    """What a function's code calls in ``env``: SmokeTest renews candidate functions only
    where an endpoint allows python, for only those ever run a bundle's own code."""
    python = any(e.allow_python for e in load_environment(CONTEXT, env).endpoints)
    if function == "PromotionWorkflowSmokeTestFunction" and not python:
        return EXPECTED_ACTIONS[function] - RENEW_CANDIDATES
    return EXPECTED_ACTIONS[function]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_function_role_holds_exactly_what_its_code_calls(synthesized, env):
    template = synthesized(env).template_json
    roles = policy_actions(template)
    functions = slipway_functions(template)
    checked = set()
    for logical_id, function in functions.items():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        match = [name for name in EXPECTED_ACTIONS if logical_id.startswith(name)]
        assert len(match) == 1, f"no declared actions for {logical_id}"
        granted = {a for a in roles.get(role, set()) if not a.startswith(IGNORED_PREFIXES)}
        assert granted == expected_actions(match[0], env), logical_id
        checked.add(match[0])
    assert checked == set(EXPECTED_ACTIONS)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_validate_and_evaluate_may_run_bundle_code_in_the_sandbox(synthesized, env):
    template = synthesized(env).template_json
    (sandbox,) = [k for k in resources(template, "AWS::Lambda::Function") if "PythonSandbox" in k]
    callers = set()
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if sandbox in json.dumps(statement.get("Resource")):
                callers |= {role["Ref"] for role in policy["Properties"]["Roles"]}
    validate_and_evaluate = {
        function["Properties"]["Role"]["Fn::GetAtt"][0]
        for k, function in resources(template, "AWS::Lambda::Function").items()
        if k.startswith(("PromotionWorkflowValidate", "PromotionWorkflowEvaluate"))
    }
    assert callers == validate_and_evaluate and len(callers) == 2
    # and no resource policy lets anyone else (a Function URL, another account) call it
    permissions = resources(template, "AWS::Lambda::Permission").values()
    assert not [p for p in permissions if sandbox in json.dumps(p["Properties"]["FunctionName"])]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_wildcard_action_and_no_scan(synthesized, env):
    for actions in policy_actions(synthesized(env).template_json).values():
        assert not any(a == "*" or a.endswith(":*") for a in actions), actions
        assert "dynamodb:Scan" not in actions


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_functions_log_to_retained_groups_and_trace(synthesized, env):
    template = synthesized(env).template_json
    retention = CONTEXT[env]["log_retention_days"]
    groups = resources(template, "AWS::Logs::LogGroup")
    assert groups and {g["Properties"]["RetentionInDays"] for g in groups.values()} == {retention}
    for function in slipway_functions(template).values():
        properties = function["Properties"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["LoggingConfig"]["LogGroup"]["Ref"] in groups
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}
    assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_artifact_bucket_logs_access_and_keeps_registered_versions(synthesized, env):
    template = synthesized(env).template_json
    buckets = resources(template, "AWS::S3::Bucket")
    (artifacts,) = [b for k, b in buckets.items() if k.startswith("ArtifactStoreBucket")]
    properties = artifacts["Properties"]
    assert properties["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith(
        "ArtifactStoreAccessLogs"
    )
    rules = {rule["Id"]: rule for rule in properties["LifecycleConfiguration"]["Rules"]}
    assert rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7
    }
    # noncurrent versions may still be registered models: they move, they are never deleted
    assert "NoncurrentVersionExpiration" not in rules["NoncurrentToInfrequentAccess"]
    encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    algorithm = encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
    assert algorithm == ("aws:kms" if CONTEXT[env].get("kms_key") else "AES256")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_queues_are_encrypted_and_the_rule_target_has_a_dead_letter_queue(synthesized, env):
    template = synthesized(env).template_json
    for queue in resources(template, "AWS::SQS::Queue").values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    rules = resources(template, "AWS::Events::Rule")
    assert len(rules) == 2  # uploads, and ended executions
    policies = list(resources(template, "AWS::SQS::QueuePolicy").values())
    for rule_id, rule in rules.items():
        (target,) = rule["Properties"]["Targets"]
        assert "DeadLetterConfig" in target
        # EventBridge may send to the queue only for this rule (moto does not check it)
        queue = target["Arn"]["Fn::GetAtt"][0]
        allowed = [
            statement
            for policy in policies
            if {"Ref": queue} in policy["Properties"]["Queues"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement.get("Principal") == {"Service": "events.amazonaws.com"}
        ]
        assert allowed, rule_id
        for statement in allowed:
            assert "sqs:SendMessage" in statement["Action"]
            assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
                "Fn::GetAtt": [rule_id, "Arn"]
            }


def _statements_on(template: dict[str, Any], key_id: str) -> dict[str, set[str]]:
    """kms: actions each role may take on the key ``key_id``, by the role's logical id."""
    found: dict[str, set[str]] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if key_id not in json.dumps(statement.get("Resource")):
                continue
            listed = statement["Action"]
            for role in policy["Properties"]["Roles"]:
                found.setdefault(role["Ref"], set()).update(
                    listed if isinstance(listed, list) else [listed]
                )
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_the_approval_step_seals_task_tokens_and_only_the_registry_opens_them(
    synthesized, env
):
    template = synthesized(env).template_json
    (key_id,) = [
        logical
        for logical, key in resources(template, "AWS::KMS::Key").items()
        if "task tokens" in key["Properties"].get("Description", "")
    ]
    assert resources(template, "AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"]
    functions = resources(template, "AWS::Lambda::Function")
    role_of = {
        name: f["Properties"]["Role"]["Fn::GetAtt"][0]
        for name, f in functions.items()
        if name.startswith(("PromotionWorkflowWaitForApproval", "RegistryApiFunction"))
    }
    granted = _statements_on(template, key_id)
    decrypting = {role for role, actions in granted.items() if "kms:Decrypt" in actions}
    encrypting = {role for role, actions in granted.items() if "kms:Encrypt" in actions}
    (waiting,) = [r for n, r in role_of.items() if n.startswith("PromotionWorkflowWaitFor")]
    (registry,) = [r for n, r in role_of.items() if n.startswith("RegistryApiFunction")]
    assert encrypting == {waiting} and decrypting == {registry}
    # the state machine's logs leave out execution data: the waiting step's input has the token
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"]["LoggingConfiguration"]["IncludeExecutionData"] is False


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_task_tokens_are_answered_under_the_only_resource_iam_accepts(synthesized, env):
    # SendTask* have no resource-level permissions: scoped to a state machine they are
    # denied in AWS (moto does not check IAM); the token is what scopes them
    template = synthesized(env).template_json
    found = 0
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            listed = statement["Action"]
            actions = set(listed if isinstance(listed, list) else [listed])
            if actions & {"states:SendTaskSuccess", "states:SendTaskFailure"}:
                found += 1
                assert statement["Resource"] == "*", statement
    assert found >= 5  # AcquireLock, ReleaseLock, RecordFailure, the end watch, the registry


# Actions that take no resource ARN in IAM, the only ones a statement may grant on "*"
# (the reasons of the Resource::* suppressions in infra/nag_suppressions.py name them)
RESOURCELESS_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "cloudwatch:GetMetricData",
    # Step Functions' logging to CloudWatch Logs (the vended-logs delivery APIs)
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_actions_without_resource_level_permissions_are_granted_on_everything(
    synthesized, env
):
    template = synthesized(env).template_json
    kinds = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
    for kind in kinds:
        for logical_id, policy in resources(template, kind).items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                listed = statement["Resource"]
                if "*" not in (listed if isinstance(listed, list) else [listed]):
                    continue
                granted = statement["Action"]
                granted = set(granted if isinstance(granted, list) else [granted])
                assert granted <= RESOURCELESS_ACTIONS, (logical_id, granted)
