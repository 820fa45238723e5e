"""Which environments the embedded cloud may hold, and what each one deployed there."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from infra.config import load_environment
from slipway.errors import CliError
from slipway.local.environments import (
    check_embeddable,
    deployed_environments,
    embedded_environments,
    environment_functions,
)
from slipway.local.state import LocalState
from slipway.target import read_environments

EMBEDDED = {"account": "123456789012", "region": "us-east-1", "embedded": True}


def stack(cloudformation, name: str, outputs: dict[str, str], function: bool = False) -> None:
    """A stack as CDK names them, with outputs (and a function) of its own."""
    resources: dict = {"Queue": {"Type": "AWS::SQS::Queue"}}
    if function:
        resources["Role"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}},
        }
        resources["Function"] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12",
                "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def handler(event, context): pass"},
            },
        }
    template = {
        "Resources": resources,
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_the_shipped_embedded_environments_fit_the_embedded_cloud():
    names = [c.name for c in embedded_environments(read_environments())]
    assert names[:2] == ["local", "rehearsal"]
    for config in embedded_environments(read_environments()):
        check_embeddable(config)  # no error


def test_an_environment_in_aws_or_elsewhere_is_refused_with_what_to_change():
    with pytest.raises(CliError, match=r"prod is not embedded.*cdk deploy --all -c env=prod"):
        check_embeddable(load_environment(read_environments(), "prod"))
    moved = {"qa": {**EMBEDDED, "region": "eu-west-1"}}
    with pytest.raises(CliError, match="account 123456789012 in us-east-1: set those"):
        check_embeddable(load_environment(moved, "qa"))


def test_each_deployed_environment_has_its_own_outputs():
    environments = {"local": EMBEDDED, "local-b": EMBEDDED, "never": EMBEDDED, "dev": {}}
    with mock_aws():
        cloudformation = boto3.client("cloudformation")
        stack(cloudformation, "slipway-local-data", {"ArtifactBucketName": "bucket-a"})
        stack(cloudformation, "slipway-local-serving", {"EndpointUrlDefault": "https://a/"})
        stack(cloudformation, "slipway-local-b-data", {"ArtifactBucketName": "bucket-b"})
        deployed = deployed_environments(cloudformation, embedded_environments(environments))
    by_name = {d.name: d for d in deployed}
    assert list(by_name) == ["local", "local-b"]  # 'never' has no stacks, 'dev' is not embedded
    assert by_name["local"].outputs == {
        "ArtifactBucketName": "bucket-a",
        "EndpointUrlDefault": "https://a/",
    }
    assert by_name["local-b"].outputs == {"ArtifactBucketName": "bucket-b"}
    routes = {"https://a/": "http://localhost:4751"}
    assert by_name["local"].endpoints(routes) == {"default": "http://localhost:4751"}
    assert by_name["local"].registry(routes) == "(not served)"


def test_an_environments_functions_are_its_own_stacks_not_a_name_prefix():
    environments = {"local": EMBEDDED, "local-b": EMBEDDED}
    with mock_aws():
        cloudformation = boto3.client("cloudformation")
        stack(cloudformation, "slipway-local-serving", {}, function=True)
        stack(cloudformation, "slipway-local-b-serving", {}, function=True)
        local, other = embedded_environments(environments)
        (own,) = environment_functions(cloudformation, local)
        (others,) = environment_functions(cloudformation, other)
    assert own != others and own.startswith("slipway-local-serving")


def test_a_state_file_from_before_keeps_saying_where_the_cloud_is(tmp_path):
    # GIVEN a state file written when it also held (and lost) an environment's outputs
    saved = {"pid": 12, "endpoint_url": "http://localhost:4750", "routes": {}, "outputs": {}}
    (tmp_path / "state.json").write_text(json.dumps(saved))
    # THEN it still loads
    state = LocalState.load(tmp_path)
    assert state is not None and state.endpoint_url == "http://localhost:4750"
