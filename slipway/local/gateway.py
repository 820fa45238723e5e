"""The local gateway: one HTTP port per Function URL, turning requests into Function URL events.

Requests reach the function through the embedded cloud's Lambda Invoke API, so they run in
the same warm worker and leave the same logs as any other invocation. SigV4 is not checked
locally (the Function URLs in AWS use AWS_IAM auth); plain curl works here on purpose.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from model_runtime.serving.function_url import function_url_event, http_response

_MAX_BODY = 6 * 1024 * 1024  # Lambda's synchronous payload limit


def url_id_of(function_url: str) -> str:
    return urlsplit(function_url).hostname.split(".")[0]  # type: ignore[union-attr]


class FunctionUrlGateway:
    """Serves every Function URL it is told about on a port of its own."""

    def __init__(self, lambda_client: Any, *, region: str, account_id: str) -> None:
        self._lambda = lambda_client
        self._region = region
        self._account_id = account_id
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self.routes: dict[str, str] = {}  # Function URL in AWS form -> local base URL

    def serve(self, function_url: str, function_arn: str, port: int = 0) -> str:
        if function_url in self.routes:
            return self.routes[function_url]
        server = ThreadingHTTPServer(
            ("127.0.0.1", port), self._handler_class(function_url, function_arn)
        )
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._servers[function_url] = server
        local = f"http://localhost:{server.server_address[1]}"
        self.routes[function_url] = local
        return local

    def close(self, function_url: str) -> None:
        server = self._servers.pop(function_url, None)
        self.routes.pop(function_url, None)
        if server is not None:
            server.shutdown()
            server.server_close()

    def close_all(self) -> None:
        for function_url in list(self._servers):
            self.close(function_url)

    def _handler_class(self, function_url: str, function_arn: str) -> type[BaseHTTPRequestHandler]:
        gateway = self
        url_id = url_id_of(function_url)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length > _MAX_BODY:
                    self._reply(
                        413,
                        {"content-type": "application/json"},
                        [],
                        b'{"Message":"Request must be smaller than 6291456 bytes"}',
                    )
                    return
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                event = function_url_event(
                    method=self.command,
                    raw_path=parts.path,
                    raw_query=parts.query,
                    headers=dict(self.headers.items()),
                    body=body,
                    url_id=url_id,
                    region=gateway._region,
                    account_id=gateway._account_id,
                    source_ip=self.client_address[0],
                )
                answer = gateway._lambda.invoke(
                    FunctionName=function_arn, Payload=json.dumps(event).encode()
                )
                payload = answer["Payload"].read()
                if answer.get("FunctionError"):
                    self._reply(
                        502,
                        {"content-type": "application/json"},
                        [],
                        b'{"Message":"Internal Server Error"}',
                    )
                    return
                status, headers, cookies, raw = http_response(json.loads(payload or b"null"))
                self._reply(status, headers, cookies, raw)

            def _reply(
                self, status: int, headers: dict[str, str], cookies: list[str], body: bytes
            ) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                for cookie in cookies:
                    self.send_header("set-cookie", cookie)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
