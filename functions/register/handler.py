"""Workflow step Register: the validated bundle becomes an immutable version with its edges."""

from __future__ import annotations

from typing import Any

from functions.observability import logger
from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.aws import lineage_repository
from registry.repository import LineageRepository, UploadedBundle
from registry.statuses import RegisterOutcome
from registry.workflow_state import PromotionState, Registered


def register(state: PromotionState, repository: LineageRepository) -> Registered:
    """Register the version (or recognise the same bytes again) and audit what happened."""
    validated = state.require_validated()
    bundle = UploadedBundle(
        bucket=state.bucket,
        key=state.key,
        s3_version_id=state.version_id,
        digest=validated.digest,
        size=validated.size,
    )
    manifest, baseline = repository.validated_upload(
        validated.name, validated.version, validated.digest
    )
    provenance = state.provenance
    received = (
        repository.received_attestation(
            validated.name, validated.version, provenance.statement_sha256
        )
        if provenance is not None and provenance.statement_sha256 is not None
        else None
    )
    outcome = repository.register_version(
        manifest,
        bundle,
        state.execution_name,
        uploaded_by=validated.uploaded_by,
        baseline=baseline,
        received_attestation=received,
    )
    duplicate = outcome == RegisterOutcome.DUPLICATE
    repository.record_audit(
        AuditEvent(
            name=validated.name,
            version=validated.version,
            execution=state.execution_name,
            step=AuditStep.REGISTER,
            outcome=AuditOutcome.DUPLICATE if duplicate else AuditOutcome.REGISTERED,
            reason="same bytes as the registered version"
            if duplicate
            else "version registered with its lineage",
        ),
        detail={
            "digest": bundle.digest,
            "s3_version_id": bundle.s3_version_id,
            "uploaded_by": validated.uploaded_by,
        },
    )
    return Registered(outcome=outcome, name=validated.name, version=validated.version)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return register(PromotionState.parse(event), lineage_repository()).dump()
