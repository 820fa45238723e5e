"""Opening a bundle: digest, safe extraction, per-file sha256, manifest — in that order.

Nothing inside a bundle is parsed or imported before its bytes are known to be the ones
the registry recorded and every file matches the manifest.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from model_runtime.exceptions import (
    CorruptBundleError,
    DigestMismatchError,
    InvalidManifestError,
    UploadKeyError,
)
from model_runtime.extraction import ExtractionLimits, safe_extract, sha256_file
from model_runtime.manifest import MANIFEST_FILE, MAX_MANIFEST_BYTES, Manifest, parse_manifest
from model_runtime.serving.settings import get_storage_settings
from registry.names import name_and_version_of_key


@dataclass(frozen=True)
class OpenedBundle:
    """An extracted, verified bundle on local disk."""

    manifest: Manifest
    root: Path
    digest: str

    @property
    def model_path(self) -> Path:
        return self.root / self.manifest.model_file


def parse_upload_key(key: str) -> tuple[str, str]:
    """Return (name, version) from ``models/<name>/<version>/bundle.tar.gz``."""
    claimed = name_and_version_of_key(key)
    if claimed is None:
        raise UploadKeyError(
            f"upload key {key!r} is not of the form models/<name>/<version>/bundle.tar.gz"
        )
    return claimed


def open_bundle(
    archive: Path,
    dest: Path,
    *,
    expected_digest: str | None = None,
    limits: ExtractionLimits | None = None,
) -> OpenedBundle:
    """Verify and extract ``archive`` into ``dest`` (replaced if it exists).

    ``limits`` default to what this function's /tmp can hold. A bundle that fails any check
    leaves nothing under ``dest``.
    """
    digest = sha256_file(archive)
    if expected_digest is not None and digest != expected_digest:
        raise DigestMismatchError(
            f"bundle sha256 is {digest}, the registry recorded {expected_digest}"
        )
    if dest.exists():
        shutil.rmtree(dest)
    files = safe_extract(archive, dest, limits or get_storage_settings().extraction_limits())
    try:
        if MANIFEST_FILE not in files:
            raise InvalidManifestError("bundle has no manifest.json at its root")
        if (dest / MANIFEST_FILE).stat().st_size > MAX_MANIFEST_BYTES:  # before reading it
            raise InvalidManifestError(
                f"manifest.json is larger than the limit of {MAX_MANIFEST_BYTES} bytes"
            )
        manifest = parse_manifest((dest / MANIFEST_FILE).read_bytes())
        _verify_files(dest, manifest, set(files) - {MANIFEST_FILE})
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # unverified files never stay on disk
        raise
    return OpenedBundle(manifest=manifest, root=dest, digest=digest)


def _verify_files(root: Path, manifest: Manifest, present: set[str]) -> None:
    listed = set(manifest.files)
    missing = sorted(listed - present)
    unlisted = sorted(present - listed)
    if missing:
        raise CorruptBundleError(f"files listed in manifest.json are missing: {', '.join(missing)}")
    if unlisted:
        raise CorruptBundleError(f"files not listed in manifest.json: {', '.join(unlisted)}")
    for path, expected in sorted(manifest.files.items()):
        actual = sha256_file(root / path)
        if actual != expected:
            raise CorruptBundleError(
                f"{path} has sha256 {actual}, manifest.json records {expected}"
            )


def check_upload_matches_manifest(key: str, manifest: Manifest) -> None:
    """The key's name and version must be the manifest's, so the registry cannot be misled."""
    name, version = parse_upload_key(key)
    if (name, version) != (manifest.name, manifest.version):
        raise UploadKeyError(
            f"upload key names {name}/{version} but manifest.json says "
            f"{manifest.name}/{manifest.version}"
        )
