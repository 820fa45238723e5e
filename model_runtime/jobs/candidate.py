"""Fetching the uploaded bundle a workflow step judges: the exact S3 object version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model_runtime.bundle import OpenedBundle, open_bundle
from model_runtime.model_store import version_args


def fetch_bundle(
    s3: Any,
    bucket: str,
    key: str,
    version_id: str,
    work: Path,
    expected_digest: str | None = None,
) -> tuple[OpenedBundle, int]:
    """Download, verify and extract into ``work``; return the bundle and its size in bytes."""
    archive = work / "bundle.tar.gz"
    s3.download_file(bucket, key, str(archive), ExtraArgs=version_args(version_id))
    bundle = open_bundle(archive, work / "bundle", expected_digest=expected_digest)
    return bundle, archive.stat().st_size
