"""The uploaded bundle a workflow step judges: the exact S3 object version, and its model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model_runtime.bundle import OpenedBundle, open_bundle
from model_runtime.exceptions import ArchiveLimitExceededError
from model_runtime.model import LoadedModel, load_model
from model_runtime.sandboxed_model import Sandbox, sandboxed_model
from model_runtime.serving.settings import StorageSettings
from registry.repository import UploadedBundle
from registry.s3_versions import version_args


def fetch_bundle(
    s3: Any,
    bucket: str,
    key: str,
    version_id: str,
    work: Path,
    expected_digest: str | None = None,
    serving_storage: StorageSettings | None = None,
) -> tuple[OpenedBundle, int]:
    """Download, verify and extract into ``work``; return the bundle and its size in bytes.

    With ``serving_storage``, the bundle must also fit the /tmp of the endpoint that will
    serve it: checked on the object's size before downloading, and while extracting.
    """
    limits = None
    if serving_storage is not None:
        size = s3.head_object(Bucket=bucket, Key=key, **version_args(version_id))["ContentLength"]
        if size > serving_storage.max_bundle_bytes:
            raise ArchiveLimitExceededError(
                f"bundle of {size} bytes exceeds the {serving_storage.max_bundle_bytes} bytes "
                "the endpoint that serves it can hold; give that endpoint more "
                "ephemeral_storage_mb in cdk.json"
            )
        limits = serving_storage.extraction_limits()
    archive = work / "bundle.tar.gz"
    s3.download_file(bucket, key, str(archive), ExtraArgs=version_args(version_id))
    bundle = open_bundle(archive, work / "bundle", expected_digest=expected_digest, limits=limits)
    return bundle, archive.stat().st_size


def model_to_judge(
    bundle: OpenedBundle, where: UploadedBundle, sandbox: Sandbox, s3: Any
) -> LoadedModel:
    """The bundle's model: loaded here, or, for a python-flavor bundle, whose own code must
    not run in the gate's process, predicting in the sandbox."""
    manifest = bundle.manifest
    if manifest.flavor == "python":
        signature = manifest.signature
        return sandboxed_model(sandbox, s3, where, manifest.name, manifest.version, signature)
    return load_model(bundle)
