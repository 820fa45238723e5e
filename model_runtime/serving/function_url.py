"""Function URL request events and responses, in the shape AWS uses (payload format 2.0).

The local gateway builds these from HTTP requests; the smoke test builds one to call the
endpoint function directly, exactly as a Function URL would.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

_TEXT_TYPES = ("application/json", "application/problem+json", "text/", "application/xml")


def function_url_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    body: bytes,
    url_id: str,
    region: str,
    account_id: str,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The event Lambda receives for an HTTP request to a Function URL."""
    lowered = {name.lower(): value for name, value in headers.items()}
    content_type = lowered.get("content-type", "")
    is_text = not body or any(kind in content_type for kind in _TEXT_TYPES) or not content_type
    try:
        text_body = body.decode() if is_text else None
    except UnicodeDecodeError:
        text_body = None
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path or "/",
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": url_id,
            "domainName": f"{url_id}.lambda-url.{region}.on.aws",
            "domainPrefix": url_id,
            "http": {
                "method": method,
                "path": raw_path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": text_body is None,
    }
    if raw_query:
        # a parameter given twice arrives once, its values joined by commas, as in AWS
        parameters: dict[str, list[str]] = {}
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            parameters.setdefault(name, []).append(value)
        event["queryStringParameters"] = {k: ",".join(v) for k, v in parameters.items()}
    if body:
        event["body"] = text_body if text_body is not None else base64.b64encode(body).decode()
    if "cookie" in lowered:
        event["cookies"] = [part.strip() for part in lowered["cookie"].split(";")]
    return event


class InvalidFunctionResponse(ValueError):
    """A function's answer that a Function URL cannot turn into HTTP (AWS answers 502)."""


def http_response(payload: Any) -> tuple[int, dict[str, str], list[str], bytes]:
    """(status, headers, set-cookies, body) for a function's answer, as Function URLs map it.

    An answer without ``statusCode`` is returned as a 200 JSON body, as in AWS; an answer
    HTTP cannot carry (a status outside 100-599, a header that is not text on one line,
    a body that is not valid base64 when it says it is) is an InvalidFunctionResponse.
    """
    if not isinstance(payload, dict) or "statusCode" not in payload:
        return 200, {"content-type": "application/json"}, [], json.dumps(payload).encode()
    try:
        status = int(payload["statusCode"])
        headers = {str(k).lower(): str(v) for k, v in (payload.get("headers") or {}).items()}
        for name, values in (payload.get("multiValueHeaders") or {}).items():
            headers[str(name).lower()] = ", ".join(map(str, values))
        cookies = [str(cookie) for cookie in payload.get("cookies") or []]
        body = payload.get("body") or ""
        raw = (
            base64.b64decode(body, validate=True)
            if payload.get("isBase64Encoded")
            else str(body).encode()
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidFunctionResponse(
            f"the function's answer is not an HTTP response: {exc}"
        ) from None
    if not 100 <= status <= 599:
        raise InvalidFunctionResponse(f"statusCode {status} is not an HTTP status")
    for text in [*headers, *headers.values(), *cookies]:
        if not _header_text(text):
            raise InvalidFunctionResponse(f"header text {text[:40]!r} cannot be sent over HTTP")
    return status, headers, cookies, raw


def _header_text(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\r" not in text and "\n" not in text and "\0" not in text
