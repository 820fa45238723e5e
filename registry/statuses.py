"""The registry's vocabulary: what a version can be, where a pointer can point, who decides.

Each is a ``StrEnum``, so the values are stored and sent as the plain strings they always
were, and a typo is an AttributeError at import, not a silently different item.
"""

from __future__ import annotations

from enum import StrEnum


class VersionStatus(StrEnum):
    """Where a version is in its life; ``docs/lifecycle.md`` draws the transitions."""

    REGISTERED = "registered"
    STAGED = "staged"
    AWAITING_APPROVAL = "awaiting-approval"
    APPROVED = "approved"
    LIVE = "live"
    ARCHIVED = "archived"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled-back"
    CANCELLED = "cancelled"  # its promotion was stopped by a person (a rollback)
    FAILED = "failed"  # its promotion broke down (infrastructure, not a verdict on it)
    SUPERSEDED = "superseded"  # a newer version of the model went ahead of it (latest-wins)


# A version that is or was live: what a live endpoint serves by exact version.
WAS_LIVE = frozenset({VersionStatus.LIVE, VersionStatus.ARCHIVED, VersionStatus.ROLLED_BACK})
# A version whose promotion is still under way: the statuses a cancellation may replace.
IN_FLIGHT = frozenset(
    {
        VersionStatus.REGISTERED,
        VersionStatus.STAGED,
        VersionStatus.AWAITING_APPROVAL,
        VersionStatus.APPROVED,
        VersionStatus.REJECTED,  # written a moment ago by the promotion being cancelled
    }
)


class LinePolicy(StrEnum):
    """Who goes next when several promotions of one model wait for its lock."""

    QUEUE = "queue"  # each in turn, the oldest first
    LATEST_WINS = "latest-wins"  # the newest; the older waiting ones are superseded


# A version whose promotion ended without a verdict on it: a person may run its gate again
# on the same bytes (slipway retry).
RETRYABLE = frozenset({VersionStatus.FAILED, VersionStatus.SUPERSEDED})
# A version whose promotion has not decided it yet: what an execution that ended without
# saying why (stopped by hand, timed out, its failure handler failed) leaves it in.
UNDECIDED = frozenset(
    {
        VersionStatus.REGISTERED,
        VersionStatus.STAGED,
        VersionStatus.AWAITING_APPROVAL,
        VersionStatus.APPROVED,
    }
)


class ServingRole(StrEnum):
    """What an endpoint function serves. Live endpoints take live traffic and load only
    versions that passed the gate; the candidate function, which has no URL and takes no
    traffic, serves the staging pointer and any registered version to the smoke test."""

    LIVE = "live"
    CANDIDATE = "candidate"


class Stage(StrEnum):
    """The stage pointers a model has: each names the version serving that stage."""

    LIVE = "live"
    STAGING = "staging"


class ApprovalPolicy(StrEnum):
    """Whether a version that passed its checks goes on by itself or waits for a person."""

    AUTO = "auto"
    MANUAL = "manual"


class NotComparablePolicy(StrEnum):
    """What the gate does when the live model cannot be scored on a candidate's evaluation
    data (it needs a column the data lacks)."""

    REFUSE = "refuse"  # reject the candidate, naming the columns
    THRESHOLD_ONLY = "threshold_only"  # judge it on its own threshold


class RegisterOutcome(StrEnum):
    """What Register made of an upload: a new version, or the same bytes again."""

    REGISTERED = "registered"
    DUPLICATE = "duplicate"


class CanaryVerdict(StrEnum):
    PASSED = "passed"
    SKIPPED = "skipped"
