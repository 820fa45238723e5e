"""Issuing attestations: what this environment says it did with a version, signed and kept.

The statement is read from the registry's own record (the version item and its audit
history), never from what a caller says: approval from the approval event, live since the
Promote event, live until the version was replaced or rolled back, and the rollbacks away
from it. Promote and the approvals sign one as they happen; the registry API signs a fresh
one on demand (what ``slipway promote`` carries to the next environment).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry.attestation import (
    MAX_REASON_CHARS,
    MAX_RECEIVED,
    MAX_ROLLBACKS,
    Approval,
    Envelope,
    Received,
    Rollback,
    Statement,
    sign_statement,
)
from registry.audit import POLICY_ACTOR, AuditOutcome, AuditStep
from registry.environment import ATTESTATION_KEY, ENVIRONMENT_NAME, required
from registry.exceptions import NotAttestableError, RegistryError
from registry.repository import LineageRepository
from registry.statuses import VersionStatus
from registry.strict_json import load_strict_json

# Attestations kept per version and occasion: the newest ones (each on-demand request adds
# one; requests never push out the approval's or the going live's).
MAX_ATTESTATIONS_PER_VERSION = 20
# Statuses whose version stopped being live: status_changed_at is when.
NO_LONGER_LIVE = frozenset({VersionStatus.ARCHIVED, VersionStatus.ROLLED_BACK})

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Signer:
    """The environment that signs, and its key (whose ARN names its account and region)."""

    environment: str
    key_id: str

    @property
    def _arn(self) -> list[str]:
        parts = self.key_id.split(":")
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kms":
            raise RegistryError(f"the attestation key {self.key_id!r} is not a KMS key ARN")
        return parts

    @property
    def account(self) -> str:
        return self._arn[4]

    @property
    def region(self) -> str:
        return self._arn[3]


def signer_from(environ: Mapping[str, str]) -> Signer:
    return Signer(
        environment=required(ENVIRONMENT_NAME, environ), key_id=required(ATTESTATION_KEY, environ)
    )


def _events(history: list[dict[str, Any]], step: AuditStep, outcome: AuditOutcome) -> list[Any]:
    return [e for e in history if e.get("step") == step and e.get("outcome") == outcome]


def _approval(item: dict[str, Any], history: list[dict[str, Any]]) -> Approval | None:
    approvals = _events(history, AuditStep.APPROVAL, AuditOutcome.APPROVED)
    if approvals:
        last = approvals[-1]
        by, at, reason = str(last["actor"]), str(last["at"]), str(last.get("reason", ""))
    elif item.get("approved_by"):
        by, at = str(item["approved_by"]), item.get("approved_at")
        reason = str(item.get("approval_reason", ""))
    else:
        return None
    return Approval(
        policy="auto" if by == POLICY_ACTOR else "manual",
        by=by,
        at=at,
        reason=reason[:MAX_REASON_CHARS],
    )


def _received(item: dict[str, Any]) -> list[Received]:
    received = item.get("received_attestation")
    if not received:
        return []
    chain = [Received(**entry) for entry in received.get("chain", [])]
    chain.append(
        Received(environment=received["environment"], statement_sha256=received["statement_sha256"])
    )
    return chain[-MAX_RECEIVED:]


def statement_of(
    item: dict[str, Any], history: list[dict[str, Any]], signer: Signer, now: datetime
) -> Statement:
    """The statement of what this environment did with the version ``item`` records."""
    name, version, status = item["name"], item["version"], item["status"]
    approval = _approval(item, history)
    # recorded when it first went live; before that was recorded, the Promote event's time
    promoted = _events(history, AuditStep.PROMOTE, AuditOutcome.LIVE)
    live_since = item.get("live_since") or (str(promoted[0]["at"]) if promoted else None)
    live_until = item.get("status_changed_at") if live_since and status in NO_LONGER_LIVE else None
    if approval is None and live_since is None:
        raise NotAttestableError(
            f"{name} {version} was never approved nor live in {signer.environment} "
            f"(status {status}): there is nothing to attest"
        )
    rollbacks = [
        Rollback(at=str(e["at"]), by=str(e["actor"]), reason=str(e["reason"])[:MAX_REASON_CHARS])
        for e in _events(history, AuditStep.ROLLBACK, AuditOutcome.ROLLED_BACK)
    ]
    return Statement(
        model=name,
        version=version,
        bundle_sha256=item["bundle"]["digest"],
        environment=signer.environment,
        account=signer.account,
        region=signer.region,
        status=str(status),
        approval=approval,
        live_since=live_since,
        live_until=live_until,
        rollbacks=rollbacks[-MAX_ROLLBACKS:],
        received=_received(item),
        issued_at=now.isoformat(timespec="milliseconds"),
    )


def _unchanged(stored: dict[str, Any] | None, statement: Statement) -> bool:
    """Whether the newest stored statement says the same, but for when it was issued (and
    when its approval event was written: a retried AutoApprove writes it again)."""
    if stored is None:
        return False

    def gist(document: dict[str, Any]) -> dict[str, Any]:
        document = {**document, "issued_at": None}
        if document.get("approval"):
            document["approval"] = {**document["approval"], "at": None}
        return document

    previous = load_strict_json(stored["envelope"])["statement"]
    return gist(previous) == gist(statement.model_dump(mode="json"))


def attest(
    repository: LineageRepository,
    kms: Any,
    signer: Signer,
    name: str,
    version: str,
    occasion: str,
    *,
    fresh: bool = False,
    now: datetime | None = None,
) -> Envelope:
    """Sign and keep a statement of the version's record. A step run again (a retry) finds
    the same record already attested and signs nothing; ``fresh`` signs now regardless (a
    statement to carry to the next environment must be recent)."""
    item = repository.get_version(name, version)
    if item is None:
        raise NotAttestableError(f"{name} {version} is not registered")
    statement = statement_of(
        item, repository.audit_history(name, version), signer, now or datetime.now(UTC)
    )
    stored = repository.attestations(name, version)
    newest = stored[-1] if stored else None
    if not fresh and _unchanged(newest, statement):
        assert newest is not None
        return Envelope.model_validate(load_strict_json(newest["envelope"]))
    envelope = sign_statement(kms, signer.key_id, statement)
    repository.put_attestation(
        name,
        version,
        statement.issued_at,
        envelope.statement_sha256,
        envelope.to_json().decode(),
        occasion,
        keep=MAX_ATTESTATIONS_PER_VERSION,
    )
    return envelope


def attest_after_the_fact(
    repository: LineageRepository,
    kms: Any,
    environ: Mapping[str, str],
    name: str,
    version: str,
    occasion: str,
) -> Envelope | None:
    """Attest what just happened, without undoing it: the version is approved or live
    whatever KMS answers, and ``slipway promote`` asks for a fresh statement anyway. A
    failure is logged (and the version's record still tells what happened)."""
    try:
        return attest(repository, kms, signer_from(environ), name, version, occasion)
    except Exception:
        logger.exception("could not attest %s %s (%s)", name, version, occasion)
        return None
