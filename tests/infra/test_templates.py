"""Properties of the synthesized templates, for the embedded (local) and AWS (dev, prod) targets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.config import (
    DEFAULT_SMOKE_COLD_BUDGET_MS,
    WORKFLOW_TIMEOUT_SECONDS,
    EnvironmentConfig,
    load_environment,
)
from infra.monitor_job import MONITOR_HANDLER
from registry import workflow as steps
from registry.candidate_functions import decode
from registry.workflow import (
    PROMOTION,
    SANDBOX_HANDLER,
    Choice,
    Package,
    SucceedIf,
    Task,
    Wait,
    walk,
)
from registry.workflow_state import ApprovalRequest, GatePolicy, LockRequest, StepError

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ["local", "dev", "staging", "prod"]
CONTEXT = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]["environments"]


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


def asl_path(states: dict[str, Any], start: str, branch: str = "Default") -> list[str]:
    """State names from ``start`` following Next, and at each Choice its Default (or, with
    ``branch="Then"``, its first rule)."""
    early_ends = {n.state for n in PROMOTION.nodes if isinstance(n, SucceedIf)}
    path, name = [], start
    while name:
        path.append(name)
        state = states[name]
        if state["Type"] == "Choice" and branch == "Then" and name not in early_ends:
            name = state["Choices"][0]["Next"]
        else:
            name = state.get("Next") or state.get("Default")
    return path


def declared_path(nodes: tuple[Any, ...], branch: str = "Default") -> list[str]:
    """The same walk over the declaration (registry/workflow.py)."""
    path: list[str] = []
    for node in nodes:
        path.append(node.state)
        if isinstance(node, Choice):
            path += declared_path(node.then if branch == "Then" else node.otherwise, branch)
    return path


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_state_machine_is_the_declared_workflow(synthesized, env):
    synthesized(env).template.has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"StateMachineType": "STANDARD"}
    )
    definition = state_machine_definition(synthesized(env).template_json)
    states = definition["States"]
    assert set(states) == set(PROMOTION.state_names())
    for branch in ("Default", "Then"):
        walked = asl_path(states, definition["StartAt"], branch)
        assert walked == [*declared_path(PROMOTION.nodes, branch), PROMOTION.succeeded]
    for node in walk(PROMOTION.nodes):
        state = states[node.state]
        if isinstance(node, Task):
            assert state["ResultPath"] == node.result_path, node.state
        elif isinstance(node, Choice | SucceedIf):
            (rule,) = state["Choices"]
            assert rule["Variable"] == node.when.path
            assert rule.get("StringEquals", rule.get("NumericGreaterThan")) in (
                node.when.equals,
                node.when.greater_than,
            )
        elif isinstance(node, Wait):
            assert state["SecondsPath"] == node.seconds_path
    succeed_if = next(n for n in PROMOTION.nodes if isinstance(n, SucceedIf))
    assert states[succeed_if.state]["Choices"][0]["Next"] == succeed_if.end


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_task_retries_transient_errors_and_ends_in_a_recorded_failure(synthesized, env):
    states = state_machine_definition(synthesized(env).template_json)["States"]
    failure = PROMOTION.on_failure.state
    assert states[PROMOTION.failed] == {
        "Type": "Fail",
        "Error": "PromotionRejected",
        "CausePath": PROMOTION.failure_cause,
    }
    assert asl_path(states, failure) == [failure, PROMOTION.failed]
    # the failure handler failing still releases the lock, then fails
    unrecorded = PROMOTION.on_unrecorded_failure.state
    assert states[failure]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": PROMOTION.error_path, "Next": unrecorded}
    ]
    assert asl_path(states, unrecorded) == [unrecorded, PROMOTION.unrecorded]
    assert states[PROMOTION.unrecorded]["Type"] == "Fail"
    for task in PROMOTION.tasks():
        if task in (PROMOTION.on_failure, PROMOTION.on_unrecorded_failure):
            continue
        state = states[task.state]
        assert state["Catch"][-1] == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": PROMOTION.error_path,
            "Next": failure,
        }, task.state
        retries = state.get("Retry", [])
        assert retries[0]["ErrorEquals"] == list(PROMOTION.transient_errors)
        assert all("States.ALL" not in r["ErrorEquals"] for r in retries)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_promotion_waits_in_line_for_the_lock_as_long_as_the_environment_says(synthesized, env):
    states = state_machine_definition(synthesized(env).template_json)["States"]
    acquire = states[steps.ACQUIRE_LOCK.state]
    # answered through its token (by the promotion whose turn ends), with its start's order
    assert acquire["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    template = LockRequest.template(
        state="$",
        execution_arn="$$.Execution.Id",
        started_at="$$.Execution.StartTime",
        task_token="$$.Task.Token",
    )
    assert acquire["Parameters"]["Payload"] == {f"{k}.$": v for k, v in template.items()}
    # a wait nobody answered is re-armed (a lost hand-over costs one recheck, no more)...
    assert acquire["TimeoutSeconds"] <= steps.LOCK_RECHECK_SECONDS
    (rearm,) = [r for r in acquire["Retry"] if r["ErrorEquals"] == ["States.Timeout"]]
    waited = acquire["TimeoutSeconds"] * (1 + rearm["MaxAttempts"])
    config = EnvironmentConfig.model_validate({"name": env, **CONTEXT[env]})
    assert config.lock_wait - acquire["TimeoutSeconds"] < waited <= config.lock_wait
    # ...for days by default (what the workflow's timeout leaves after the approval
    # timeout, the longest bake and the steps), and always within that timeout
    assert config.lock_wait >= 6 * 24 * 3600
    assert (
        config.lock_wait
        + config.approval_timeout_minutes * 60
        + config.canary.max_bake_minutes * 60
        < WORKFLOW_TIMEOUT_SECONDS
    )
    # ...then it fails, saying why; and the history of the longest wait stays bounded
    assert rearm["MaxAttempts"] * 10 < 25_000  # a few events per re-armed wait
    (timed_out,) = [c for c in acquire["Catch"] if c["ErrorEquals"] == ["States.Timeout"]]
    reason = StepError.parse(states[timed_out["Next"]]["Result"])
    assert reason.Error == "LockWaitTimedOut" and "lock for more than" in reason.Cause
    assert states[timed_out["Next"]]["Next"] == PROMOTION.on_failure.state


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_environments_gate_policy_is_the_first_state(synthesized, env):
    definition = state_machine_definition(synthesized(env).template_json)
    first = definition["States"][definition["StartAt"]]
    assert first["Type"] == "Pass" and first["ResultPath"] == "$.policy"
    policy = GatePolicy.parse(first["Result"])
    config = CONTEXT[env]
    assert policy.approval == config["approval"]
    assert policy.canary.share == config["canary"]["share"]
    assert policy.canary.bake_seconds == config["canary"]["bake_minutes"] * 60
    defaults = EnvironmentConfig.model_fields
    assert policy.smoke_cold_budget_ms == config.get(
        "smoke_cold_budget_ms", config.get("smoke_test_budget_ms", DEFAULT_SMOKE_COLD_BUDGET_MS)
    )
    assert policy.smoke_warm_budget_ms == config.get(
        "smoke_warm_budget_ms", defaults["smoke_warm_budget_ms"].default
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_manual_approval_waits_for_a_task_token_with_a_timeout(synthesized, env):
    states = state_machine_definition(synthesized(env).template_json)["States"]
    wait = states[steps.WAIT_FOR_APPROVAL.state]
    assert wait["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    timeout = CONTEXT[env].get(
        "approval_timeout_minutes",
        EnvironmentConfig.model_fields["approval_timeout_minutes"].default,
    )
    assert wait["TimeoutSeconds"] == 60 * timeout
    token_wait = steps.WAIT_FOR_APPROVAL.token_wait
    assert wait["Catch"][0] == {
        "ErrorEquals": ["States.Timeout"],
        "ResultPath": PROMOTION.error_path,
        "Next": token_wait.timed_out_state,
    }
    assert states[token_wait.timed_out_state]["Next"] == PROMOTION.on_failure.state
    timed_out = StepError.parse(states[token_wait.timed_out_state]["Result"])
    assert timed_out.Error == "ApprovalTimedOut"
    assert timed_out.Cause == f"no one approved or rejected the version within {timeout} minutes"
    # the function receives an ApprovalRequest: the whole document and the token
    template = ApprovalRequest.template(state="$", task_token="$$.Task.Token")
    assert wait["Parameters"]["Payload"] == {f"{k}.$": v for k, v in template.items()}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_endpoint_requires_iam_auth(synthesized, env):
    template_json = synthesized(env).template_json
    urls = resources(template_json, "AWS::Lambda::Url")
    assert urls, "an endpoint has no Function URL"
    assert {url["Properties"]["AuthType"] for url in urls.values()} == {"AWS_IAM"}


def test_prod_declares_a_dedicated_endpoint_next_to_the_default(synthesized):
    outputs = synthesized("prod").template_json["Outputs"]
    assert {"EndpointUrlDefault", "EndpointUrlFraud"} <= set(outputs)


def rendered(value: Any) -> str:
    """A template value as text: a join's parts concatenated, an import as its export's name
    (which holds the logical id of the resource it refers to), a Ref or GetAtt as the id."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(rendered(part) for part in parts)
    if "Fn::ImportValue" in value:
        return rendered(value["Fn::ImportValue"])
    if "Ref" in value:
        return str(value["Ref"])
    if "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return json.dumps(value)


def serving_functions(template_json: dict[str, Any], role: str) -> dict[str, tuple[str, dict]]:
    """Endpoint name -> (logical id, properties) of the serving functions of one role."""
    found = {}
    for logical_id, function in resources(template_json, "AWS::Lambda::Function").items():
        properties = function["Properties"]
        variables = properties.get("Environment", {}).get("Variables", {})
        if variables.get("SLIPWAY_SERVING_ROLE") == role:
            endpoint = re.fullmatch(
                r"Slipway model endpoint '(.+)' \(\w+\)", properties["Description"]
            )
            found[endpoint[1]] = (logical_id, properties)
    return found


# what a candidate function shares with its endpoint: everything that decides whether and
# how a model loads and answers there
BUILT_ALIKE = (
    "PackageType",
    "Code",
    "ImageConfig",
    "Handler",
    "Runtime",
    "Architectures",
    "MemorySize",
    "Timeout",
    "EphemeralStorage",
)
SERVING_SETTINGS = (
    "SLIPWAY_SERVED_MODELS",
    "SLIPWAY_ALLOW_PYTHON",
    "SLIPWAY_TRUSTED_MODEL_TYPES",
    "SLIPWAY_EPHEMERAL_STORAGE_MB",
    "SLIPWAY_POINTER_CACHE_SECONDS",
)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_endpoint_has_a_candidate_function_built_like_it(synthesized, env):
    template = synthesized(env).template_json
    live = serving_functions(template, "live")
    candidates = serving_functions(template, "candidate")
    assert set(live) == set(candidates) == {e["name"] for e in CONTEXT[env]["endpoints"]}
    for endpoint, (_, serving) in live.items():
        _, candidate = candidates[endpoint]
        # same image (libraries and platform in its build) or zip, architecture, size...
        for key in BUILT_ALIKE:
            assert candidate.get(key) == serving.get(key), (endpoint, key)
        # ...same models and python allowance: it loads what its endpoint would, no more
        variables = candidate["Environment"]["Variables"]
        for name in SERVING_SETTINGS:
            assert variables.get(name) == serving["Environment"]["Variables"].get(name), name
        # but it reserves and keeps warm nothing: it takes no live traffic
        assert "ReservedConcurrentExecutions" not in candidate
    # no Function URL or alias points at a candidate function
    ids = {logical_id for logical_id, _ in candidates.values()}
    for kind in ("AWS::Lambda::Url", "AWS::Lambda::Alias"):
        targets = json.dumps(resources(template, kind))
        assert not [i for i in ids if i in targets], kind


def test_the_arm64_dedicated_endpoints_candidate_is_an_arm64_image_with_its_libraries(
    synthesized,
):
    # GIVEN prod's 'fraud' endpoint: arm64, 4 GB, no extra libraries, while the default
    # endpoint is x86_64 with xgboost and lightgbm
    synthesized("prod").template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Description": "Slipway model endpoint 'fraud' (candidate)",
            "Architectures": ["arm64"],
            "MemorySize": 4096,
            "Timeout": 10,
            "EphemeralStorage": {"Size": 2048},
            "PackageType": "Image",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "SLIPWAY_SERVING_ROLE": "candidate",
                        "SLIPWAY_SERVED_MODELS": "fraud-score",
                        "SLIPWAY_ALLOW_PYTHON": "false",
                    }
                )
            },
        },
    )
    # THEN its image is built for arm64 without the default endpoint's libraries
    assets = json.loads(
        next(synthesized("prod").outdir.glob("slipway-prod-serving.assets.json")).read_text()
    )
    template = synthesized("prod").template_json
    (_, fraud) = serving_functions(template, "candidate")["fraud"]
    (_, default) = serving_functions(template, "candidate")["default"]

    def image(properties: dict) -> dict:
        uri = rendered(properties["Code"]["ImageUri"])
        (asset,) = [a for h, a in assets["dockerImages"].items() if h in uri]
        return asset["source"]

    assert image(fraud)["platform"] == "linux/arm64"
    assert image(fraud)["dockerBuildArgs"]["EXTRA_REQUIREMENTS"] == ""
    assert image(default)["platform"] == "linux/amd64"
    assert "xgboost-cpu==3.2.0" in image(default)["dockerBuildArgs"]["EXTRA_REQUIREMENTS"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_smoke_test_invokes_exactly_the_candidate_functions(synthesized, env):
    template = synthesized(env).template_json
    candidates = {e: i for e, (i, _) in serving_functions(template, "candidate").items()}
    functions = resources(template, "AWS::Lambda::Function")
    (smoke_id,) = [n for n in functions if n.startswith("PromotionWorkflowSmokeTestFunction")]
    smoke = functions[smoke_id]["Properties"]
    # its map names each endpoint's candidate function
    setting = rendered(smoke["Environment"]["Variables"]["SLIPWAY_CANDIDATE_FUNCTIONS"])
    mapped = decode(setting)
    assert set(mapped) == set(candidates)
    for endpoint, function in mapped.items():
        assert candidates[endpoint] in function, endpoint
    # and its role may invoke and renew those functions, and no other
    role = smoke["Role"]["Fn::GetAtt"][0]
    granted: dict[str, set[str]] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        if role not in [r["Ref"] for r in policy["Properties"]["Roles"]]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            listed = statement["Action"]
            targets = statement["Resource"]
            targets = targets if isinstance(targets, list) else [targets]
            for action in listed if isinstance(listed, list) else [listed]:
                if action.startswith("lambda:"):
                    granted.setdefault(action, set()).update(rendered(t) for t in targets)
    # and renew (after a python-flavor candidate) only those of endpoints allowing python
    cdk_json = Path(__file__).resolve().parents[2] / "cdk.json"
    config = load_environment(json.loads(cdk_json.read_text())["context"]["environments"], env)
    python = {candidates[e.name] for e in config.endpoints if e.allow_python}
    expected = {"lambda:InvokeFunction": set(candidates.values())}
    if python:
        expected |= {action: python for action in RENEW}
    assert set(granted) == set(expected)
    for action, targets in granted.items():
        named = {i for i in candidates.values() for t in targets if i in t}
        assert named == expected[action] and len(targets) == len(expected[action]), action


RENEW = ("lambda:GetFunctionConfiguration", "lambda:UpdateFunctionConfiguration")


def test_embedded_target_ships_zips_and_aws_targets_ship_the_runtime_image(synthesized):
    local = resources(synthesized("local").template_json, "AWS::Lambda::Function")
    assert {f["Properties"].get("PackageType", "Zip") for f in local.values()} == {"Zip"}
    dev = resources(synthesized("dev").template_json, "AWS::Lambda::Function")
    images = [f for f in dev.values() if f["Properties"].get("PackageType") == "Image"]
    # the model-touching steps and the endpoint run in the same runtime image
    commands = sorted(f["Properties"]["ImageConfig"]["Command"][0] for f in images)
    runtime_steps = [t.handler for t in PROMOTION.tasks() if t.package == Package.RUNTIME]
    runtime_steps.append(SANDBOX_HANDLER)  # the python sandbox the judging steps call
    runtime_steps.append(MONITOR_HANDLER)  # the monitor job reads bundles and judges traffic
    # each live endpoint of dev's cdk.json, and the candidate function built like each
    serving = 2 * len(CONTEXT["dev"]["endpoints"])
    endpoints = ["model_runtime.serving.handler.handler"] * serving
    assert commands == sorted([*runtime_steps, *endpoints])
    # the control plane is zip code with its libraries in one layer
    # (CDK's own function that empties buckets on delete aside: infra/artifact_store.py)
    zips = [
        f
        for k, f in dev.items()
        if f["Properties"].get("PackageType") != "Image"
        and not k.startswith("CustomS3AutoDeleteObjects")
    ]
    assert {len(f["Properties"]["Layers"]) for f in zips} == {1}
    (layer,) = resources(synthesized("dev").template_json, "AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.14"]


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


def test_the_table_declared_for_cloudformation_has_the_repositorys_key_schema(synthesized):
    from registry.keys import create_table_request

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


def test_each_package_holds_its_layers_and_nothing_above(synthesized):
    """Control-plane zips hold registry/ and functions/; runtime zips registry/ and
    model_runtime/ (no control plane); the layer holds the control plane's libraries."""
    outdir = synthesized("local").outdir
    packages = {}
    for template in outdir.glob("*.template.json"):
        for resource in json.loads(template.read_text())["Resources"].values():
            if resource["Type"] not in ("AWS::Lambda::Function", "AWS::Lambda::LayerVersion"):
                continue
            properties = resource["Properties"]
            key = (properties.get("Code") or properties["Content"])["S3Key"]
            folder = outdir / f"asset.{key.removesuffix('.zip')}"
            packages[properties.get("Handler", "layer")] = {p.name for p in folder.iterdir()}
    assert packages["layer"] == {"python"}
    for handler, top in packages.items():
        if handler.startswith("functions."):
            assert top == {"registry", "functions"}, handler
        elif handler.startswith("model_runtime."):
            assert top == {"registry", "model_runtime"}, handler


@pytest.mark.parametrize("env", ["local", "dev", "staging", "prod"])
def test_no_control_plane_function_reserves_concurrency(synthesized, env):
    # Lambda keeps 10 of an account's concurrency unreserved, and new accounts often have a
    # quota of 10: reserving any of it fails the deploy there. Only endpoints may, where
    # cdk.json says so. The upload queue's flood is capped on its event source instead.
    template = synthesized(env).template_json
    endpoints = {e["name"]: e for e in CONTEXT[env]["endpoints"]}
    reserving = [
        key
        for key, function in resources(template, "AWS::Lambda::Function").items()
        if "ReservedConcurrentExecutions" in function["Properties"]
    ]
    assert len(reserving) == sum(1 for e in endpoints.values() if e.get("reserved_concurrency"))
    assert all("Endpoint" in key for key in reserving)
    mappings = resources(template, "AWS::Lambda::EventSourceMapping").values()
    ingest = [
        m["Properties"]
        for m in mappings
        if "IngestPipelineQueue" in json.dumps(m["Properties"]["EventSourceArn"])
    ]
    assert [m["ScalingConfig"] for m in ingest] == [{"MaximumConcurrency": 10}]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_default_endpoints_candidate_keeps_the_id_the_workflow_stack_imports(synthesized, env):
    # deployed workflow stacks import the one candidate's ARN by this id; CloudFormation
    # refuses to delete an export in use, which moto does not enforce
    functions = resources(synthesized(env).template_json, "AWS::Lambda::Function")
    assert [k for k in functions if k.startswith("CandidateEndpointServingFunction")]
