"""Reading a promotion's progress: its execution, step by step, and its recorded outcome."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from registry.executions import execution_arn, is_execution_of
from registry.workflow import PROMOTE
from slipway.errors import CliError
from slipway.target import Target

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class PromotionResult(StrEnum):
    """What a successful execution did: put the version live, or found it registered."""

    LIVE = "live"
    ALREADY_REGISTERED = "already registered"


@dataclass(frozen=True)
class StepEvent:
    step: str
    state: str  # entered | passed | failed
    detail: str = ""


def find_execution(target: Target, name: str, version: str, wait_seconds: float = 0) -> str:
    """ARN of the newest execution for (name, version); waits a little for a fresh upload."""
    sfn = target.client("stepfunctions")
    deadline = time.monotonic() + wait_seconds
    while True:
        matches = []
        paginator = sfn.get_paginator("list_executions")
        for page in paginator.paginate(stateMachineArn=target.outputs["StateMachineArn"]):
            matches.extend(
                e for e in page["executions"] if is_execution_of(e["name"], name, version)
            )
        if matches:
            return str(max(matches, key=lambda e: e["startDate"])["executionArn"])
        if time.monotonic() >= deadline:
            raise CliError(
                f"no promotion found for {name} {version}; push it with `slipway push BUNDLE`"
            )
        time.sleep(0.5)


def execution_arn_of(target: Target, execution_name: str) -> str:
    """The ARN of the promotion execution named ``execution_name``."""
    return execution_arn(target.outputs["StateMachineArn"], execution_name)


def watch_steps(
    target: Target, execution_arn: str, poll_seconds: float = 0.5, timeout_seconds: float = 600
) -> Iterator[StepEvent]:
    """Yield each step as it is entered, passes or fails, until the execution ends."""
    sfn = target.client("stepfunctions")
    seen = 0
    steps = StepTracker()
    deadline = time.monotonic() + timeout_seconds
    while True:
        # Status first: once it is terminal, the history read after it is complete.
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        for event in events[seen:]:
            step_event = steps.feed(event)
            if step_event is not None:
                yield step_event
        seen = len(events)
        if status in TERMINAL:
            failure = steps.finish()
            if failure is not None:
                yield failure
            return
        if time.monotonic() >= deadline:
            raise CliError(f"the promotion is still {status} after {timeout_seconds:.0f} s")
        time.sleep(poll_seconds)


# Pass and Choice states are the workflow's plumbing (policy, branches), not steps a user
# follows; Task, Wait, Succeed and Fail states are.
_PLUMBING = ("PassState", "ChoiceState")


def _step_event(event: dict[str, Any]) -> StepEvent | None:
    kind = event["type"]
    if kind.startswith(_PLUMBING):
        return None
    if kind.endswith("StateEntered"):
        return StepEvent(event["stateEnteredEventDetails"]["name"], "entered")
    if kind.endswith("StateExited"):
        return StepEvent(event["stateExitedEventDetails"]["name"], "passed")
    if kind in ("LambdaFunctionFailed", "TaskFailed"):
        details = next(v for k, v in event.items() if k.endswith("EventDetails"))
        return StepEvent("", "failed", f"{details.get('error', '')}: {details.get('cause', '')}")
    return None


class StepTracker:
    """Step events from history events in order. A task's failure is shown when its step
    ends failed: a retried attempt that then succeeds is a pass, and a task whose failure is
    caught still exits, and that exit is no pass."""

    _SUCCEEDED = ("TaskSucceeded", "LambdaFunctionSucceeded")

    def __init__(self) -> None:
        self._current = ""
        self._failure: StepEvent | None = None

    def feed(self, event: dict[str, Any]) -> StepEvent | None:
        if event["type"] in self._SUCCEEDED:
            self._failure = None  # a retry of the same step succeeded
            return None
        step_event = _step_event(event)
        if step_event is None:
            return None
        if step_event.state == "failed":
            self._failure = StepEvent(self._current, "failed", step_event.detail)
            return None
        if step_event.state == "entered":
            self._current = step_event.step
            return step_event
        failure, self._failure = self._failure, None
        return failure if failure is not None else step_event

    def finish(self) -> StepEvent | None:
        """A failure the execution ended with, its step never exited (nothing caught it)."""
        failure, self._failure = self._failure, None
        return failure


def outcome(target: Target, execution_arn: str) -> dict[str, Any]:
    """Status, and for a failure the recorded human-readable reason."""
    described = target.client("stepfunctions").describe_execution(executionArn=execution_arn)
    result: dict[str, Any] = {"execution": execution_arn, "status": described["status"]}
    if described["status"] == "SUCCEEDED":
        # read leniently: executions that ran before this version of the workflow carry
        # state documents of an older shape, and a status must still be answerable
        output = json.loads(described.get("output") or "{}")
        promoted = isinstance(output, dict) and output.get(PROMOTE.result) is not None
        result["result"] = (
            PromotionResult.LIVE if promoted else PromotionResult.ALREADY_REGISTERED
        ).value
    else:
        result["error"] = described.get("error")
        result["reason"] = described.get("cause")
    return result
