"""Every wait of the CLI on a registry or endpoint is bounded in all, not per read: a
server that answers a byte now and then, or without end, ends the command with an error
(`slipway promote` against a source registry that hangs or answers garbage)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from botocore.credentials import Credentials

from infra.config import load_environment
from slipway import invoke
from slipway.errors import CliError
from slipway.invoke import call_url
from slipway.target import read_environments


class Dripping(BaseHTTPRequestHandler):
    """Headers at once, then one byte every 50 ms for 10 s: each read is quick."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        for _ in range(200):
            try:
                self.wfile.write(b" ")
                self.wfile.flush()
            except OSError:
                return  # the client gave up
            time.sleep(0.05)

    def log_message(self, *args: object) -> None:
        pass


class Endless(Dripping):
    """JSON without end, as fast as it goes."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"[" * 65536)
        except OSError:
            return


def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dripping() -> Iterator[str]:
    yield from serve(Dripping)


@pytest.fixture
def endless() -> Iterator[str]:
    yield from serve(Endless)


def target() -> SimpleNamespace:
    credentials = Credentials("AKIAEXAMPLE", "secret")
    return SimpleNamespace(
        config=load_environment(read_environments(), "local"),
        session=SimpleNamespace(get_credentials=lambda: credentials),
        is_local=True,
    )


def test_an_answer_dripping_in_ends_at_the_timeout_in_all(dripping):
    started = time.monotonic()
    with pytest.raises(CliError, match="took more than 1 s to answer"):
        call_url(target(), f"{dripping}/v1/models", "GET", timeout=1)
    assert time.monotonic() - started < 3


def test_an_answer_without_end_is_cut_at_the_bound(endless, monkeypatch):
    monkeypatch.setattr(invoke, "MAX_ANSWER_BYTES", 1024**2)
    with pytest.raises(CliError, match="answered more than 1048576 bytes"):
        call_url(target(), f"{endless}/v1/models", "GET", timeout=30)
