"""The environment's dead-letter queues: what waits there, and sending it back.

Each queued event source (uploads, ended executions) keeps a message that failed five
times in its dead-letter queue rather than losing it. Once the cause is fixed, a redrive
sends each message back to the queue it came from; every handler is idempotent, so a
message handled before changes nothing the second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PEEK_LIMIT = 10  # messages shown per queue
MAX_BODY_CHARS = 256 * 1024  # SQS's limit on a message


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str
    dead_letter_output: str  # the stack output naming the dead-letter queue's URL
    source_output: str  # ... and the queue its messages came from

    def summary_of(self, body: str) -> str:
        """What a message is about, in a few words (the upload's key, the execution)."""
        try:
            event = json.loads(body[:MAX_BODY_CHARS])
            detail = event.get("detail", {}) if isinstance(event, dict) else {}
            if self.name == "ingest":
                return f"upload {detail['object']['key']}"
            return f"execution {detail['name']} ended {detail['status']}"
        except (ValueError, KeyError, TypeError, AttributeError):
            return f"unreadable message ({len(body)} characters)"


QUEUES = (
    DeadLetterQueue("ingest", "IngestDeadLetterQueueUrl", "IngestQueueUrl"),
    DeadLetterQueue(
        "execution-ended", "ExecutionEndedDeadLetterQueueUrl", "ExecutionEndedQueueUrl"
    ),
)


def dead_letters(sqs: Any, outputs: dict[str, str]) -> list[dict[str, Any]]:
    """Each dead-letter queue with how many messages wait and a look at the first ones
    (read without hiding them from the next reader)."""
    found = []
    for queue in QUEUES:
        url = outputs.get(queue.dead_letter_output)
        if url is None:  # a stack deployed before this queue existed
            continue
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        peeked = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=PEEK_LIMIT,
            VisibilityTimeout=0,
            AttributeNames=["SentTimestamp"],
        ).get("Messages", [])
        found.append(
            {
                "queue": queue.name,
                "url": url,
                "messages": int(attributes.get("ApproximateNumberOfMessages", 0)),
                "first": [
                    {
                        "id": message["MessageId"],
                        "sent": message.get("Attributes", {}).get("SentTimestamp"),
                        "about": queue.summary_of(message["Body"]),
                    }
                    for message in peeked
                ],
            }
        )
    return found


def redrive(sqs: Any, outputs: dict[str, str], name: str) -> int:
    """Send every message of the named dead-letter queue back to its source queue; returns
    how many were moved. Bounded by the count at the start, so a message that fails again
    and returns meanwhile waits for the next redrive."""
    (queue,) = [q for q in QUEUES if q.name == name]
    dead_letter_url = outputs[queue.dead_letter_output]
    source_url = outputs[queue.source_output]
    waiting = int(
        sqs.get_queue_attributes(
            QueueUrl=dead_letter_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
    )
    moved = 0
    while moved < waiting:
        batch = sqs.receive_message(
            QueueUrl=dead_letter_url,
            MaxNumberOfMessages=min(10, waiting - moved),
            VisibilityTimeout=60,
            WaitTimeSeconds=1,  # a short poll may answer nothing while messages wait
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            sqs.send_message(QueueUrl=source_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved
