"""`slipway promote`: carry a version from one environment of the chain to the next.

The bytes travel by the exact S3 object version the source registry recorded, checked
against the digest it recorded and the digest its signed statement names; the statement
(attestation) travels with the upload's declaration, and the next environment's gate
verifies it (registry/attestation.py). Every step can be run again after a crash: a version
the target already holds with these bytes is not uploaded twice, and an upload the target
has not yet registered is a duplicate of the same bytes at worst.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError
from rich.console import Console

from model_runtime.extraction import ExtractionLimits
from registry.executions import UploadEvent, execution_name
from registry.names import upload_key
from registry.s3_versions import version_args
from registry.statuses import RETRYABLE, VersionStatus
from slipway.bundle_upload import upload_bundle
from slipway.errors import CliError
from slipway.invoke import call_registry
from slipway.target import Target

# No environment extracts a larger archive (model_runtime/extraction.py), so none would take
# a larger bundle: the download stops there whatever the source's registry says.
MAX_BUNDLE_BYTES = ExtractionLimits().max_total_bytes
CHUNK_BYTES = 1024**2
ATTESTATION_KEY_OUTPUT = "AttestationKeyArn"


@dataclass(frozen=True)
class RegisteredBundle:
    """Where the source registry says a version's bytes are."""

    bucket: str
    key: str
    s3_version_id: str
    digest: str
    size: int

    @classmethod
    def of(cls, described: dict[str, Any], where: str) -> RegisteredBundle:
        try:
            bundle = described["bundle"]
            return cls(
                str(bundle["bucket"]),
                str(bundle["key"]),
                str(bundle["s3_version_id"]),
                str(bundle["digest"]),
                int(bundle["size"]),
            )
        except (KeyError, TypeError, ValueError):
            raise CliError(f"the registry of {where} names no complete bundle for it") from None


@dataclass(frozen=True)
class Promotion:
    """What `slipway promote` did."""

    model: str
    version: str
    source: str
    target: str
    sha256: str
    outcome: str  # "uploaded" | "registered already"
    target_status: str | None = None
    bucket: str | None = None
    key: str | None = None
    s3_version_id: str | None = None
    execution: str | None = None
    declared_by: str | None = None

    def dump(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


# statuses in the target that promoting again cannot change: the version will not go live
ENDED_THERE = frozenset({VersionStatus.REJECTED, VersionStatus.CANCELLED, *RETRYABLE})
UPLOADED = "uploaded"
REGISTERED_ALREADY = "registered already"


def promote_across(
    source: Target, target: Target, name: str, version: str, console: Console, quiet: bool
) -> Promotion:
    """Fetch ``name`` ``version`` from ``source`` with a fresh attestation, verify both
    digests, declare it in ``target`` with the attestation attached, upload it there."""
    base = f"/v1/models/{name}/versions/{version}"
    where = f"{name} {version} in {source.config.name}"
    bundle = RegisteredBundle.of(call_registry(source, "GET", base), where)
    # signed now over the version's record there; refused (409) if it was never approved
    # or live there, with the reason
    envelope = call_registry(source, "POST", f"{base}/attestation")
    _check_statement(envelope, name, version, bundle.digest, where)
    held = _registered_in(target, base)
    if held is not None:
        return _already_held(held, source, target, name, version, bundle.digest)
    _check_policy_before_upload(envelope, target, name, version, bundle.digest)
    with tempfile.TemporaryDirectory(prefix="slipway-promote-") as work:
        path = Path(work) / "bundle.tar.gz"
        download_verified(source, bundle, path, where)
        declared = call_registry(
            target, "PUT", f"{base}/upload", {"sha256": bundle.digest, "attestation": envelope}
        )
        key = upload_key(name, version)
        target_bucket = target.outputs["ArtifactBucketName"]
        s3_version_id = upload_bundle(
            target.client("s3"), path, target_bucket, key, console, quiet=quiet
        )
    return Promotion(
        name,
        version,
        source.config.name,
        target.config.name,
        bundle.digest,
        UPLOADED,
        bucket=target_bucket,
        key=key,
        s3_version_id=s3_version_id,
        execution=execution_name(UploadEvent(target_bucket, key, s3_version_id, bundle.size)),
        declared_by=str(declared.get("declared_by")),
    )


def _check_statement(envelope: Any, name: str, version: str, digest: str, where: str) -> None:
    """The statement must speak of these bytes: a source answering for another version or
    other bytes is refused here, before anything moves."""
    statement = envelope.get("statement") if isinstance(envelope, dict) else None
    if not isinstance(statement, dict):
        raise CliError(f"the registry of {where} answered no attestation statement")
    said = (statement.get("model"), statement.get("version"))
    if said != (name, version):
        raise CliError(f"the attestation of {where} speaks of {said[0]} {said[1]}")
    if statement.get("bundle_sha256") != digest:
        raise CliError(
            f"the attestation of {where} is for sha256 {statement.get('bundle_sha256')}, "
            f"its registry recorded {digest}: nothing was promoted"
        )


def _registered_in(target: Target, path: str) -> dict[str, Any] | None:
    try:
        answer = call_registry(target, "GET", path)
    except CliError as error:
        if error.details.get("status") == 404:
            return None
        raise
    return answer if isinstance(answer, dict) else None


def _already_held(
    held: dict[str, Any], source: Target, target: Target, name: str, version: str, digest: str
) -> Promotion:
    """A run after a crash, or a second promote: the same bytes are there already; other
    bytes under the version are a conflict nobody can resolve by uploading."""
    theirs = RegisteredBundle.of(held, f"{name} {version} in {target.config.name}")
    if theirs.digest != digest:
        raise CliError(
            f"{name} {version} is registered in {target.config.name} with sha256 "
            f"{theirs.digest}, not {digest} as in {source.config.name}: versions are "
            "immutable; package the model as a new version"
        )
    status = str(held.get("status"))
    if status in ENDED_THERE:
        # a CI job promoting it again must not pass as if it were promoted: it never will be
        why = held.get("rejection_reason")
        raise CliError(
            f"{name} {version} is registered in {target.config.name} with these bytes, and "
            f"was {status} there"
            + (f": {why}" if why else "")
            + "; nothing was uploaded"
            + (
                f" (`slipway retry {name} {version} --env {target.config.name}` runs its gate "
                "again)"
                if status in RETRYABLE
                else "; versions are immutable: package the model as a new version"
            )
        )
    return Promotion(
        name,
        version,
        source.config.name,
        target.config.name,
        digest,
        REGISTERED_ALREADY,
        target_status=str(held.get("status")),
        bucket=theirs.bucket,
        key=theirs.key,
        s3_version_id=theirs.s3_version_id,
        execution=str(held.get("execution")) if held.get("execution") else None,
    )


def _check_policy_before_upload(
    envelope: dict[str, Any], target: Target, name: str, version: str, digest: str
) -> None:
    """What the target's gate would refuse is refused here, before the upload registers the
    version there as rejected for good (a version is immutable). The gate decides; this
    only spares a version that cannot pass. The signature is checked where cdk.json holds
    the key (an embedded environment's is filled in at its deploy: its gate checks it)."""
    from datetime import UTC, datetime

    from infra.gate_policy import chain_policy
    from registry.attestation import Statement, check_policy, verify_envelope
    from registry.chain_policy import EMBEDDED_PUBLIC_KEY
    from registry.exceptions import AttestationInvalidError, ProvenanceRefusedError

    accepts = chain_policy(target.config)
    if accepts is None:
        return
    try:
        if accepts.public_key == EMBEDDED_PUBLIC_KEY:
            statement = Statement.model_validate(envelope["statement"])
        else:
            statement = verify_envelope(json.dumps(envelope), accepts.public_key)
        check_policy(statement, accepts, digest, name, version, datetime.now(UTC))
    except (AttestationInvalidError, ProvenanceRefusedError) as refused:
        raise CliError(
            f"{target.config.name} would refuse {name} {version}: {refused}; nothing was uploaded"
        ) from None
    except ValidationError as invalid:
        raise CliError(f"the attestation of {name} {version} is malformed: {invalid}") from None


def download_verified(source: Target, bundle: RegisteredBundle, path: Path, where: str) -> None:
    """Stream the exact object version to ``path``, hashing as it arrives, never past the
    recorded size (nor past what any environment extracts); refuse other bytes."""
    if bundle.size > MAX_BUNDLE_BYTES:
        raise CliError(
            f"{where} is {bundle.size} bytes; no environment takes a bundle over "
            f"{MAX_BUNDLE_BYTES} bytes"
        )
    try:
        _stream(source, bundle, path, where)
    except (ClientError, BotoCoreError) as exc:
        # the source bundle deleted, its object version gone, access denied, the network
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else ""
        raise CliError(
            f"cannot read s3://{bundle.bucket}/{bundle.key} version {bundle.s3_version_id}, "
            f"the bytes the registry of {source.config.name} recorded for {where}: "
            f"{code or type(exc).__name__} ({exc}); nothing was promoted"
        ) from None


def _stream(source: Target, bundle: RegisteredBundle, path: Path, where: str) -> None:
    answer = source.client("s3").get_object(
        Bucket=bundle.bucket, Key=bundle.key, **version_args(bundle.s3_version_id)
    )
    if int(answer["ContentLength"]) != bundle.size:
        answer["Body"].close()
        raise CliError(
            f"s3://{bundle.bucket}/{bundle.key} version {bundle.s3_version_id} holds "
            f"{answer['ContentLength']} bytes, the registry of {source.config.name} "
            f"recorded {bundle.size}: nothing was promoted"
        )
    digest = hashlib.sha256()
    received = 0
    with path.open("wb") as out:
        for chunk in answer["Body"].iter_chunks(CHUNK_BYTES):
            received += len(chunk)
            if received > bundle.size:
                answer["Body"].close()
                raise CliError(f"S3 sent more than the {bundle.size} bytes it announced")
            digest.update(chunk)
            out.write(chunk)
    if received != bundle.size or digest.hexdigest() != bundle.digest:
        raise CliError(
            f"the bytes downloaded for {where} ({received} bytes) have sha256 "
            f"{digest.hexdigest()}, its registry recorded {bundle.digest}: nothing was promoted"
        )


def attestation_public_key(target: Target) -> str:
    """The environment's attestation key's public half, base64 DER (SubjectPublicKeyInfo),
    as the next environment's ``accepts_from.public_key`` holds it."""
    from registry.attestation import public_key_of

    arn = target.outputs.get(ATTESTATION_KEY_OUTPUT)
    if arn is None:
        raise CliError(
            f"environment {target.config.name} has no {ATTESTATION_KEY_OUTPUT} among its stack "
            "outputs: deploy it with this version of Slipway"
        )
    return public_key_of(target.client("kms"), arn)
