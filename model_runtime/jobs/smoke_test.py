"""Workflow step SmokeTest: the real endpoint code, called on the staging route of the
candidate function built like the endpoint that will serve the model (its architecture,
memory, /tmp, libraries and python-flavor allowance), which takes no live traffic.

The call is a Function URL event sent with Lambda Invoke, so it passes through Mangum,
FastAPI and the model store exactly as a client's request would. The first call that the
candidate answers may start the function's environment (in AWS: the image, the runtime's
imports) and downloads and loads the model; a few warm calls follow. Each kind is judged by
its own budget, so a cold container does not reject a healthy model and a slow warm one is
still refused.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
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
from registry.candidate_functions import candidate_for, decode
from registry.environment import CANDIDATE_FUNCTIONS, LAMBDA_REGION, required
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


# Calls after the first, in the environment the first one warmed; their median is judged,
# so one hiccup of the network or the scheduler does not reject a model.
WARM_CALLS = 3


@dataclass(frozen=True)
class SmokeBudgets:
    """The environment's budgets: the first call may start the function's environment and
    loads the model; the calls after it are what a warm endpoint answers in."""

    cold_ms: float
    warm_ms: float


def smoke_test(
    lambda_client: Any,
    function: str,
    name: str,
    version: str,
    input_example: dict[str, Any],
    budgets: SmokeBudgets,
    pointer_cache_seconds: float,
) -> SmokeTestOutcome:
    """Call until the staging pointer (cached for a few seconds) serves ``version``; check
    that answer and the warm ones after it, and time the first and the warm calls."""
    deadline = time.monotonic() + pointer_cache_seconds + 5
    while True:
        status, headers, body, first_ms = call_staging(
            lambda_client, function, name, input_example["inputs"]
        )
        served = headers.get("x-model-version")
        if served == version or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    _check_answer(status, served, body, version, input_example)
    warm = []
    for _ in range(WARM_CALLS):
        status, warm_headers, body, call_ms = call_staging(
            lambda_client, function, name, input_example["inputs"]
        )
        _check_answer(status, warm_headers.get("x-model-version"), body, version, input_example)
        warm.append(call_ms)
    load_ms = float(headers.get("x-model-load-ms", "0"))
    warm_ms = statistics.median(warm)
    result = SmokeTestOutcome(
        version=version,
        first_call_ms=round(first_ms, 1),
        model_load_ms=load_ms,
        cold_start=headers.get("x-cold-start") == "true",
        cold_budget_ms=budgets.cold_ms,
        warm_call_ms=round(warm_ms, 1),
        warm_calls=len(warm),
        warm_budget_ms=budgets.warm_ms,
    )
    missed = []
    if first_ms > budgets.cold_ms or load_ms > budgets.cold_ms:
        missed.append(
            f"the first call took {first_ms:.0f} ms (model load {load_ms:.0f} ms), over "
            f"this environment's cold budget (smoke_cold_budget_ms) of {budgets.cold_ms:.0f} ms"
        )
    if warm_ms > budgets.warm_ms:
        missed.append(
            f"the warm calls took {warm_ms:.0f} ms (median of {len(warm)}), over this "
            f"environment's warm budget (smoke_warm_budget_ms) of {budgets.warm_ms:.0f} ms"
        )
    if missed:
        raise SmokeTestTooSlowError("; ".join(missed))
    return result


def _check_answer(
    status: int, served: str | None, body: Any, version: str, input_example: dict[str, Any]
) -> None:
    if status != 200:
        raise SmokeTestFailedError(f"staging route answered HTTP {status}: {body}")
    if served != version:
        raise SmokeTestFailedError(f"staging route still serves {served}, not {version}")
    if not outputs_match(body["outputs"], input_example["expected_output"]):
        raise SmokeTestFailedError(
            f"endpoint answered {body['outputs']} for the input example, expected "
            f"{input_example['expected_output']}"
        )


def smoke_test_candidate(
    lambda_client: Any,
    repository: LineageRepository,
    candidates: Mapping[str, str],
    state: PromotionState,
) -> SmokeTestOutcome:
    """Smoke-test the candidate on the candidate function of the endpoint that will serve
    it (``candidates``: endpoint -> function), built like that endpoint."""
    name, version = state.candidate()
    registered = repository.get_version(name, version)
    if registered is None:
        raise InvalidStateError(f"{name} {version} is not registered: SmokeTest runs after Stage")
    endpoint = state.policy.candidate_endpoint_for(name)
    function = candidate_for(candidates, endpoint)

    def run() -> SmokeTestOutcome:
        outcome = smoke_test(
            lambda_client,
            function,
            name,
            version,
            registered["input_example"],
            SmokeBudgets(state.policy.smoke_cold_budget_ms, state.policy.smoke_warm_budget_ms),
            state.policy.pointer_cache_seconds,
        )
        return outcome.model_copy(update={"endpoint": endpoint})

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
        aws.timed_lambda_client(),
        aws.lineage_repository(),
        decode(required(CANDIDATE_FUNCTIONS)),
        PromotionState.parse(event),
    ).dump()
