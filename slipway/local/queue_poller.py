"""QueuePoller: the embedded cloud's SQS event sources, polled the way Lambda polls them.

moto hands a message to its function inside SendMessage and then deletes the whole batch
whatever the function answered: a record the function reports in ``batchItemFailures`` is
lost, a failed batch is made visible again with nobody left to poll it, and nothing ever
reaches a dead-letter queue. The embedded cloud turns that inline delivery off
(``moto_patches.poll_event_sources``) and polls instead: one thread per enabled mapping
receives a batch (moto counts each receive and moves a message past the queue's
``maxReceiveCount`` to its dead-letter queue, as SQS does), invokes the function with it,
and deletes what the function handled: every record but those it reported failed (with
``ReportBatchItemFailures``), none when the invocation failed. What is left reappears
after the queue's visibility timeout, and is received again.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

_log = logging.getLogger("slipway.local")

IDLE_LOOK_SECONDS = 1.0  # how often a mapping looks for messages whose visibility ended


def batch_event(messages: list[Any], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda sends a function for a batch of SQS messages."""
    return {
        "Records": [
            {
                "messageId": message.id,
                "receiptHandle": message.receipt_handle,
                "body": message.body,
                "attributes": {
                    "ApproximateReceiveCount": str(message.approximate_receive_count),
                    "SentTimestamp": str(message.sent_timestamp),
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": str(
                        message.approximate_first_receive_timestamp
                    ),
                },
                "messageAttributes": {},
                "md5OfBody": message.body_md5,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def handled(messages: list[Any], answer: Any, reports_failures: bool) -> list[Any]:
    """The messages a function's answer says it handled. Without ``ReportBatchItemFailures``
    all of them. With it, as Lambda documents: all of them for an empty or null answer or
    list; all but the named ones for a list of ``itemIdentifier``; none (the whole batch
    failed) for an answer that is not JSON or names an identifier that is empty, missing
    or not in the batch."""
    if not reports_failures or answer in (None, "", b""):
        return messages
    try:
        document = json.loads(answer)
    except (ValueError, TypeError):
        return []
    if document is None:
        return messages
    if not isinstance(document, dict):
        return []
    failures = document.get("batchItemFailures") or []
    known = {message.id for message in messages}
    failed = set()
    for item in failures if isinstance(failures, list) else [None]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in known:
            return []
        failed.add(identifier)
    return [message for message in messages if message.id not in failed]


class QueuePoller:
    """Polls every enabled SQS event source mapping of one account and region."""

    def __init__(self, account_id: str, region: str) -> None:
        self._account_id, self._region = account_id, region
        self._stopped = threading.Event()
        self._wakers: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._scanner = threading.Thread(target=self._scan, name="sqs-pollers", daemon=True)

    def start(self) -> QueuePoller:
        self._scanner.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        for waker in list(self._wakers.values()):
            waker.set()

    def wake(self, queue_arn: str) -> None:
        """A message arrived: its queue's mappings look at once."""
        for uuid, esm in self._mappings().items():
            if esm.event_source_arn == queue_arn:
                self._ensure_thread(uuid)
                self._wakers[uuid].set()

    # -- the threads ----------------------------------------------------------------------

    def _mappings(self) -> dict[str, Any]:
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[self._account_id][self._region]
        return {
            uuid: esm
            for uuid, esm in list(backend._event_source_mappings.items())
            if ":sqs:" in esm.event_source_arn
        }

    def _scan(self) -> None:
        while not self._stopped.wait(IDLE_LOOK_SECONDS):
            for uuid in self._mappings():
                self._ensure_thread(uuid)

    def _ensure_thread(self, uuid: str) -> None:
        with self._lock:
            if uuid in self._threads:
                return
            self._wakers[uuid] = threading.Event()
            thread = threading.Thread(
                target=self._poll, args=(uuid,), name=f"sqs-poller-{uuid[:8]}", daemon=True
            )
            self._threads[uuid] = thread
            thread.start()

    def _poll(self, uuid: str) -> None:
        waker = self._wakers[uuid]
        while not self._stopped.is_set():
            waker.wait(IDLE_LOOK_SECONDS)
            waker.clear()
            esm = self._mappings().get(uuid)
            if esm is None:  # the mapping was deleted
                return
            if not esm.enabled:
                continue
            try:
                while not self._stopped.is_set() and self._deliver_one_batch(esm):
                    pass
            except Exception:  # a poller that dies would leave its queue unread for good
                _log.exception("polling %s for %s failed", esm.event_source_arn, esm.function_arn)

    def _deliver_one_batch(self, esm: Any) -> bool:
        """Receive, invoke, delete what was handled; False when the queue had nothing."""
        from moto.awslambda.models import lambda_backends
        from moto.sqs.models import sqs_backends

        sqs = sqs_backends[self._account_id][self._region]
        queue = next((q for q in sqs.queues.values() if q.queue_arn == esm.event_source_arn), None)
        if queue is None:
            return False
        messages = sqs.receive_message(
            queue.name, int(esm.batch_size or 10), 0, int(queue.visibility_timeout)
        )
        if not messages:
            return False
        event = batch_event(messages, queue.queue_arn, self._region)
        response_headers: dict[str, Any] = {}
        answer = lambda_backends[self._account_id][self._region].invoke(
            function_name=esm.function_arn,
            qualifier=None,
            body=json.dumps(event),
            headers={},
            response_headers=response_headers,
        )
        if "x-amz-function-error" in response_headers:
            return True  # the batch reappears after the visibility timeout
        reports = "ReportBatchItemFailures" in (esm.function_response_types or [])
        for message in handled(messages, answer, reports):
            sqs.delete_message(queue.name, message.receipt_handle)
        return True
