"""Lineage good enough to audit: whether a version's recorded code and data can be found
again by someone else (cdk.json ``lineage_policy``; the VerifyProvenance step applies it).

A minimal first version written by the attestation work so the gate could be built against
the contract's signatures; the lineage-audit work owns this module and refines it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict


class LineagePolicy(BaseModel):
    """What an environment requires of a version's lineage; nothing by default."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    clean_commit: bool = False
    shareable_repository: bool = False
    durable_datasets: bool = False

    @property
    def requires_anything(self) -> bool:
        return self.clean_commit or self.shareable_repository or self.durable_datasets


# ssh's scp-like form: git@github.com:team/repo.git
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}:[^/].*$")


def is_shareable_repository(url: str) -> bool:
    """An https://, ssh:// or scp-like ssh URL of a host: others can clone it."""
    if _SCP_LIKE.fullmatch(url):
        return True
    parts = urlsplit(url)
    return parts.scheme in ("https", "ssh") and bool(parts.hostname) and "." in parts.hostname


def is_durable_dataset_uri(uri: str) -> bool:
    """A URI that names one immutable content: an S3 object version."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc or parts.path in ("", "/"):
        return False
    version_ids = parse_qs(parts.query).get("versionId", [])
    return len(version_ids) == 1 and bool(version_ids[0])


def shortfalls(lineage: dict[str, Any], policy: LineagePolicy) -> list[str]:
    """What ``lineage`` (a manifest's) lacks for ``policy``; [] when it complies."""
    missing: list[str] = []
    code = lineage.get("code") or {}
    if policy.clean_commit and code.get("dirty") is not False:
        missing.append(
            f"built from a dirty working tree of {code.get('repository')} at "
            f"{code.get('commit')}; a clean commit is required"
        )
    repository = str(code.get("repository", ""))
    if policy.shareable_repository and not is_shareable_repository(repository):
        missing.append(
            f"code repository {repository!r} is not a shareable URL (https://, ssh://, "
            "git@host:path)"
        )
    if policy.durable_datasets:
        for dataset in lineage.get("datasets") or []:
            uri = str(dataset.get("uri", ""))
            if not is_durable_dataset_uri(uri):
                missing.append(
                    f"{dataset.get('role')} dataset {uri!r} is not at a durable URI "
                    "(s3://bucket/key?versionId=...)"
                )
    return missing
