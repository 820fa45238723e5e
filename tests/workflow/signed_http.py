"""httpx's get and post, signed with the test session's key, as the embedded cloud's
Function URLs require (slipway/local/credentials.py). A module of its own, so the tests and
the conftest that sets the key share one object."""

from __future__ import annotations

from typing import Any

import httpx

from slipway.local.credentials import LocalCredentials, SigV4Auth


class SignedHttp:
    """httpx's get and post, signed with the test session's key, as the embedded cloud's
    Function URLs require (slipway/local/credentials.py)."""

    credentials: LocalCredentials | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        assert self.credentials is not None, "the deployed fixture sets the key"
        kwargs.setdefault("timeout", 60)
        return httpx.request(method, url, auth=SigV4Auth(self.credentials), **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


local_http = SignedHttp()
