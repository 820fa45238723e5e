"""The local gateway: one HTTP port per Function URL, turning requests into Function URL events.

Each port is a uvicorn server (a real HTTP/1.1 server: keep-alive, TCP_NODELAY, headers and
body in one write) running a small ASGI app that builds the payload-2.0 event, invokes the
function through the embedded cloud's Lambda backend (so it runs in the same warm worker
and leaves the same logs and metrics as any other invocation), and maps the answer back as
Function URLs do. SigV4 is not checked locally (the Function URLs in AWS use AWS_IAM auth);
plain curl works here on purpose.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import uvicorn

from model_runtime.serving.function_url import (
    InvalidFunctionResponse,
    function_url_event,
    http_response,
)
from registry.aws import SYNC_INVOKE_PAYLOAD_BYTES
from slipway.local.credentials import UNSIGNED, LocalCredentials
from slipway.local.loopback import FORBIDDEN, is_loopback_host

# (function ARN, event) -> (payload bytes, whether the function failed)
Invoke = Callable[[str, dict[str, Any]], tuple[bytes, bool]]
_TOO_LARGE = b'{"Message":"Request must be smaller than 6291456 bytes"}'
_FUNCTION_FAILED = b'{"Message":"Internal Server Error"}'
_HOP_BY_HOP = {"content-length", "connection", "transfer-encoding", "keep-alive"}
_BASE64_SAFE = 4 * 1024 * 1024  # a body this small fits the payload limit even base64-encoded


def url_id_of(function_url: str) -> str:
    return urlsplit(function_url).hostname.split(".")[0]  # type: ignore[union-attr]


class FunctionUrlApp:
    """The ASGI app serving one Function URL."""

    def __init__(
        self,
        invoke: Invoke,
        function_url: str,
        function_arn: str,
        region: str,
        account_id: str,
        credentials: LocalCredentials,
    ) -> None:
        self._invoke = invoke
        self._credentials = credentials
        self._url_id = url_id_of(function_url)
        self._arn = function_arn
        self._region = region
        self._account_id = account_id

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            joiner = "; " if name == "cookie" else ","  # cookies are split on ";" again
            headers[name] = f"{headers[name]}{joiner}{value}" if name in headers else value
        if not is_loopback_host(headers.get("host")):
            await self._reply(send, 403, {"content-type": "application/json"}, [], FORBIDDEN)
            return
        # AWS_IAM auth as the real Function URL has it, down to the key (see credentials.py)
        if not self._credentials.signed(
            headers.get("authorization"), scope["query_string"].decode("latin-1")
        ):
            await self._reply(send, 403, {"content-type": "application/json"}, [], UNSIGNED)
            return
        try:
            declared = int(headers.get("content-length") or 0)
        except ValueError:
            declared = 0
        body = await self._read_body(receive, declared)
        if body is None:
            await self._reply(send, 413, {"content-type": "application/json"}, [], _TOO_LARGE)
            return
        client = scope.get("client") or ("127.0.0.1", 0)
        event = function_url_event(
            method=scope["method"],
            raw_path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            raw_query=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=body,
            url_id=self._url_id,
            region=self._region,
            account_id=self._account_id,
            source_ip=client[0],
        )
        if len(body) > _BASE64_SAFE and len(json.dumps(event)) > SYNC_INVOKE_PAYLOAD_BYTES:
            # the event, not the body, must fit the synchronous payload (base64 grows it)
            await self._reply(send, 413, {"content-type": "application/json"}, [], _TOO_LARGE)
            return
        loop = asyncio.get_running_loop()
        try:  # in a thread: the port keeps answering (a 413, another client) meanwhile
            payload, failed = await loop.run_in_executor(None, self._invoke, self._arn, event)
        except Exception:  # the function was deleted, or the backend failed
            payload, failed = b"", True
        if failed or len(payload) > SYNC_INVOKE_PAYLOAD_BYTES:
            await self._reply(send, 502, {"content-type": "application/json"}, [], _FUNCTION_FAILED)
            return
        try:
            status, answer_headers, cookies, raw = http_response(json.loads(payload or b"null"))
        except (InvalidFunctionResponse, ValueError):  # AWS answers 502 for such answers
            await self._reply(send, 502, {"content-type": "application/json"}, [], _FUNCTION_FAILED)
            return
        await self._reply(send, status, answer_headers, cookies, raw)

    @staticmethod
    async def _read_body(receive: Any, declared: int) -> bytes | None:
        """The request body, or None once it exceeds Lambda's synchronous payload limit."""
        if declared > SYNC_INVOKE_PAYLOAD_BYTES:
            return None
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > SYNC_INVOKE_PAYLOAD_BYTES:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    @staticmethod
    async def _reply(
        send: Any, status: int, headers: dict[str, str], cookies: list[str], body: bytes
    ) -> None:
        raw_headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
            if name not in _HOP_BY_HOP
        ]
        raw_headers += [(b"set-cookie", cookie.encode("latin-1")) for cookie in cookies]
        raw_headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})


class _Server:
    """A uvicorn server on its own thread and event loop, listening on a bound socket."""

    def __init__(self, app: FunctionUrlApp, port: int) -> None:
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
        # and without it a response's header and body writes wait ~40 ms for a delayed ACK.
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        # listening before the server's loop starts: a client that connects at once waits in
        # the backlog instead of being refused
        self.socket.listen(128)
        self.port = int(self.socket.getsockname()[1])
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            proxy_headers=False,  # nothing stands in front of it
            timeout_keep_alive=30,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.socket.close()


class FunctionUrlGateway:
    """Serves every Function URL it is told about on a port of its own."""

    def __init__(
        self, invoke: Invoke, *, region: str, account_id: str, credentials: LocalCredentials
    ) -> None:
        self._invoke = invoke
        self._credentials = credentials
        self._region = region
        self._account_id = account_id
        self._servers: dict[str, _Server] = {}
        self.routes: dict[str, str] = {}  # Function URL in AWS form -> local base URL

    def serve(self, function_url: str, function_arn: str, port: int = 0) -> str:
        if function_url in self.routes:
            return self.routes[function_url]
        app = FunctionUrlApp(
            self._invoke,
            function_url,
            function_arn,
            self._region,
            self._account_id,
            self._credentials,
        )
        server = _Server(app, port)
        self._servers[function_url] = server
        local = f"http://localhost:{server.port}"
        self.routes[function_url] = local
        return local

    def close(self, function_url: str) -> None:
        server = self._servers.pop(function_url, None)
        self.routes.pop(function_url, None)
        if server is not None:
            server.stop()

    def close_all(self) -> None:
        for function_url in list(self._servers):
            self.close(function_url)
