"""A failed step's reason as people read it: '<ErrorType>: <message>', never a stack trace.

Step Functions reports a Lambda task's failure as an error name and a cause that is Lambda's
error JSON (errorType, errorMessage, stackTrace); RecordFailure records the reason from it
and the CLI shows the steps of a run from it, so both read it here.
"""

from __future__ import annotations

import json
from typing import Any

from registry.workflow_state import REASON_LIMIT

# A reason travels in the state document, whose size is bounded: '<type>: <message>' fits
# workflow_state.Reason.
MAX_TYPE = 256
MAX_TEXT = REASON_LIMIT - MAX_TYPE - 2


def readable_reason(error: str | None, cause: Any) -> str:
    """'<error>: <message>', the message being the cause's errorMessage when the cause is
    Lambda's error JSON, else the cause itself; just the error when there is no cause."""
    error_type = str(error or "UnknownError")[:MAX_TYPE]
    if cause is None:
        cause = ""
    if not isinstance(cause, str):
        cause = json.dumps(cause, default=str)
    try:
        parsed = json.loads(cause)
    except json.JSONDecodeError:
        parsed = None
    message = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    message = str(message)[:MAX_TEXT]
    return f"{error_type}: {message}" if message else error_type
