"""The managed policies of the people who use an environment: each holds what its duty's
`slipway` commands call, on this environment's resources, and nothing else.

moto does not evaluate IAM, so these are template assertions; AWS's rule that a Function
URL made since October 2025 checks lambda:InvokeFunction as well as lambda:InvokeFunctionUrl
is one moto would never catch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]

ENVIRONMENTS = ["local", "dev", "staging", "prod"]
DESCRIBE_STACKS = "cloudformation:DescribeStacks"
URL_INVOKE = {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
EXPECTED: dict[str, set[str]] = {
    "deployer": {"sts:AssumeRole"},
    "pusher": {DESCRIBE_STACKS}
    | URL_INVOKE  # push declares the upload to the registry; lambda:InvokeFunction also
    # invokes the candidate function for `invoke --stage staging`
    | {"s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObjectVersion"}
    | {"dynamodb:GetItem", "dynamodb:Query"}
    | {"s3:ListBucketVersions", "states:DescribeExecution", "states:GetExecutionHistory"},
    "approver": {DESCRIBE_STACKS} | URL_INVOKE | {"dynamodb:GetItem", "dynamodb:Query"},
    "caller": {DESCRIBE_STACKS} | URL_INVOKE,
}
KMS_KEY_ACTIONS = {"kms:GenerateDataKey", "kms:Decrypt"}  # pushers, where a key encrypts


def duty_policies(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Statements of each duty's managed policy, by duty."""
    found = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::ManagedPolicy":
            continue
        name = resource["Properties"]["ManagedPolicyName"]
        found[name.rsplit("-", 1)[1]] = resource["Properties"]["PolicyDocument"]["Statement"]
    return found


def actions(statements: list[dict[str, Any]]) -> set[str]:
    listed: set[str] = set()
    for statement in statements:
        action = statement["Action"]
        listed |= set(action if isinstance(action, list) else [action])
    return listed


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_duty_holds_exactly_what_its_commands_call(synthesized, env):
    policies = duty_policies(synthesized(env).template_json)
    assert set(policies) == set(EXPECTED)
    kms = KMS_KEY_ACTIONS if env == "prod" else set()  # prod's bucket has its own key
    for duty, statements in policies.items():
        assert actions(statements) == EXPECTED[duty] | (kms if duty == "pusher" else set()), duty
        for statement in statements:
            assert statement["Effect"] == "Allow"
            assert statement["Resource"] != "*"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_function_urls_are_invoked_with_both_actions_and_only_through_the_url(synthesized, env):
    policies = duty_policies(synthesized(env).template_json)
    for duty in ("pusher", "approver", "caller"):
        by_action = {}
        for statement in policies[duty]:
            if statement["Action"] == "lambda:InvokeFunctionUrl":
                assert statement["Condition"] == {
                    "StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}
                }
                by_action["url"] = statement["Resource"]
            elif statement.get("Sid", "").endswith("InvokeFunction"):
                # a direct invoke could hand the function an event naming someone else
                assert statement["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
                by_action["via-url"] = statement["Resource"]
        # the same functions (and aliases) under both actions
        assert by_action["url"] == by_action["via-url"], duty


def test_callers_may_invoke_each_live_endpoint_and_the_alias_a_provisioned_one_serves(
    synthesized,
):
    # GIVEN prod: 'default' serves from the function, 'fraud' (provisioned) from alias live
    fraud_arn = {"Fn::ImportValue": Match.string_like_regexp("EndpointfraudServingFunction")}
    default_arn = {"Fn::ImportValue": Match.string_like_regexp("EndpointdefaultServingFunction")}
    targets = [default_arn, fraud_arn, {"Fn::Join": ["", [fraud_arn, ":live"]]}]
    for action, condition in (
        ("lambda:InvokeFunctionUrl", {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}),
        ("lambda:InvokeFunction", {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}),
    ):
        synthesized("prod").template.has_resource_properties(
            "AWS::IAM::ManagedPolicy",
            {
                "ManagedPolicyName": "slipway-prod-caller",
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {"Action": action, "Condition": condition, "Resource": targets}
                            )
                        ]
                    )
                },
            },
        )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_approvers_and_pushers_call_the_registry_and_callers_do_not(synthesized, env):
    policies = duty_policies(synthesized(env).template_json)

    def invoked(duty: str) -> str:
        return str([s["Resource"] for s in policies[duty] if actions([s]) & URL_INVOKE])

    assert "RegistryApiFunction" in invoked("approver") and "Endpoint" not in invoked("approver")
    assert "RegistryApiFunction" in invoked("pusher")
    assert "RegistryApiFunction" not in invoked("caller")
    # the pusher reaches each endpoint's candidate function directly: it has no URL, and
    # serves nobody
    (candidate,) = [s for s in policies["pusher"] if s.get("Sid") == "CallCandidates"]
    resources = candidate["Resource"]
    resources = resources if isinstance(resources, list) else [resources]
    endpoints = CONTEXT["environments"][env]["endpoints"]
    assert len(resources) == len(endpoints)
    for endpoint in endpoints:
        logical = "" if endpoint["name"] == "default" else endpoint["name"]
        assert f"CandidateEndpoint{logical}ServingFunction" in str(resources)
    assert "Condition" not in candidate


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pushers_touch_only_models_and_this_environments_promotions(synthesized, env):
    statements = {s["Sid"]: s for s in duty_policies(synthesized(env).template_json)["pusher"]}
    for sid in ("UploadBundles", "DownloadBundles"):
        (resource,) = [statements[sid]["Resource"]]
        assert resource["Fn::Join"][1][-1] == "/models/*", sid
    assert f"execution:slipway-{env}-promotion:*" in str(statements["FollowPromotions"]["Resource"])
    # status names the promotion from the upload's newest object version, under models/ only
    find = statements["FindPromotions"]
    assert find["Action"] == "s3:ListBucketVersions"
    assert find["Condition"] == {"StringLike": {"s3:prefix": "models/*"}}
    assert "Fn::Join" not in str(find["Resource"]), "the bucket itself, not its objects"
    # the table by key only: no index, no scan (approvers read it the same way)
    assert "index" not in str(statements["ReadRegistry"]["Resource"])
    approver = {s["Sid"]: s for s in duty_policies(synthesized(env).template_json)["approver"]}
    assert approver["ReadRegistry"]["Resource"] == statements["ReadRegistry"]["Resource"]


def test_deployers_assume_the_cdk_bootstrap_roles_of_the_environments_account_and_region(
    synthesized,
):
    (statement,) = duty_policies(synthesized("prod").template_json)["deployer"]
    roles = [str(r) for r in statement["Resource"]]
    assert len(roles) == 4
    for role in ("deploy", "file-publishing", "image-publishing", "lookup"):
        assert any(f"role/cdk-hnb659fds-{role}-role-222222222222-eu-west-1" in r for r in roles)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_policy_arns_are_stack_outputs(synthesized, env):
    outputs = synthesized(env).template_json["Outputs"]
    for duty in ("Deployer", "Pusher", "Approver", "Caller"):
        assert outputs[f"{duty}PolicyArn"]["Value"]["Ref"].startswith(f"DutyPolicies{duty}")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_policys_description_never_changes_with_its_statements(synthesized, env):
    # IAM cannot change a managed policy's description, and CloudFormation cannot replace a
    # policy with a fixed name: a description that listed commands would block a deploy
    from infra.duty_policies import duty_description

    for resource in synthesized(env).template_json["Resources"].values():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            properties = resource["Properties"]
            duty = properties["ManagedPolicyName"].rsplit("-", 1)[1]
            assert properties["Description"] == duty_description(env, duty)
            assert properties["Description"] == (
                f"Slipway {env}: the {duty} duty (docs/deploy.md, Who may do what)"
            )


def test_roles_named_in_cdk_json_get_their_dutys_policy_from_cloudformation():
    # GIVEN dev, naming a role for the pushers and one for the approvers
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.app_builder import build_environment
    from infra.config import load_environment

    environments = {**CONTEXT["environments"]}
    roles = {"pusher": ["ml-training-pipeline"], "approver": ["ml-leads", "ml-oncall"]}
    environments["dev"] = {**environments["dev"], "duty_roles": roles}
    config = load_environment(environments, "dev")
    app = cdk.App(context=CONTEXT)
    workflow = Template.from_stack(build_environment(app, config).workflow).to_json()
    # THEN CloudFormation attaches each policy (and so detaches it when the stack goes)
    attached = {
        r["Properties"]["ManagedPolicyName"].rsplit("-", 1)[1]: r["Properties"].get("Roles")
        for r in workflow["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
    }
    assert attached["pusher"] == ["ml-training-pipeline"]
    assert attached["approver"] == ["ml-leads", "ml-oncall"]
    assert attached["caller"] is None and attached["deployer"] is None
