"""`slipway invoke --stage staging` calls the candidate function built like the endpoint
that serves the model, as the smoke test does."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace
from typing import Any

import pytest

from infra.config import candidate_function_output, load_environment
from slipway.errors import CliError
from slipway.invoke import call_candidate, predict_path
from tests.unit.test_config import environments


class RecordingLambda:
    """Lambda Invoke answering every call with one Function URL response."""

    def __init__(self) -> None:
        self.invoked: list[str] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        self.invoked.append(FunctionName)
        answer = {
            "statusCode": 200,
            "headers": {"content-type": "application/json", "x-model-version": "7"},
            "body": json.dumps({"outputs": [1]}),
        }
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


def test_staging_calls_go_to_the_candidate_of_the_models_endpoint():
    # GIVEN prod, whose 'fraud' endpoint serves fraud-score, as its stack outputs name them
    config = load_environment(environments(), "prod")
    outputs = {candidate_function_output(e.name): f"candidate-{e.name}" for e in config.endpoints}
    lambda_client = RecordingLambda()
    target = SimpleNamespace(config=config, outputs=outputs, client=lambda _: lambda_client)
    body = b'{"inputs": [[1]]}'
    # WHEN the CLI asks each model's staging version
    for model in ("fraud-score", "churn"):
        path = predict_path(model, None, "staging")
        assert call_candidate(target, model, "POST", path, body).version == "7"  # type: ignore[arg-type]
    # THEN fraud-score's went to the fraud endpoint's candidate, churn's to the default's
    assert lambda_client.invoked == ["candidate-fraud", "candidate-default"]


def test_a_deployment_without_the_endpoints_candidate_is_told_to_deploy():
    # GIVEN stacks deployed before each endpoint had its candidate (one CandidateFunction)
    config = load_environment(environments(), "prod")
    lambda_client = RecordingLambda()
    target = SimpleNamespace(
        config=config, outputs={"CandidateFunction": "old"}, client=lambda _: lambda_client
    )
    # WHEN a staging version is asked THEN the CLI says what to do, and calls nothing
    with pytest.raises(CliError, match=r"no candidate function for endpoint 'fraud'.*cdk deploy"):
        call_candidate(
            target, "fraud-score", "POST", predict_path("fraud-score", None, "staging"), b"{}"
        )  # type: ignore[arg-type]
    assert lambda_client.invoked == []
