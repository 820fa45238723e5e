"""VerifyProvenance through its declared handler, and the attestations Promote and
AutoApprove sign: real iris bundles, moto's KMS signing as the earlier environment would."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from model_runtime.extraction import sha256_file
from registry import workflow as steps
from registry.attestation import (
    Approval,
    Rollback,
    Statement,
    public_key_of,
    sign_statement,
    verify_envelope,
)
from registry.attesting import MAX_ATTESTATIONS_PER_VERSION, Signer, attest
from registry.audit import AuditStep
from registry.environment import ATTESTATION_KEY
from registry.exceptions import NotAttestableError, ProvenanceRefusedError
from registry.statuses import RegisterOutcome, VersionStatus
from tests.unit.gate import ENVIRONMENT, failed, live, outcomes, run, uploaded

ALICE = "arn:aws:sts::123456789012:assumed-role/pusher/alice"
NOW = datetime.now(UTC)


@pytest.fixture
def staging(gate) -> dict[str, Any]:
    """The earlier environment: its own signing key (in the same moto account), and the
    chain policy this environment holds for it."""
    kms = boto3.client("kms")
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    chain = {
        "environment": "staging",
        "account": "123456789012",
        "region": "us-east-1",
        "public_key": public_key_of(kms, key),
    }
    return {"kms": kms, "key": key, "chain": chain}


def staging_statement(digest: str, version: str = "good", **changes: Any) -> Statement:
    # issued now, not when the module was imported: the gate judges its age by the clock
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "model": "iris",
        "version": version,
        "bundle_sha256": digest,
        "environment": "staging",
        "account": "123456789012",
        "region": "us-east-1",
        "status": "live",
        "approval": Approval(policy="manual", by=ALICE, at=(now - timedelta(hours=2)).isoformat()),
        "live_since": (now - timedelta(hours=1)).isoformat(),
        "issued_at": now.isoformat(),
    }
    return Statement(**(fields | changes))


def promoted_upload(gate, staging, bundle, envelope: str | None, **require: Any):
    """The bytes declared with an attestation (as `slipway promote` does), then uploaded,
    where the chain policy requires ``require`` of staging."""
    gate.repository.declare_upload("iris", "good", sha256_file(bundle), ALICE, attestation=envelope)
    chain = {**staging["chain"], "require": require}
    return run(steps.VALIDATE, uploaded(gate, bundle, "good", chain=chain))


def signed(staging, statement: Statement, key: str | None = None) -> str:
    return sign_statement(staging["kms"], key or staging["key"], statement).to_json().decode()


def refusal(state) -> str:
    with pytest.raises(ProvenanceRefusedError) as refused:
        run(steps.VERIFY_PROVENANCE, state)
    return str(refused.value)


# -- VerifyProvenance ----------------------------------------------------------------------


def test_an_environment_without_a_chain_lets_every_upload_through(gate, bundles):
    state = run(
        steps.VERIFY_PROVENANCE, run(steps.VALIDATE, uploaded(gate, bundles["good"], "good"))
    )
    assert state.provenance.outcome == "not-required"
    assert ("provenance", "skipped") in outcomes(gate.repository, "iris", "good")


def test_an_attested_version_is_verified_and_its_attestation_recorded(gate, bundles, staging):
    # GIVEN iris good, live in staging, promoted here with staging's signed statement
    digest = sha256_file(bundles["good"])
    statement = staging_statement(digest)
    envelope = signed(staging, statement)
    state = promoted_upload(gate, staging, bundles["good"], envelope, min_live_minutes=30)
    # WHEN the gate verifies its provenance
    state = run(steps.VERIFY_PROVENANCE, state)
    # THEN it passes, and the version Register makes keeps what arrived with it
    assert state.provenance.outcome == "verified"
    assert state.provenance.environment == "staging"
    assert gate.repository.get_version("iris", "good") is None  # not before Register
    state = run(steps.REGISTER, state)
    item = gate.repository.get_version("iris", "good")
    received = item["received_attestation"]
    assert received["environment"] == "staging"
    assert received["statement_sha256"] == statement.sha256
    assert verify_envelope(received["envelope"], staging["chain"]["public_key"]).version == "good"
    assert ("provenance", "verified") in outcomes(gate.repository, "iris", "good")
    # AND a retried step changes nothing
    assert run(steps.VERIFY_PROVENANCE, state).provenance == state.provenance
    assert gate.repository.get_version("iris", "good")["received_attestation"] == received


def test_a_direct_upload_is_refused_and_leaves_its_version_free(gate, bundles, staging):
    # GIVEN an upload nobody promoted (no attestation declared)
    state = promoted_upload(gate, staging, bundles["good"], None)
    reason = refusal(state)
    assert reason.startswith("no attestation from staging")
    # WHEN RecordFailure records it THEN the audit says why, and nothing was registered
    run(steps.RECORD_FAILURE, failed(state, "ProvenanceRefusedError", reason))
    (ending,) = [e for e in gate.repository.audit_history("iris", "good") if e["step"] == "reject"]
    assert ending["outcome"] == "rejected" and "no attestation from staging" in ending["reason"]
    assert gate.repository.get_version("iris", "good") is None
    # AND the same bytes promoted afterwards (declared with staging's statement) go through
    digest = sha256_file(bundles["good"])
    promoted = promoted_upload(
        gate, staging, bundles["good"], signed(staging, staging_statement(digest))
    )
    state = run(steps.REGISTER, run(steps.VERIFY_PROVENANCE, promoted))
    assert state.registered.outcome == RegisterOutcome.REGISTERED
    assert gate.repository.get_version("iris", "good")["received_attestation"]["environment"] == (
        "staging"
    )


def test_a_statement_older_than_an_hour_is_stale_by_default(gate, bundles, staging):
    # a statement signed before a rollback upstream must not travel for long
    digest = sha256_file(bundles["good"])
    old = staging_statement(digest, issued_at=(NOW - timedelta(minutes=61)).isoformat())
    state = promoted_upload(gate, staging, bundles["good"], signed(staging, old))
    assert "stale: issued" in refusal(state)


def test_a_retried_version_is_judged_by_its_statement_as_of_its_arrival(gate, bundles, staging):
    from functions.provenance.handler import verify_provenance
    from registry import keys

    # GIVEN iris good, verified and registered with staging's statement
    digest = sha256_file(bundles["good"])
    envelope = signed(staging, staging_statement(digest))
    state = run(steps.VERIFY_PROVENANCE, promoted_upload(gate, staging, bundles["good"], envelope))
    run(steps.REGISTER, state)
    # WHEN its gate runs again two days later (slipway retry), the declaration long expired
    gate.repository._table.delete_item(
        Key={keys.PK: keys.model_pk("iris"), keys.SK: keys.upload_sk("good")}
    )
    later = NOW + timedelta(days=2)
    # THEN the statement it arrived with still proves where it came from
    again = verify_provenance(state, gate.repository, now=later)
    assert (
        again.outcome == "verified" and again.statement_sha256 == state.provenance.statement_sha256
    )
    # AND it proves nothing for other bytes under that version
    other = state.model_copy(
        update={"validated": state.validated.model_copy(update={"digest": "0" * 64})}
    )
    gate.repository.put_validated_manifest(
        gate.repository.validated_manifest("iris", "good", digest), "0" * 64, "x", 3600
    )
    with pytest.raises(ProvenanceRefusedError, match="no attestation from staging"):
        verify_provenance(other, gate.repository, now=later)


def test_a_tampered_attestation_is_refused(gate, bundles, staging):
    digest = sha256_file(bundles["good"])
    document = json.loads(signed(staging, staging_statement(digest, status="approved")))
    document["statement"]["status"] = "live"  # claims more than staging signed
    state = promoted_upload(gate, staging, bundles["good"], json.dumps(document))
    assert "invalid: the statement does not match its digest" in refusal(state)


def test_an_attestation_for_other_bytes_is_refused(gate, bundles, staging):
    other = sha256_file(bundles["better"])
    state = promoted_upload(
        gate, staging, bundles["good"], signed(staging, staging_statement(other))
    )
    assert f"attested for other bytes: sha256 {other}" in refusal(state)


def test_an_attestation_signed_by_another_key_is_refused(gate, bundles, staging):
    forger = staging["kms"].create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    digest = sha256_file(bundles["good"])
    envelope = signed(staging, staging_statement(digest), key=forger["KeyMetadata"]["Arn"])
    state = promoted_upload(gate, staging, bundles["good"], envelope)
    assert "signed by another key" in refusal(state)


def test_a_version_rolled_back_in_staging_is_refused_where_the_policy_forbids_it(
    gate, bundles, staging
):
    digest = sha256_file(bundles["good"])
    rolled_back = staging_statement(
        digest,
        status="rolled-back",
        rollbacks=[Rollback(at=NOW.isoformat(), by=ALICE, reason="p99 doubled")],
    )
    state = promoted_upload(gate, staging, bundles["good"], signed(staging, rolled_back))
    assert f"rolled back in staging at {NOW.isoformat()} by {ALICE}: p99 doubled" in refusal(state)


def test_lineage_that_falls_short_is_refused_with_the_chain_in_one_reason(gate, bundles):
    # GIVEN an environment that requires durable datasets; iris was trained from local files
    state = run(steps.VALIDATE, uploaded(gate, bundles["good"], "good"))
    strict = state.policy.model_copy(
        update={
            "lineage_policy": state.policy.lineage_policy.model_copy(
                update={"durable_datasets": True}
            )
        }
    )
    reason = refusal(state.model_copy(update={"policy": strict}))
    assert reason.startswith("the lineage falls short of this environment's policy")
    assert "is not at a durable URI" in reason


# -- attestations issued here --------------------------------------------------------------


def test_promote_signs_what_went_live_once_however_often_it_runs(gate, bundles):
    # GIVEN iris good taken through the whole gate (approval auto)
    state = live(gate, bundles["good"], "good")
    stored = gate.repository.attestations("iris", "good")
    # THEN the approval and the live pointer were each attested, in this environment's name
    assert [item["occasion"] for item in stored] == ["approved", "live"]
    kms = boto3.client("kms")
    public_key = public_key_of(kms, os.environ[ATTESTATION_KEY])
    statement = verify_envelope(stored[-1]["envelope"], public_key)
    assert (statement.environment, statement.status) == (ENVIRONMENT, "live")
    assert statement.account == "123456789012" and statement.region == "us-east-1"
    assert statement.bundle_sha256 == sha256_file(bundles["good"])
    assert statement.approval.policy == "auto" and statement.live_since is not None
    # WHEN Promote runs again (a retry) THEN no second statement piles up
    run(steps.PROMOTE, state)
    assert len(gate.repository.attestations("iris", "good")) == 2


def test_a_promotion_stands_when_its_attestation_cannot_be_signed(gate, bundles, monkeypatch):
    # GIVEN a key that cannot sign (a symmetric one)
    symmetric = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    monkeypatch.setenv(ATTESTATION_KEY, symmetric)
    # WHEN a version goes live THEN it is live, with nothing attested
    live(gate, bundles["good"], "good")
    assert gate.repository.get_version("iris", "good")["status"] == VersionStatus.LIVE
    assert gate.repository.attestations("iris", "good") == []


def test_attestations_kept_per_version_are_bounded(gate, bundles):
    live(gate, bundles["good"], "good")
    # requests after it went live (not after this module was imported: minutes earlier in a
    # long run, which put the requests before the approval in time)
    after_live = datetime.now(UTC) + timedelta(seconds=1)
    signer = Signer(ENVIRONMENT, os.environ[ATTESTATION_KEY])
    kms = boto3.client("kms")
    for minute in range(MAX_ATTESTATIONS_PER_VERSION + 5):
        at = after_live + timedelta(minutes=minute)
        attest(gate.repository, kms, signer, "iris", "good", "requested", fresh=True, now=at)
    stored = gate.repository.attestations("iris", "good")
    # requests push out only requests: what it was approved and went live with stays
    assert len(stored) == MAX_ATTESTATIONS_PER_VERSION + 2
    assert [item["occasion"] for item in stored[:2]] == ["approved", "live"]
    newest = (after_live + timedelta(minutes=MAX_ATTESTATIONS_PER_VERSION + 4)).isoformat(
        timespec="milliseconds"
    )
    assert stored[-1]["issued_at"] == newest


def test_a_version_never_approved_nor_live_has_nothing_to_attest(gate, bundles):
    run(steps.REGISTER, run(steps.VALIDATE, uploaded(gate, bundles["good"], "good")))
    signer = Signer(ENVIRONMENT, os.environ[ATTESTATION_KEY])
    with pytest.raises(NotAttestableError, match="never approved nor live in unit"):
        attest(gate.repository, boto3.client("kms"), signer, "iris", "good", "requested")


def test_the_provenance_step_writes_only_its_own_audit_event():
    assert steps.VERIFY_PROVENANCE.audit == (AuditStep.PROVENANCE,)
    # after Validate (it judges the checked manifest), before Register (a refusal registers
    # nothing, so a direct upload cannot take a version number a promotion needs)
    order = [node.state for node in steps.PROMOTION.nodes]
    assert order.index("VerifyProvenance") == order.index("Validate") + 1
    assert order.index("Register") == order.index("VerifyProvenance") + 1
