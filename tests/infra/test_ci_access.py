"""GitHub Actions roles (infra/ci_access.py): GitHub's OIDC provider, one role per duty the
cdk.json ci block sets, each trusting exactly one repository's branch or GitHub environment
and holding only what its `slipway` commands call.

moto does not evaluate trust policies or web identities, so these are template assertions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from infra.ci_access import CiAccess, ci_role_name, role_output
from infra.config import CiConfig
from infra.duty_policies import DutyPolicies

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = json.loads((ROOT / "cdk.json").read_text())["context"]["environments"]
HOST = "token.actions.githubusercontent.com"
URL_INVOKE = {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
SHIP = (
    {"cloudformation:DescribeStacks", "s3:PutObject", "s3:AbortMultipartUpload"}
    | URL_INVOKE
    | {"s3:ListBucketVersions", "states:DescribeExecution", "states:GetExecutionHistory"}
    | {"dynamodb:GetItem", "dynamodb:Query"}
)
EXPECTED_ACTIONS = {
    "push": SHIP,
    "promote": SHIP,
    "promote-source": {"cloudformation:DescribeStacks", "s3:GetObject", "s3:GetObjectVersion"}
    | URL_INVOKE,
    "approve": {"cloudformation:DescribeStacks"} | URL_INVOKE,
}
KMS = {"kms:Decrypt", "kms:GenerateDataKey"}  # where a key encrypts the bucket (prod)
# what the shipped cdk.json asks for: duty -> the subject claim its role trusts
REPO = "repo:example-org/churn-model"
SHIPPED = {
    "dev": {"push": f"{REPO}:ref:refs/heads/main", "promote-source": f"{REPO}:environment:staging"},
    "staging": {
        "promote": f"{REPO}:environment:staging",
        "promote-source": f"{REPO}:environment:prod",
        "approve": f"{REPO}:environment:staging-approvers",
    },
    "prod": {
        "promote": f"{REPO}:environment:prod",
        "approve": f"{REPO}:environment:prod-approvers",
    },
}


def ci_roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The CI roles of a template, by the subject claim they trust."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role" or not logical_id.startswith("CiAccess"):
            continue
        (statement,) = resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        found[statement["Condition"]["StringEquals"][f"{HOST}:sub"]] = resource["Properties"]
    return found


def granted(role: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow" and statement["Resource"] != "*"
            listed = statement["Action"]
            actions |= set(listed if isinstance(listed, list) else [listed])
    return actions


@pytest.mark.parametrize("env", sorted(SHIPPED))
def test_each_duty_role_trusts_one_exact_subject_of_github_for_sts(synthesized, env):
    # GIVEN the environment's ci block; THEN one role per duty it sets, and no other
    roles = ci_roles(synthesized(env).template_json)
    assert set(roles) == set(SHIPPED[env].values())
    for subject, role in roles.items():
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        # the provider this environment creates (its Ref is the provider's ARN)
        assert statement["Principal"]["Federated"]["Ref"].startswith("CiAccessGitHubProvider")
        # StringEquals on both claims and nothing else: no StringLike, no wildcard
        assert statement["Condition"] == {
            "StringEquals": {f"{HOST}:aud": "sts.amazonaws.com", f"{HOST}:sub": subject}
        }
        assert "*" not in subject and "?" not in subject
        assert role["MaxSessionDuration"] == 3600
    # named in advance, for GitHub's variables and the registry's approvers
    assert {role["RoleName"] for role in roles.values()} == {
        ci_role_name(env, duty) for duty in SHIPPED[env]
    }


@pytest.mark.parametrize("env", sorted(SHIPPED))
def test_each_duty_role_holds_exactly_what_its_commands_call(synthesized, env):
    roles = ci_roles(synthesized(env).template_json)
    for duty, subject in SHIPPED[env].items():
        kms = KMS if env == "prod" and duty != "approve" else set()
        assert granted(roles[subject]) == EXPECTED_ACTIONS[duty] | kms, (env, duty)


def test_ci_roles_touch_models_and_this_environments_promotions_only(synthesized):
    roles = ci_roles(synthesized("staging").template_json)
    seen = set()
    for subject, role in roles.items():
        for statement in role["Policies"][0]["PolicyDocument"]["Statement"]:
            sid = statement["Sid"]
            seen.add(sid)
            if sid in ("UploadBundles", "DownloadBundles"):
                assert statement["Resource"]["Fn::Join"][1][-1] == "/models/*", subject
            elif sid == "FollowPromotions":
                assert "execution:slipway-staging-promotion:*" in str(statement["Resource"])
            elif sid == "FindPromotions":
                assert statement["Condition"] == {"StringLike": {"s3:prefix": "models/*"}}
            elif sid.startswith("CallRegistry"):
                assert "RegistryApiFunction" in str(statement["Resource"]), subject
                assert "Endpoint" not in str(statement["Resource"]), subject
    # staging has a promote, a promote-source and an approve role: every kind is checked
    assert {"UploadBundles", "DownloadBundles", "FollowPromotions", "FindPromotions"} <= seen


@pytest.mark.parametrize("env", sorted(SHIPPED))
def test_githubs_provider_is_created_for_sts_without_a_thumbprint(synthesized, env):
    synthesized(env).template.has_resource_properties(
        "AWS::IAM::OIDCProvider",
        {
            "Url": f"https://{HOST}",
            "ClientIdList": ["sts.amazonaws.com"],
            # IAM trusts GitHub's certificate through its library of root CAs
            "ThumbprintList": Match.absent(),
        },
    )


@pytest.mark.parametrize("env", sorted(SHIPPED))
def test_each_role_arn_is_a_stack_output(synthesized, env):
    outputs = synthesized(env).template_json["Outputs"]
    ci_outputs = {name for name in outputs if name.startswith("Ci")}
    assert ci_outputs == {role_output(duty) for duty in SHIPPED[env]}
    for name in ci_outputs:
        assert outputs[name]["Value"]["Fn::GetAtt"][0].startswith("CiAccess")


def test_an_environment_without_a_ci_block_has_no_provider_and_no_ci_role(synthesized):
    template = synthesized("local").template
    template.resource_count_is("AWS::IAM::OIDCProvider", 0)
    assert ci_roles(synthesized("local").template_json) == {}
    assert not [o for o in synthesized("local").template_json["Outputs"] if o.startswith("Ci")]


def _ci_stack(config: CiConfig) -> Template:
    """CiAccess alone, in a stack of its own, over imported resources: cheaper than a whole
    environment for what only the ci block changes."""
    app = cdk.App()
    stack = cdk.Stack(app, "Ci", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    registry = lambda_.Function.from_function_arn(
        stack, "Registry", "arn:aws:lambda:eu-west-1:111111111111:function:registry"
    )
    duties = DutyPolicies(
        stack,
        "DutyPolicies",
        environment="dev",
        stack_names=["slipway-dev-data"],
        bucket=s3.Bucket.from_bucket_name(stack, "Bucket", "artifacts"),
        table=dynamodb.Table.from_table_name(stack, "Table", "lineage"),
        state_machine_name="slipway-dev-promotion",
        registry_function=registry,
        candidate_functions=[registry],  # any function: the CI roles hold none of these
        endpoints={registry: None},
        duty_roles={},
    )
    CiAccess(stack, "CiAccess", environment="dev", config=config, duty_policies=duties)
    return Template.from_stack(stack)


def test_an_account_that_has_githubs_provider_already_imports_it_by_arn():
    # GIVEN an account whose GitHub provider another stack made (one per issuer and account)
    arn = f"arn:aws:iam::111111111111:oidc-provider/{HOST}"
    template = _ci_stack(
        CiConfig(github_repository="o/r", push_branch="main", oidc_provider_arn=arn)
    )
    # THEN no provider is created and the role trusts that one
    template.resource_count_is("AWS::IAM::OIDCProvider", 0)
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Principal": {"Federated": arn},
                            "Condition": {
                                "StringEquals": {
                                    f"{HOST}:aud": "sts.amazonaws.com",
                                    f"{HOST}:sub": "repo:o/r:ref:refs/heads/main",
                                }
                            },
                        }
                    )
                ]
            }
        },
    )


def test_a_longer_session_is_a_setting():
    template = _ci_stack(
        CiConfig(github_repository="o/r", approve_environment="approvers", max_session_hours=2)
    )
    template.resource_count_is("AWS::IAM::Role", 1)
    template.has_resource_properties("AWS::IAM::Role", {"MaxSessionDuration": 7200})
