"""Which failures of a promotion are the gate's verdict on the version, and which are not.

A verdict (the bundle is unsafe, misses its bar, fails its smoke test or canary, a person
rejected it) makes the version *rejected*: those bytes will never pass this gate. Anything
else (a throttle, a killed worker, a timeout, the lock wait running out) is an
infrastructure failure: the version is *failed*, and says so, for it says nothing about the
model. The names are the error names Step Functions reports: the gate's exception classes
(a unit test checks each is one) and the workflow's own.
"""

from __future__ import annotations

VERDICT_ERRORS = frozenset(
    {
        # Validate: what the uploader sent
        "InvalidManifestError",
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


def is_verdict(error_type: str | None) -> bool:
    return error_type in VERDICT_ERRORS
