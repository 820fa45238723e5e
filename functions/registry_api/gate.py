"""A version's gate as the registry API serves it: its newest promotion execution, described,
its history read within a bound, and laid over the declared steps (registry/gate_steps.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from registry.executions import execution_arn
from registry.gate_steps import gate_steps

# A history is read at most this many pages of this many events (Step Functions' largest
# page): a canary that bakes for hours, or a long wait for the lock, writes thousands.
MAX_HISTORY_PAGES = 5
HISTORY_PAGE_EVENTS = 1000


def version_gate(
    sfn: Any,
    state_machine_arn: str,
    item: Mapping[str, Any],
    *,
    max_pages: int = MAX_HISTORY_PAGES,
    page_events: int = HISTORY_PAGE_EVENTS,
) -> dict[str, Any]:
    """The gate of the version ``item``: status and times of its newest execution, and each
    declared step's state. Every step is not-reached, and ``gone`` true, when the version has
    no execution or Step Functions no longer keeps it (90 days after it closed)."""
    name, version = str(item["name"]), str(item["version"])
    # a retry a person asked for runs under its own name; until its Register resumes the
    # version, the item's execution is still the one that failed
    candidates = list(
        dict.fromkeys(filter(None, (item.get("retry_execution"), item.get("execution"))))
    )
    for execution in candidates:
        arn = execution_arn(state_machine_arn, str(execution))
        try:
            # status first: once it is terminal, the history read after it is complete
            described = sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            continue
        events, truncated = read_history(sfn, arn, max_pages=max_pages, page_events=page_events)
        status = str(described["status"])
        return {
            "model": name,
            "version": version,
            "execution": str(execution),
            "status": status,
            "started_at": _iso(described.get("startDate")),
            "ended_at": _iso(described.get("stopDate")),
            "history_truncated": truncated,
            "steps": gate_steps(events, status=status, complete=not truncated),
        }
    return {
        "model": name,
        "version": version,
        "execution": str(candidates[0]) if candidates else None,
        "status": None,
        "started_at": None,
        "ended_at": None,
        "history_truncated": False,
        "steps": gate_steps([]),
        "gone": True,
    }


def read_history(
    sfn: Any,
    arn: str,
    *,
    max_pages: int = MAX_HISTORY_PAGES,
    page_events: int = HISTORY_PAGE_EVENTS,
) -> tuple[list[dict[str, Any]], bool]:
    """The execution's history events by id, and whether some were left unread. The newest
    pages first (where the run is now), and when those are not all of it, the very first
    page (where each early step began); what lies between is what goes unread."""
    newest: list[dict[str, Any]] = []
    token = None
    for _ in range(max(max_pages - 1, 1)):
        page = sfn.get_execution_history(
            executionArn=arn,
            reverseOrder=True,
            maxResults=page_events,
            **({"nextToken": token} if token else {}),
        )
        newest += page["events"]
        token = page.get("nextToken")
        if not token:
            return sorted(newest, key=_id), False
    oldest = sfn.get_execution_history(executionArn=arn, reverseOrder=False, maxResults=page_events)
    by_id = {_id(event): event for event in [*oldest["events"], *newest]}
    events = sorted(by_id.values(), key=_id)
    # ids run 1, 2, 3...: a gap in them is the part not read
    truncated = len(events) != _id(events[-1]) if events else False
    return events, truncated


def _id(event: Mapping[str, Any]) -> int:
    return int(event["id"])


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat(timespec="milliseconds")
