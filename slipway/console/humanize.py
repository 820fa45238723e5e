"""Text for people from the registry's JSON: durations, times, numbers and bounded strings.

The console's renderers take the registry API's answers as they come, old and damaged items
included, so every helper here accepts anything and never raises: a value it cannot read is
shown as it is (or as a dash), never as a 500 page.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

DASH = "—"
ELLIPSIS = "…"
# XML 1.0 forbids these characters, and an SVG that holds one is no longer well-formed.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def text(value: Any) -> str:
    """Any JSON value as printable text: no characters XML forbids, no lone surrogates
    (a page holding one could not be encoded as UTF-8)."""
    if value is None:
        return ""
    raw = value if isinstance(value, str) else str(value)
    raw = raw.encode("utf-8", "replace").decode("utf-8")
    return _NOT_XML.sub("\N{REPLACEMENT CHARACTER}", raw)


def truncated(value: Any, limit: int) -> tuple[str, bool]:
    """``value`` as text of at most ``limit`` characters, and whether it was cut."""
    full = text(value)
    if len(full) <= limit:
        return full, False
    return full[: max(limit - 1, 0)] + ELLIPSIS, True


def number(value: Any) -> float | None:
    """A finite number, or None: JSON holds strings where numbers were meant in old items,
    and NaN where a computation failed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        try:  # Decimal, numpy scalars
            value = float(value)
        except (TypeError, ValueError):
            return None
    return float(value) if math.isfinite(value) else None


def decimal(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals, or a dash."""
    found = number(value)
    return DASH if found is None else f"{found:.{digits}f}"


def duration(milliseconds: Any) -> str:
    """``1234`` -> "1.2 s"; minutes and hours as people say them; a dash when unknown."""
    ms = number(milliseconds)
    if ms is None or ms < 0:
        return DASH
    if ms < 1000:
        return f"{round(ms)} ms"
    seconds = ms / 1000
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (a ``Z`` suffix accepted), as UTC; None when it is not one."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00", 1))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # the registry writes UTC; an old item without an offset too
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def timestamp(value: Any) -> str:
    """A registry time as "2026-12-07 10:01:05 UTC"; text that is not a time, as it is."""
    parsed = parse_time(value)
    if parsed is None:
        return text(value) or DASH
    return parsed.strftime("%Y-%m-%d %H:%M:%S UTC")


def short_time(value: Any) -> str:
    """A window's end on a chart's axis: "12-07 10:00"; other text cut to 11 characters."""
    parsed = parse_time(value)
    if parsed is None:
        return truncated(value, 11)[0] or DASH
    return parsed.strftime("%m-%d %H:%M")


def mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a damaged item's field)."""
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []
