"""Reading the promotion workflow's state document, which every step receives whole."""

from __future__ import annotations

from typing import Any


def candidate(event: dict[str, Any]) -> tuple[str, str]:
    """(name, version) of the model being promoted, as Validate established them."""
    validated = event["validated"]
    return str(validated["name"]), str(validated["version"])


def execution(event: dict[str, Any]) -> str:
    return str(event["execution_name"])
