"""The console attacked: crafted paths on the printed link, a registry that answers
garbage, too much or too slowly, hostile text in what people and manifests write.

Each test is an attack that once worked (or a neighbour of one); the console runs for real
(uvicorn on 127.0.0.1) in front of the real registry API or of a real HTTP server that
misbehaves, reached through the production registry client."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from slipway.console.server import RunningConsole, start_console_with
from tests.unit.console_support import InProcessRegistry


@pytest.fixture
def console(gate) -> Iterator[RunningConsole]:
    running = start_console_with(InProcessRegistry(), "unit")
    yield running
    running.stop()


def exchange(console: RunningConsole, request_line: str, headers: str = "") -> bytes:
    """One request written byte for byte (no client normalises its path), the whole answer."""
    with socket.create_connection(("127.0.0.1", console.port), timeout=10) as connection:
        connection.sendall(
            f"{request_line}\r\nHost: 127.0.0.1:{console.port}\r\n{headers}"
            "Connection: close\r\n\r\n".encode("latin-1")
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def header(answer: bytes, name: str) -> str | None:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer else 0


# -- the printed link's redirect -------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["//evil.example", "/%2F%2Fevil.example", "/\\evil.example", "/%5Cevil.example", "///x"],
)
def test_the_token_redirect_never_leaves_the_console(console, path):
    # GIVEN the printed link with a path a browser would read as another host
    # WHEN it is opened
    answer = exchange(console, f"GET {path}?token={console.secret} HTTP/1.1")
    # THEN the redirect stays on the console: a path, not //host (nor /\host)
    assert status_of(answer) == 303
    location = header(answer, "location")
    assert location is not None and location.startswith("/")
    assert not location.startswith(("//", "/\\")), location


def test_the_token_redirect_keeps_the_path_as_it_was_written(console):
    # an encoded "?" in a path segment stays encoded: the redirect is the same page
    answer = exchange(console, f"GET /models/a%3Fb?notice=x&token={console.secret} HTTP/1.1")
    assert status_of(answer) == 303
    assert header(answer, "location") == "/models/a%3Fb?notice=x"


def test_a_line_break_in_the_path_is_no_header_and_no_dropped_connection(console):
    # WHEN the printed link's path holds an encoded CR LF (header injection)
    answer = exchange(console, f"GET /%0d%0aSet-Cookie:%20x=1?token={console.secret} HTTP/1.1")
    # THEN the console still answers (uvicorn refuses such a header and drops the
    # connection with a traceback), and no header was injected
    assert status_of(answer) == 303, answer[:200]
    assert header(answer, "location") == "/%0d%0aSet-Cookie:%20x=1"
    assert b"\r\nSet-Cookie: x=1" not in answer
