"""What keeps everyone but the person who ran ``slipway ui`` out of the console.

The console acts with its user's AWS credentials, so any process or web page that could
drive it would act as that user. It listens on 127.0.0.1 only, and every request (static
files included) must:
- name the console in its Host header: a web page that rebinds its own DNS name to
  127.0.0.1 still sends its name, so DNS rebinding is refused;
- come from the console's own pages when a browser says where it comes from (Origin,
  Sec-Fetch-Site), and a POST must say so: another site's form cannot post here;
- carry the per-start secret: once in the printed URL (``?token=``), then in a cookie
  that is HttpOnly and SameSite=Strict (never sent by another site's requests).
Every answer carries headers that forbid framing, inline script, outside resources and
caching. Form bodies are read here, bounded, before any page code sees them.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from html import escape
from typing import Any
from urllib.parse import parse_qsl, quote_from_bytes, urlencode, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    # same-origin, not no-referrer: under no-referrer a browser posts the console's own
    # forms with "Origin: null", which cannot be told from a sandboxed frame's; the
    # console's pages link nowhere else, so no address leaves it either way
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
)
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16 * 1024
TOKEN_PARAMETER = "token"
MAX_SAME_NAME_COOKIES = 8  # how many cookies of the console's name are tried


def cookie_name(port: int) -> str:
    """One cookie per port: cookies ignore ports, and two consoles may run side by side."""
    return f"slipway-console-{port}"


class Refusal(Exception):
    """A request the guard answers itself, with this status and sentence."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class ConsoleGuard:
    """ASGI middleware in front of the whole console app."""

    def __init__(self, app: ASGIApp, port: int, secret: str) -> None:
        if port <= 0:
            raise ValueError("the guard needs the port the console listens on")
        self.app = app
        self.port = port
        self.secret = secret
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self.origins = {f"http://{host}" for host in self.hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # the console has no websockets
            await send({"type": "websocket.close", "code": 1008})
            return
        secured = _with_security_headers(send)
        headers = _headers(scope)
        try:
            self.check_request(scope, headers)
            redirect = self.token_redirect(scope)
            if redirect is not None:
                await _respond(secured, 303, b"", redirect)
                return
            self.check_cookie(headers)
            if scope["method"] == "POST":
                receive = await self.bounded_form(headers, receive)
        except Refusal as refusal:
            await _respond(secured, refusal.status, _refusal_page(refusal), [])
            return
        await self.app(scope, receive, secured)

    def check_request(self, scope: Scope, headers: dict[str, str]) -> None:
        """Host, then where the request comes from (as far as a browser says)."""
        if headers.get("host", "").lower() not in self.hosts:
            raise Refusal(
                403,
                "Wrong host",
                f"The console answers only at http://127.0.0.1:{self.port} "
                f"or http://localhost:{self.port}.",
            )
        site = headers.get("sec-fetch-site", "").lower()
        if site in ("cross-site", "same-site"):
            raise Refusal(403, "Refused", "The console refuses requests made by other sites.")
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in self.origins:
            raise Refusal(403, "Refused", "The console refuses requests from other origins.")
        if scope["method"] == "POST" and origin is None:
            referer = headers.get("referer")
            if referer is None or not self._own_page(referer):
                raise Refusal(
                    403,
                    "Refused",
                    "A form is accepted only from the console's own pages "
                    "(the request named no Origin or Referer of the console).",
                )

    def _own_page(self, referer: str) -> bool:
        try:
            parts = urlsplit(referer)
        except ValueError:
            return False
        return f"{parts.scheme}://{parts.netloc}".lower() in self.origins

    def token_redirect(self, scope: Scope) -> list[tuple[bytes, bytes]] | None:
        """The printed URL's token becomes the cookie, and the URL loses it (no secret left
        in the address bar or the history): a 303 to the same page without it."""
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
        tokens = [value for key, value in query if key == TOKEN_PARAMETER]
        if not tokens:
            return None
        if len(tokens) > 1 or not self._is_secret(tokens[0]):
            raise Refusal(403, "Wrong link", _OPEN_THE_LINK)
        rest = urlencode([(k, v) for k, v in query if k != TOKEN_PARAMETER])
        location = _same_page(scope) + (f"?{rest}" if rest else "")
        cookie = f"{cookie_name(self.port)}={self.secret}; HttpOnly; SameSite=Strict; Path=/"
        return [(b"location", location.encode()), (b"set-cookie", cookie.encode())]

    def check_cookie(self, headers: dict[str, str]) -> None:
        # any cookie of the console's name may hold the secret: a page on another port of
        # 127.0.0.1 can set one of that name (on a longer path, sent first), and must not
        # lock the person out
        sent = _cookies(headers.get("cookie", "")).get(cookie_name(self.port), [])
        if not any(self._is_secret(value) for value in sent[:MAX_SAME_NAME_COOKIES]):
            raise Refusal(403, "Open the link slipway ui printed", _OPEN_THE_LINK)

    def _is_secret(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.secret.encode())

    async def bounded_form(self, headers: dict[str, str], receive: Receive) -> Receive:
        """The whole body of a form POST, read here within MAX_FORM_BYTES, handed on as one
        message: no page reads more, and nothing but a URL-encoded form gets in."""
        kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind != FORM_CONTENT_TYPE:
            raise Refusal(
                415, "Not a form", f"The console accepts only {FORM_CONTENT_TYPE} bodies."
            )
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
            raise Refusal(413, "Too large", f"A form has at most {MAX_FORM_BYTES} bytes.")
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refusal(400, "Incomplete", "The request ended before its body did.")
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                raise Refusal(413, "Too large", f"A form has at most {MAX_FORM_BYTES} bytes.")
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # the body was read; what is left is the client going away
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        return replay


_OPEN_THE_LINK = (
    "This console needs the secret of its start: open the link that `slipway ui` printed "
    "(http://127.0.0.1:<port>/?token=…). Each start has a new one."
)


def _same_page(scope: Scope) -> str:
    """The request's path as it was written (still percent-encoded: a decoded "%3F" or
    "%0D%0A" would change the page or break the header), with one leading slash: "//host"
    or "/\\host" in a Location is another host to a browser."""
    raw = scope.get("raw_path") or scope["path"].encode()
    written = quote_from_bytes(raw, safe="/%!$&'()*+,;=:@-._~")
    return "/" + written.lstrip("/")


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name; a repeated header keeps its first value, except
    Cookie, whose values join as browsers send them."""
    found: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name == "cookie" and name in found:
            found[name] += "; " + value
        else:
            found.setdefault(name, value)
    return found


def _cookies(header: str) -> dict[str, list[str]]:
    """Every value of each cookie name, in the order the browser sent them."""
    cookies: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            cookies.setdefault(name, []).append(value)
    return cookies


def _with_security_headers(send: Send) -> Send:
    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {name for name, _ in SECURITY_HEADERS}
            kept = [
                (name, value)
                for name, value in message.get("headers", [])
                if name.decode("latin-1").lower() not in names
            ]
            added = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS]
            message = {**message, "headers": kept + added}
        await send(message)

    return secured


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    extra = [(b"content-type", b"text/html; charset=utf-8")] if body else []
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, *extra, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _refusal_page(refusal: Refusal) -> bytes:
    """A plain page: the guard answers before any template or registry call."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(refusal.title)} · Slipway console</title></head>"
        f'<body><main><h1>{escape(refusal.title)}</h1><p role="alert">'
        f"{escape(refusal.message)}</p></main></body></html>\n"
    ).encode()
