"""`slipway status` on a busy account: the promotion is described by its name, never found by
listing every execution (ListExecutions is throttled), and watching has no deadline of its
own. Step Functions, S3 and DynamoDB are moto's; the clock is the test's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from registry import items, keys
from registry.executions import UploadEvent, execution_name, retry_execution_name
from registry.names import upload_key
from slipway import promotion
from slipway.errors import CliError
from slipway.promotion import find_execution, watch_steps
from slipway.target import Target, read_environments

ROLE = "arn:aws:iam::123456789012:role/promotion"
# a state machine moto does not run: its executions stay RUNNING until stopped
DEFINITION = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}})


class Calls:
    """Every AWS operation the CLI's clients call, through botocore's event hooks."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)


@pytest.fixture
def account() -> Iterator[tuple[Target, Calls]]:
    from infra.config import load_environment

    with mock_aws():
        target = Target(load_environment(read_environments(), "dev"))
        calls = Calls()
        target.session.events.register("before-call", calls)
        s3 = target.client("s3")
        s3.create_bucket(
            Bucket="artifacts",
            CreateBucketConfiguration={"LocationConstraint": target.config.region},
        )
        s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
        table = target.session.resource("dynamodb").create_table(
            **keys.create_table_request("lineage")
        )
        machine = target.client("stepfunctions").create_state_machine(
            name="promotion", definition=DEFINITION, roleArn=ROLE
        )["stateMachineArn"]
        # the stack outputs the CLI reads from CloudFormation
        target.__dict__["outputs"] = {
            "ArtifactBucketName": "artifacts",
            "LineageTableName": table.name,
            "StateMachineArn": machine,
        }
        yield target, calls


def upload_and_start(target: Target, name: str, version: str, body: bytes) -> UploadEvent:
    """An upload and the promotion the ingest function starts for it."""
    key = upload_key(name, version)
    put = target.client("s3").put_object(Bucket="artifacts", Key=key, Body=body)
    upload = UploadEvent("artifacts", key, put["VersionId"], len(body))
    start(target, execution_name(upload))
    return upload


def start(target: Target, name: str) -> str:
    return str(
        target.client("stepfunctions").start_execution(
            stateMachineArn=target.outputs["StateMachineArn"], name=name, input="{}"
        )["executionArn"]
    )


def test_the_newest_upload_is_described_by_name_and_nothing_is_listed(account):
    target, calls = account
    # GIVEN a busy account: other models' promotions, and two uploads of iris 1
    for other in range(30):
        upload_and_start(target, f"other-{other}", "1", b"x")
    upload_and_start(target, "iris", "1", b"first bytes")
    newest = upload_and_start(target, "iris", "1", b"second bytes")
    # and an object whose key only starts like the version's (same prefix)
    target.client("s3").put_object(
        Bucket="artifacts", Key=upload_key("iris", "1") + ".bak", Body=b"not an upload"
    )
    calls.names.clear()
    # WHEN status looks for the promotion of iris 1
    found = find_execution(target, "iris", "1")
    # THEN it is the newest upload's, found without listing executions
    assert found.endswith(":" + execution_name(newest))
    assert "ListExecutions" not in calls.names
    assert calls.names.count("DescribeExecution") <= 2  # the upload's, the registered one's


def registered_and_retried(target: Target, upload: UploadEvent, version: str) -> None:
    """The version registered from ``upload``, failed, and retried once (as the registry
    records a retry before its execution starts)."""
    manifest = {
        "name": "iris",
        "version": version,
        "flavor": "sklearn",
        "signature": {},
        "input_example": {},
        "lineage": {},
    }
    bundle = {"bucket": "artifacts", "key": upload.key, "s3_version_id": upload.version_id}
    item = items.version_item(
        manifest, {**bundle, "size": upload.size}, execution_name(upload), "2026-12-07T07:00:00Z"
    )
    target.table().put_item(Item={**item, "status": "failed", "retries": 1})


def test_a_retry_started_after_the_upload_is_the_newest_promotion(account):
    target, calls = account
    upload = upload_and_start(target, "iris", "2", b"bytes")
    # GIVEN the version registered from that upload, failed, and retried once
    registered_and_retried(target, upload, "2")
    retried = retry_execution_name(upload, 1)
    start(target, retried)
    calls.names.clear()
    assert find_execution(target, "iris", "2").endswith(":" + retried)
    assert "ListExecutions" not in calls.names


def test_a_retry_the_registry_names_is_waited_for_until_it_starts(account, monkeypatch):
    target, _ = account
    upload = upload_and_start(target, "iris", "3", b"other bytes")
    # GIVEN a retry the registry recorded, whose execution starts a moment later
    registered_and_retried(target, upload, "3")
    retried = retry_execution_name(upload, 1)
    clock = Clock(monkeypatch)
    started: list[str] = []

    def start_the_retry_after_a_second() -> None:
        if clock.now > 1 and not started:
            started.append(start(target, retried))

    clock.on_sleep = start_the_retry_after_a_second
    # WHEN status looks for the promotion THEN it follows the retry, not the failed run
    assert find_execution(target, "iris", "3", wait_seconds=30).endswith(":" + retried)


def test_no_promotion_is_a_one_line_error_after_the_wait(account, monkeypatch):
    target, calls = account
    clock = Clock(monkeypatch)
    with pytest.raises(CliError, match="no promotion found for iris 3"):
        find_execution(target, "iris", "3", wait_seconds=30)
    # it waited the 30 s, polling less and less often
    assert 30 <= clock.now < 31 and 1 < len(clock.sleeps) < 12
    assert clock.sleeps == sorted(clock.sleeps[:-1]) + clock.sleeps[-1:]
    assert "ListExecutions" not in calls.names


class Clock:
    """time.monotonic and time.sleep of slipway.promotion, on a clock the test moves."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep: Any = None
        monkeypatch.setattr(promotion.time, "monotonic", lambda: self.now)
        monkeypatch.setattr(promotion.time, "sleep", self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


def test_watching_has_no_deadline_unless_asked(account, monkeypatch):
    target, calls = account
    arn = start(target, "a-long-approval-wait")
    sfn = target.client("stepfunctions")
    clock = Clock(monkeypatch)

    def stop_after_two_hours() -> None:
        if clock.now > 7200:
            sfn.stop_execution(executionArn=arn)

    clock.on_sleep = stop_after_two_hours
    # WHEN a promotion runs for two hours (a manual approval, a prod bake)
    list(watch_steps(target, arn))
    # THEN watching followed it to its end, polling at most every few seconds, no faster
    # than needed once nothing happens
    assert clock.now > 7200
    assert max(clock.sleeps) == promotion.LONGEST_POLL_SECONDS
    assert "ListExecutions" not in calls.names
    # a deadline is kept only when asked for (below); first, history nobody sees (a bake's
    # checks) does not bring quick polls back
    hidden = start(target, "a-bake-with-checks")
    clock.sleeps.clear()
    began = clock.now

    def add_hidden_history_then_stop() -> None:
        if clock.now > began + 600:
            sfn.stop_execution(executionArn=hidden)

    real_history = promotion._history_after
    ids = iter(range(10_000, 20_000))
    monkeypatch.setattr(
        promotion,
        "_history_after",
        lambda *args: (
            real_history(*args) or [{"id": next(ids), "type": "TaskScheduled", "timestamp": 0}]
        ),
    )
    clock.on_sleep = add_hidden_history_then_stop
    list(watch_steps(target, hidden))
    assert sorted(clock.sleeps)[len(clock.sleeps) // 2] == promotion.LONGEST_POLL_SECONDS
    monkeypatch.setattr(promotion, "_history_after", real_history)
    other = start(target, "another-wait")
    clock.on_sleep = None
    with pytest.raises(CliError, match="still RUNNING after 600 s"):
        list(watch_steps(target, other, timeout_seconds=600))
