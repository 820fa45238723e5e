"""What the end of a promotion that did not go live leaves behind, however it ended.

RecordFailure (a step failed) and the execution-ended rule (an execution stopped by hand,
timed out, or whose failure handler failed) both end a promotion this way: the version
says how it ended, its canary takes no more traffic, the staging pointer does not name a
version that will not go live, and the model's lock goes to the next in line.
"""

from __future__ import annotations

from typing import Any

from registry.promotion_line import PromotionLine
from registry.repository import LineageRepository
from registry.statuses import UNDECIDED, WAS_LIVE, VersionStatus


def end_promotion(
    repository: LineageRepository,
    sfn: Any,
    name: str,
    version: str,
    execution: str,
    reason: str,
    status: VersionStatus,
) -> bool:
    """Returns whether the version's status was written: only the version ``execution``
    registered, and only while it is undecided. A version a person cancelled says so, and
    one that went live stays live (its promotion may fail after Promote, in ReleaseLock)."""
    written = repository.reject_version(name, version, execution, reason, status, UNDECIDED)
    repository.clear_canary(name, version, execution)
    held = (repository.lock_holder(name) or {}).get("execution") == execution
    if held and (repository.get_version(name, version) or {}).get("status") not in WAS_LIVE:
        # it holds the lock, so the staging pointer, if it names the version, is its own
        repository.clear_staging(name, version)
    PromotionLine(repository, sfn).leave(name, execution)
    return written
