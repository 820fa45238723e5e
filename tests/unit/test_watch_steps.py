"""`slipway status --watch` shows the steps a user follows, not the workflow's plumbing."""

from __future__ import annotations

import pytest

from slipway.promotion import _step_event


def entered(kind: str, name: str) -> dict:
    return {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name}}


def exited(kind: str, name: str) -> dict:
    return {"type": f"{kind}StateExited", "stateExitedEventDetails": {"name": name}}


@pytest.mark.parametrize("kind", ["Pass", "Choice"])
def test_pass_and_choice_states_are_not_shown(kind):
    assert _step_event(entered(kind, "Policy")) is None
    assert _step_event(exited(kind, "NewVersion?")) is None


@pytest.mark.parametrize("kind", ["Task", "Wait", "Succeed", "Fail"])
def test_tasks_waits_and_ends_are_shown(kind):
    assert _step_event(entered(kind, "Evaluate")).state == "entered"
    assert _step_event(exited(kind, "Evaluate")).step == "Evaluate"


def test_a_failed_task_carries_its_reason():
    event = {
        "type": "TaskFailed",
        "taskFailedEventDetails": {"error": "EvaluationFailedError", "cause": "rmse 9 > 5"},
    }
    failed = _step_event(event)
    assert failed.state == "failed"
    assert failed.detail == "EvaluationFailedError: rmse 9 > 5"


def test_a_caught_failure_is_shown_on_its_step_and_its_exit_is_no_pass():
    # GIVEN Evaluate fails, its Catch leads to RecordFailure, and the run ends in a Fail state
    from slipway.promotion import StepTracker

    history = [
        entered("Task", "Evaluate"),
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "E", "cause": "rmse 9 > 5"}},
        exited("Task", "Evaluate"),  # Step Functions exits a task whose failure is caught
        entered("Task", "RecordFailure"),
        exited("Task", "RecordFailure"),
        entered("Fail", "Rejected"),
    ]
    steps = StepTracker()
    shown = [e for e in map(steps.feed, history) if e is not None and e.state != "entered"]
    # THEN Evaluate is shown failed, once, with its reason, and never with a tick
    assert [(e.step, e.state) for e in shown] == [
        ("Evaluate", "failed"),
        ("RecordFailure", "passed"),
    ]
    assert shown[0].detail == "E: rmse 9 > 5"


def test_a_retried_attempt_that_succeeds_is_a_pass_and_an_uncaught_failure_is_shown_at_the_end():
    from slipway.promotion import StepTracker

    retried = [
        entered("Task", "Register"),
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "Throttled", "cause": "x"}},
        {"type": "TaskScheduled"},
        {"type": "TaskSucceeded"},
        exited("Task", "Register"),
    ]
    steps = StepTracker()
    shown = [e for e in map(steps.feed, retried) if e is not None and e.state != "entered"]
    assert [(e.step, e.state) for e in shown] == [("Register", "passed")]
    assert steps.finish() is None
    # a failure nothing catches ends the execution without an exit of its step
    uncaught = [
        entered("Task", "Stage"),
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "E", "cause": "boom"}},
    ]
    steps = StepTracker()
    assert [e for e in map(steps.feed, uncaught) if e is not None and e.state != "entered"] == []
    last = steps.finish()
    assert (last.step, last.state, last.detail) == ("Stage", "failed", "E: boom")
