"""Reading a promotion's progress: its execution, step by step, and its recorded outcome."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from registry.executions import (
    UploadEvent,
    execution_arn,
    execution_name,
    retry_execution_name,
)
from registry.failure_reasons import readable_reason
from registry.names import upload_key
from registry.repository import LineageRepository
from registry.workflow import BAKE_CANARY, PROMOTE, WAIT_FOR_APPROVAL
from slipway.errors import CliError
from slipway.target import Target

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
# Polls start quick (a fresh upload's first steps take seconds) and slow down while nothing
# happens: an approval or a bake may last hours, and every poll costs API calls.
FIRST_POLL_SECONDS = 0.5
LONGEST_POLL_SECONDS = 5.0


class PromotionResult(StrEnum):
    """What a successful execution did: put the version live, or found it registered."""

    LIVE = "live"
    ALREADY_REGISTERED = "already registered"


class StepState(StrEnum):
    ENTERED = "entered"
    PASSED = "passed"
    FAILED = "failed"
    AWAITING_APPROVAL = "awaiting-approval"  # a person decides: approve or reject
    BAKING = "baking"  # the canary takes live traffic until ``detail`` (an ISO time)


@dataclass(frozen=True)
class StepEvent:
    step: str
    state: str  # a StepState
    detail: str = ""


def find_execution(target: Target, name: str, version: str, wait_seconds: float = 0) -> str:
    """ARN of the newest promotion of (name, version): the newest upload's, or the version's
    latest retry, whichever started last. Execution names are pure functions of the upload
    (registry/executions.py), so each is described by name: listing every execution of the
    state machine is throttled on a busy account. Waits, with backoff, up to
    ``wait_seconds`` for the newest upload's promotion, and a retry the registry names, to
    start."""
    sfn = target.client("stepfunctions")
    deadline = time.monotonic() + wait_seconds
    delay = FIRST_POLL_SECONDS
    while True:
        newest_upload, others = _promotion_names(target, name, version)
        started = {
            execution_name: described
            for execution_name in filter(None, (newest_upload, *others))
            if (described := _described(sfn, execution_arn_of(target, execution_name)))
        }
        # the newest upload's run, and a retry the registry names (requested a moment
        # before its run starts), are waited for; the registered run started long ago
        awaited = [n for n in (newest_upload, *others[1:]) if n is not None]
        all_started = all(n in started for n in awaited)
        if started and (all_started or time.monotonic() >= deadline):
            newest = max(started.values(), key=lambda described: described["startDate"])
            return str(newest["executionArn"])
        if time.monotonic() >= deadline:
            raise CliError(
                f"no promotion found for {name} {version}; push it with `slipway push BUNDLE`"
            )
        time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
        delay = min(delay * 2, LONGEST_POLL_SECONDS)


def _promotion_names(target: Target, name: str, version: str) -> tuple[str | None, list[str]]:
    """The execution name of the newest object version under the version's key, and those
    the registry knows: the registered upload's and its latest retry's (named by
    ``retry_execution_name``, from the registered object version)."""
    bucket, key = target.outputs["ArtifactBucketName"], upload_key(name, version)
    uploads = [
        found
        for page in target.client("s3")
        .get_paginator("list_object_versions")
        .paginate(Bucket=bucket, Prefix=key)
        for found in page.get("Versions", [])
        if found["Key"] == key  # the prefix also matches longer keys
    ]
    newest_upload = None
    if uploads:
        newest = max(uploads, key=lambda found: (found["LastModified"], found["IsLatest"]))
        newest_upload = execution_name(
            UploadEvent(bucket, key, newest["VersionId"], newest["Size"])
        )
    item = LineageRepository(target.table()).get_version(name, version)
    known: list[str] = []
    if item is not None:
        known.append(str(item["execution"]))
        if item.get("retries"):
            known.append(retry_execution_name(UploadEvent.registered(item), int(item["retries"])))
    return newest_upload, known


def _described(sfn: Any, arn: str) -> dict[str, Any] | None:
    try:
        return dict(sfn.describe_execution(executionArn=arn))
    except sfn.exceptions.ExecutionDoesNotExist:
        return None


def execution_arn_of(target: Target, execution_name: str) -> str:
    """The ARN of the promotion execution named ``execution_name``."""
    return execution_arn(target.outputs["StateMachineArn"], execution_name)


def watch_steps(
    target: Target, execution_arn: str, timeout_seconds: float | None = None
) -> Iterator[StepEvent]:
    """Yield each step as it is entered, passes or fails, and once each wait for a person or
    a bake, until the execution ends (or ``timeout_seconds`` pass, if given)."""
    sfn = target.client("stepfunctions")
    last_seen = 0
    steps = StepTracker()
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    delay = FIRST_POLL_SECONDS
    while True:
        # Status first: once it is terminal, the history read after it is complete.
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        events = _history_after(sfn, execution_arn, last_seen)
        shown = False
        for event in events:
            step_event = steps.feed(event)
            if step_event is not None:
                shown = True
                yield step_event
        if events:
            last_seen = events[-1]["id"]
        if status in TERMINAL:
            failure = steps.finish()
            if failure is not None:
                yield failure
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise CliError(f"the promotion is still {status} after {timeout_seconds:.0f} s")
        # Back to quick polls only when something showed: a bake's checks and an approval's
        # wait add history every few seconds that nobody sees, and polling them quickly
        # would spend the account's GetExecutionHistory rate for nothing.
        delay = FIRST_POLL_SECONDS if shown else min(delay * 1.5, LONGEST_POLL_SECONDS)
        time.sleep(delay if deadline is None else max(min(delay, deadline - time.monotonic()), 0))


def _history_after(sfn: Any, execution_arn: str, last_seen: int) -> list[dict[str, Any]]:
    """The execution's history events after event ``last_seen``, oldest first: read newest
    first, page by page, only as far back as needed (a long bake has thousands)."""
    newer: list[dict[str, Any]] = []
    token = None
    while True:
        page = sfn.get_execution_history(
            executionArn=execution_arn,
            reverseOrder=True,
            maxResults=1000,
            **({"nextToken": token} if token else {}),
        )
        events = page["events"]
        newer += [event for event in events if event["id"] > last_seen]
        token = page.get("nextToken")
        if not token or any(event["id"] <= last_seen for event in events):
            return sorted(newer, key=lambda event: event["id"])


# Pass and Choice states are the workflow's plumbing (policy, branches), not steps a user
# follows; Task, Wait, Succeed and Fail states are.
_PLUMBING = ("PassState", "ChoiceState")


def _step_event(event: dict[str, Any]) -> StepEvent | None:
    kind = event["type"]
    if kind.startswith(_PLUMBING):
        return None
    if kind.endswith("StateEntered"):
        return StepEvent(event["stateEnteredEventDetails"]["name"], StepState.ENTERED)
    if kind.endswith("StateExited"):
        return StepEvent(event["stateExitedEventDetails"]["name"], StepState.PASSED)
    if kind in ("LambdaFunctionFailed", "TaskFailed"):
        details = next(v for k, v in event.items() if k.endswith("EventDetails"))
        # the cause of a Lambda task's failure is Lambda's error JSON, stack trace included
        reason = readable_reason(details.get("error"), details.get("cause"))
        return StepEvent("", StepState.FAILED, reason)
    return None


def _bake_ends(event: dict[str, Any]) -> str | None:
    """When a canary entering its bake may pass at the earliest (ISO time: its bake and the
    metrics delay after its start), read from the
    state document it carries; None when it has no stable version to bake against. Read
    leniently, as ``outcome`` reads: an older execution's document may differ."""
    try:
        state = json.loads(event["stateEnteredEventDetails"].get("input") or "{}")
        canary, policy = state["canary"], state["policy"]["canary"]
        if not canary.get("stable"):
            return None
        started = datetime.fromisoformat(canary["started_at"])
        # the canary judges only metrics CloudWatch can have: its window ends the metrics
        # delay before now, so it passes no earlier than the bake plus that delay
        wait = int(policy["bake_seconds"]) + int(policy.get("metrics_delay_seconds", 0))
        return (started + timedelta(seconds=wait)).isoformat()
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


class StepTracker:
    """Step events from history events in order. A task's failure is shown when its step
    ends failed: a retried attempt that then succeeds is a pass, and a task whose failure is
    caught still exits, and that exit is no pass."""

    _SUCCEEDED = ("TaskSucceeded", "LambdaFunctionSucceeded")

    def __init__(self) -> None:
        self._current = ""
        self._failure: StepEvent | None = None
        self._announced: set[str] = set()

    def feed(self, event: dict[str, Any]) -> StepEvent | None:
        if event["type"] in self._SUCCEEDED:
            self._failure = None  # a retry of the same step succeeded
            return None
        if event["type"] == "TaskSubmitted" and self._current == WAIT_FOR_APPROVAL.state:
            # the request's function has returned: the version waits, and a decision sent
            # now finds it waiting (on entering the step it would still be refused)
            return self._announce(StepEvent(self._current, StepState.AWAITING_APPROVAL))
        step_event = _step_event(event)
        if step_event is None:
            return None
        if step_event.state == StepState.FAILED:
            self._failure = StepEvent(self._current, StepState.FAILED, step_event.detail)
            return None
        if step_event.state == StepState.ENTERED:
            self._current = step_event.step
            return self._waiting(step_event, event) or step_event
        failure, self._failure = self._failure, None
        return failure if failure is not None else step_event

    def _waiting(self, entered: StepEvent, event: dict[str, Any]) -> StepEvent | None:
        """A canary's bake, announced as it begins, with when it may pass."""
        if entered.step == BAKE_CANARY.state and (until := _bake_ends(event)):
            return self._announce(StepEvent(entered.step, StepState.BAKING, until))
        return None

    def _announce(self, waiting: StepEvent) -> StepEvent | None:
        """A wait the user should know of (for a person, for a bake), once per step."""
        if waiting.step in self._announced:
            return None
        self._announced.add(waiting.step)
        return waiting

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
        result["reason"] = _readable_cause(described.get("error"), described.get("cause"))
    return result


def _readable_cause(error: str | None, cause: str | None) -> str | None:
    """An execution's cause as people read it: a Fail state's cause is RecordFailure's
    reason already; a failure nothing caught carries Lambda's error JSON."""
    try:
        parsed = json.loads(cause or "")
    except json.JSONDecodeError:
        return cause
    return readable_reason(error, parsed) if isinstance(parsed, dict) else cause
