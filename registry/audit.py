"""Audit events: what happened to a version, when, by whom and why.

An event's key is ``AUDIT#<version>#<execution>#<step>``, so each ``AuditStep`` must name one
kind of event: a retry of the same step overwrites itself (idempotent), and two different
events of one execution never share a key. (They once did: an approval overwrote the
"awaiting approval" event of the same execution.)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

WORKFLOW_ACTOR = "promotion-workflow"
POLICY_ACTOR = "policy"


class AuditStep(StrEnum):
    REGISTER = "register"
    PROVENANCE = "provenance"  # the earlier environment's attestation, verified on arrival
    STAGE = "stage"
    APPROVAL_REQUESTED = "approval-requested"
    APPROVAL = "approval"
    CANARY_START = "canary-start"
    CANARY_CHECK = "canary-check"
    PROMOTE = "promote"
    REJECT = "reject"
    ROLLBACK = "rollback"
    CANCEL = "cancel"  # a promotion stopped by a rollback
    RETRY = "retry"  # a failed version's gate run again by a person
    LOCK = "lock"  # a lock taken over from an execution that ended without releasing it
    WAIT = "wait"  # a promotion that found the lock held and waits in line
    UNLOCK = "unlock"  # a lock released by hand (slipway unlock) after its holder ended


# Written about an execution whose turn ended without releasing its lock, by whoever ends a
# turn next (or sees the execution end): several steps may write it, and it is one event,
# keyed by that execution.
ABOUT_ENDED_HOLDERS = frozenset({AuditStep.UNLOCK})


class AuditOutcome(StrEnum):
    REGISTERED = "registered"
    DUPLICATE = "duplicate"
    VERIFIED = "verified"
    STAGED = "staged"
    AWAITING_APPROVAL = "awaiting-approval"
    APPROVED = "approved"
    CANARY = "canary"
    SKIPPED = "skipped"
    PASSED = "passed"
    LIVE = "live"
    REJECTED = "rejected"
    FAILED = "failed"
    ROLLED_BACK = "rolled-back"
    CANCELLED = "cancelled"
    RETRIED = "retried"
    TAKEN_OVER = "taken-over"
    RELEASED = "released"
    WAITING = "waiting"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class AuditEvent:
    name: str
    version: str
    execution: str
    step: AuditStep
    outcome: AuditOutcome
    reason: str
    actor: str = WORKFLOW_ACTOR
