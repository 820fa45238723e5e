"""`model_readers`: other accounts may read bundles under models/, granted by the bucket
policy CloudFormation owns (and the key policy, where a key encrypts the bucket).

moto skips AWS::S3::BucketPolicy, so these are template assertions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Match, Template

from infra.config import ConfigError, load_environment

CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
READER = "222222222222"  # prod reads staging's models in the shipped cdk.json


def _models_of(bucket: str) -> dict:
    return {
        "Fn::Join": ["", [{"Fn::GetAtt": [Match.string_like_regexp(bucket), "Arn"]}, "/models/*"]]
    }


def test_a_listed_account_may_read_exact_versions_under_models_and_nothing_else(synthesized):
    template = synthesized("staging").template
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": Match.string_like_regexp("ArtifactStoreBucket")},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Sid": "ModelReaders",
                            "Effect": "Allow",
                            "Principal": {
                                "AWS": {
                                    "Fn::Join": [
                                        "",
                                        ["arn:", {"Ref": "AWS::Partition"}, f":iam::{READER}:root"],
                                    ]
                                }
                            },
                            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                            "Resource": _models_of("ArtifactStoreBucket"),
                        }
                    ]
                )
            },
        },
    )


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_environments_without_readers_grant_no_other_account(synthesized, env):
    template = synthesized(env).template_json
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::S3::BucketPolicy", "AWS::KMS::Key"):
            document = resource["Properties"].get("PolicyDocument") or resource["Properties"].get(
                "KeyPolicy", {}
            )
            assert not [
                s for s in document["Statement"] if s.get("Sid", "").startswith("ModelReaders")
            ]


def test_a_kms_encrypted_bucket_lets_readers_decrypt_only_through_s3():
    import aws_cdk as cdk

    from infra.stacks.data import DataStack

    # GIVEN prod (its own key) listing staging's account as a reader
    environments = {**CONTEXT["environments"]}
    environments["prod"] = {**environments["prod"], "model_readers": ["333333333333"]}
    config = load_environment(environments, "prod")
    app = cdk.App(context=CONTEXT)
    stack = DataStack(
        app,
        "data",
        config=config,
        env=cdk.Environment(account=config.account, region=config.region),
    )
    # THEN the reading account learns the key its own IAM policy must allow kms:Decrypt on
    assert "ArtifactKeyArn" in Template.from_stack(stack).to_json()["Outputs"]
    # AND the key lets that account decrypt, only by way of S3 in the environment's region
    Template.from_stack(stack).has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        {
                            "Sid": "ModelReadersDecryptThroughS3",
                            "Effect": "Allow",
                            "Principal": {
                                "AWS": {
                                    "Fn::Join": [
                                        "",
                                        [
                                            "arn:",
                                            {"Ref": "AWS::Partition"},
                                            ":iam::333333333333:root",
                                        ],
                                    ]
                                }
                            },
                            "Action": "kms:Decrypt",
                            "Resource": "*",
                            "Condition": {
                                "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
                            },
                        }
                    ]
                )
            }
        },
    )


def test_model_readers_must_be_account_ids_of_other_accounts():
    environments = {**CONTEXT["environments"]}
    environments["dev"] = {
        **environments["dev"],
        "model_readers": ["12345", "arn:aws:iam::333333333333:root", "111111111111"],
    }
    with pytest.raises(ConfigError) as error:
        load_environment(environments, "dev")
    message = str(error.value)
    assert "model_readers.0" in message and "model_readers.1" in message
    environments["dev"] = {**environments["dev"], "model_readers": ["111111111111"]}
    with pytest.raises(ConfigError, match="own account"):
        load_environment(environments, "dev")
