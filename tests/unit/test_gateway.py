"""The embedded cloud's Function URL gateway, over real HTTP, with a function that answers
what each test needs: the request becomes a payload-2.0 event, the answer an HTTP response,
and what a Function URL refuses is refused the same way."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from slipway.local.credentials import LocalCredentials, SigV4Auth
from slipway.local.gateway import FunctionUrlGateway
from slipway.local.loopback import is_loopback_host

URL = "https://abcdefghij0123456789abcdefghijkl.lambda-url.us-east-1.on.aws/"
KEY = LocalCredentials.generate()  # this "start's" key
SIGNED = httpx.Client(auth=SigV4Auth(KEY))


class Function:
    """Records the events it receives; answers with what the test set."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer: Any = {"statusCode": 200, "body": "{}"}
        self.failed = False

    def __call__(self, arn: str, event: dict[str, Any]) -> tuple[bytes, bool]:
        self.events.append(event)
        payload = self.answer if isinstance(self.answer, bytes) else json.dumps(self.answer)
        return (payload if isinstance(payload, bytes) else payload.encode()), self.failed


@pytest.fixture
def served() -> Iterator[tuple[str, Function]]:
    function = Function()
    gateway = FunctionUrlGateway(
        function, region="us-east-1", account_id="123456789012", credentials=KEY
    )
    local = gateway.serve(URL, "arn:aws:lambda:us-east-1:123456789012:function:f")
    try:
        yield local, function
    finally:
        gateway.close_all()


def test_a_request_becomes_a_function_url_event(served):
    local, function = served
    answer = SIGNED.post(
        f"{local}/v1/models/iris/predict?stage=staging&x=1&x=2",
        content=b'{"inputs": [[1]]}',
        headers=[("content-type", "application/json"), ("cookie", "a=1"), ("cookie", "b=2")],
    )
    assert answer.status_code == 200
    (event,) = function.events
    assert event["version"] == "2.0" and event["rawPath"] == "/v1/models/iris/predict"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["queryStringParameters"] == {"stage": "staging", "x": "1,2"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["body"] == '{"inputs": [[1]]}' and event["isBase64Encoded"] is False


def test_a_binary_body_arrives_base64_encoded(served):
    local, function = served
    SIGNED.post(
        local + "/", content=b"\xff\x00", headers={"content-type": "application/octet-stream"}
    )
    assert base64.b64decode(function.events[0]["body"]) == b"\xff\x00"


def test_the_answer_becomes_the_http_response(served):
    local, function = served
    function.answer = {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-model-version": "3"},
        "cookies": ["s=1; Path=/"],
        "body": base64.b64encode(b'{"ok": true}').decode(),
        "isBase64Encoded": True,
    }
    answer = SIGNED.get(local + "/health")
    assert answer.status_code == 201 and answer.json() == {"ok": True}
    assert answer.headers["x-model-version"] == "3"
    assert answer.headers["set-cookie"] == "s=1; Path=/"


@pytest.mark.parametrize(
    "bad_answer",
    [
        {"statusCode": "abc"},
        {"statusCode": 999},
        {"statusCode": 200, "headers": {"x": "a\r\nset-cookie: evil"}},
        {"statusCode": 200, "headers": {"x": "\u2603"}},
        {"statusCode": 200, "headers": ["not", "a", "map"]},
        {"statusCode": 200, "body": "!!!", "isBase64Encoded": True},
        b"not json",
    ],
    ids=[
        "status-text",
        "status-999",
        "header-newline",
        "header-unicode",
        "headers-list",
        "bad-base64",
        "not-json",
    ],
)
def test_an_answer_http_cannot_carry_is_a_502(served, bad_answer):
    local, function = served
    function.answer = bad_answer
    answer = SIGNED.get(local + "/")
    assert answer.status_code == 502
    assert answer.json() == {"Message": "Internal Server Error"}


def test_a_failed_function_is_a_502(served):
    local, function = served
    function.failed = True
    assert SIGNED.get(local + "/").status_code == 502


def test_an_answer_over_the_payload_limit_is_a_502(served):
    local, function = served
    function.answer = {"statusCode": 200, "body": "x" * (6 * 1024 * 1024 + 1)}
    assert SIGNED.get(local + "/").status_code == 502


def test_a_request_over_the_payload_limit_is_a_413_before_the_function_runs(served):
    local, function = served
    too_big = b"x" * (6 * 1024 * 1024 + 1)
    assert SIGNED.post(local + "/", content=too_big).status_code == 413
    # binary bodies grow by a third when base64-encoded into the event
    binary = b"\xff" * (5 * 1024 * 1024)
    answer = SIGNED.post(local + "/", content=binary, headers={"content-type": "image/png"})
    assert answer.status_code == 413
    assert function.events == []


@pytest.mark.parametrize("host", ["rebind.example", "rebind.example:4751", "10.0.0.5", ""])
def test_a_request_for_a_host_that_is_not_this_machine_is_refused(served, host):
    # GIVEN a page that rebinds its own name to 127.0.0.1 WHEN it calls a Function URL port
    local, function = served
    answer = SIGNED.post(f"{local}/v1/models/iris/predict", json={}, headers={"host": host})
    # THEN the gateway refuses before any function runs
    assert answer.status_code == 403 and "loopback" in answer.json()["Message"]
    assert function.events == []


@pytest.mark.parametrize(
    "auth",
    [None, SigV4Auth(LocalCredentials.generate())],
    ids=["unsigned", "another key"],
)
def test_a_request_without_this_starts_key_is_refused(served, auth):
    # GIVEN a local process that cannot read the state dir, so does not know the key
    local, function = served
    answer = httpx.post(f"{local}/v1/models/iris/predict", json={}, auth=auth)
    # THEN the gateway refuses before any function runs, as AWS_IAM auth would
    assert answer.status_code == 403 and "signed with the key" in answer.json()["Message"]
    assert function.events == []


def test_a_key_that_is_not_ascii_is_refused_not_an_error():
    assert not KEY.signed(None, "X-Amz-Credential=%C3%A9/x")
    assert not KEY.signed("AWS4-HMAC-SHA256 Credential=\u00e9/x")


def test_several_writers_of_the_state_file_never_collide(tmp_path):
    import threading

    from slipway.local.state import LocalState

    errors: list[BaseException] = []

    def save_often() -> None:
        try:
            for _ in range(100):
                LocalState(pid=1, endpoint_url="http://localhost:1").save(tmp_path)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=save_often) for _ in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == [] and LocalState.load(tmp_path) is not None
    assert (tmp_path / "state.json").stat().st_mode & 0o077 == 0


def test_the_key_is_found_in_a_header_or_a_presigned_query():
    header = f"AWS4-HMAC-SHA256 Credential={KEY.access_key_id}/20261203/us-east-1/lambda/aws4"
    assert KEY.signed(header)
    assert KEY.signed(None, f"X-Amz-Credential={KEY.access_key_id}%2F20261203%2Fus-east-1")
    # S3's presigned URLs from a default client are SigV2
    assert KEY.signed(None, f"AWSAccessKeyId={KEY.access_key_id}&Signature=x&Expires=1")
    assert not KEY.signed(header.replace(KEY.access_key_id, "SLWY0000000000000000"))
    assert not KEY.signed("Bearer x") and not KEY.signed(None, "X-Amz-Credential=")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost:4751", True),
        ("LOCALHOST", True),
        ("127.0.0.1:8080", True),
        ("127.4.5.6", True),
        ("[::1]:4751", True),
        ("bucket.localhost:4566", True),
        ("localhost.rebind.example", False),
        ("rebind.example", False),
        ("[::2]:80", False),
        (None, False),
    ],
)
def test_loopback_host_names(host, loopback):
    assert is_loopback_host(host) is loopback


def test_a_function_url_holds_128_pending_connections(monkeypatch):
    # (finding 11: the default backlog of 5 reset the clients after the sixth of 20
    # connecting at once) nobody accepts here, so every connection waits in the backlog
    import socket
    import threading

    from slipway.local import gateway

    accepting = threading.Event()
    monkeypatch.setattr(
        gateway.uvicorn.Server, "run", lambda self, sockets=None: accepting.wait(30)
    )
    server = gateway._Server(lambda scope, receive, send: None, 0)  # type: ignore[arg-type]
    clients = []
    try:
        for _ in range(128):
            client = socket.create_connection(("127.0.0.1", server.port), timeout=2)
            clients.append(client)
        assert len(clients) == 128
    finally:
        for client in clients:
            client.close()
        accepting.set()
        server.stop()
