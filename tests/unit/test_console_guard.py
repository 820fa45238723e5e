"""The console's guard, against a running console (uvicorn on 127.0.0.1, a free port):
only its own Host, its own pages as Origin, the per-start secret; security headers on
every answer; form bodies bounded and URL-encoded only."""

from __future__ import annotations

import httpx
import pytest

from slipway.console.guard import MAX_FORM_BYTES, SECURITY_HEADERS, cookie_name
from slipway.console.server import start_console_with
from tests.unit.console_support import Browser, InProcessRegistry, running_console


@pytest.fixture
def console(gate):
    """A console over the registry API (an empty registry: the guard is what is tested)."""
    running = start_console_with(InProcessRegistry(), "unit")
    yield running
    running.stop()


@pytest.fixture
def browser(gate):
    with running_console(InProcessRegistry()) as opened:
        yield opened


def raw(console, method: str, path: str, **kwargs) -> httpx.Response:
    """A request as any local process could send it: no cookie unless given."""
    with httpx.Client(base_url=console.base_url, timeout=30) as client:
        return client.request(method, path, **kwargs)


def secured(answer: httpx.Response) -> bool:
    return all(answer.headers.get(name) == value for name, value in SECURITY_HEADERS)


def test_the_printed_link_sets_the_cookie_and_drops_the_token(console):
    # WHEN the printed link is opened, on any page and with other parameters
    answer = raw(console, "GET", f"/models/iris?next_token=abc&token={console.secret}")
    # THEN the secret moves into a strict cookie, and the page is asked again without it
    assert answer.status_code == 303
    assert answer.headers["location"] == "/models/iris?next_token=abc"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{cookie_name(console.port)}={console.secret};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert secured(answer)
    assert console.url == f"http://127.0.0.1:{console.port}/?token={console.secret}"


def test_without_the_secret_the_console_says_to_open_the_printed_link(console):
    for answer in (
        raw(console, "GET", "/"),
        raw(console, "GET", "/static/console.js"),  # static files too
        raw(console, "GET", "/", headers={"Cookie": f"{cookie_name(console.port)}=guessed"}),
        raw(console, "GET", "/?token=guessed"),
        raw(console, "GET", f"/?token={console.secret}&token=x"),
    ):
        assert answer.status_code == 403, answer.text
        assert "open the link that `slipway ui` printed" in answer.text
        assert "set-cookie" not in answer.headers and secured(answer)
    # a cookie of another console (another port) is not this one's
    other_cookie = f"{cookie_name(console.port + 1)}={console.secret}"
    assert raw(console, "GET", "/", headers={"Cookie": other_cookie}).status_code == 403


def test_a_foreign_host_is_refused_even_with_the_secret(browser):
    port = browser.console.port
    for host in (f"evil.example:{port}", "127.0.0.1", f"127.0.0.2:{port}", f"localhost:{port + 1}"):
        answer = browser.get("/", headers={"Host": host})
        assert answer.status_code == 403, host
        assert "answers only at" in answer.text and secured(answer)
    assert browser.get("/", headers={"Host": f"localhost:{port}"}).status_code == 200
    assert browser.get("/").status_code == 200


def test_a_foreign_origin_or_another_site_is_refused(browser):
    port = browser.console.port
    refused = [
        browser.get("/", headers={"Origin": "http://evil.example"}),
        browser.get("/", headers={"Origin": f"http://127.0.0.1:{port + 1}"}),
        browser.get("/", headers={"Sec-Fetch-Site": "cross-site"}),
        browser.get("/", headers={"Sec-Fetch-Site": "same-site"}),
        browser.get("/", headers={"Origin": "null"}),  # a sandboxed frame, a data: page
        browser.client.post(
            "/models/iris/rollback", data={"reason": "x"}, headers={"Origin": "http://evil.example"}
        ),
        browser.client.post(
            "/models/iris/rollback",
            data={"reason": "x"},
            headers={"Origin": f"http://localhost:{port}", "Sec-Fetch-Site": "cross-site"},
        ),
    ]
    for answer in refused:
        assert answer.status_code == 403, answer.text
        assert secured(answer)
    for allowed in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        assert browser.get("/", headers={"Origin": allowed}).status_code == 200
    assert browser.get("/", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert browser.get("/", headers={"Sec-Fetch-Site": "none"}).status_code == 200


def test_a_post_must_say_it_comes_from_the_console(browser):
    port = browser.console.port
    # no Origin, no Referer: refused before the form is read
    bare = browser.client.post("/models/iris/rollback", data={"reason": ""})
    assert bare.status_code == 403 and "own pages" in bare.text
    elsewhere = browser.client.post(
        "/models/iris/rollback", data={"reason": ""}, headers={"Referer": "http://evil.example/"}
    )
    assert elsewhere.status_code == 403
    # a Referer of the console's own page, or its Origin, gets to the form (which wants a reason)
    own_referer = browser.client.post(
        "/models/iris/rollback",
        data={"reason": ""},
        headers={"Referer": f"http://127.0.0.1:{port}/models/iris/rollback"},
    )
    assert own_referer.status_code != 403
    # "Origin: null" is a sandboxed frame's or a data: page's, whatever else it claims
    null_origin = browser.client.post(
        "/models/iris/rollback",
        data={"reason": ""},
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    )
    assert null_origin.status_code == 403


def test_every_answer_carries_the_security_headers(browser):
    answers = [
        browser.get("/"),
        browser.get("/static/console.js"),
        browser.get("/nowhere"),
        browser.get("/models/iris/versions/nope"),
        browser.post_form("/models/iris/rollback", {"reason": ""}),
    ]
    for answer in answers:
        assert secured(answer), (answer.request.url, dict(answer.headers))
    assert answers[1].status_code == 200 and "reload" in answers[1].text
    assert "server" not in answers[0].headers  # nothing said about what serves it


def test_form_bodies_are_bounded_and_url_encoded_only(browser: Browser):
    origin = {"Origin": browser.console.base_url}
    path = "/models/iris/rollback"
    too_big = browser.client.post(
        path,
        content=b"reason=" + b"x" * MAX_FORM_BYTES,
        headers={**origin, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert too_big.status_code == 413 and secured(too_big)

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b"x" * 1024

    streamed = browser.client.post(
        path,
        content=chunks(),
        headers={**origin, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    as_json = browser.client.post(path, json={"reason": "x"}, headers=origin)
    assert as_json.status_code == 415
    multipart = browser.client.post(path, files={"reason": b"x"}, headers=origin)
    assert multipart.status_code == 415
    assert secured(as_json) and secured(multipart)
