"""Safe extraction of bundle archives.

Model archives come from users and CI systems; MLflow and BentoML both shipped
path-traversal CVEs in this exact step, so every member is checked before a byte is
written, and sizes are counted from the bytes actually read, not from tar headers.

The tar stream is read here, 512-byte header block by block, not through
``tarfile.TarFile``: tarfile reads a GNU long name or a PAX header's payload whole into
memory (``TarInfo._proc_gnulong`` / ``_proc_pax``) before a caller sees the member, so a
1 MB archive could claim a 1 GiB name. Reading the blocks ourselves lets every size field
be judged before its payload is read, and keeps one parser deciding where members begin (a
guard in front of tarfile would have to agree with it on every PAX ``size`` override,
sparse map and link type, or see data where tarfile sees headers). Each header block is
still decoded by tarfile's documented ``TarInfo.frombuf`` (checksum, octal and base-256
numbers, the ustar prefix). Anything this reader does not need — sparse files, global PAX
headers, links, devices, unknown types — is refused, not interpreted.

Extraction goes into a fresh folder next to ``dest``, renamed into place only when every
member passed: a refusal leaves nothing behind.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from model_runtime.exceptions import (
    ArchiveLimitExceededError,
    CorruptBundleError,
    UnsafeArchiveError,
)

_CHUNK = 1 << 20
_BLOCK = tarfile.BLOCKSIZE
_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
_LINK_TYPES = (tarfile.LNKTYPE, tarfile.SYMTYPE, tarfile.GNUTYPE_LONGLINK)
_SPECIAL_TYPES = (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE)
_PAX_TYPES = (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE)
_UTF8_CHARSET = b"ISO-IR 10646 2000 UTF-8"


@dataclass(frozen=True)
class ExtractionLimits:
    """Bounds that stop archive bombs. ``max_total_bytes`` counts every decompressed byte
    read (headers, data, padding), so it also bounds what is written; a function derives
    it from its /tmp size (``serving.settings.StorageSettings``)."""

    max_members: int = 1_000
    max_total_bytes: int = 2 * 1024**3
    max_compression_ratio: float = 200.0
    max_name_bytes: int = 1024
    max_path_depth: int = 32
    max_pax_bytes: int = 64 * 1024


@dataclass(frozen=True)
class _Member:
    name: str
    is_dir: bool
    size: int


def safe_extract(archive: Path, dest: Path, limits: ExtractionLimits | None = None) -> list[str]:
    """Extract a .tar.gz into ``dest`` (absent or empty); return the relative paths of
    regular files.

    Only regular files and directories are accepted; absolute paths, ``..`` parts, links and
    devices raise :class:`UnsafeArchiveError` naming the member; a limit passed raises
    :class:`ArchiveLimitExceededError`. On any refusal nothing is left under ``dest``.
    """
    limits = limits or ExtractionLimits()
    compressed_size = max(archive.stat().st_size, 1)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        with open(archive, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            written = _extract(_TarReader(stream, compressed_size, limits), staging, limits)
        os.chmod(staging, 0o755)
        if dest.exists():
            dest.rmdir()  # only an empty folder may be replaced
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written


def _make_folder(folder: Path, member: str) -> None:
    # a file 'a' and then a member 'a/b' (or the other way round): a clash, not an OS error
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UnsafeArchiveError(f"member {member!r} is both a folder and a file") from None


def _extract(reader: _TarReader, root: Path, limits: ExtractionLimits) -> list[str]:
    root = root.resolve()
    written: list[str] = []
    for count, member in enumerate(reader.members(), start=1):
        if count > limits.max_members:
            raise ArchiveLimitExceededError(f"archive has more than {limits.max_members} members")
        relative = _checked_member_path(member.name, limits)
        target = (root / relative).resolve()
        if root not in target.parents:
            raise UnsafeArchiveError(f"member {member.name!r} resolves outside the bundle")
        if member.is_dir:
            _make_folder(target, member.name)
            continue
        if relative.as_posix() in written or target.exists():
            raise UnsafeArchiveError(f"member {member.name!r} appears twice")
        # Refuse on the declared size before writing: the bytes would be refused anyway.
        if reader.bytes_read + member.size > limits.max_total_bytes:
            raise ArchiveLimitExceededError(
                f"archive expands beyond the limit of {limits.max_total_bytes} bytes: "
                f"member {member.name!r} declares {member.size} bytes"
            )
        _make_folder(target.parent, member.name)
        if target.is_dir():
            raise UnsafeArchiveError(f"member {member.name!r} is both a folder and a file")
        with open(target, "xb") as out:
            for chunk in reader.data(member):
                out.write(chunk)
        os.chmod(target, 0o644)
        written.append(relative.as_posix())
    return written


class _TarReader:
    """The tar stream inside the gzip, every decompressed byte counted against the limits."""

    def __init__(self, stream: BinaryIO, compressed_size: int, limits: ExtractionLimits):
        self._stream = stream
        self._compressed_size = compressed_size
        self._limits = limits
        self._unread = 0  # data bytes of the member last yielded that nobody read
        self.bytes_read = 0

    def members(self) -> Iterator[_Member]:
        """Each member in order; its data must be taken with :meth:`data` before the next."""
        long_name: str | None = None
        pax: dict[str, bytes] | None = None
        while True:
            block = self._read_up_to(_BLOCK)
            if not block or block.count(0) == _BLOCK:
                if long_name is not None or pax is not None:
                    raise CorruptBundleError("archive ends after an extended header")
                self._drain()
                return
            info = self._header(block)
            if info.type == tarfile.GNUTYPE_LONGNAME:
                if long_name is not None:
                    raise UnsafeArchiveError("archive gives one member two GNU long names")
                long_name = self._long_name(info.size)
                continue
            if info.type in _PAX_TYPES:
                if pax is not None:
                    raise UnsafeArchiveError("archive gives one member two PAX headers")
                pax = self._pax(info.size)
                continue
            member = self._member(info, long_name, pax or {})
            long_name = pax = None
            self._unread = member.size
            yield member
            self._skip(self._unread + _padding(member.size))
            self._unread = 0

    def data(self, member: _Member) -> Iterator[bytes]:
        """The current member's bytes, in chunks."""
        while self._unread:
            chunk = self._read_exactly(min(self._unread, _CHUNK), f"member {member.name!r}")
            self._unread -= len(chunk)
            yield chunk

    def _header(self, block: bytes) -> tarfile.TarInfo:
        if len(block) < _BLOCK:
            raise CorruptBundleError("bundle is not a readable .tar.gz archive: truncated header")
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise CorruptBundleError(f"bundle is not a readable .tar.gz archive: {exc}") from None
        if info.size < 0:
            raise CorruptBundleError(f"member {info.name!r} declares a negative size")
        return info

    def _long_name(self, size: int) -> str:
        # GNU tar counts the name's terminating NUL in the size.
        if size > self._limits.max_name_bytes + 1:
            raise ArchiveLimitExceededError(
                f"a GNU long name of {size} bytes exceeds the limit of "
                f"{self._limits.max_name_bytes} bytes"
            )
        payload = self._read_exactly(size, "a GNU long name")
        self._skip(_padding(size))
        return payload.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")

    def _pax(self, size: int) -> dict[str, bytes]:
        if size > self._limits.max_pax_bytes:
            raise ArchiveLimitExceededError(
                f"a PAX header of {size} bytes exceeds the limit of "
                f"{self._limits.max_pax_bytes} bytes"
            )
        payload = self._read_exactly(size, "a PAX header")
        self._skip(_padding(size))
        return _parse_pax(payload)

    def _member(
        self, info: tarfile.TarInfo, long_name: str | None, pax: dict[str, bytes]
    ) -> _Member:
        name = long_name if long_name is not None else info.name
        if "path" in pax:
            name = _pax_text(pax["path"], "path")
        if info.type in _LINK_TYPES:
            raise UnsafeArchiveError(f"member {name!r} is a link; bundles may hold only files")
        if info.type in _SPECIAL_TYPES:
            raise UnsafeArchiveError(f"member {name!r} is a device or special file")
        if info.type == tarfile.DIRTYPE:
            return _Member(name=name.rstrip("/"), is_dir=True, size=0)
        if info.type not in _FILE_TYPES:
            raise UnsafeArchiveError(
                f"member {name!r} has tar type {info.type!r}; bundles may hold only files "
                "and folders (no sparse files, global headers or vendor types)"
            )
        size = info.size
        if "size" in pax:
            if not pax["size"].isdigit():
                raise CorruptBundleError(f"member {name!r} has a PAX size that is not a number")
            size = int(pax["size"])
        return _Member(name=name, is_dir=False, size=size)

    def _read_up_to(self, size: int) -> bytes:
        """Up to ``size`` bytes; fewer only at the end of the stream."""
        chunks = []
        while size:
            try:
                chunk = self._stream.read(size)
            except (OSError, EOFError, zlib.error) as exc:
                raise CorruptBundleError(
                    f"bundle is not a readable .tar.gz archive: {exc}"
                ) from None
            if not chunk:
                break
            self.bytes_read += len(chunk)
            _check_totals(self.bytes_read, self._compressed_size, self._limits)
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _read_exactly(self, size: int, what: str) -> bytes:
        data = self._read_up_to(size)
        if len(data) < size:
            raise CorruptBundleError(f"archive ends inside {what}")
        return data

    def _skip(self, size: int) -> None:
        while size:
            size -= len(self._read_exactly(min(size, _CHUNK), "padding or data"))

    def _drain(self) -> None:
        """Read what follows the end marker, so the gzip checksum is verified and trailing
        bytes count against the limits too."""
        while self._read_up_to(_CHUNK):
            pass


def _padding(size: int) -> int:
    return -size % _BLOCK


def _parse_pax(payload: bytes) -> dict[str, bytes]:
    """Records ``"<length> <keyword>=<value>\\n"``, parsed strictly: a header that is not
    exactly such records is refused rather than guessed at."""
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(payload):
        space = payload.find(b" ", pos, pos + 21)
        digits = payload[pos:space] if space > pos else b""
        end = pos + int(digits) if digits.isdigit() else -1
        if end <= space + 1 or end > len(payload) or payload[end - 1 : end] != b"\n":
            raise CorruptBundleError("archive has a malformed PAX header")
        keyword, equals, value = payload[space + 1 : end - 1].partition(b"=")
        if not equals or not keyword:
            raise CorruptBundleError("archive has a malformed PAX header")
        key = _pax_text(keyword, "keyword")
        if key.startswith("GNU.sparse."):
            raise UnsafeArchiveError("archive holds a sparse file; bundles may hold only files")
        if key == "hdrcharset" and value != _UTF8_CHARSET:
            raise UnsafeArchiveError("archive has names that are not UTF-8")
        records[key] = value
        pos = end
    return records


def _pax_text(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafeArchiveError(f"archive has a PAX {what} that is not UTF-8") from None


def _checked_member_path(name: str, limits: ExtractionLimits) -> PurePosixPath:
    if len(name.encode("utf-8", "surrogateescape")) > limits.max_name_bytes:
        raise ArchiveLimitExceededError(
            f"member {name[:64]!r}... has a name longer than {limits.max_name_bytes} bytes"
        )
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"member {name!r} has an absolute path")
    path = PurePosixPath(name)
    if ".." in path.parts:
        raise UnsafeArchiveError(f"member {name!r} contains '..'")
    parts = [part for part in path.parts if part not in ("", ".")]
    if not parts:
        raise UnsafeArchiveError(f"member {name!r} has an empty path")
    if len(parts) > limits.max_path_depth:
        raise ArchiveLimitExceededError(
            f"member {name[:64]!r}... is {len(parts)} folders deep; the limit is "
            f"{limits.max_path_depth}"
        )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeArchiveError(f"member {name!r} has a name that is not UTF-8") from None
    return PurePosixPath(*parts)


def _check_totals(total: int, compressed_size: int, limits: ExtractionLimits) -> None:
    if total > limits.max_total_bytes:
        raise ArchiveLimitExceededError(
            f"archive expands beyond the limit of {limits.max_total_bytes} bytes"
        )
    # Small archives compress well by nature; only judge the ratio past 1 MiB.
    if total > _CHUNK and total / compressed_size > limits.max_compression_ratio:
        raise ArchiveLimitExceededError(
            f"archive expands more than {limits.max_compression_ratio:g} times its size"
        )


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
