"""Addressing one S3 object version, as the registry records it."""

from __future__ import annotations


def version_args(s3_version_id: str) -> dict[str, str]:
    """Objects in an unversioned bucket report the version id "null", which S3 won't take."""
    return {"VersionId": s3_version_id} if s3_version_id and s3_version_id != "null" else {}
