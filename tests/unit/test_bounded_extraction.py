"""Extraction stays bounded on hostile archives: headers, names, members and bytes are
judged while streaming, memory stays small, and a refusal leaves nothing on disk.

The hostile archives are built on the fly from gzip members of repeated chunks (a gzip
stream may be many members back to back), so a 1 GiB long name is a 1 MB file.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from model_runtime.exceptions import ArchiveLimitExceededError, UnsafeArchiveError
from model_runtime.extraction import ExtractionLimits, safe_extract

ROOT = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 256 * 1024**2
_MIB = 1024**2


def header(name: str, size: int, kind: bytes) -> bytes:
    """One 512-byte tar header block, whatever its size field claims."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def write_lazy_gzip(path: Path, head: bytes, filler: bytes, count: int, tail: bytes) -> Path:
    """``head``, then ``filler`` ``count`` times, then ``tail``: compressed once each."""
    member = gzip.compress(filler, compresslevel=9)
    with open(path, "wb") as out:
        out.write(gzip.compress(head))
        for _ in range(count):
            out.write(member)
        out.write(gzip.compress(tail))
    return path


def small_file(name: str, content: bytes) -> bytes:
    return header(name, len(content), tarfile.REGTYPE) + content + b"\0" * (-len(content) % 512)


END = b"\0" * 1024


def pax_comment_archive(path: Path, comment_bytes: int) -> Path:
    """A PAX header whose comment record holds ``comment_bytes`` of 'a', then a file."""
    value = comment_bytes
    length = len(" comment=\n") + value
    length += len(str(length + len(str(length))))
    record_head = f"{length} comment=".encode()
    assert len(record_head) + value + 1 == length
    padding = b"\0" * (-length % 512)
    head = header("././@PaxHeader", length, tarfile.XHDTYPE) + record_head
    chunks, rest = divmod(value, _MIB)
    tail = b"a" * rest + b"\n" + padding + small_file("manifest.json", b"{}") + END
    return write_lazy_gzip(path, head, b"a" * _MIB, chunks, tail)


def extract_under_memory_limit(archive: Path, dest: Path) -> dict:
    """Run safe_extract in a child limited to 256 MiB of address space; report its peak."""
    probe = (
        "import json, resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))\n"
        "from pathlib import Path\n"
        "from model_runtime.extraction import safe_extract\n"
        "try:\n"
        "    safe_extract(Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "    outcome = {'error': None, 'message': ''}\n"
        "except BaseException as exc:\n"
        "    outcome = {'error': type(exc).__name__, 'message': str(exc)[:300]}\n"
        # VmHWM belongs to this process image; ru_maxrss may carry the forking parent's peak
        "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "outcome['max_rss_bytes'] = int(peak.split()[1]) * 1024\n"
        "print(json.dumps(outcome))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(archive), str(dest)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_a_gigabyte_gnu_long_name_is_refused_within_256_mib(tmp_path):
    # GIVEN a 1 MB archive whose GNU long name header claims and holds 1 GiB
    head = header("././@LongLink", 1024 * _MIB, tarfile.GNUTYPE_LONGNAME)
    archive = write_lazy_gzip(tmp_path / "longname.tar.gz", head, b"\0" * _MIB, 1024, END)
    assert archive.stat().st_size < 4 * _MIB
    # WHEN it is extracted in a process limited to 256 MiB
    outcome = extract_under_memory_limit(archive, tmp_path / "out" / "bundle")
    # THEN it is refused by name, before the name is read, and nothing is left behind
    assert outcome["error"] == "ArchiveLimitExceededError", outcome
    assert "GNU long name of 1073741824 bytes" in outcome["message"]
    assert outcome["max_rss_bytes"] < MEMORY_LIMIT
    assert leftovers(tmp_path / "out") == []


def test_a_128_mib_pax_comment_is_refused_within_256_mib(tmp_path):
    # GIVEN an archive whose file carries a 128 MiB PAX comment
    archive = pax_comment_archive(tmp_path / "pax.tar.gz", 128 * _MIB)
    # WHEN it is extracted in a process limited to 256 MiB
    outcome = extract_under_memory_limit(archive, tmp_path / "out" / "bundle")
    # THEN the PAX header is refused for its size, and nothing is left behind
    assert outcome["error"] == "ArchiveLimitExceededError", outcome
    assert "PAX header of" in outcome["message"]
    assert outcome["max_rss_bytes"] < MEMORY_LIMIT
    assert leftovers(tmp_path / "out") == []


def test_a_small_pax_comment_is_accepted(tmp_path):
    # GIVEN the same shape of archive with a comment well inside the PAX limit
    archive = pax_comment_archive(tmp_path / "pax.tar.gz", 1000)
    # WHEN it is extracted
    written = safe_extract(archive, tmp_path / "bundle")
    # THEN the file after the header is there: the limit refuses size, not PAX itself
    assert written == ["manifest.json"]
    assert (tmp_path / "bundle" / "manifest.json").read_bytes() == b"{}"


def test_many_tiny_members_are_refused_and_leave_nothing(tmp_path):
    # GIVEN 1001 one-byte files, one more than the member limit
    body = b"".join(small_file(f"f{i:04}", b"x") for i in range(1001)) + END
    archive = tmp_path / "many.tar.gz"
    archive.write_bytes(gzip.compress(body))
    dest = tmp_path / "out" / "bundle"
    # WHEN it is extracted
    with pytest.raises(ArchiveLimitExceededError, match="more than 1000 members"):
        safe_extract(archive, dest)
    # THEN not one of the first thousand files stays behind
    assert leftovers(tmp_path / "out") == []


def test_a_chain_of_extended_headers_is_refused_by_name(tmp_path):
    # GIVEN ten thousand PAX headers in a row before one file (tarfile recursed once each)
    record = b"14 comment=ab\n"
    pax = header("././@PaxHeader", len(record), tarfile.XHDTYPE) + record + b"\0" * 498
    archive = tmp_path / "chain.tar.gz"
    archive.write_bytes(gzip.compress(pax * 10_000 + small_file("f", b"x") + END))
    # WHEN it is extracted
    # THEN it is a named refusal, not a RecursionError
    with pytest.raises(UnsafeArchiveError, match="two PAX headers"):
        safe_extract(archive, tmp_path / "out" / "bundle")
    assert leftovers(tmp_path / "out") == []


def test_a_deep_path_is_refused(tmp_path):
    # GIVEN a file 64 folders deep (a short name, within every other limit)
    deep = "/".join(["d"] * 63 + ["f"])
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(deep)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    archive = tmp_path / "deep.tar.gz"
    archive.write_bytes(gzip.compress(buffer.getvalue()))
    # WHEN it is extracted
    with pytest.raises(ArchiveLimitExceededError, match="64 folders deep; the limit is 32"):
        safe_extract(archive, tmp_path / "out" / "bundle")
    # THEN not one folder was made
    assert leftovers(tmp_path / "out") == []


def test_a_long_gnu_name_beyond_the_name_limit_is_refused(tmp_path):
    # GIVEN a GNU-format archive naming a file with 2000 characters
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("n" * 2000)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    archive = tmp_path / "long.tar.gz"
    archive.write_bytes(gzip.compress(buffer.getvalue()))
    # WHEN it is extracted THEN the long-name header is refused for its size
    with pytest.raises(ArchiveLimitExceededError, match="GNU long name of 2001 bytes"):
        safe_extract(archive, tmp_path / "out" / "bundle")


def test_an_oversized_archive_writes_nothing_and_leaves_nothing(tmp_path):
    # GIVEN a member larger than the total limit, and a second one after a small first
    for name, sizes in (("one", [300_000]), ("two", [60_000, 60_000])):
        body = b"".join(small_file(f"f{i}", os.urandom(s)) for i, s in enumerate(sizes)) + END
        archive = tmp_path / f"{name}.tar.gz"
        archive.write_bytes(gzip.compress(body))
        dest = tmp_path / name / "bundle"
        # WHEN it is extracted under a 100 kB limit
        with pytest.raises(ArchiveLimitExceededError, match="beyond the limit of 100000 bytes"):
            safe_extract(archive, dest, ExtractionLimits(max_total_bytes=100_000))
        # THEN no partial file and no staging folder remain
        assert leftovers(tmp_path / name) == []


@pytest.mark.parametrize("form", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_archives_tarfile_writes_extract_in_every_format(tmp_path, form):
    # GIVEN folders, an empty file and a 150-character path (long names in GNU and PAX)
    long_path = "models/" + "m" * 90 + "/" + "w" * 50 + ".bin"
    files = {"manifest.json": b"{}", "empty": b"", long_path: os.urandom(3000)}
    if form == tarfile.USTAR_FORMAT:
        files.pop(long_path)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=form) as tar:
        folder = tarfile.TarInfo("models")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    archive = tmp_path / "ok.tar.gz"
    archive.write_bytes(gzip.compress(buffer.getvalue()))
    # WHEN it is extracted into an existing empty folder
    (tmp_path / "bundle").mkdir()
    written = safe_extract(archive, tmp_path / "bundle")
    # THEN every file is there with its bytes, and no staging folder is left beside it
    assert sorted(written) == sorted(files)
    for name, content in files.items():
        assert (tmp_path / "bundle" / name).read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "ok.tar.gz"]


@pytest.mark.parametrize(
    "names", [["a", "a/a"], ["a/a", "a"]], ids=["file-then-folder", "folder-then-file"]
)
def test_a_name_that_is_both_a_file_and_a_folder_is_refused_by_name(tmp_path, names):
    # GIVEN an archive holding 'a' as a file and as a folder (hypothesis found it raised OSError)
    import io
    import tarfile

    archive = tmp_path / "clash.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    # THEN it is an UnsafeArchiveError, and nothing is left behind
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
