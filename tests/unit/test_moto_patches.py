"""The moto internals the embedded cloud patches are where the patches expect them.

A moto upgrade that moves or reshapes one fails here, naming it, instead of leaving an
embedded cloud that silently behaves unlike AWS."""

from __future__ import annotations

import io
import zipfile

import boto3
import pytest
from moto import mock_aws

from slipway.local import moto_patches
from slipway.local.moto_patches import MotoPatchError, check_targets, moto_internal


def test_every_patched_moto_internal_exists_with_the_expected_signature():
    check_targets()


def test_a_moved_internal_is_named_with_what_to_do():
    class Backend:
        def invoke(self, function_name, body): ...

    with pytest.raises(MotoPatchError, match=r"has no Backend.run; .*moto_patches.py"):
        moto_internal(Backend, "run", ("self",))
    with pytest.raises(MotoPatchError, match=r"changed Backend.invoke\('self', 'function_name'"):
        moto_internal(Backend, "invoke", ("self", "function_name", "qualifier", "body"))


@mock_aws
def test_a_moto_lambda_function_and_its_url_have_every_attribute_the_patches_read():
    from moto.awslambda.models import lambda_backends

    role = boto3.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}", Path="/")[
        "Role"
    ]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("handler.py", "def handler(event, context):\n    return event\n")
    boto3.client("lambda").create_function(
        FunctionName="probe",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    boto3.client("lambda").create_function_url_config(FunctionName="probe", AuthType="AWS_IAM")
    (function,) = lambda_backends["123456789012"]["us-east-1"].list_functions()
    missing = [a for a in moto_patches.LAMBDA_FUNCTION_ATTRIBUTES if not hasattr(function, a)]
    assert not missing, f"moto's LambdaFunction no longer has {missing}"
    url = function.url_config
    missing = [a for a in moto_patches.FUNCTION_URL_CONFIG_ATTRIBUTES if not hasattr(url, a)]
    assert not missing, f"moto's FunctionUrlConfig no longer has {missing}"
