"""Safe extraction of bundle archives.

Model archives come from users and CI systems; MLflow and BentoML both shipped
path-traversal CVEs in this exact step, so every member is checked before a byte is
written, and sizes are counted from the bytes actually read, not from tar headers.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from model_runtime.exceptions import CorruptBundleError, UnsafeArchiveError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ExtractionLimits:
    """Bounds that stop archive bombs; defaults fit a Lambda's /tmp comfortably."""

    max_members: int = 1_000
    max_total_bytes: int = 2 * 1024**3
    max_compression_ratio: float = 200.0


def safe_extract(archive: Path, dest: Path, limits: ExtractionLimits | None = None) -> list[str]:
    """Extract a .tar.gz into an empty ``dest``; return the relative paths of regular files.

    Only regular files and directories are accepted; absolute paths, ``..`` parts, links and
    devices raise :class:`UnsafeArchiveError` naming the member.
    """
    limits = limits or ExtractionLimits()
    compressed_size = max(archive.stat().st_size, 1)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written: list[str] = []
    total = 0
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > limits.max_members:
                    raise UnsafeArchiveError(f"archive has more than {limits.max_members} members")
                relative = _checked_member_path(member)
                target = (root / relative).resolve()
                if root not in target.parents:
                    raise UnsafeArchiveError(f"member {member.name!r} resolves outside the bundle")
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if relative.as_posix() in written or target.exists():
                    raise UnsafeArchiveError(f"member {member.name!r} appears twice")
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - regular files always have data
                    raise CorruptBundleError(f"member {member.name!r} has no data")
                with source, open(target, "xb") as out:
                    while chunk := source.read(_CHUNK):
                        total += len(chunk)
                        _check_totals(total, compressed_size, limits)
                        out.write(chunk)
                os.chmod(target, 0o644)
                written.append(relative.as_posix())
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, UnsafeArchiveError | CorruptBundleError):
            raise
        raise CorruptBundleError(f"bundle is not a readable .tar.gz archive: {exc}") from None
    return written


def _checked_member_path(member: tarfile.TarInfo) -> PurePosixPath:
    name = member.name
    if member.issym() or member.islnk():
        raise UnsafeArchiveError(f"member {name!r} is a link; bundles may hold only files")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"member {name!r} is a device or special file")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"member {name!r} has an absolute path")
    path = PurePosixPath(name)
    if ".." in path.parts:
        raise UnsafeArchiveError(f"member {name!r} contains '..'")
    parts = [part for part in path.parts if part not in ("", ".")]
    if not parts:
        raise UnsafeArchiveError(f"member {name!r} has an empty path")
    return PurePosixPath(*parts)


def _check_totals(total: int, compressed_size: int, limits: ExtractionLimits) -> None:
    if total > limits.max_total_bytes:
        raise UnsafeArchiveError(
            f"archive expands beyond the limit of {limits.max_total_bytes} bytes"
        )
    # Small archives compress well by nature; only judge the ratio past 1 MiB.
    if total > _CHUNK and total / compressed_size > limits.max_compression_ratio:
        raise UnsafeArchiveError(
            f"archive expands more than {limits.max_compression_ratio:g} times its size"
        )


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
