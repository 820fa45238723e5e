"""What the console's unit tests share: a registry client over the real registry API (its
Lambda handler, fed Function URL events as Lambda feeds them, against moto), a running
console over it, and a browser-like httpx client that holds the console's cookie."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import httpx

from slipway.console.registry_client import RegistryCallError, problem_detail, with_query
from slipway.console.server import RunningConsole, start_console_with
from tests.conftest import LambdaContext, load_event

CALLER = "arn:aws:sts::123456789012:assumed-role/ml-engineer/ml-engineer"


class InProcessRegistry:
    """The console's registry client, answered by the registry API's own handler: real
    routes, real problem+json, the caller's ARN as the Function URL reports it."""

    def __init__(self, caller: str = CALLER) -> None:
        self.caller = caller
        self.calls: list[tuple[str, str]] = []

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self._call("GET", with_query(path, params), None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, body)

    def _call(self, method: str, target: str, body: Any) -> Any:
        from functions.registry_api.handler import handler

        self.calls.append((method, target))
        path, _, query = target.partition("?")
        event = copy.deepcopy(load_event("function_url_predict.json"))
        event["requestContext"]["authorizer"]["iam"]["userArn"] = self.caller
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["requestContext"]["http"]["method"] = method
        event["rawQueryString"] = query
        if body is None:
            event.pop("body", None)
        else:
            event["body"] = json.dumps(body)
        _an_event_loop()  # Mangum runs the app on the calling thread's loop
        response = handler(event, LambdaContext())
        raw = response.get("body") or ""
        if response.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode()
        try:
            payload = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            payload = raw
        if response["statusCode"] >= 400:
            raise RegistryCallError(
                response["statusCode"], problem_detail(response["statusCode"], payload)
            )
        return payload


def _an_event_loop() -> None:
    """The console calls the registry from its worker threads, which have no loop."""
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


@dataclass
class Browser:
    """An httpx client that behaves as the console's own pages do in a browser: it names
    the console as Host, holds the cookie, and posts forms with the console's Origin."""

    console: RunningConsole
    client: httpx.Client

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post_form(self, path: str, fields: dict[str, str]) -> httpx.Response:
        return self.client.post(path, data=fields, headers={"Origin": self.console.base_url})


@contextmanager
def running_console(registry: Any, environment: str = "unit") -> Iterator[Browser]:
    console = start_console_with(registry, environment)
    try:
        with httpx.Client(base_url=console.base_url, timeout=30) as client:
            opened = client.get(console.url)  # the printed link: its token becomes a cookie
            assert opened.status_code == 303, opened.text
            yield Browser(console, client)
    finally:
        console.stop()


class Page(HTMLParser):
    """A page parsed enough to find elements by id and attributes, and every URL in it."""

    URL_ATTRIBUTES = frozenset(
        {"href", "src", "action", "formaction", "xlink:href", "poster", "srcset", "data"}
    )

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.style_attributes = 0
        self._in_script = False
        self.text_parts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.elements.append((tag, attributes))
        self.urls += [v for name, v in attributes.items() if name in self.URL_ATTRIBUTES]
        self.style_attributes += "style" in attributes
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def find_all(self, tag: str, **attributes: str) -> list[dict[str, str]]:
        wanted = {name.replace("_", "-"): value for name, value in attributes.items()}
        return [
            attrs
            for name, attrs in self.elements
            if name == tag and all(attrs.get(k) == v for k, v in wanted.items())
        ]

    def one(self, tag: str, **attributes: str) -> dict[str, str]:
        found = self.find_all(tag, **attributes)
        assert len(found) == 1, (tag, attributes, found)
        return found[0]
