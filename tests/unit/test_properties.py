"""Property-based tests: manifests round-trip, and no archive escapes its folder."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_runtime.exceptions import CorruptBundleError, InvalidManifestError, UnsafeArchiveError
from model_runtime.extraction import safe_extract
from model_runtime.manifest import Manifest, parse_manifest

NAMES = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
VERSIONS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
DIGESTS = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)
FEATURES = st.lists(
    st.from_regex(r"[a-z_]{1,12}", fullmatch=True), min_size=1, max_size=6, unique=True
)


@st.composite
def manifests(draw: st.DrawFn) -> dict:
    features = draw(FEATURES)
    rows = draw(
        st.lists(
            st.lists(
                st.floats(allow_nan=False, allow_infinity=False, width=32),
                min_size=len(features),
                max_size=len(features),
            ),
            min_size=1,
            max_size=3,
        )
    )
    format_version = draw(st.sampled_from([1, 2]))
    if format_version == 1:
        signature = {
            "inputs": [{"name": f, "dtype": "float64"} for f in features],
            "outputs": [{"name": "y", "dtype": "int64"}],
        }
    else:
        signature = {
            "inputs": [
                {
                    "name": f,
                    "type": draw(st.sampled_from(["float", "int", "string", "bool", "datetime"])),
                    "nullable": draw(st.booleans()),
                }
                for f in dict.fromkeys(features)
            ],
            "outputs": [{"name": "y", "type": "int"}],
            "model_input": draw(st.sampled_from(["array", "dataframe"])),
        }
    return {
        "format_version": format_version,
        "name": draw(NAMES),
        "version": draw(VERSIONS),
        "flavor": draw(st.sampled_from(["sklearn", "onnx", "python"])),
        "model_file": "model.bin",
        "signature": signature,
        "input_example": {"inputs": rows, "expected_output": [0] * len(rows)},
        "files": {"model.bin": draw(DIGESTS)},
        "lineage": {
            "code": {
                "repository": draw(st.text(min_size=1, max_size=30)),
                "commit": draw(DIGESTS)[:40],
                "dirty": draw(st.booleans()),
            },
            "datasets": [
                {
                    "role": "train",
                    "uri": "s3://b/k.csv",
                    "sha256": draw(DIGESTS),
                    "rows": draw(st.integers(0, 10**9)),
                }
            ],
            "params": draw(
                st.dictionaries(
                    st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                    st.integers() | st.text(max_size=10),
                    max_size=4,
                )
            ),
            "metrics": draw(
                st.dictionaries(
                    st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                    st.floats(allow_nan=False, allow_infinity=False),
                    max_size=4,
                )
            ),
        },
        "created_at": "2026-11-28T00:00:00+00:00",
    }


@given(manifests())
def test_valid_manifests_round_trip(data):
    manifest = parse_manifest(json.dumps(data))
    assert parse_manifest(manifest.model_dump_json()) == manifest


@given(manifests(), st.from_regex(r"[a-z_]{1,15}", fullmatch=True))
def test_any_unknown_top_level_field_is_refused(data, field):
    if field in Manifest.model_fields:
        return
    data[field] = 1
    try:
        parse_manifest(json.dumps(data))
    except InvalidManifestError as error:
        assert f"{field}: unknown field" in str(error)
    else:
        raise AssertionError(f"{field} was accepted")


PARTS = st.sampled_from(["a", "b", "..", ".", "", "model.skops", "dir"])
MEMBER_NAMES = st.builds(
    lambda absolute, parts: ("/" if absolute else "") + "/".join(parts),
    st.booleans(),
    st.lists(PARTS, min_size=1, max_size=4),
)
MEMBERS = st.lists(
    st.tuples(
        MEMBER_NAMES,
        st.sampled_from(
            [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE]
        ),
        st.binary(max_size=64),
        MEMBER_NAMES,
    ),
    min_size=1,
    max_size=6,
)


def archive_of(members: list, path: Path) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, data, target in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


def files_under(root: Path) -> set[str]:
    return {str(Path(dirpath, f)) for dirpath, _, files in os.walk(root) for f in files}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(MEMBERS)
def test_no_archive_writes_outside_its_folder(tmp_path, members):
    # hypothesis may run the same example twice: every run gets folders of its own
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    dest = case / "out" / "bundle"
    archive = archive_of(members, Path(tempfile.mkdtemp(dir=tmp_path)) / "bundle.tar.gz")
    try:
        written = safe_extract(archive, dest)
    except (UnsafeArchiveError, CorruptBundleError):
        written = []
    outside = files_under(case) - files_under(dest)
    assert outside == set()
    for path in written:
        target = (dest / path).resolve()
        assert dest.resolve() in target.parents and target.is_file() and not target.is_symlink()
