"""A version's gate, step by step: its promotion execution's history laid over the steps the
workflow declares (``registry.workflow``), in declared order.

Step Functions keeps a run as a flat list of events, and a step's story is spread over
several: entered; one attempt or more (each scheduled, then succeeded or failed); for a step
answered through a task token, submitted and then waiting; exited, or not, when a failure
nothing caught ended the run. This module reads that list once into one record per step, so
the registry API (``GET .../gate``) and whoever draws the gate read the same answer. Pass and
Choice states are the workflow's plumbing (its policy, its branches), not steps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from registry.failure_reasons import readable_reason
from registry.workflow import PROMOTION, Task, Wait, Workflow, walk

# An execution in one of these states has ended: a step still open in it never will.
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})

# One attempt of a task: scheduled, then succeeded or failed (Lambda functions called
# directly report LambdaFunction*, service integrations such as .waitForTaskToken Task*).
_ATTEMPT = frozenset({"LambdaFunctionScheduled", "TaskScheduled"})
_SUCCEEDED = frozenset({"LambdaFunctionSucceeded", "TaskSucceeded"})
_FAILED = frozenset(
    {
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
    }
)
_EXECUTION_ENDED = frozenset(
    {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
)
# Said of a step the history read does not reach, though the run went past it.
BEYOND_HISTORY = "passed: its events are in the part of a long history that was not read"


class StepState(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    RUNNING = "running"
    WAITING = "waiting"  # for a person, for the lock, for a canary's bake
    NOT_REACHED = "not-reached"


Step = Task | Wait


@dataclass
class _Record:
    """What the history says of one step so far."""

    node: Step
    started: datetime | None = None
    ended: datetime | None = None
    closed: bool = False  # exited (or left for the next state) in the history read
    attempts: int = 0
    # the newest failed attempt no later attempt made good: (error, cause)
    error: tuple[str | None, Any] | None = None
    submitted: bool = False  # its task token handed out: it waits for the answer
    reason: str | None = None  # a better failure reason than the attempt's own
    entered_input: str | None = None

    def enter(self, at: datetime | None, state_input: str | None) -> None:
        if self.started is None:
            self.started = at
        self.entered_input = state_input

    def close(self, at: datetime | None) -> None:
        self.closed, self.ended = True, at


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """An event's details, whatever its type names them (``<type>EventDetails``)."""
    return next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}


def declared_steps(workflow: Workflow = PROMOTION) -> list[Step]:
    """The steps a user follows, in declared order: tasks and waits, branches included."""
    return [node for node in walk(workflow.nodes) if isinstance(node, Task | Wait)]


def gate_steps(
    events: Iterable[Mapping[str, Any]],
    workflow: Workflow = PROMOTION,
    *,
    status: str | None = None,
    complete: bool = True,
) -> list[dict[str, Any]]:
    """Each declared step with its state, times, reason and attempts, from an execution's
    history events (any order; read by id). ``status`` is the execution's
    (DescribeExecution); ``complete`` is False when only part of a long history was read,
    and steps the run went past without a trace in that part are then said to have passed.
    The failure handlers are listed after the declared steps when the run reached them."""
    declared = declared_steps(workflow)
    handlers = [workflow.on_failure, workflow.on_unrecorded_failure]
    records = {node.state: _Record(node) for node in [*declared, *handlers]}
    timed_out = {
        task.token_wait.timed_out_state: task for task in workflow.tasks() if task.token_wait
    }
    current: _Record | None = None
    ended: Mapping[str, Any] | None = None
    for event in sorted(events, key=lambda e: int(e["id"])):
        kind, details, at = event["type"], _details(event), _timestamp(event)
        if kind in _EXECUTION_ENDED:
            ended = event
        if kind.endswith("StateEntered"):
            # a caught failure may lead straight to its handler without an exit first
            if current is not None and not current.closed:
                current.close(at)
            current = records.get(details.get("name", ""))
            if current is not None:
                current.enter(at, details.get("input"))
        elif kind.endswith("StateExited"):
            name = details.get("name", "")
            record = records.get(name)
            if record is not None:
                if current is not None and current is not record and not current.closed:
                    current.close(None)  # left in a part of the history not read
                record.close(at)
            elif name in timed_out:
                records[timed_out[name].state].reason = _timed_out_reason(details, workflow)
            current = None
        elif kind.endswith("StateAborted"):
            if current is not None and not current.closed:
                current.error = (details.get("error") or "Aborted", details.get("cause"))
                current.close(at)
        elif current is None:
            continue
        elif kind in _ATTEMPT:
            current.attempts += 1
            current.submitted = False
        elif kind in _SUCCEEDED:
            current.error = None
        elif kind in _FAILED:
            current.error = (details.get("error"), details.get("cause"))
        elif kind == "TaskSubmitted":
            # the request went out (the function returned): what failed before is over
            current.submitted, current.error = True, None
    if ended is not None and status is None:
        status = _status_of(ended["type"])
    shown = declared + [h for h in handlers if records[h.state].started is not None]
    steps = [_step(records[node.state], status, ended) for node in shown]
    if not complete:
        _infer_passed(steps, workflow)
    return steps


def _step(record: _Record, status: str | None, ended: Mapping[str, Any] | None) -> dict[str, Any]:
    node = record.node
    reached = record.started is not None or record.closed
    state, reason = StepState.NOT_REACHED, None
    if record.closed:
        failed = record.error is not None or record.reason is not None
        state = StepState.FAILED if failed else StepState.PASSED
        reason = (record.reason or _readable(record.error)) if failed else None
    elif reached and status in TERMINAL:
        # the run ended inside the step: a failure nothing caught, a stop, a time-out
        state = StepState.FAILED
        reason = record.reason or _readable(record.error) or _ending_reason(ended, status)
        record.ended = _timestamp(ended) if ended is not None else None
    elif reached:
        state, reason = _in_progress(record)
    started, stopped = record.started, record.ended
    duration = None
    if started is not None and stopped is not None:
        duration = max(int((stopped - started).total_seconds() * 1000), 0)
    attempts = record.attempts if isinstance(node, Task) else int(reached)
    return {
        "step": node.state,
        "description": node.description,
        "state": str(state),
        "started_at": _iso(started),
        "ended_at": _iso(stopped),
        "duration_ms": duration,
        "reason": reason,
        "attempts": max(attempts, int(reached)),
    }


def _in_progress(record: _Record) -> tuple[StepState, str | None]:
    """A step of a running execution: waiting for something, or at work (perhaps again,
    after a failed attempt it will retry)."""
    node = record.node
    if isinstance(node, Wait):
        until = _wait_ends(record)
        return StepState.WAITING, (
            f"the canary takes live traffic until its first check at {_iso(until)}"
            if until
            else "the canary takes live traffic until its first check"
        )
    if node.token_wait is not None and record.submitted:
        return StepState.WAITING, f"waiting for {node.token_wait.waiting_for}"
    if record.error is not None and record.error[0] in node.wait_while:
        return StepState.WAITING, _readable(record.error)
    if record.error is not None:
        return StepState.RUNNING, f"retrying after {_readable(record.error)}"
    return StepState.RUNNING, None


def _infer_passed(steps: list[dict[str, Any]], workflow: Workflow) -> None:
    """A truncated history: a step on the main line (in no branch) declared before a step
    the run reached passed, though the part read has no trace of it (a failure would have
    ended the run there). Steps in a branch stay not-reached: which branch ran is unknown."""
    main_line = [node.state for node in workflow.nodes if isinstance(node, Task | Wait)]
    before = _main_line_steps_before(workflow)
    by_name = {step["step"]: step for step in steps}
    last = max(
        (before[s["step"]] for s in steps if s["step"] in before and s["state"] != "not-reached"),
        default=0,
    )
    for name in main_line[:last]:
        step = by_name[name]
        if step["state"] == StepState.NOT_REACHED:
            step.update(state=str(StepState.PASSED), reason=BEYOND_HISTORY, attempts=1)


def _main_line_steps_before(workflow: Workflow) -> dict[str, int]:
    """For each declared step: how many main-line steps are declared before it."""
    before: dict[str, int] = {}
    count = 0
    for node in workflow.nodes:
        for inner in walk((node,)):
            if isinstance(inner, Task | Wait):
                before[inner.state] = count
        count += isinstance(node, Task | Wait)
    return before


def _wait_ends(record: _Record) -> datetime | None:
    """When a Wait state ends: entered plus the seconds its path names in its input. Read
    leniently: an older execution's document may have another shape."""
    assert isinstance(record.node, Wait)
    try:
        value: Any = json.loads(record.entered_input or "{}")
        for part in record.node.seconds_path.removeprefix("$.").split("."):
            value = value[part]
        return record.started + timedelta(seconds=float(value)) if record.started else None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _timed_out_reason(details: Mapping[str, Any], workflow: Workflow) -> str | None:
    """A token wait nobody answered: the Pass state after it wrote the reason (with the
    wait's length) where a Catch puts errors; read leniently."""
    try:
        error = json.loads(details.get("output") or "{}")[workflow.error]
        return readable_reason(error.get("Error"), error.get("Cause"))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None


def _ending_reason(ended: Mapping[str, Any] | None, status: str | None) -> str:
    if ended is not None:
        details = _details(ended)
        if details.get("error") or details.get("cause"):
            return readable_reason(details.get("error"), details.get("cause"))
    return f"the execution ended ({status}) during this step"


def _status_of(kind: str) -> str:
    return {
        "ExecutionSucceeded": "SUCCEEDED",
        "ExecutionFailed": "FAILED",
        "ExecutionAborted": "ABORTED",
        "ExecutionTimedOut": "TIMED_OUT",
    }[kind]


def _readable(error: tuple[str | None, Any] | None) -> str | None:
    return None if error is None else readable_reason(*error)


def _timestamp(event: Mapping[str, Any]) -> datetime | None:
    value = event.get("timestamp")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat(timespec="milliseconds")
