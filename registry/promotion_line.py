"""The line for a model's promotion lock: who goes next, and who is superseded.

A promotion that finds the lock held joins the line with its task token and sleeps (the
AcquireLock step waits for that token). Whoever ends a turn (ReleaseLock, RecordFailure, a
rollback, ``slipway unlock``, the rule that sees an execution end) hands the lock to the
next in line and answers its token, so a waiting version goes on as soon as the lock is
free, however long the one before it took (an approval may take a day). Which one is next is
the environment's policy: ``queue``, the oldest promotion first, or ``latest-wins``, the
newest, the older ones in line being *superseded*. Under latest-wins the newest promotion to
reach the lock is recorded, and the record only moves forward: an older one arriving later
(its Validate was slower) is superseded too, even after the newer one's turn ended.

Every wait has an end, even if a hand-over is lost (a crash between release and hand-over,
an event Step Functions delivers only on a best-effort basis): the workflow re-arms a wait
nobody answered every ``LOCK_RECHECK_SECONDS``, and the re-arrival looks again, taking over
a lock whose holder ended. Order is by the execution's start, then its name.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.exceptions import VersionSupersededError
from registry.lock_holders import holder_status
from registry.repository import LineageRepository
from registry.statuses import UNDECIDED, LinePolicy, VersionStatus
from registry.verdicts import ended_undecided

logger = logging.getLogger(__name__)

# Step Functions' answers for a token nobody waits with any more: its task timed out (the
# wait is re-armed with a new token), or its execution ended.
TOKEN_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
# For this long after a grant the lock is its holder's without asking Step Functions, whose
# DescribeExecution is eventually consistent (a just-started execution may not be found
# yet); after it, the holder's liveness is asked. A waiter that Step Functions does not find
# within this long of its start is not taken for gone either.
LOCK_LEASE_SECONDS = 300
ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# A hand-over gives up after this many waiters turned out gone; the next turn's end (or a
# re-armed wait) goes on from there.
MAX_HAND_OVERS = 25


@dataclass(frozen=True)
class Waiter:
    """A promotion waiting for its model's lock, as its line item keeps it."""

    execution: str
    execution_arn: str
    version: str
    started_at: str  # the execution's start (ISO 8601, UTC): the order of the line
    task_token: str
    policy: LinePolicy
    lock_ttl_seconds: int

    @property
    def order(self) -> tuple[str, str]:
        return (self.started_at, self.execution)

    def item(self) -> dict[str, Any]:
        return asdict(self)

    def claim(self, name: str) -> tuple[str, str, str, str]:
        """The arguments of ``claim_newest`` for this waiter."""
        return name, self.execution, self.version, self.started_at

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Waiter:
        return cls(
            execution=str(item["execution"]),
            execution_arn=str(item["execution_arn"]),
            version=str(item["version"]),
            started_at=str(item["started_at"]),
            task_token=str(item["task_token"]),
            policy=LinePolicy(item.get("policy", LinePolicy.QUEUE)),
            lock_ttl_seconds=int(item["lock_ttl_seconds"]),
        )


def next_in_line(line: list[Waiter]) -> Waiter:
    """The waiter the lock goes to: the newest under latest-wins (the newest waiter's policy
    decides; one environment has one), else the oldest."""
    newest = max(line, key=lambda w: w.order)
    if newest.policy == LinePolicy.LATEST_WINS:
        return newest
    return min(line, key=lambda w: w.order)


class PromotionLine:
    """The lock and its line for the models of one environment's registry."""

    def __init__(self, repository: LineageRepository, sfn: Any) -> None:
        self._repository = repository
        self._sfn = sfn

    def arrive(self, name: str, me: Waiter) -> None:
        """AcquireLock: the lock is answered through ``me.task_token``, now or when it is
        this promotion's turn. Raises VersionSupersededError when a newer version of the
        model holds the lock or waits for it, and the policy is latest-wins."""
        holder = self._running_holder(name, taker=me)
        mine = holder is not None and holder["execution"] == me.execution
        # it asks again (a retried invocation, a re-armed wait) while it holds the lock
        if mine and self._repository.regrant_lock(name, me.execution, LOCK_LEASE_SECONDS):
            self._answer(me)
            return
        latest_wins = me.policy == LinePolicy.LATEST_WINS
        if latest_wins:  # a newer promotion reached the lock, now or before: it goes ahead
            self._refuse_if_newer(name, me, self._repository.claim_newest(*me.claim(name)))
        self._repository.join_line(name, me.item(), me.lock_ttl_seconds)
        line = self._line(name)
        if latest_wins:
            # a look after joining: of two that arrive together, the later one sees both
            newest = self._repository.newest_arrival(name)
            if newest is not None and newest["execution"] != me.execution:
                self._repository.leave_line(name, me.execution, me.task_token)
                self._refuse_if_newer(name, me, newest)
            for older in line:
                if older.order < me.order:
                    self._supersede(name, older, me)
        if holder is not None:
            ahead = sum(1 for w in line if w.order < me.order)
            self._repository.record_audit(
                AuditEvent(
                    name,
                    me.version,
                    me.execution,
                    AuditStep.WAIT,
                    AuditOutcome.WAITING,
                    f"waits for the lock: version {holder.get('version', '?')} (execution "
                    f"{holder['execution']}) holds it, {ahead} ahead in line, policy "
                    f"{me.policy}",
                )
            )
        self.hand_over(name)

    def leave(self, name: str, execution: str) -> bool:
        """An execution's turn, or its wait, is over: release its lock, take it out of the
        line, and hand the lock on. Returns whether it held the lock. Idempotent."""
        released = self._repository.release_lock(name, execution)
        self._repository.leave_line(name, execution)
        try:
            self.hand_over(name)
        except Exception:
            # the turn is over whatever happens to the next one's: a hand-over that broke
            # down is made by the next one's re-armed wait, or by the execution-ended rule
            logger.exception("handing the lock of %s on failed", name)
        return released

    def hand_over(self, name: str) -> str | None:
        """Give a free lock to the next in line and wake it; return whom it went to."""
        for _ in range(MAX_HAND_OVERS):
            if self._running_holder(name) is not None:
                return None
            line = self._line(name)
            if not line:
                return None
            head = next_in_line(line)
            status = holder_status(self._sfn, head.item())
            if self._ended(status, head.started_at):  # stopped while it waited, unannounced
                if self._repository.leave_line(name, head.execution, head.task_token):
                    self._close_ended(name, head.item(), str(status))
                continue
            newest = self._repository.newest_arrival(name)
            if (
                head.policy == LinePolicy.LATEST_WINS
                and newest is not None
                and (newest["started_at"], newest["execution"]) > head.order
            ):  # a newer one reached the lock while this one waited (and was not told)
                self._supersede(name, head, newest)
                continue
            grant = self._repository.hand_lock_to(
                name, head.item(), head.lock_ttl_seconds, LOCK_LEASE_SECONDS
            )
            if grant is None:  # someone else took the lock, or the waiter left meanwhile
                continue
            if self._answer(head):
                return head.execution
            # it no longer waits with that token (it re-armed its wait, or just ended): the
            # lock is not its own to keep; when it arrives again it finds the lock free
            self._repository.release_lock(name, head.execution, grant=grant)
        return None

    # -- helpers --------------------------------------------------------------------------

    def _line(self, name: str) -> list[Waiter]:
        return [Waiter.from_item(item) for item in self._repository.waiting_line(name)]

    def _running_holder(self, name: str, taker: Waiter | None = None) -> dict[str, Any] | None:
        """The lock's holder if it still runs; a lock whose holder ended is released here,
        audited (on the taker's version if one arrives, else on the holder's)."""
        holder = self._repository.lock_holder(name)
        if holder is None:
            return None
        if int(holder.get("lease_until", 0)) > time.time():
            return holder  # within its lease
        status = holder_status(self._sfn, holder)
        if status is None:  # a holder Step Functions cannot be asked about (a rollback)
            if int(holder.get("expires_at", 0)) > time.time():
                return holder
            status = "EXPIRED"
        elif not self._ended(status, str(holder.get("started_at", ""))):
            return holder
        if not self._repository.release_lock(name, holder["execution"]):
            return self._repository.lock_holder(name)  # it changed hands meanwhile
        self._close_ended(name, holder, status)
        reason = (
            f"lock taken over from execution {holder['execution']} (version "
            f"{holder.get('version', '?')}), which ended {status} without releasing it"
        )
        if taker is not None:
            event = AuditEvent(
                name,
                taker.version,
                taker.execution,
                AuditStep.LOCK,
                AuditOutcome.TAKEN_OVER,
                reason,
            )
        else:
            event = AuditEvent(
                name,
                str(holder.get("version", "?")),
                holder["execution"],
                AuditStep.UNLOCK,
                AuditOutcome.RELEASED,
                f"released: its execution ended {status} without releasing it",
            )
        self._repository.record_audit(event)
        return None

    @staticmethod
    def _ended(status: str | None, started_at: str) -> bool:
        """Whether an execution with this status ended: it says so, or Step Functions has
        not known it for longer than a just-started execution may go unseen."""
        if status in ENDED:
            return True
        if status != "GONE":
            return False
        try:
            started = datetime.fromisoformat(started_at).timestamp()
        except ValueError:
            return True  # no start to go by
        return time.time() - started > LOCK_LEASE_SECONDS

    def _close_ended(self, name: str, holder: dict[str, Any], status: str) -> None:
        """What a holder (or a waiter) that ended without its last steps left: its version under
        way, its canary, its staging pointer (as RecordFailure would have closed them)."""
        version, execution = str(holder.get("version", "")), str(holder["execution"])
        if status == "SUCCEEDED" or not version or holder.get("execution_arn") is None:
            return  # it went live (only its release was lost), or a rollback's lock
        self._repository.reject_version(
            name,
            version,
            execution,
            ended_undecided(status),
            VersionStatus.FAILED,
            only_from=UNDECIDED,
        )
        self._repository.clear_canary(name, version, execution)
        self._repository.clear_staging(name, version)

    @staticmethod
    def _refuse_if_newer(name: str, me: Waiter, newer: dict[str, Any] | None) -> None:
        if newer is None or newer["execution"] == me.execution:
            return
        raise VersionSupersededError(
            f"version {newer.get('version', '?')} of {name} was pushed after {me.version} and "
            "goes ahead of it (lock policy latest-wins)"
        )

    def _supersede(self, name: str, older: Waiter, by: Waiter | dict[str, Any]) -> None:
        if not self._repository.leave_line(name, older.execution, older.task_token):
            return  # it left, or re-armed its wait: it will see ``by`` when it looks again
        version = by.version if isinstance(by, Waiter) else by.get("version", "?")
        self._send(
            "send_task_failure",
            taskToken=older.task_token,
            error=VersionSupersededError.__name__,
            cause=f"version {version} of {name} was pushed after {older.version} and "
            "goes ahead of it (lock policy latest-wins)",
        )

    def _answer(self, waiter: Waiter) -> bool:
        """Tell a waiting promotion it holds the lock; False when it no longer waits."""
        return self._send(
            "send_task_success",
            taskToken=waiter.task_token,
            output=json.dumps({"held": True}),
        )

    def _send(self, operation: str, **request: Any) -> bool:
        try:
            getattr(self._sfn, operation)(**request)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in TOKEN_GONE:
                return False
            raise
        return True
