"""The registry API contains unexpected failures the way the endpoint does."""

from __future__ import annotations

import base64
import copy
import json

import pytest
from moto import mock_aws

from functions.registry_api.handler import handler
from tests.conftest import load_event


@pytest.fixture
def missing_table(monkeypatch):
    monkeypatch.setenv("SLIPWAY_TABLE_NAME", "no-such-table")
    with mock_aws():
        yield


def test_a_failing_dependency_is_a_500_problem_not_a_failed_invocation(
    missing_table, lambda_context
):
    event = copy.deepcopy(load_event("function_url_predict.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/models"
    event["requestContext"]["http"]["method"] = "GET"
    event.pop("body", None)
    response = handler(event, lambda_context)
    assert response["statusCode"] == 500
    assert response["headers"]["content-type"] == "application/problem+json"
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    assert json.loads(body)["detail"] == "the server failed to answer; the error is in its logs"
    assert "no-such-table" not in body
