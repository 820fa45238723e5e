"""The decision forms' fields, read and checked: a reason (1..1000 characters, required,
as the registry records it) and, for a rollback, an optional version to go back to.

The guard has already bounded the body (16 KiB) and refused anything but a URL-encoded
form, so parsing it whole with ``parse_qsl`` is safe and needs no multipart library.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from registry.names import VERSION_PATTERN

MAX_REASON_CHARS = 1000
FIELDS = frozenset({"reason", "to"})


@dataclass(frozen=True)
class DecisionForm:
    reason: str
    to: str | None
    problems: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return not self.problems


def parse_decision(body: bytes, allow_to: bool) -> DecisionForm:
    """The form as sent, with every problem named (the form is shown again with them)."""
    problems: list[str] = []
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            max_num_fields=10,
        )
    except (UnicodeDecodeError, ValueError):
        return DecisionForm("", None, ("The form could not be read (not URL-encoded UTF-8).",))
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key not in FIELDS or (key == "to" and not allow_to):
            problems.append(f"The form has no field {key[:40]!r}.")
        elif key in fields:
            problems.append(f"The field {key!r} was sent twice.")
        else:
            fields[key] = value
    # a browser posts a textarea's line breaks as CR LF, but its maxlength counted each as
    # one character: counted here as typed, a reason at the limit is not refused
    reason = fields.get("reason", "").replace("\r\n", "\n").strip()
    if not reason:
        problems.append("A reason is required: the audit trail records it.")
    elif len(reason) > MAX_REASON_CHARS:
        problems.append(f"A reason has at most {MAX_REASON_CHARS} characters ({len(reason)} sent).")
    to = fields.get("to", "").strip() or None
    if to is not None and not VERSION_PATTERN.fullmatch(to):
        problems.append(f"{to[:80]!r} is not a version.")
    return DecisionForm(reason[: MAX_REASON_CHARS * 2], to, tuple(problems))
