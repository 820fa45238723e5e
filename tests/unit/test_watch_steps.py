"""`slipway status --watch` shows the steps a user follows, not the workflow's plumbing."""

from __future__ import annotations

import json

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


def test_a_lambda_failure_shows_its_type_and_message_never_the_stack_trace():
    # GIVEN the cause Step Functions reports for a Lambda task: Lambda's error JSON
    cause = json.dumps(
        {
            "errorType": "EvaluationFailedError",
            "errorMessage": "accuracy 0.31 is below the threshold 0.9",
            "requestId": "5c3d",
            "stackTrace": ['  File "/var/task/model_runtime/jobs/evaluate.py", line 80'],
        }
    )
    event = {
        "type": "TaskFailed",
        "taskFailedEventDetails": {"error": "EvaluationFailedError", "cause": cause},
    }
    failed = _step_event(event)
    assert failed.detail == "EvaluationFailedError: accuracy 0.31 is below the threshold 0.9"


def test_an_approval_wait_is_announced_once_the_request_is_made():
    from slipway.promotion import StepState, StepTracker

    steps = StepTracker()
    history = [
        entered("Task", "SmokeTest"),
        exited("Task", "SmokeTest"),
        # entering the step is not yet waiting: an approval sent now would be refused
        entered("Task", "WaitForApproval"),
        {"type": "TaskScheduled"},
        {"type": "TaskStarted"},
        {"type": "TaskSubmitted"},  # the request's function returned: the version waits
        {"type": "TaskSubmitted"},  # a wait begun again is not news
    ]
    shown = [(e.step, e.state) for e in map(steps.feed, history) if e is not None]
    assert shown == [
        ("SmokeTest", "entered"),
        ("SmokeTest", "passed"),
        ("WaitForApproval", "entered"),
        ("WaitForApproval", StepState.AWAITING_APPROVAL),
    ]


def bake(stable: str | None, metrics_delay_seconds: int | None = None) -> dict:
    canary = {"share": 0.1, "bake_seconds": 1800}
    if metrics_delay_seconds is not None:
        canary["metrics_delay_seconds"] = metrics_delay_seconds
    state = {
        "policy": {"canary": canary},
        "canary": {"stable": stable, "started_at": "2026-12-07T08:00:00+00:00", "share": 0.1},
    }
    event = entered("Wait", "BakeCanary")
    event["stateEnteredEventDetails"]["input"] = json.dumps(state)
    return event


def test_a_canary_bake_is_announced_with_when_it_may_pass():
    from slipway.promotion import StepState, StepTracker

    (baking,) = [e for e in [StepTracker().feed(bake(stable="1"))] if e is not None]
    assert (baking.step, baking.state) == ("BakeCanary", StepState.BAKING)
    assert baking.detail == "2026-12-07T08:30:00+00:00"  # started + the policy's bake_seconds
    # nothing bakes without a live version to compare with
    assert StepTracker().feed(bake(stable=None)).state == StepState.ENTERED


def test_a_bake_ends_no_earlier_than_its_metrics_can_be_read():
    from slipway.promotion import StepTracker

    # GIVEN AWS, where the canary judges only metrics older than the metrics delay
    baking = StepTracker().feed(bake(stable="1", metrics_delay_seconds=120))
    # THEN the announced end is the bake plus that delay after the canary's start
    assert baking.detail == "2026-12-07T08:32:00+00:00"
