"""JSON that means one thing: a repeated key is an error, not "the last one wins", and
NaN and Infinity, which Python writes but JSON does not have, are refused.

Two readers of one document (a reviewer's viewer and the gate, a client library and the
endpoint) may disagree on which duplicate counts; refusing duplicates removes the question.
"""

from __future__ import annotations

import json
from typing import Any


class StrictJsonError(ValueError):
    """The text is not JSON, repeats a key in one object, or nests too deeply to read."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise StrictJsonError(f"the key {key!r} appears twice in one object")
            seen.add(key)
    return obj


def _no_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not a JSON value (JSON has no NaN or infinity)")


def load_strict_json(raw: bytes | str) -> Any:
    """Parse ``raw``; every problem is a :class:`StrictJsonError` with a readable message."""
    try:
        return json.loads(raw, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except StrictJsonError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StrictJsonError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise StrictJsonError("values nest too deeply") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise StrictJsonError(f"not valid JSON: {exc}") from None
