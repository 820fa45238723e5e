"""Opening bundles: hostile and damaged archives are refused with their own error."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import tarfile
from pathlib import Path

import pytest

from model_runtime.bundle import (
    check_upload_matches_manifest,
    open_bundle,
    parse_upload_key,
)
from model_runtime.exceptions import (
    CorruptBundleError,
    DigestMismatchError,
    InvalidManifestError,
    UnsafeArchiveError,
    UploadKeyError,
)
from model_runtime.extraction import ExtractionLimits, sha256_file
from model_runtime.model import check_input_example, load_model


def write_archive(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info in members:
            tar.addfile(info, io.BytesIO(data[info.name]) if info.name in data else None)
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


def file_member(name: str, content: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    return info, content


def special_member(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_a_built_bundle_opens_loads_and_reproduces_its_example(iris_bundle, tmp_path):
    path, manifest = iris_bundle
    bundle = open_bundle(path, tmp_path / "x", expected_digest=sha256_file(path))
    model = load_model(bundle)
    assert check_input_example(model, bundle) == manifest.input_example.expected_output


def test_building_is_deterministic(iris_bundle, tmp_path):
    from examples.iris.train import train_and_package

    first = tmp_path / "a.tar.gz"
    manifest = train_and_package(first, name="iris", version="1")
    second = tmp_path / "b.tar.gz"
    from model_runtime.packaging import write_bundle

    with tarfile.open(first) as tar:
        files = {
            m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.name != "manifest.json"
        }
    write_bundle(second, manifest, files)
    assert sha256_file(first) == sha256_file(second)


def test_digest_mismatch_is_refused_before_extraction(iris_bundle, tmp_path):
    path, _ = iris_bundle
    with pytest.raises(DigestMismatchError, match="registry recorded"):
        open_bundle(path, tmp_path / "x", expected_digest="0" * 64)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (special_member("../evil.txt", tarfile.REGTYPE), "'..'"),
        (special_member("/etc/evil", tarfile.REGTYPE), "absolute path"),
        (special_member("link", tarfile.SYMTYPE, "/etc/passwd"), "is a link"),
        (special_member("hard", tarfile.LNKTYPE, "manifest.json"), "is a link"),
        (special_member("dev", tarfile.CHRTYPE), "device or special file"),
        (special_member("fifo", tarfile.FIFOTYPE), "device or special file"),
    ],
    ids=["traversal", "absolute", "symlink", "hardlink", "device", "fifo"],
)
def test_hostile_members_are_refused_and_nothing_escapes(tmp_path, member, message):
    archive = write_archive(tmp_path / "evil.tar.gz", [member], {member.name: b""})
    dest = tmp_path / "out" / "bundle"
    with pytest.raises(UnsafeArchiveError, match=message):
        open_bundle(archive, dest)
    assert not (tmp_path / "out" / "evil.txt").exists()
    assert not (tmp_path / "evil.txt").exists()


def test_archive_bomb_is_refused(tmp_path):
    info, content = file_member("zeros.bin", b"\0" * (8 * 1024 * 1024))
    archive = write_archive(tmp_path / "bomb.tar.gz", [info], {info.name: content})
    with pytest.raises(UnsafeArchiveError, match="expands more than"):
        open_bundle(archive, tmp_path / "x")


def test_member_count_limit(tmp_path):
    members = [file_member(f"f{i}", b"x") for i in range(5)]
    archive = write_archive(
        tmp_path / "many.tar.gz", [m for m, _ in members], {m.name: c for m, c in members}
    )
    with pytest.raises(UnsafeArchiveError, match="more than 3 members"):
        open_bundle(archive, tmp_path / "x", limits=ExtractionLimits(max_members=3))


def test_not_a_tarball_is_corrupt(tmp_path):
    archive = tmp_path / "junk.tar.gz"
    archive.write_bytes(b"this is not gzip")
    with pytest.raises(CorruptBundleError, match="not a readable"):
        open_bundle(archive, tmp_path / "x")


def tampered_copy(iris_bundle, tmp_path: Path, mutate) -> Path:
    path, _ = iris_bundle
    with tarfile.open(path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    mutate(files)
    members = [file_member(name, content)[0] for name, content in sorted(files.items())]
    return write_archive(tmp_path / "tampered.tar.gz", members, files)


def test_tampered_model_file_is_refused_by_its_sha256(iris_bundle, tmp_path):
    def mutate(files):
        files["model.skops"] = files["model.skops"] + b"\0"

    archive = tampered_copy(iris_bundle, tmp_path, mutate)
    with pytest.raises(CorruptBundleError, match=r"model\.skops has sha256"):
        open_bundle(archive, tmp_path / "x")


def test_unlisted_file_is_refused(iris_bundle, tmp_path):
    archive = tampered_copy(iris_bundle, tmp_path, lambda files: files.update({"extra.py": b"1"}))
    with pytest.raises(
        CorruptBundleError, match=re.escape("not listed in manifest.json: extra.py")
    ):
        open_bundle(archive, tmp_path / "x")


def test_missing_manifest_is_refused(iris_bundle, tmp_path):
    archive = tampered_copy(iris_bundle, tmp_path, lambda files: files.pop("manifest.json"))
    with pytest.raises(InvalidManifestError, match=re.escape("no manifest.json")):
        open_bundle(archive, tmp_path / "x")


def test_unknown_manifest_field_is_refused(iris_bundle, tmp_path):
    def mutate(files):
        data = json.loads(files["manifest.json"])
        data["owner"] = "someone"
        files["manifest.json"] = json.dumps(data).encode()

    archive = tampered_copy(iris_bundle, tmp_path, mutate)
    with pytest.raises(InvalidManifestError, match="owner: unknown field"):
        open_bundle(archive, tmp_path / "x")


def test_upload_key_must_match_the_manifest(iris_bundle):
    _, manifest = iris_bundle
    assert parse_upload_key("models/iris/1/bundle.tar.gz") == ("iris", "1")
    check_upload_matches_manifest("models/iris/1/bundle.tar.gz", manifest)
    with pytest.raises(UploadKeyError, match=re.escape("manifest.json says iris/1")):
        check_upload_matches_manifest("models/iris/2/bundle.tar.gz", manifest)
    with pytest.raises(UploadKeyError, match="not of the form"):
        parse_upload_key("models/iris.tar.gz")


def test_oversized_archive_is_refused(tmp_path):
    info, content = file_member("big.bin", os.urandom(300_000))
    archive = write_archive(tmp_path / "big.tar.gz", [info], {info.name: content})
    with pytest.raises(UnsafeArchiveError, match="expands beyond the limit of 100000 bytes"):
        open_bundle(archive, tmp_path / "x", limits=ExtractionLimits(max_total_bytes=100_000))
