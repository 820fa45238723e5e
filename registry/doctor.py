"""What is inconsistent in a model's registry items, found and explained (``slipway doctor``).

Every write of the gate is conditional and every ending is closed, so none of these should
happen; they still can, by hand edits of the table, a lost event, or a deployment of an
older Slipway. Each finding says what was found, why it matters and what repairs it. The
examination only reads: the table, and Step Functions for whether executions still run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from registry.lock_holders import holder_status
from registry.repository import LineageRepository
from registry.statuses import UNDECIDED, Stage, VersionStatus

# a version the staging pointer should not name: one that will never go live
NOT_GOING_LIVE = frozenset(
    {
        VersionStatus.REJECTED,
        VersionStatus.FAILED,
        VersionStatus.SUPERSEDED,
        VersionStatus.CANCELLED,
    }
)


@dataclass(frozen=True)
class Finding:
    model: str
    problem: str  # a short name of the kind of problem
    detail: str  # what was found
    remedy: str  # what repairs it

    def dump(self) -> dict[str, str]:
        return asdict(self)


class Doctor:
    """Examines models; ``arn_of`` turns an execution's name into its ARN (the workflow's
    executions are named, the table keeps names)."""

    def __init__(
        self, repository: LineageRepository, sfn: Any, arn_of: Callable[[str], str]
    ) -> None:
        self._repository = repository
        self._sfn = sfn
        self._arn_of = arn_of
        self._statuses: dict[str, str | None] = {}

    def examine(self, name: str) -> list[Finding]:
        self._statuses = {}  # each examination asks afresh
        versions = self._repository.every_version(name)
        return [
            *self._damaged(name, versions),
            *self._live(name, versions),
            *self._staging(name, versions),
            *self._lock(name),
            *self._line(name),
            *self._undecided(name, versions),
        ]

    # -- the checks -----------------------------------------------------------------------

    def _damaged(self, name: str, versions: list[dict[str, Any]]) -> Iterator[Finding]:
        for item in versions:
            missing = [f for f in ("version", "status", "bundle") if f not in item]
            if missing:
                yield Finding(
                    name,
                    "damaged-version",
                    f"the item {item.get('sk', '?')} lacks {', '.join(missing)}",
                    "restore the item from a backup of the table (point-in-time recovery); "
                    "the registry lists it as damaged meanwhile",
                )

    def _live(self, name: str, versions: list[dict[str, Any]]) -> Iterator[Finding]:
        by_version = {str(v["version"]): v for v in versions if "version" in v}
        live = sorted(v for v, item in by_version.items() if item.get("status") == "live")
        pointer = self._repository.get_pointer(name)
        if pointer is not None and not pointer.get("version"):
            yield Finding(
                name,
                "damaged-pointer",
                "the live pointer names no version",
                f"put back `version` on MODEL#{name} / STAGE#live (or delete the item), "
                "then roll back to the version that should serve",
            )
            pointer = None
        named = str(pointer["version"]) if pointer else None
        if named is not None and named not in by_version:
            yield Finding(
                name,
                "pointer-to-missing-version",
                f"the live pointer names version {named}, which is not registered",
                f"`slipway rollback {name} --to VERSION` to a version that was live",
            )
        elif named is not None and by_version[named].get("status") != "live":
            yield Finding(
                name,
                "pointer-status-mismatch",
                f"the live pointer names version {named}, whose status is "
                f"{by_version[named].get('status')}",
                f"endpoints serve what the pointer names: set the status of MODEL#{name} / "
                f"VERSION#{named} to live, or roll back to another version",
            )
        if len(live) > 1 or (live and named is not None and live != [named]):
            yield Finding(
                name,
                "two-live-versions" if len(live) > 1 else "live-status-without-pointer",
                f"versions {', '.join(live)} say they are live; the live pointer names "
                f"{named or 'none'}",
                "endpoints serve what the pointer names: set the status of the others to "
                f"archived (MODEL#{name} / VERSION#...), or roll back to the right one",
            )
        if pointer and pointer.get("canary_version"):
            execution = str(pointer.get("canary_execution", ""))
            status = self._status(execution) if execution else None
            if status != "RUNNING":
                yield Finding(
                    name,
                    "canary-without-promotion",
                    f"version {pointer['canary_version']} takes "
                    f"{pointer.get('canary_weight', '?')} of the live traffic, and its "
                    f"promotion ({execution or 'unknown'}) is {status or 'unknown'}",
                    f"`slipway rollback {name} --to {named}` takes the canary's traffic back",
                )

    def _staging(self, name: str, versions: list[dict[str, Any]]) -> Iterator[Finding]:
        staging = self._repository.get_pointer(name, Stage.STAGING)
        if not staging or not staging.get("version"):
            return
        version = str(staging["version"])
        item = next((v for v in versions if str(v.get("version")) == version), None)
        status = item.get("status") if item else None
        if item is None or status in NOT_GOING_LIVE:
            yield Finding(
                name,
                "stale-staging",
                f"the staging pointer names version {version}, which is "
                f"{status or 'not registered'}",
                f"delete MODEL#{name} / STAGE#staging; the next promotion stages its own",
            )

    def _lock(self, name: str) -> Iterator[Finding]:
        holder = self._repository.lock_holder(name)
        if holder is None:
            return
        status = holder_status(self._sfn, holder)
        expired = int(holder.get("expires_at", 0)) <= time.time()
        if status == "RUNNING" or (status is None and not expired):
            return
        yield Finding(
            name,
            "stale-lock",
            f"the lock is held by execution {holder.get('execution')} (version "
            f"{holder.get('version', '?')}), which is {status or 'past its expiry'}",
            f"`slipway unlock {name}`; the next promotion would take it over",
        )

    def _line(self, name: str) -> Iterator[Finding]:
        for waiter in self._repository.waiting_line(name):
            status = holder_status(self._sfn, waiter)
            if status != "RUNNING":
                yield Finding(
                    name,
                    "stale-wait",
                    f"version {waiter.get('version')} waits in line, and its execution "
                    f"{waiter.get('execution')} is {status}",
                    "nothing to do: the next hand-over of the lock skips it",
                )

    def _undecided(self, name: str, versions: list[dict[str, Any]]) -> Iterator[Finding]:
        for item in versions:
            if item.get("status") not in UNDECIDED or not item.get("execution"):
                continue
            status = self._status(str(item["execution"]))
            if status not in (None, "RUNNING"):
                yield Finding(
                    name,
                    "undecided-version",
                    f"version {item.get('version')} is {item['status']}, and its execution "
                    f"{item['execution']} ended {status}",
                    "the execution's end was not handled: `slipway dlq redrive "
                    "execution-ended` if it waits there; else the version stays as it is "
                    "until a person decides (it will not go live by itself)",
                )

    def _status(self, execution: str) -> str | None:
        if execution not in self._statuses:
            self._statuses[execution] = holder_status(
                self._sfn, {"execution_arn": self._arn_of(execution)}
            )
        return self._statuses[execution]
