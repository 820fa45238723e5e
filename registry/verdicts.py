"""Which failures of a promotion are the gate's verdict on the version, and which are not.

A verdict (the bundle is unsafe, misses its bar, fails its smoke test or canary, a person
rejected it) makes the version *rejected*: those bytes will never pass this gate. Anything
else (a throttle, a killed worker, a timeout, the lock wait running out) is an
infrastructure failure: the version is *failed*, and says so, for it says nothing about the
model. A version that a newer one went ahead of is *superseded*. The names are the error
names Step Functions reports: the gate's exception classes
(a unit test checks each is one) and the workflow's own.
"""

from __future__ import annotations

from registry.audit import AuditOutcome
from registry.statuses import VersionStatus

VERDICT_ERRORS = frozenset(
    {
        # Validate: what the uploader sent
        "InvalidManifestError",
        "InvalidBaselineError",
        "UnsafeArchiveError",
        "ArchiveLimitExceededError",
        "CorruptBundleError",
        "DigestMismatchError",
        "UploadKeyError",
        "ForbiddenModelTypeError",
        "IncompatibleBundleError",
        "PythonFlavorNotAllowedError",
        "ModelLoadError",
        "ModelOutputError",
        "InvalidInputError",
        "InputExampleMismatchError",
        "VersionConflictError",
        "UploadNotDeclaredError",
        "UploadDeclarationConflictError",
        # VerifyProvenance: where the bytes have been (the chain, the lineage policy)
        "ProvenanceRefusedError",
        "AttestationInvalidError",
        # Evaluate, SmokeTest, the canary, Promote
        "InvalidEvaluationDataError",
        "EvaluationFailedError",
        "SmokeTestFailedError",
        "SmokeTestTooSlowError",
        "CanaryFailedError",
        "ApprovalNotRecordedError",
        "SelfApprovalError",
        "BundleDeletedError",
        # people, and nobody
        "ApprovalRejected",
        "ApprovalTimedOut",
    }
)


# Neither a verdict nor a breakdown: a newer version went ahead (policy latest-wins).
SUPERSEDED_ERRORS = frozenset({"VersionSupersededError"})


def is_verdict(error_type: str | None) -> bool:
    return error_type in VERDICT_ERRORS


def ending_of(error_type: str | None) -> tuple[VersionStatus, AuditOutcome]:
    """The status a promotion that ended with ``error_type`` leaves its version in, and the
    audit outcome that says so."""
    if error_type in SUPERSEDED_ERRORS:
        return VersionStatus.SUPERSEDED, AuditOutcome.SUPERSEDED
    if is_verdict(error_type):
        return VersionStatus.REJECTED, AuditOutcome.REJECTED
    return VersionStatus.FAILED, AuditOutcome.FAILED


def ended_undecided(status: str) -> str:
    """The reason a version gets when its execution ended (stopped by hand, timed out, its
    failure handler failed) before the gate decided it: not a verdict, a failure."""
    return f"ExecutionEnded: its execution ended {status} before the gate decided"
