"""The line for a model's promotion lock, on moto: real waiting executions and their task
tokens, the lineage table. Who goes next, who is superseded, and that nobody waits on a
lock that nobody holds."""

from __future__ import annotations

import uuid

import boto3
import pytest

from registry.exceptions import VersionSupersededError
from registry.promotion_line import PromotionLine, Waiter
from registry.statuses import LinePolicy
from slipway.local.moto_patches import abort_stopped_executions, keep_task_failure_causes
from tests.unit.gate import (
    StillWaiting,
    TokenFailed,
    lease_ended,
    lock_token,
    running_execution,
    token_answer,
)

pytestmark = pytest.mark.unit


def waiter(version: str, second: int, policy: LinePolicy = LinePolicy.LATEST_WINS) -> Waiter:
    """A running promotion of iris ``version`` that started at 10:00:<second>, waiting
    for its lock token to be answered."""
    execution = f"iris-{version}-{uuid.uuid4().hex[:8]}"
    arn = running_execution(execution)
    return Waiter(
        execution=execution,
        execution_arn=arn,
        version=version,
        started_at=f"2026-12-03T10:00:{second:02d}.000+00:00",
        task_token=lock_token(arn),
        policy=policy,
        lock_ttl_seconds=3600,
    )


def holder(gate) -> str | None:
    item = gate.repository.lock_holder("iris")
    return item["execution"] if item else None


@pytest.fixture
def line(gate) -> PromotionLine:
    keep_task_failure_causes()  # moto's handler drops a failure's cause; AWS keeps it
    return PromotionLine(gate.repository, boto3.client("stepfunctions"))


def test_a_free_lock_is_answered_at_once(gate, line):
    first = waiter("1", 1)
    line.arrive("iris", first)
    assert token_answer(first.execution_arn) == {"held": True}
    assert holder(gate) == first.execution
    assert gate.repository.waiting_line("iris") == []


def test_latest_wins_the_newest_waiter_goes_next_and_older_ones_are_superseded(gate, line):
    # GIVEN version 1 holding the lock, and version 2 waiting behind it
    first, second, third = waiter("1", 1), waiter("2", 2), waiter("3", 3)
    line.arrive("iris", first)
    line.arrive("iris", second)
    with pytest.raises(StillWaiting):
        token_answer(second.execution_arn, within=0.5)
    # WHEN version 3 arrives THEN version 2 is superseded, naming the one that goes ahead
    line.arrive("iris", third)
    with pytest.raises(TokenFailed) as superseded:
        token_answer(second.execution_arn)
    assert superseded.value.error == VersionSupersededError.__name__
    assert "version 3 of iris was pushed after 2" in superseded.value.cause
    assert [w["version"] for w in gate.repository.waiting_line("iris")] == ["3"]
    # AND when version 1's turn ends, version 3 holds the lock and is told so
    assert line.leave("iris", first.execution)
    assert token_answer(third.execution_arn) == {"held": True}
    assert holder(gate) == third.execution
    waits = [e for e in gate.repository.audit_history("iris", "3") if e["step"] == "wait"]
    assert "version 1" in waits[0]["reason"] and "latest-wins" in waits[0]["reason"]


def test_latest_wins_a_version_older_than_the_holder_is_superseded_on_arrival(gate, line):
    newer, older = waiter("5", 5), waiter("4", 4)
    line.arrive("iris", newer)
    with pytest.raises(VersionSupersededError, match="version 5 of iris was pushed after 4"):
        line.arrive("iris", older)
    assert gate.repository.waiting_line("iris") == []
    assert holder(gate) == newer.execution


def test_a_queue_serves_every_waiter_oldest_first(gate, line):
    first = waiter("1", 1, LinePolicy.QUEUE)
    third, second = waiter("3", 3, LinePolicy.QUEUE), waiter("2", 2, LinePolicy.QUEUE)
    line.arrive("iris", first)
    line.arrive("iris", third)  # arrives first, started later
    line.arrive("iris", second)
    line.leave("iris", first.execution)
    assert token_answer(second.execution_arn) == {"held": True}
    with pytest.raises(StillWaiting):
        token_answer(third.execution_arn, within=0.5)
    line.leave("iris", second.execution)
    assert token_answer(third.execution_arn) == {"held": True}
    assert holder(gate) == third.execution


def test_a_waiter_stopped_while_it_waited_is_passed_over(gate, line):
    abort_stopped_executions()  # as the embedded cloud has it: AWS reports ABORTED at once
    first = waiter("1", 1, LinePolicy.QUEUE)
    second, third = waiter("2", 2, LinePolicy.QUEUE), waiter("3", 3, LinePolicy.QUEUE)
    for each in (first, second, third):
        line.arrive("iris", each)
    boto3.client("stepfunctions").stop_execution(executionArn=second.execution_arn)
    line.leave("iris", first.execution)
    assert token_answer(third.execution_arn) == {"held": True}
    assert gate.repository.waiting_line("iris") == []


def test_a_waiter_asking_again_keeps_its_place_and_a_lost_hand_over_is_found(gate, line):
    # GIVEN a holder whose execution ended without releasing the lock, nobody told
    abort_stopped_executions()
    first, second = waiter("1", 1), waiter("2", 2)
    line.arrive("iris", first)
    line.arrive("iris", second)
    boto3.client("stepfunctions").stop_execution(executionArn=first.execution_arn)
    with pytest.raises(StillWaiting):
        token_answer(second.execution_arn, within=0.5)
    # WHEN its wait is re-armed within the holder's lease, the lock stays the holder's
    line.arrive("iris", second)
    with pytest.raises(StillWaiting):
        token_answer(second.execution_arn, within=0.5)
    # AND when it is re-armed past the lease (the workflow re-arms every 15 min)
    lease_ended(gate.repository, "iris")
    line.arrive("iris", second)
    # THEN it takes the lock over, audited
    assert token_answer(second.execution_arn) == {"held": True}
    (event,) = [e for e in gate.repository.audit_history("iris", "2") if e["step"] == "lock"]
    assert event["outcome"] == "taken-over" and "ended ABORTED" in event["reason"]


def test_an_older_version_arriving_after_a_newer_one_finished_its_turn_is_superseded(gate, line):
    # (a slow Validate: version 2, started later, reached the lock first and went live)
    older, newer = waiter("1", 1), waiter("2", 2)
    line.arrive("iris", newer)
    assert token_answer(newer.execution_arn) == {"held": True}
    line.leave("iris", newer.execution)
    with pytest.raises(VersionSupersededError, match="version 2 of iris was pushed after 1"):
        line.arrive("iris", older)
    assert holder(gate) is None and gate.repository.waiting_line("iris") == []


def test_an_older_arrival_overtaken_while_it_joins_the_line_is_superseded(gate, line, monkeypatch):
    # version 1 finds the lock free; before it joins the line, version 2 takes the lock
    older, newer = waiter("1", 1), waiter("2", 2)
    join = gate.repository.join_line

    def join_after_the_newer_took_the_lock(name, item, ttl):
        if item["execution"] == older.execution:
            line.arrive("iris", newer)
            assert holder(gate) == newer.execution
        return join(name, item, ttl)

    with monkeypatch.context() as patched:
        patched.setattr(gate.repository, "join_line", join_after_the_newer_took_the_lock)
        with pytest.raises(VersionSupersededError):
            line.arrive("iris", older)
    assert [w["version"] for w in gate.repository.waiting_line("iris")] == []
    line.leave("iris", newer.execution)
    assert holder(gate) is None  # nobody older is handed the lock after version 2


def test_a_hand_over_that_breaks_down_does_not_fail_the_turn_that_ends(gate, line, monkeypatch):
    first, second = waiter("1", 1, LinePolicy.QUEUE), waiter("2", 2, LinePolicy.QUEUE)
    line.arrive("iris", first)
    line.arrive("iris", second)

    def throttled(*args, **kwargs):
        raise RuntimeError("throttled")

    with monkeypatch.context() as patched:
        patched.setattr(gate.repository, "hand_lock_to", throttled)
        assert line.leave("iris", first.execution)  # released, whatever the next one's fate
    assert holder(gate) is None
    line.arrive("iris", second)  # its re-armed wait finds the lock free
    assert token_answer(second.execution_arn) == {"held": True}
