"""The console attacked: crafted paths on the printed link, a registry that answers
garbage, too much or too slowly, hostile text in what people and manifests write.

Each test is an attack that once worked (or a neighbour of one); the console runs for real
(uvicorn on 127.0.0.1) in front of the real registry API or of a real HTTP server that
misbehaves, reached through the production registry client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import ClassVar

import pytest
from botocore.credentials import Credentials

from infra.config import load_environment
from slipway.console import registry_client
from slipway.console.registry_client import SignedRegistryClient
from slipway.console.server import RunningConsole, start_console_with
from slipway.target import read_environments
from tests.unit.console_support import InProcessRegistry, Page


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


# -- a registry that misbehaves, through the production client ---------------------------


class Misbehaving(BaseHTTPRequestHandler):
    """A registry URL answering whatever ``ANSWERS`` maps its path to: (status, type, body)."""

    ANSWERS: ClassVar[dict[str, tuple[int, str, bytes]]] = {}

    def do_GET(self) -> None:
        status, kind, body = self.ANSWERS.get(
            self.path.split("?")[0], (404, "text/plain", b"no such path")
        )
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Dripping(Misbehaving):
    """Headers at once, then a byte every 50 ms for 10 s: each read is quick."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        for _ in range(200):
            try:
                self.wfile.write(b" ")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.05)


def signed_console(handler: type[BaseHTTPRequestHandler]) -> Iterator[tuple[RunningConsole, str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    credentials = Credentials("AKIAEXAMPLE", "secret")
    target = SimpleNamespace(
        config=load_environment(read_environments(), "local"),
        session=SimpleNamespace(get_credentials=lambda: credentials),
        is_local=True,
        registry_url=lambda: base,
    )
    console = start_console_with(SignedRegistryClient(target), "unit")  # type: ignore[arg-type]
    try:
        yield console, base
    finally:
        console.stop()
        server.shutdown()
        server.server_close()


@pytest.fixture
def misbehaving() -> Iterator[RunningConsole]:
    for console, _ in signed_console(Misbehaving):
        yield console


def opened(console: RunningConsole, path: str) -> tuple[int, str]:
    import httpx

    with httpx.Client(base_url=console.base_url, timeout=60) as client:
        client.get(console.url)
        answer = client.get(path)
    return answer.status_code, answer.text


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("text/html", b"<html><body>502 Bad Gateway from a proxy</body></html>"),
        ("application/json", b'["a", "list"]'),
        ("application/json", b'"a string"'),
        ("application/json", b"null"),
    ],
)
def test_a_registry_answer_that_is_not_a_json_object_is_the_registrys_failure(
    misbehaving, kind, body
):
    # GIVEN a registry that answers 200 with something that is no JSON object
    Misbehaving.ANSWERS = {"/v1/models": (200, kind, body)}
    # WHEN the models page is opened
    status, html = opened(misbehaving, "/")
    # THEN the page says the registry failed (502), not that the console did (500)
    assert status == 502, html
    text = Page(html).text
    assert "not a JSON object" in text and "The console failed" not in text


def test_a_registry_500_in_html_is_shown_as_its_status_and_text(misbehaving):
    Misbehaving.ANSWERS = {"/v1/models": (500, "text/html", b"<h1>Internal Server Error</h1>")}
    status, html = opened(misbehaving, "/")
    assert status == 500
    assert "&lt;h1&gt;Internal Server Error" in html and "<h1>Internal Server Error" not in html


def test_a_registry_that_drips_its_answer_is_given_up_on(monkeypatch):
    monkeypatch.setattr(registry_client, "CALL_TIMEOUT_SECONDS", 1.0)
    for console, _ in signed_console(Dripping):
        status, html = opened(console, "/")
        assert status == 502
        assert "took more than 1 s" in Page(html).text


# -- the cookie ----------------------------------------------------------------------------


def test_a_tossed_cookie_of_the_same_name_does_not_lock_the_person_out(console):
    # GIVEN a page on another port of 127.0.0.1 (cookies ignore ports) that set a cookie of
    # the console's name on a longer path: the browser sends it first, then the real one
    name = f"slipway-console-{console.port}"
    cookie = f"Cookie: {name}=tossed; {name}={console.secret}\r\n"
    # WHEN the person opens a page
    answer = exchange(console, "GET /models/iris HTTP/1.1", cookie)
    # THEN the real cookie lets them in (the page itself is the registry's 404)
    assert status_of(answer) == 404, answer[:300]
    # AND a cookie that only looks like it still does not
    tossed_only = exchange(
        console, "GET / HTTP/1.1", f"Cookie: {name}=tossed; x={console.secret}\r\n"
    )
    assert status_of(tossed_only) == 403


# -- the decision forms ------------------------------------------------------------------


@pytest.fixture
def waiting(gate, bundles):
    from tests.unit.test_registry_decisions import wait_for_approval

    return wait_for_approval(gate, bundles)


def test_a_reason_at_the_limit_with_line_breaks_is_taken_as_typed(gate, waiting):
    from tests.unit.console_support import running_console
    from tests.unit.test_registry_decisions import ended

    # GIVEN a reason as long as the textarea allows (maxlength counts a line break as one
    # character), which a browser posts with CR LF line breaks: 1000 typed, 1009 sent
    typed = "\n".join(["x" * 99] * 10) + "y"
    assert len(typed) == 1000
    with running_console(InProcessRegistry()) as browser:
        # WHEN it is posted as a browser posts it
        answer = browser.post_form(
            "/models/iris/versions/good/reject", {"reason": typed.replace("\n", "\r\n")}
        )
    # THEN the decision is made, the reason recorded as typed
    assert answer.status_code == 303, Page(answer.text).text
    assert ended(waiting.execution)["cause"].endswith(typed)


# -- text that reorders the page ----------------------------------------------------------

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: what follows it on its line reads backwards


def outside_isolation(html: str) -> list[str]:
    """Override characters left once every <bdi> (an isolated run of text) is taken out."""
    import re

    return re.findall(f".{{0,40}}{RLO}.{{0,40}}", re.sub(r"<bdi>.*?</bdi>", "", html, flags=re.S))


def test_text_from_people_and_uploads_cannot_reorder_the_rest_of_its_line(gate, iris_bundle):
    from registry.audit import AuditEvent, AuditOutcome, AuditStep
    from tests.unit.console_support import running_console
    from tests.unit.test_console_pages import register

    # GIVEN a failed version whose failure reason (an uploaded model's exception message),
    # uploader and approver hold a right-to-left override, which would make "from an upload
    # by ...; approved by ..." after it read backwards, and an audit event of the same
    register(gate, iris_bundle[1], "house", "1")
    hostile = f"boom {RLO}eilA yb devorppa"
    gate.repository.update_version(
        "house",
        "1",
        status="failed",
        rejection_reason=hostile,
        uploaded_by=hostile,
        approved_by=hostile,
    )
    gate.repository.record_audit(
        AuditEvent(
            "house",
            "1",
            "exec-house-1",
            AuditStep.APPROVAL,
            AuditOutcome.REJECTED,
            hostile,
            hostile,
        )
    )
    with running_console(InProcessRegistry(caller=f"arn:aws:iam::1:user/{RLO}x")) as browser:
        pages = [
            browser.get(path).text
            for path in (
                "/",
                "/models/house",
                "/models/house/versions/1",
                "/models/house/versions/1/retry",
            )
        ]
    # THEN every such text is isolated in a <bdi>: it reorders nothing after it
    for html in pages:
        assert RLO in html
        assert not outside_isolation(html)
