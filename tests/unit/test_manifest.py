"""The manifest contract: valid bundles parse, every schema problem is named."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from model_runtime.exceptions import InvalidManifestError
from model_runtime.manifest import Manifest, parse_manifest


def manifest_dict(iris_bundle: tuple[Path, Manifest]) -> dict:
    return json.loads(iris_bundle[1].model_dump_json())


def test_manifest_of_a_built_bundle_round_trips(iris_bundle):
    # GIVEN the manifest inside a freshly built bundle
    path, manifest = iris_bundle
    with tarfile.open(path) as tar:
        raw = tar.extractfile("manifest.json").read()
    # WHEN it is parsed
    parsed = parse_manifest(raw)
    # THEN it equals what the builder wrote, with lineage and the example's real output
    assert parsed == manifest
    assert parsed.lineage.datasets[0].role == "train"
    assert len(parsed.input_example.expected_output) == len(parsed.input_example.inputs)


def test_unknown_field_is_an_error_naming_the_field(iris_bundle):
    data = manifest_dict(iris_bundle)
    data["lineage"]["code"]["branch"] = "main"
    with pytest.raises(InvalidManifestError, match=r"lineage\.code\.branch: unknown field"):
        parse_manifest(json.dumps(data))


def test_every_problem_is_reported_at_once(iris_bundle):
    data = manifest_dict(iris_bundle)
    data["name"] = "Not A Name"
    data["flavor"] = "pickle"
    del data["lineage"]["code"]["commit"]
    with pytest.raises(InvalidManifestError) as raised:
        parse_manifest(json.dumps(data))
    message = str(raised.value)
    assert "3 problem(s)" in message
    assert "name:" in message and "flavor:" in message and "lineage.code.commit" in message


def test_model_file_must_be_listed_in_files(iris_bundle):
    data = manifest_dict(iris_bundle)
    data["model_file"] = "other.skops"
    with pytest.raises(InvalidManifestError, match=re.escape("other.skops")):
        parse_manifest(json.dumps(data))


def test_malformed_dataset_digest_is_refused(iris_bundle):
    data = manifest_dict(iris_bundle)
    data["lineage"]["datasets"][0]["sha256"] = "abc"
    with pytest.raises(InvalidManifestError, match="sha256"):
        parse_manifest(json.dumps(data))


def test_not_json_is_a_clear_error():
    with pytest.raises(InvalidManifestError, match="not valid JSON"):
        parse_manifest(b"{nope")
