"""Calling Slipway's Function URLs, SigV4-signed: in AWS with your credentials, on the
embedded cloud with its per-start key."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from registry.failure_reasons import readable_reason
from registry.statuses import Stage
from slipway.errors import CliError
from slipway.target import Target

# a Function URL answers at most 6 MB (Lambda's synchronous payload limit)
MAX_ANSWER_BYTES = 8 * 1024**2


@dataclass(frozen=True)
class Answer:
    status: int
    version: str | None
    body: Any


def predict_path(name: str, version: str | None, stage: Stage) -> str:
    if version:
        return f"/v1/models/{name}/versions/{version}/predict"
    query = f"?stage={Stage.STAGING}" if stage == Stage.STAGING else ""
    return f"/v1/models/{name}/predict{query}"


def call_url(
    target: Target, url: str, method: str, body: bytes | None = None, timeout: float = 60
) -> Answer:
    headers = {"content-type": "application/json"} if body is not None else {}
    # the embedded cloud's gateways check the signature's key too (local/credentials.py)
    credentials = target.session.get_credentials()
    if credentials is None:
        raise CliError("no AWS credentials found; configure a profile or AWS_PROFILE")
    request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
    region = target.config.region
    SigV4Auth(credentials.get_frozen_credentials(), "lambda", region).add_auth(request)
    headers = dict(request.headers.items())
    try:
        response = _bounded_request(method, url, body, headers, timeout)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {url}: {exc}") from None
    if response.status_code == 403 and not target.is_local:
        raise CliError(
            f"{url} refused the request (HTTP 403): the credentials AWS found "
            f"({credentials.method}, access key …{credentials.access_key[-4:]}) are not allowed to "
            "call it. Check AWS_PROFILE, and that the identity may both "
            "lambda:InvokeFunctionUrl and lambda:InvokeFunction on the function: function URLs "
            "made since October 2025 need both. An endpoint with provisioned concurrency "
            "answers through its alias, so grant them on the function's ARN followed by :live."
        )
    try:
        payload: Any = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = response.content.decode(errors="replace")
    return Answer(response.status_code, response.headers.get("x-model-version"), payload)


@dataclass(frozen=True)
class _Read:
    status_code: int
    headers: httpx.Headers
    content: bytes


def _bounded_request(
    method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float
) -> _Read:
    """The answer, read within ``timeout`` seconds in all and at most MAX_ANSWER_BYTES:
    httpx's timeout bounds each read, so a server sending a byte now and then would
    otherwise keep the command waiting (and filling memory) for ever."""
    deadline = time.monotonic() + timeout
    with httpx.stream(method, url, content=body, headers=headers, timeout=timeout) as response:
        received = bytearray()
        for chunk in response.iter_bytes():
            received += chunk
            if len(received) > MAX_ANSWER_BYTES:
                raise CliError(f"{url} answered more than {MAX_ANSWER_BYTES} bytes")
            if time.monotonic() > deadline:
                raise CliError(f"{url} took more than {timeout:g} s to answer")
        return _Read(response.status_code, response.headers, bytes(received))


def call_endpoint(
    target: Target, method: str, path: str, body: bytes | None = None, endpoint: str = "default"
) -> Answer:
    return call_url(target, target.endpoint_url(endpoint) + path, method, body)


def call_candidate(
    target: Target, model: str, method: str, path: str, body: bytes | None
) -> Answer:
    """Call the candidate function (staging versions) built like the endpoint that serves
    ``model``, as the smoke test does: it has no URL, so the request goes as a Function URL
    event through Lambda Invoke."""
    from infra.config import candidate_function_output
    from model_runtime.serving.function_url import function_url_event, http_response

    path, _, query = path.partition("?")
    endpoint = target.config.endpoint_for(model).name
    event = function_url_event(
        method=method,
        raw_path=path,
        raw_query=query,
        headers={"content-type": "application/json", "user-agent": "slipway-cli"},
        body=body or b"",
        url_id="slipway-cli",
        region=target.config.region,
        account_id="self",
    )
    function = target.outputs.get(candidate_function_output(endpoint))
    if function is None:
        raise CliError(
            f"environment {target.config.name} has no candidate function for endpoint "
            f"{endpoint!r} among its stack outputs: deploy it with this version of Slipway "
            f"(`npx cdk deploy --all -c env={target.config.name}`)"
        )
    answer = target.client("lambda").invoke(
        FunctionName=function,
        Payload=json.dumps(event).encode(),
    )
    payload = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        # Lambda's error JSON: its type and message, not its stack trace
        error = payload.get("errorType") if isinstance(payload, dict) else None
        raise CliError(f"the candidate function failed: {readable_reason(error, payload)}")
    status, headers, _, raw = http_response(payload)
    try:
        parsed: Any = json.loads(raw or b"null")
    except json.JSONDecodeError:
        parsed = raw.decode(errors="replace")
    return Answer(status, headers.get("x-model-version"), parsed)


def call_registry(target: Target, method: str, path: str, body: Any = None) -> Any:
    """Call the registry API; its problem+json answers become CliErrors."""
    data = json.dumps(body).encode() if body is not None else None
    answer = call_url(target, target.registry_url() + path, method, data)
    if answer.status >= 400:
        detail = answer.body.get("detail") if isinstance(answer.body, dict) else answer.body
        raise CliError(
            f"the registry answered HTTP {answer.status}: {detail}",
            status=answer.status,
            problem=answer.body,
        )
    return answer.body
