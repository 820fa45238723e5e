"""Renewing a function's environments: a new configuration, its own settings kept."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
from moto import mock_aws

from model_runtime.lambda_environments import GENERATION, discard_environments


def a_function(name: str) -> str:
    role = boto3.client("iam").create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": {"SLIPWAY_TABLE_NAME": "lineage"}},
    )
    return name


@mock_aws
def test_each_renewal_is_a_new_configuration_that_keeps_the_functions_settings():
    lambda_client = boto3.client("lambda")
    function = a_function("candidates")
    discard_environments(lambda_client, function)
    first = lambda_client.get_function_configuration(FunctionName=function)
    discard_environments(lambda_client, function)
    second = lambda_client.get_function_configuration(FunctionName=function)
    assert set(first["Environment"]["Variables"]) == {"SLIPWAY_TABLE_NAME", GENERATION}
    assert first["Environment"]["Variables"]["SLIPWAY_TABLE_NAME"] == "lineage"
    generations = [c["Environment"]["Variables"][GENERATION] for c in (first, second)]
    assert generations[0] != generations[1]
    assert second["LastModified"] >= first["LastModified"]
