"""Workflow step SmokeTest: the real endpoint function, called on the staging route.

The call is a Function URL event sent with Lambda Invoke, so it passes through Mangum,
FastAPI and the model store exactly as a client's request would.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from model_runtime.exceptions import SmokeTestFailedError, SmokeTestTooSlowError
from model_runtime.lambda_environments import discard_environments
from model_runtime.model import outputs_match
from model_runtime.serving.function_url import (
    InvalidFunctionResponse,
    function_url_event,
    http_response,
)
from registry import aws
from registry.environment import ENDPOINT_FUNCTION, LAMBDA_REGION, required
from registry.exceptions import InvalidStateError
from registry.repository import LineageRepository
from registry.statuses import Stage
from registry.workflow_state import PromotionState, SmokeTestOutcome


def call_staging(
    lambda_client: Any, function: str, name: str, inputs: list
) -> tuple[int, dict, dict, float]:
    event = function_url_event(
        method="POST",
        raw_path=f"/v1/models/{name}/predict",
        raw_query=f"stage={Stage.STAGING}",
        headers={"content-type": "application/json", "user-agent": "slipway-smoke-test"},
        body=json.dumps({"inputs": inputs}).encode(),
        url_id="smoke-test",
        region=required(LAMBDA_REGION),
        account_id="self",
    )
    started = time.perf_counter()
    answer = lambda_client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    latency_ms = (time.perf_counter() - started) * 1000
    payload = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        error = f"{payload.get('errorType')}: {payload.get('errorMessage')}"
        raise SmokeTestFailedError(f"the endpoint function failed: {error}")
    try:
        status, headers, _, body = http_response(payload)
        return status, headers, json.loads(body or b"null"), latency_ms
    except (InvalidFunctionResponse, ValueError) as exc:
        raise SmokeTestFailedError(
            f"the endpoint's answer is not an HTTP response: {exc}"
        ) from None


def smoke_test(
    lambda_client: Any,
    function: str,
    name: str,
    version: str,
    input_example: dict[str, Any],
    budget_ms: float,
    pointer_cache_seconds: float,
) -> SmokeTestOutcome:
    """Call until the staging pointer (cached for a few seconds) serves ``version``; check it."""
    deadline = time.monotonic() + pointer_cache_seconds + 5
    while True:
        status, headers, body, latency_ms = call_staging(
            lambda_client, function, name, input_example["inputs"]
        )
        served = headers.get("x-model-version")
        if served == version or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if status != 200:
        raise SmokeTestFailedError(f"staging route answered HTTP {status}: {body}")
    if served != version:
        raise SmokeTestFailedError(f"staging route still serves {served}, not {version}")
    if not outputs_match(body["outputs"], input_example["expected_output"]):
        raise SmokeTestFailedError(
            f"endpoint answered {body['outputs']} for the input example, expected "
            f"{input_example['expected_output']}"
        )
    load_ms = float(headers.get("x-model-load-ms", "0"))
    result = SmokeTestOutcome(
        version=served,
        latency_ms=round(latency_ms, 1),
        model_load_ms=load_ms,
        cold_start=headers.get("x-cold-start") == "true",
        budget_ms=budget_ms,
    )
    if load_ms > budget_ms or latency_ms > budget_ms:
        raise SmokeTestTooSlowError(
            f"model load took {load_ms:.0f} ms and the call {latency_ms:.0f} ms; this "
            f"environment's budget is {budget_ms:.0f} ms"
        )
    return result


def smoke_test_candidate(
    lambda_client: Any, repository: LineageRepository, function: str, state: PromotionState
) -> SmokeTestOutcome:
    name, version = state.candidate()
    registered = repository.get_version(name, version)
    if registered is None:
        raise InvalidStateError(f"{name} {version} is not registered: SmokeTest runs after Stage")

    def run() -> SmokeTestOutcome:
        return smoke_test(
            lambda_client,
            function,
            name,
            version,
            registered["input_example"],
            state.policy.smoke_test_budget_ms,
            state.policy.pointer_cache_seconds,
        )

    if registered.get("flavor") != "python":
        return run()
    # its code stays in the environments that served it: none may serve another request
    try:
        outcome = run()
    except Exception:
        with contextlib.suppress(Exception):  # the smoke test's own failure is the reason
            discard_environments(lambda_client, function)
        raise
    discard_environments(lambda_client, function)
    return outcome


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return smoke_test_candidate(
        aws.client("lambda"),
        aws.lineage_repository(),
        required(ENDPOINT_FUNCTION),
        PromotionState.parse(event),
    ).dump()
