"""Attestations: an environment's signed statement of what happened to a version there.

When a version is approved or goes live, its environment signs a statement (model, version,
the bundle's digest, status, approval, live times, rollbacks) with its own asymmetric KMS
key. The next environment in the chain holds that key's public half (configured, never
fetched at run time) and its gate verifies the statement offline before judging the bytes.

What is signed: KMS ``Sign`` with ``MessageType=RAW`` and ``ECDSA_SHA_256`` over a short
message naming the statement's sha256 and the signing key, so the message stays far under
KMS's 4096-byte limit for RAW messages whatever the statement holds, and neither the
statement nor the key named beside it can change without the signature failing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from registry.chain_policy import (
    ACCOUNT_PATTERN,
    EMBEDDED_PUBLIC_KEY,
    REGION_PATTERN,
    ChainPolicy,
)
from registry.exceptions import AttestationInvalidError, ProvenanceRefusedError
from registry.names import CONFIG_NAME_PATTERN, NAME_PATTERN, VERSION_PATTERN
from registry.strict_json import StrictJsonError, load_strict_json
from registry.uploads import MAX_IDENTITY_CHARS

STATEMENT_TYPE = "slipway.attestation/v1"
SIGNING_ALGORITHM = "ECDSA_SHA_256"
MESSAGE_PREFIX = b"slipway-attestation/v1 "
# What is stored and sent: bounded, so a registry item and an upload declaration stay small.
MAX_ENVELOPE_BYTES = 16 * 1024
MAX_ROLLBACKS = 3  # the newest ones; one is enough to fail no_rollback
MAX_RECEIVED = 8  # the chain behind a version: one per earlier environment
MAX_REASON_CHARS = 500
MAX_KEY_ID_CHARS = 2048
# Statuses that end a version's way there: whatever it was approved for, it went no further.
REFUSED_THERE = frozenset({"rejected", "cancelled"})
# A statement issued a little "in the future" is clock skew between accounts, not a forgery.
CLOCK_SKEW = timedelta(minutes=5)


def _aware_iso(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"a time without its offset: {value!r}")
    try:  # the policy compares times in UTC: one that has no UTC form is no time
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"a time out of range in UTC: {value!r}") from None
    return value


IsoTime = Annotated[str, Field(max_length=40), AfterValidator(_aware_iso)]
Identity = Annotated[str, Field(min_length=1, max_length=MAX_IDENTITY_CHARS)]
Reason = Annotated[str, Field(max_length=MAX_REASON_CHARS)]
Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Approval(_Strict):
    policy: Literal["auto", "manual"]
    by: Identity | None = None
    at: IsoTime | None = None
    reason: Reason | None = None


class Rollback(_Strict):
    at: IsoTime
    by: Identity
    reason: Reason = ""


class Received(_Strict):
    """An attestation a version arrived with: which environment, which statement."""

    environment: Annotated[str, Field(pattern=CONFIG_NAME_PATTERN.pattern)]
    statement_sha256: Digest


class Statement(_Strict):
    type: Literal["slipway.attestation/v1"] = STATEMENT_TYPE
    model: Annotated[str, Field(pattern=NAME_PATTERN.pattern, max_length=64)]
    version: Annotated[str, Field(pattern=VERSION_PATTERN.pattern, max_length=64)]
    bundle_sha256: Digest
    environment: Annotated[str, Field(pattern=CONFIG_NAME_PATTERN.pattern)]
    account: Annotated[str, Field(pattern=ACCOUNT_PATTERN)]
    region: Annotated[str, Field(pattern=REGION_PATTERN, max_length=32)]
    status: Annotated[str, Field(pattern=r"^[a-z][a-z-]{0,31}$")]
    approval: Approval | None = None
    live_since: IsoTime | None = None
    live_until: IsoTime | None = None
    rollbacks: list[Rollback] = Field(default_factory=list, max_length=MAX_ROLLBACKS)
    received: list[Received] = Field(default_factory=list, max_length=MAX_RECEIVED)
    issued_at: IsoTime

    def canonical_bytes(self) -> bytes:
        return canonical_bytes(self.model_dump(mode="json"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()


class Envelope(_Strict):
    """A statement with its digest and signature: what the registry stores and promote sends."""

    statement: Statement
    statement_sha256: Digest
    signature: Annotated[str, Field(min_length=1, max_length=256)]
    algorithm: Literal["ECDSA_SHA_256"] = SIGNING_ALGORITHM
    key_id: Annotated[str, Field(min_length=1, max_length=MAX_KEY_ID_CHARS)]

    def to_json(self) -> bytes:
        return canonical_bytes(self.model_dump(mode="json"))


def canonical_bytes(document: Any) -> bytes:
    """One byte string per document: sorted keys, no spaces, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_message(statement_sha256: str, key_id: str) -> bytes:
    """What the key signs: the statement's digest and the key's own id (at most ~2 KB, under
    KMS's 4096-byte RAW limit)."""
    return MESSAGE_PREFIX + statement_sha256.encode() + b" " + key_id.encode()


def sign_statement(kms_client: Any, key_id: str, statement: Statement) -> Envelope:
    """Sign ``statement`` with the environment's KMS key (``kms:Sign``)."""
    digest = statement.sha256
    answer = kms_client.sign(
        KeyId=key_id,
        Message=signed_message(digest, key_id),
        MessageType="RAW",
        SigningAlgorithm=SIGNING_ALGORITHM,
    )
    envelope = Envelope(
        statement=statement,
        statement_sha256=digest,
        signature=base64.b64encode(answer["Signature"]).decode(),
        key_id=key_id,
    )
    if len(envelope.to_json()) > MAX_ENVELOPE_BYTES:
        # the statement's parts are bounded so this cannot happen; say so if it does
        raise AttestationInvalidError(
            f"the attestation of {statement.model} {statement.version} would exceed "
            f"{MAX_ENVELOPE_BYTES} bytes"
        )
    return envelope


def load_public_key(public_key_b64: str) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from base64 DER SubjectPublicKeyInfo (what KMS GetPublicKey
    answers); ValueError naming what is wrong otherwise."""
    if public_key_b64 == EMBEDDED_PUBLIC_KEY:
        raise ValueError(
            f"{EMBEDDED_PUBLIC_KEY!r} was never replaced by the earlier environment's key "
            "(the embedded cloud fills it in when it deploys the chain)"
        )
    try:
        der = base64.b64decode(public_key_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    try:
        key = load_der_public_key(der)
    except (ValueError, TypeError):
        raise ValueError("not a DER SubjectPublicKeyInfo public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 (ECC_NIST_P256) public key")
    return key


def public_key_of(kms_client: Any, key_id: str) -> str:
    """The environment key's public half, base64 DER: what the next environment configures."""
    return base64.b64encode(kms_client.get_public_key(KeyId=key_id)["PublicKey"]).decode()


def parse_envelope(envelope_json: bytes | str) -> dict[str, Any]:
    """The envelope as a JSON object, bounded and strict; not yet verified."""
    raw = envelope_json.encode() if isinstance(envelope_json, str) else envelope_json
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise AttestationInvalidError(
            f"the attestation has {len(raw)} bytes; at most {MAX_ENVELOPE_BYTES} are read"
        )
    try:
        document = load_strict_json(raw)
    except StrictJsonError as exc:
        raise AttestationInvalidError(f"the attestation is not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("statement"), dict):
        raise AttestationInvalidError("the attestation is not an object holding a statement")
    return document


def verify_envelope(envelope_json: bytes | str, public_key_b64: str) -> Statement:
    """The statement of an envelope whose signature ``public_key_b64`` verifies; any doubt
    is an :class:`AttestationInvalidError` saying which."""
    document = parse_envelope(envelope_json)
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(root)'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise AttestationInvalidError(f"the attestation is malformed: {problems}") from None
    # the digest is over the statement as received, so nothing parsing normalised is trusted
    actual = hashlib.sha256(canonical_bytes(document["statement"])).hexdigest()
    if actual != envelope.statement_sha256 or actual != envelope.statement.sha256:
        raise AttestationInvalidError(
            "the statement does not match its digest: it was altered after signing"
        )
    try:
        signature = base64.b64decode(envelope.signature, validate=True)
    except (binascii.Error, ValueError):
        raise AttestationInvalidError("the signature is not base64") from None
    if base64.b64encode(signature).decode() != envelope.signature:
        # unused low bits of the last character would let other text carry the same bytes
        raise AttestationInvalidError("the signature is not canonical base64")
    try:
        key = load_public_key(public_key_b64)
    except ValueError as exc:
        raise AttestationInvalidError(f"the configured public key is unusable: {exc}") from None
    try:
        key.verify(
            signature,
            signed_message(envelope.statement_sha256, envelope.key_id),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature:
        raise AttestationInvalidError(
            f"signed by another key: the signature does not verify with the public key "
            f"configured for {envelope.statement.environment} (or the attestation was altered)"
        ) from None
    return envelope.statement


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def check_policy(
    statement: Statement | None,
    chain_policy: ChainPolicy,
    bundle_sha256: str,
    model: str,
    version: str,
    now: datetime,
) -> None:
    """Refuse (:class:`ProvenanceRefusedError`) a verified statement that does not prove
    what ``chain_policy`` requires of these bytes; the reason names everything missing."""
    source = chain_policy.environment
    if statement is None:
        raise ProvenanceRefusedError(
            f"no attestation from {source}: this environment accepts {model} versions only "
            f"from {source}, promoted with `slipway promote {model} {version} --from {source}`"
        )
    problems: list[str] = []
    if statement.environment != source:
        problems.append(f"attested by {statement.environment}, not by {source}")
    if statement.account != chain_policy.account or statement.region != chain_policy.region:
        problems.append(
            f"attested in account {statement.account} region {statement.region}; {source} is "
            f"account {chain_policy.account} region {chain_policy.region}"
        )
    if (statement.model, statement.version) != (model, version):
        problems.append(
            f"attested for {statement.model} {statement.version}, uploaded as {model} {version}"
        )
    if statement.bundle_sha256 != bundle_sha256:
        problems.append(
            f"attested for other bytes: sha256 {statement.bundle_sha256}, uploaded {bundle_sha256}"
        )
    issued = _time(statement.issued_at)
    if issued > now + CLOCK_SKEW:
        problems.append(f"issued in the future: {statement.issued_at}")
    elif now - issued > timedelta(hours=chain_policy.max_age_hours):
        problems.append(
            f"stale: issued {statement.issued_at}, more than {chain_policy.max_age_hours} h ago; "
            f"promote it again for a fresh attestation"
        )
    require = chain_policy.require
    if statement.status in REFUSED_THERE:
        # approved, then refused (a failed canary, a person's rejection, a rollback's cancel)
        problems.append(f"{statement.status} in {source}")
    if require.status == "live" and statement.live_since is None:
        problems.append(f"never live in {source} (status there: {statement.status})")
    if require.status == "approved" and statement.approval is None:
        problems.append(f"never approved in {source} (status there: {statement.status})")
    if require.min_live_minutes and statement.live_since is not None:
        until = _time(statement.live_until) if statement.live_until else issued
        minutes = _minutes(until - _time(statement.live_since))
        if minutes < require.min_live_minutes:
            problems.append(
                f"live in {source} for {minutes} min, this environment requires "
                f"{require.min_live_minutes}"
            )
    if require.manual_approval:
        if statement.approval is None:
            problems.append(f"no approval in {source}; a manual approval is required")
        elif statement.approval.policy != "manual":
            problems.append(
                f"approved automatically in {source} (policy {statement.approval.policy}); "
                "a manual approval by a person is required"
            )
    if require.no_rollback and statement.rollbacks:
        last = statement.rollbacks[-1]
        problems.append(
            f"rolled back in {source} at {last.at} by {last.by}"
            + (f": {last.reason}" if last.reason else "")
        )
    if problems:
        raise ProvenanceRefusedError(
            f"the attestation from {source} falls short: " + "; ".join(problems)
        )


def verified_statement(
    envelope_json: bytes | str | None,
    chain_policy: ChainPolicy,
    bundle_sha256: str,
    model: str,
    version: str,
    now: datetime,
) -> Statement:
    """The statement that lets these bytes in under ``chain_policy``: the gate's judgement,
    :func:`verify_envelope` then :func:`check_policy`, in one place for the gate and the
    registry API's declaration check. Raises ProvenanceRefusedError naming the shortfall."""
    statement = None
    if envelope_json is not None:
        try:
            statement = verify_envelope(envelope_json, chain_policy.public_key)
        except AttestationInvalidError as exc:
            raise ProvenanceRefusedError(
                f"the attestation from {chain_policy.environment} is invalid: {exc}"
            ) from None
    check_policy(statement, chain_policy, bundle_sha256, model, version, now)
    if statement is None:  # check_policy refuses a missing one; this keeps it so
        raise ProvenanceRefusedError(f"no attestation from {chain_policy.environment}")
    return statement


def shortfall(
    envelope_json: bytes | str | None,
    chain_policy: ChainPolicy,
    bundle_sha256: str,
    model: str,
    version: str,
    now: datetime,
) -> str | None:
    """Why ``envelope_json`` does not let these bytes in (the gate's words), or None."""
    try:
        verified_statement(envelope_json, chain_policy, bundle_sha256, model, version, now)
    except ProvenanceRefusedError as exc:
        return str(exc)
    return None
