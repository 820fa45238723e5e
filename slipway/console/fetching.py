"""Registry calls a page needs, made side by side: a page waits for its slowest call, not
for the sum of them. Each call is bounded by the registry client's own timeout."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slipway.console.registry_client import RegistryCallError

# a page makes at most a few calls at once; a few pages may be open
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="console-registry")


def side_by_side(*calls: Callable[[], Any]) -> list[Any]:
    """Each call's answer, or the RegistryCallError it raised (a page decides which of its
    parts may fail on their own); any other exception is raised."""
    futures = [_POOL.submit(_answer_or_refusal, call) for call in calls]
    return [future.result() for future in futures]


def _answer_or_refusal(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except RegistryCallError as exc:
        return exc


def required(answer: Any) -> Any:
    """An answer the page cannot do without: its refusal becomes the page's."""
    if isinstance(answer, RegistryCallError):
        raise answer
    return answer
