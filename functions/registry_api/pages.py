"""Opaque pagination tokens: the DynamoDB start key, encoded so callers cannot depend on it."""

from __future__ import annotations

import base64
import json
from typing import Any

from registry.exceptions import InvalidPageTokenError


def encode(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def decode(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, UnicodeDecodeError):
        raise InvalidPageTokenError("next_token was not issued by this registry") from None
    if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
        raise InvalidPageTokenError("next_token was not issued by this registry")
    return key
