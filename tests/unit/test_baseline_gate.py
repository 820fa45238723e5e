"""The monitoring baseline through the gate: Validate reads and bounds it (a bad one rejects
the bundle, naming the file), Register puts its summary on the version item; bundles
packaged before monitoring pass without one."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
from pathlib import Path

import pytest

from model_runtime.bundle import open_bundle
from model_runtime.exceptions import InvalidBaselineError
from model_runtime.manifest import MANIFEST_FILE
from model_runtime.monitoring.baseline import BASELINE_FILE, MAX_BASELINE_BYTES
from model_runtime.packaging import write_bundle
from registry import workflow as steps
from registry.statuses import VersionStatus
from tests.unit.gate import failed, outcomes, registered, run, uploaded


def rebuilt(source: Path, out: Path, baseline: bytes | None) -> Path:
    """``source`` with its baseline replaced (``None``: removed), manifest digests updated,
    as a hostile or an older packager would write it."""
    opened = open_bundle(source, out.parent / f"{out.stem}-opened")
    files = {path: (opened.root / path).read_bytes() for path in opened.manifest.files}
    files.pop(BASELINE_FILE)
    if baseline is not None:
        files[BASELINE_FILE] = baseline
    digests = {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}
    write_bundle(out, opened.manifest.model_copy(update={"files": digests}), files)
    return out


def test_register_puts_the_baseline_summary_on_the_version(gate, bundles):
    # GIVEN a bundle packaged with a baseline (every packaged bundle has one)
    opened = open_bundle(bundles["good"], gate.cache_dir / "peek")
    assert BASELINE_FILE in opened.manifest.files
    # WHEN it is validated and registered
    state = registered(gate, bundles["good"], "good")
    # THEN the state carries ids and digests only, and the version item the summary
    assert "baseline" not in json.dumps(state.dump())
    item = gate.repository.get_version("iris", "good")
    assert item["baseline"] == {
        "file": BASELINE_FILE,
        "sha256": opened.manifest.files[BASELINE_FILE],
        "rows": 120,
        "columns": 4,
        "outputs": 1,
    }


def test_a_bundle_without_a_baseline_still_validates_and_registers(gate, bundles, tmp_path):
    older = rebuilt(bundles["good"], tmp_path / "older.tar.gz", None)
    run(steps.REGISTER, run(steps.VALIDATE, uploaded(gate, older, "good")))
    item = gate.repository.get_version("iris", "good")
    assert item["status"] == VersionStatus.REGISTERED
    assert "baseline" not in item


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        (b"{not json", r"monitoring/baseline\.json: not valid JSON"),
        (
            json.dumps({"format": 1, "rows": 5, "columns": {"x": {"kind": "numeric"}}}).encode(),
            r"monitoring/baseline\.json has 1 problem\(s\): columns\.x\.numeric\.missing_rate",
        ),
        (
            json.dumps(
                {
                    "format": 1,
                    "rows": 5,
                    "columns": {"ssn": {"kind": "datetime", "missing_rate": 0.0}},
                }
            ).encode(),
            r"monitoring/baseline\.json profiles 1 column\(s\) that are not inputs of the "
            r"signature: 'ssn'",
        ),
        # incompressible: a bundle of spaces would be refused for its compression ratio first
        (
            random.Random(0).randbytes(MAX_BASELINE_BYTES + 1),
            r"monitoring/baseline\.json has \d+ bytes; the limit",
        ),
    ],
    ids=["not-json", "schema", "unknown-column", "oversized"],
)
def test_a_malformed_baseline_rejects_the_bundle_naming_the_file(
    gate, bundles, tmp_path, baseline, message
):
    hostile = rebuilt(bundles["good"], tmp_path / "hostile.tar.gz", baseline)
    state = uploaded(gate, hostile, "good")
    with pytest.raises(InvalidBaselineError, match=message) as error:
        run(steps.VALIDATE, state)
    # AND RecordFailure files it as the gate's verdict on those bytes
    run(steps.RECORD_FAILURE, failed(state, "InvalidBaselineError", str(error.value)))
    assert outcomes(gate.repository, "iris", "good")[-1] == ("reject", "rejected")


def test_the_baseline_is_checked_before_the_model_loads(gate, bundles, tmp_path):
    # a baseline problem and a model that cannot load: the baseline is named
    hostile = rebuilt(bundles["good"], tmp_path / "hostile.tar.gz", b"[]")
    opened = open_bundle(hostile, tmp_path / "h")
    files = {p: (opened.root / p).read_bytes() for p in opened.manifest.files}
    files[opened.manifest.model_file] = b"not a model"
    digests = {p: hashlib.sha256(d).hexdigest() for p, d in files.items()}
    broken = tmp_path / "broken.tar.gz"
    write_bundle(broken, opened.manifest.model_copy(update={"files": digests}), files)
    with pytest.raises(InvalidBaselineError):
        run(steps.VALIDATE, uploaded(gate, broken, "good"))


def _members(path: Path) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(path.read_bytes())) as tar:
        return tar.getnames()


def test_rebuilt_bundles_differ_only_in_the_baseline(bundles, tmp_path):
    older = rebuilt(bundles["good"], tmp_path / "older.tar.gz", None)
    assert BASELINE_FILE in _members(bundles["good"])
    assert set(_members(bundles["good"])) - set(_members(older)) == {BASELINE_FILE}
    assert MANIFEST_FILE in _members(older)
