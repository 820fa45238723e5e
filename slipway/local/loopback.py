"""Only this machine may talk to the embedded cloud: its ports answer a request only when
its Host header names a loopback address.

The servers listen on 127.0.0.1, but a web page can still reach them through DNS rebinding
(a name of the attacker's that resolves to 127.0.0.1): the browser then sends that name as
the Host. Refusing every Host that is not a loopback name closes that door; the embedded
cloud also requires its per-start key (``credentials.py``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from slipway.local.credentials import UNSIGNED, LocalCredentials

FORBIDDEN = b'{"Message":"Forbidden: the embedded cloud answers only requests to a loopback host"}'


def is_loopback_host(host: str | None) -> bool:
    """Whether a Host header (``name[:port]``) names this machine."""
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:4751
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.rsplit(":", 1)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def guarded_wsgi(
    app: Callable[..., Iterable[bytes]],
    credentials: LocalCredentials,
    issued: Callable[[str], bool],
) -> Callable[..., Iterable[bytes]]:
    """A WSGI app that refuses (403) requests whose Host is not a loopback name, or that are
    not signed with this start's key or one its STS ``issued``."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refusal = None
        if not is_loopback_host(environ.get("HTTP_HOST")):
            refusal = FORBIDDEN
        elif not credentials.signed(
            environ.get("HTTP_AUTHORIZATION"), environ.get("QUERY_STRING", ""), issued
        ):
            refusal = UNSIGNED
        if refusal is not None:
            start_response(
                "403 Forbidden",
                [("Content-Type", "application/json"), ("Content-Length", str(len(refusal)))],
            )
            return [refusal]
        return app(environ, start_response)

    return guarded
