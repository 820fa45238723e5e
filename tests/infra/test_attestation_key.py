"""Each environment's attestation key: asymmetric, signing only, used only by the functions
that sign. moto neither refuses rotation of an asymmetric key nor checks IAM, so these are
template assertions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from registry.environment import ATTESTATION_KEY, CHAIN_POLICY
from tests.infra.test_compliance import CONTEXT, ENVIRONMENTS, resources

SIGNERS = (
    "PromotionWorkflowPromoteFunction",
    "PromotionWorkflowAutoApproveFunction",
    "RegistryApiFunction",
)


def attestation_key(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical, key)
        for logical, key in resources(template, "AWS::KMS::Key").items()
        if "attestations" in key["Properties"].get("Description", "")
    ]
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_has_an_asymmetric_signing_key_of_its_own(synthesized, env):
    # GIVEN the environment's templates
    synthesized(env).template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeySpec": "ECC_NIST_P256",
            "KeyUsage": "SIGN_VERIFY",
            "Description": Match.string_like_regexp(f"Slipway {env}: signs attestations"),
        },
    )
    logical, key = attestation_key(synthesized(env).template_json)
    # THEN it is not rotated (KMS refuses rotation of asymmetric keys: a deploy would fail)
    assert not key["Properties"].get("EnableKeyRotation", False)
    # AND the stack names it for `slipway attestation-key` and the next environment
    outputs = synthesized(env).template_json["Outputs"]
    assert outputs["AttestationKeyArn"]["Value"] == {"Fn::GetAtt": [logical, "Arn"]}


def test_the_key_outlives_its_stack_where_the_environment_keeps_its_data(synthesized):
    # the next environment holds its public key: a key replaced by a redeploy breaks the chain
    _, prod = attestation_key(synthesized("prod").template_json)
    _, local = attestation_key(synthesized("local").template_json)
    assert prod["DeletionPolicy"] == "Retain" and local["DeletionPolicy"] == "Delete"


def _kms_actions_on(template: dict[str, Any], logical: str) -> dict[str, set[str]]:
    """kms: actions each role is granted on the key, by role logical id."""
    granted: dict[str, set[str]] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if logical not in json.dumps(statement.get("Resource")):
                continue
            actions = statement["Action"]
            for role in policy["Properties"]["Roles"]:
                granted.setdefault(role["Ref"], set()).update(
                    actions if isinstance(actions, list) else [actions]
                )
    return granted


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_the_functions_that_sign_may_sign_and_they_may_do_nothing_else(synthesized, env):
    template = synthesized(env).template_json
    logical, _ = attestation_key(template)
    functions = resources(template, "AWS::Lambda::Function")
    role_of = {
        name: f["Properties"]["Role"]["Fn::GetAtt"][0]
        for name, f in functions.items()
        if name.startswith(SIGNERS)
    }
    assert len(role_of) == len(SIGNERS)
    granted = _kms_actions_on(template, logical)
    assert granted == {role: {"kms:Sign"} for role in role_of.values()}
    # AND each signer is told which key (and no other function is)
    told = {
        name
        for name, f in functions.items()
        if ATTESTATION_KEY in f["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert told == set(role_of)
    for name in role_of:
        variables = functions[name]["Properties"]["Environment"]["Variables"]
        assert variables[ATTESTATION_KEY] == {"Fn::GetAtt": [logical, "Arn"]}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_key_refuses_sign_to_every_principal_not_tagged_as_its_signer(synthesized, env):
    # moto does not evaluate key policies: the template says what AWS will enforce
    template = synthesized(env).template_json
    logical, key = attestation_key(template)
    (deny,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Effect") == "Deny"]
    assert deny["Action"] == "kms:Sign" and deny["Principal"] == {"AWS": "*"}
    assert deny["Condition"] == {
        "StringNotEquals": {"aws:PrincipalTag/slipway:attestation-signer": env}
    }
    # AND exactly the roles granted kms:Sign carry that tag
    tagged = {
        logical
        for logical, role in resources(template, "AWS::IAM::Role").items()
        if {"Key": "slipway:attestation-signer", "Value": env} in role["Properties"].get("Tags", [])
    }
    signers = {
        role
        for role, actions in _kms_actions_on(template, logical).items()
        if "kms:Sign" in actions
    }
    assert tagged == signers and len(tagged) == len(SIGNERS)


@pytest.mark.parametrize("env", ["local", "local-prod"])
def test_the_registry_api_judges_declarations_by_the_environments_chain_policy(synthesized, env):
    # a declaration with an attestation that lets its bytes in takes the version number from
    # one without (registry/repository.py declare_upload): the API needs the policy to judge
    functions = resources(synthesized(env).template_json, "AWS::Lambda::Function")
    (api,) = [f for name, f in functions.items() if name.startswith("RegistryApiFunction")]
    told = json.loads(api["Properties"]["Environment"]["Variables"][CHAIN_POLICY])
    accepts = CONTEXT[env].get("accepts_from")
    if accepts is None:
        assert told is None
    else:  # as cdk.json says it, defaults filled in
        assert told["environment"] == accepts["environment"]
        assert told["public_key"] == accepts["public_key"]
        assert told["require"]["no_rollback"] is True and told["max_age_hours"] == 1
