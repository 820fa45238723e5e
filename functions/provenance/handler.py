"""Workflow step VerifyProvenance: where a version has been, before the gate judges it.

An environment that takes models from an earlier one (cdk.json ``accepts_from``) accepts a
version only with that environment's attestation, carried by the upload's declaration
(``slipway promote``), verified with the earlier environment's configured public key and
judged against the chain policy; and it may require lineage others can audit (cdk.json
``lineage_policy``). It runs before Register: a shortfall is a verdict naming what is
missing, and nothing is registered, so the version number stays free for the upload that
brings the attestation (a direct upload cannot block a promotion).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from functions.observability import logger
from registry.attestation import verified_statement
from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.aws import lineage_repository
from registry.exceptions import ProvenanceRefusedError
from registry.lineage_audit import LineagePolicy, shortfalls
from registry.repository import LineageRepository
from registry.workflow_state import PromotionState, Provenance

NOT_REQUIRED = "no provenance required"


def _carried_attestation(
    repository: LineageRepository, name: str, version: str, digest: str, now: datetime
) -> tuple[str | None, datetime]:
    """The envelope the upload was declared with, judged now; for a version run through the
    gate again (slipway retry) after its declaration expired, the one verified on its first
    arrival, judged as of then (it was fresh when it came; age is what ``max_age_hours``
    bounds, not how long a version waited for a retry)."""
    declaration = repository.upload_declaration(name, version)
    if (
        declaration is not None
        and declaration["digest"] == digest
        and declaration.get("attestation")
    ):
        return str(declaration["attestation"]), now
    item = repository.get_version(name, version) or {}
    received = item.get("received_attestation") or {}
    if not received.get("envelope") or (item.get("bundle") or {}).get("digest") != digest:
        return None, now
    return str(received["envelope"]), datetime.fromisoformat(str(received["verified_at"]))


def verify_provenance(
    state: PromotionState, repository: LineageRepository, now: datetime | None = None
) -> Provenance:
    """Verify the attestation and the lineage the environment requires; record what arrived."""
    validated = state.require_validated()
    name, version, digest = validated.name, validated.version, validated.digest
    chain, lineage_policy = state.policy.chain, state.policy.lineage_policy

    def audit(outcome: AuditOutcome, reason: str, detail: dict[str, Any]) -> None:
        repository.record_audit(
            AuditEvent(name, version, state.execution_name, AuditStep.PROVENANCE, outcome, reason),
            detail=detail,
        )

    if chain is None and lineage_policy == LineagePolicy():  # nothing required
        audit(AuditOutcome.SKIPPED, NOT_REQUIRED, {})
        return Provenance(outcome="not-required")
    reasons: list[str] = []
    statement = envelope = None
    if chain is not None:
        envelope, judged_at = _carried_attestation(
            repository, name, version, digest, now or datetime.now(UTC)
        )
        try:
            statement = verified_statement(envelope, chain, digest, name, version, judged_at)
        except ProvenanceRefusedError as exc:
            reasons.append(str(exc))
    lineage = repository.validated_manifest(name, version, digest).get("lineage") or {}
    missing = shortfalls(lineage, lineage_policy)
    if missing:
        reasons.append(
            "the lineage falls short of this environment's policy: " + "; ".join(missing)
        )
    if reasons:
        raise ProvenanceRefusedError("; ".join(reasons))
    if statement is None:
        audit(AuditOutcome.VERIFIED, "lineage meets this environment's policy", {})
        return Provenance(outcome="verified")
    received = {
        "environment": statement.environment,
        "account": statement.account,
        "statement_sha256": statement.sha256,
        "status": statement.status,
        "issued_at": statement.issued_at,
        "verified_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "envelope": envelope,
        # the environments before that one, as its statement names them
        "chain": [entry.model_dump() for entry in statement.received],
    }
    # the version does not exist yet: Register puts this on it
    repository.put_received_attestation(name, version, received, state.policy.lock_ttl_seconds)
    approval = statement.approval
    audit(
        AuditOutcome.VERIFIED,
        f"attested by {statement.environment} ({statement.status}"
        + (f", live since {statement.live_since}" if statement.live_since else "")
        + (f", approved by {approval.by}" if approval and approval.by else "")
        + ")",
        {"environment": statement.environment, "statement_sha256": statement.sha256},
    )
    return Provenance(
        outcome="verified",
        environment=statement.environment,
        statement_sha256=statement.sha256,
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return verify_provenance(PromotionState.parse(event), lineage_repository()).dump()
