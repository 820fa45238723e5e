"""The console's one way to the registry API: a GET or a POST that answers JSON or raises
``RegistryCallError`` with the registry's status and detail.

In use it signs each request with the environment's credentials (``slipway.invoke``), as
the CLI does, so the console can do exactly what IAM lets its user do. Tests give the
console a client over the real registry app instead (same interface).
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import urlencode

from slipway.errors import CliError
from slipway.target import Target

# each registry call is bounded: a page waits for at most a few of them
CALL_TIMEOUT_SECONDS = 15.0


class RegistryCallError(Exception):
    """The registry refused or failed a call (``status`` 502: it could not be reached)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class RegistryClient(Protocol):
    def get(self, path: str, params: dict[str, str] | None = None) -> Any: ...

    def post(self, path: str, body: dict[str, Any]) -> Any: ...


def with_query(path: str, params: dict[str, str] | None) -> str:
    """``path`` with the given parameters (None values left out) as its query."""
    present = {key: value for key, value in (params or {}).items() if value is not None}
    return path + (f"?{urlencode(present)}" if present else "")


def problem_detail(status: int, body: Any) -> str:
    """What a registry error says: problem+json's ``detail``, else its text, bounded."""
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("title") or body.get("message")
        if isinstance(detail, str):
            return detail[:2000]
        return json.dumps(detail if detail is not None else body, default=str)[:2000]
    text = str(body or "").strip()
    return text[:2000] or f"the registry answered HTTP {status} without a detail"


class SignedRegistryClient:
    """The registry API of a deployed environment, called with SigV4 as its user."""

    def __init__(self, target: Target) -> None:
        from slipway.invoke import call_url

        self._call_url = call_url
        self._target = target
        # resolved once: the stack outputs are read now, not by concurrent page threads
        self._base = target.registry_url()

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self._call("GET", with_query(path, params), None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, json.dumps(body).encode())

    def _call(self, method: str, path: str, body: bytes | None) -> Any:
        try:
            answer = self._call_url(
                self._target, self._base + path, method, body, timeout=CALL_TIMEOUT_SECONDS
            )
        except CliError as exc:  # unreachable, too slow, too big, or refused by IAM
            status = 403 if "HTTP 403" in exc.message else 502
            raise RegistryCallError(status, exc.message) from None
        if answer.status >= 400:
            raise RegistryCallError(answer.status, problem_detail(answer.status, answer.body))
        if not isinstance(answer.body, dict):
            # every registry route answers an object: anything else is a proxy's page or a
            # wrong URL, the registry's failure to show, not the console's to crash on
            shown = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
            raise RegistryCallError(
                502,
                f"the registry answered HTTP {answer.status} with not a JSON object: "
                f"{shown.strip()[:200]!r}",
            )
        return answer.body
