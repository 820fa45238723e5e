"""Calling an endpoint: SigV4-signed for a Function URL in AWS, plain HTTP for the local gateway."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from slipway.errors import CliError
from slipway.target import Target


@dataclass(frozen=True)
class Prediction:
    status: int
    version: str | None
    body: Any


def predict_path(name: str, version: str | None, stage: str) -> str:
    if version:
        return f"/v1/models/{name}/versions/{version}/predict"
    return f"/v1/models/{name}/predict" + ("?stage=staging" if stage == "staging" else "")


def call_endpoint(
    target: Target,
    method: str,
    path: str,
    body: bytes | None = None,
    endpoint: str = "default",
    timeout: float = 60,
) -> Prediction:
    url = target.endpoint_url(endpoint) + path
    headers = {"content-type": "application/json"} if body is not None else {}
    if not target.is_local:
        credentials = target.session.get_credentials()
        if credentials is None:
            raise CliError("no AWS credentials found; configure a profile or AWS_PROFILE")
        request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "lambda", target.config.region).add_auth(
            request
        )
        headers = dict(request.headers.items())
    try:
        response = httpx.request(method, url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {url}: {exc}") from None
    try:
        payload: Any = response.json()
    except json.JSONDecodeError:
        payload = response.text
    return Prediction(response.status_code, response.headers.get("x-model-version"), payload)
