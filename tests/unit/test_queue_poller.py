"""What the embedded cloud's SQS poller deletes after an invocation: Lambda's documented
reading of a function's batchItemFailures answer."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from slipway.local.queue_poller import batch_event, handled

pytestmark = pytest.mark.unit


@dataclass
class Message:
    id: str
    body: str = "{}"
    receipt_handle: str = "r"
    approximate_receive_count: int = 1
    sent_timestamp: int = 1
    approximate_first_receive_timestamp: int = 2
    body_md5: str = "m"


BATCH = [Message("a"), Message("b"), Message("c")]


def ids(messages) -> list[str]:
    return [m.id for m in messages]


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        # complete successes
        (None, []),
        ("", []),
        ("null", []),
        ("{}", []),
        ('{"batchItemFailures": []}', []),
        ('{"batchItemFailures": null}', []),
        # the named ones stay in the queue
        ('{"batchItemFailures": [{"itemIdentifier": "b"}]}', ["b"]),
        ('{"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]}', ["a", "c"]),
        # complete failures: nothing is deleted
        ("not json", ["a", "b", "c"]),
        ('{"batchItemFailures": [{"itemIdentifier": ""}]}', ["a", "b", "c"]),
        ('{"batchItemFailures": [{"itemIdentifier": null}]}', ["a", "b", "c"]),
        ('{"batchItemFailures": [{"itemId": "a"}]}', ["a", "b", "c"]),
        ('{"batchItemFailures": [{"itemIdentifier": "z"}]}', ["a", "b", "c"]),
        ('["a"]', ["a", "b", "c"]),
    ],
)
def test_a_batch_answer_deletes_what_the_function_handled(answer, kept):
    deleted = handled(BATCH, answer, reports_failures=True)
    assert sorted(set(ids(BATCH)) - set(ids(deleted))) == kept


def test_without_the_report_every_answer_is_a_success():
    assert ids(handled(BATCH, '{"batchItemFailures": [{"itemIdentifier": "b"}]}', False)) == [
        "a",
        "b",
        "c",
    ]


def test_the_event_is_one_record_per_message_with_its_receive_count():
    event = batch_event([Message("a", approximate_receive_count=3), Message("b")], "arn:q", "r")
    assert [r["messageId"] for r in event["Records"]] == ["a", "b"]
    assert event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "3"
    assert json.dumps(event)  # what the function receives is JSON
