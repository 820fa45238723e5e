"""Attestations signed by a KMS key in moto and verified offline, and the chain policy's
judgement of what they prove."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from registry.attestation import (
    MAX_ENVELOPE_BYTES,
    MAX_REASON_CHARS,
    MAX_ROLLBACKS,
    Approval,
    Received,
    Rollback,
    Statement,
    check_policy,
    public_key_of,
    sign_statement,
    verify_envelope,
)
from registry.chain_policy import ChainPolicy, ChainRequirement
from registry.exceptions import AttestationInvalidError, ProvenanceRefusedError
from registry.uploads import MAX_IDENTITY_CHARS

DIGEST = "ab" * 32
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
APPROVER = "arn:aws:sts::333333333333:assumed-role/approver/alice"


def iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds")


def statement(**changes) -> Statement:
    fields = {
        "model": "iris",
        "version": "1.0.0",
        "bundle_sha256": DIGEST,
        "environment": "staging",
        "account": "333333333333",
        "region": "eu-west-1",
        "status": "live",
        "approval": Approval(
            policy="manual", by=APPROVER, at=iso(NOW - timedelta(hours=3)), reason="looks good"
        ),
        "live_since": iso(NOW - timedelta(hours=2)),
        "issued_at": iso(NOW - timedelta(minutes=1)),
    }
    return Statement(**(fields | changes))


def policy(public_key: str = "unused", **require) -> ChainPolicy:
    return ChainPolicy(
        environment="staging",
        account="333333333333",
        region="eu-west-1",
        public_key=public_key,
        require=ChainRequirement(**require),
    )


@pytest.fixture
def kms():
    with mock_aws():
        client = boto3.client("kms", region_name="eu-west-1")
        yield client


def new_key(kms) -> tuple[str, str]:
    """(key ARN, base64 DER public key) of a fresh asymmetric signing key."""
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    return key["Arn"], public_key_of(kms, key["Arn"])


# -- signature ---------------------------------------------------------------------------


def test_a_signed_statement_verifies_offline_with_the_public_key(kms):
    # GIVEN a statement signed by an environment's KMS key
    key_id, public_key = new_key(kms)
    envelope = sign_statement(kms, key_id, statement())
    # WHEN the next environment verifies it with the configured public key alone
    verified = verify_envelope(envelope.to_json(), public_key)
    # THEN it reads the statement that was signed
    assert verified == statement()
    assert envelope.statement_sha256 == statement().sha256
    assert envelope.key_id == key_id and envelope.algorithm == "ECDSA_SHA_256"
    assert verify_envelope(envelope.to_json().decode(), public_key) == statement()


def test_a_statement_altered_after_signing_is_refused(kms):
    key_id, public_key = new_key(kms)
    document = json.loads(sign_statement(kms, key_id, statement()).to_json())
    document["statement"]["status"] = "approved"
    with pytest.raises(AttestationInvalidError, match="altered after signing"):
        verify_envelope(json.dumps(document), public_key)


def test_an_altered_statement_with_its_digest_recomputed_fails_the_signature(kms):
    key_id, public_key = new_key(kms)
    document = json.loads(sign_statement(kms, key_id, statement()).to_json())
    document["statement"]["bundle_sha256"] = "cd" * 32
    document["statement_sha256"] = Statement(**document["statement"]).sha256
    with pytest.raises(AttestationInvalidError, match="signed by another key"):
        verify_envelope(json.dumps(document), public_key)


def test_a_statement_signed_by_another_key_is_refused(kms):
    key_id, _ = new_key(kms)
    _, staging_public_key = new_key(kms)
    envelope = sign_statement(kms, key_id, statement())
    with pytest.raises(AttestationInvalidError, match="signed by another key"):
        verify_envelope(envelope.to_json(), staging_public_key)


def test_the_key_named_in_the_envelope_is_signed_too(kms):
    key_id, public_key = new_key(kms)
    other_key, _ = new_key(kms)
    document = json.loads(sign_statement(kms, key_id, statement()).to_json())
    document["key_id"] = other_key
    with pytest.raises(AttestationInvalidError, match="signed by another key"):
        verify_envelope(json.dumps(document), public_key)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"not json", "not JSON"),
        (b'{"statement": {}, "statement": {}}', "twice"),
        (b"[]", "not an object"),
        (b'{"statement": {"model": "iris"}}', "malformed"),
        (b"{" + b" " * MAX_ENVELOPE_BYTES + b"}", "at most"),
    ],
)
def test_malformed_or_oversized_envelopes_are_refused(text, reason):
    with pytest.raises(AttestationInvalidError, match=reason):
        verify_envelope(text, "unused")


def test_an_unusable_configured_key_is_named(kms):
    key_id, _ = new_key(kms)
    envelope = sign_statement(kms, key_id, statement()).to_json()
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    with pytest.raises(AttestationInvalidError, match="not a P-256"):
        verify_envelope(envelope, public_key_of(kms, rsa))
    with pytest.raises(AttestationInvalidError, match="never replaced"):
        verify_envelope(envelope, "embedded")
    with pytest.raises(AttestationInvalidError, match="not base64"):
        verify_envelope(envelope, "MFkw!")
    with pytest.raises(AttestationInvalidError, match="not a DER"):
        verify_envelope(envelope, "c2xpcHdheQ==")


def test_the_largest_statement_fits_an_envelope(kms):
    # GIVEN every bounded part of a statement at its bound
    key_id, public_key = new_key(kms)
    longest = "a" * MAX_IDENTITY_CHARS
    big = statement(
        approval=Approval(policy="manual", by=longest, at=iso(NOW), reason="r" * MAX_REASON_CHARS),
        rollbacks=[Rollback(at=iso(NOW), by=longest, reason="r" * MAX_REASON_CHARS)]
        * MAX_ROLLBACKS,
        received=[Received(environment="e" * 31, statement_sha256=DIGEST)] * 8,
    )
    # WHEN it is signed, THEN its envelope stays within what verifiers read
    envelope = sign_statement(kms, key_id, big).to_json()
    assert len(envelope) <= MAX_ENVELOPE_BYTES
    assert verify_envelope(envelope, public_key) == big


@pytest.fixture(scope="module")
def signed() -> tuple[bytes, str]:
    with mock_aws():
        kms = boto3.client("kms", region_name="eu-west-1")
        key_id, public_key = new_key(kms)
        return sign_statement(kms, key_id, statement(rollbacks=[])).to_json(), public_key


def test_every_byte_of_the_envelope_is_covered(signed):
    # GIVEN a good envelope: WHEN any one byte has its lowest bit flipped, THEN it fails
    envelope, public_key = signed
    assert verify_envelope(envelope, public_key)
    for position in range(len(envelope)):
        flipped = bytearray(envelope)
        flipped[position] ^= 0x01
        with pytest.raises(AttestationInvalidError):
            verify_envelope(bytes(flipped), public_key)


@given(data=st.data())
def test_any_bit_flip_of_the_envelope_is_refused(signed, data):
    envelope, public_key = signed
    position = data.draw(st.integers(0, len(envelope) - 1))
    bit = data.draw(st.integers(0, 7))
    flipped = bytearray(envelope)
    flipped[position] ^= 1 << bit
    with pytest.raises(AttestationInvalidError):
        verify_envelope(bytes(flipped), public_key)


def test_the_signature_must_be_canonical_base64(kms):
    # GIVEN a signature whose last character differs only in bits base64 ignores
    # (a DER ECDSA signature is 70 to 72 bytes; 72 leaves no unused bits: sign again)
    key_id, public_key = new_key(kms)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = None
    for _ in range(50):
        document = json.loads(sign_statement(kms, key_id, statement()).to_json())
        signature = document["signature"]
        raw = base64.b64decode(signature)
        data = signature.rstrip("=")
        twins = [
            data[:-1] + other + signature[len(data) :] for other in alphabet if other != data[-1]
        ]
        twin = next((t for t in twins if base64.b64decode(t) == raw), None)
        if twin is not None:
            break
    assert twin is not None, "50 signatures, none of a length with unused bits"
    document["signature"] = twin
    # THEN it is refused although it decodes to the same bytes
    with pytest.raises(AttestationInvalidError, match="canonical"):
        verify_envelope(json.dumps(document), public_key)


# -- the chain policy ------------------------------------------------------------------------


def test_a_statement_that_proves_what_the_policy_asks_passes():
    check_policy(
        statement(),
        policy(min_live_minutes=60, manual_approval=True),
        DIGEST,
        "iris",
        "1.0.0",
        NOW,
    )


@pytest.mark.parametrize(
    ("proof", "requirement", "reason"),
    [
        (statement(bundle_sha256="cd" * 32), {}, f"attested for other bytes: sha256 {'cd' * 32}"),
        (statement(version="2.0.0"), {}, "attested for iris 2.0.0, uploaded as iris 1.0.0"),
        (statement(environment="dev"), {}, "attested by dev, not by staging"),
        (statement(account="444444444444"), {}, "account 444444444444"),
        (statement(issued_at=iso(NOW - timedelta(hours=169))), {}, "stale: issued"),
        (statement(issued_at=iso(NOW + timedelta(hours=1))), {}, "issued in the future"),
        (
            statement(status="approved", live_since=None),
            {},
            "never live in staging (status there: approved)",
        ),
        (
            statement(approval=None, live_since=None, status="staged"),
            {"status": "approved"},
            "never approved in staging",
        ),
        (
            statement(live_since=None, status="rejected"),
            {"status": "approved"},
            "rejected in staging",
        ),
        (
            statement(live_since=iso(NOW - timedelta(minutes=13))),
            {"min_live_minutes": 60},
            "live in staging for 12 min, this environment requires 60",
        ),
        (
            statement(
                live_since=iso(NOW - timedelta(hours=5)),
                live_until=iso(NOW - timedelta(hours=4, minutes=30)),
                status="superseded",
            ),
            {"min_live_minutes": 60},
            "live in staging for 30 min",
        ),
        (
            statement(approval=Approval(policy="auto", by="policy", at=iso(NOW))),
            {"manual_approval": True},
            "approved automatically in staging (policy auto)",
        ),
        (
            statement(
                status="rolled-back",
                rollbacks=[
                    Rollback(at="2026-12-07T11:00:00+00:00", by=APPROVER, reason="p99 spiked")
                ],
            ),
            {},
            f"rolled back in staging at 2026-12-07T11:00:00+00:00 by {APPROVER}: p99 spiked",
        ),
    ],
)
def test_a_statement_that_falls_short_is_refused_naming_what_is_missing(proof, requirement, reason):
    with pytest.raises(ProvenanceRefusedError) as refused:
        check_policy(proof, policy(**requirement), DIGEST, "iris", "1.0.0", NOW)
    assert reason in str(refused.value)
    assert str(refused.value).startswith("the attestation from staging falls short")


def test_a_rollback_passes_where_the_policy_allows_it():
    rolled_back = statement(rollbacks=[Rollback(at=iso(NOW), by=APPROVER)])
    check_policy(rolled_back, policy(no_rollback=False), DIGEST, "iris", "1.0.0", NOW)


def test_no_attestation_at_all_is_refused_naming_the_environment():
    with pytest.raises(ProvenanceRefusedError, match="no attestation from staging"):
        check_policy(None, policy(), DIGEST, "iris", "1.0.0", NOW)


def test_every_shortfall_is_named_at_once():
    proof = statement(bundle_sha256="cd" * 32, approval=Approval(policy="auto"))
    with pytest.raises(ProvenanceRefusedError) as refused:
        check_policy(proof, policy(manual_approval=True), DIGEST, "iris", "1.0.0", NOW)
    assert "other bytes" in str(refused.value) and "automatically" in str(refused.value)


def test_statements_are_strict():
    with pytest.raises(ValueError, match="offset"):
        statement(issued_at="2026-12-07T12:00:00")
    with pytest.raises(ValueError, match="Extra inputs"):
        Statement(**statement().model_dump(), extra="x")


def test_a_refused_provenance_is_a_verdict_that_rejects_the_version():
    from registry.statuses import VersionStatus
    from registry.verdicts import ending_of

    for error in (ProvenanceRefusedError, AttestationInvalidError):
        assert ending_of(error.__name__)[0] == VersionStatus.REJECTED


def test_the_signed_message_fits_kms_raw_limit_whatever_the_key_id(kms):
    # KMS refuses a RAW message over 4096 bytes; moto does not check: we do
    from registry.attestation import MAX_KEY_ID_CHARS, signed_message

    assert len(signed_message("a" * 64, "k" * MAX_KEY_ID_CHARS)) <= 4096
    sent = []
    kms.meta.events.register(
        "provide-client-params.kms.Sign", lambda params, **_: sent.append(params)
    )
    key_id, _ = new_key(kms)
    sign_statement(kms, key_id, statement())
    (params,) = sent
    assert params["MessageType"] == "RAW" and params["SigningAlgorithm"] == "ECDSA_SHA_256"
    assert len(params["Message"]) <= 4096


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_without_a_utc_form_is_malformed_not_a_crash_of_the_policy(at):
    # the policy compares times in UTC: these overflow there (OverflowError, not a verdict)
    with pytest.raises(ValueError, match="out of range in UTC"):
        statement(issued_at=at)
    with pytest.raises(ValueError, match="out of range in UTC"):
        statement(live_since=at)
