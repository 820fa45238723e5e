"""The manifest contract: valid bundles parse, every schema problem is named."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from model_runtime.exceptions import InvalidManifestError
from model_runtime.manifest import MAX_DATASETS, MAX_MANIFEST_BYTES, Manifest, parse_manifest


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


def test_a_manifest_beyond_the_size_limit_is_refused_before_parsing(iris_bundle):
    # GIVEN a manifest carrying 300 KB of parameters (it would not fit a registry item)
    data = manifest_dict(iris_bundle)
    data["lineage"]["params"]["padding"] = "x" * 300_000
    # THEN it is refused by its size, with the limit named
    with pytest.raises(InvalidManifestError, match=f"the limit is {MAX_MANIFEST_BYTES}"):
        parse_manifest(json.dumps(data))


def test_a_deeply_nested_manifest_is_a_manifest_error_not_a_recursion_error():
    with pytest.raises(InvalidManifestError, match="nest too deeply"):
        parse_manifest("[" * 100_000 + "]" * 100_000)


def test_a_key_given_twice_is_refused_rather_than_one_of_them_chosen(iris_bundle):
    # GIVEN a manifest whose "evaluation" appears twice: a viewer may show the first, json the last
    text = json.dumps(manifest_dict(iris_bundle))
    text = text[:-1] + ', "evaluation": {"metric": "accuracy", "threshold": 0.0}}'
    with pytest.raises(InvalidManifestError, match="'evaluation' appears twice"):
        parse_manifest(text)


def test_more_datasets_than_one_registry_transaction_holds_are_refused(iris_bundle):
    data = manifest_dict(iris_bundle)
    data["lineage"]["datasets"] = data["lineage"]["datasets"][:1] * (MAX_DATASETS + 1)
    with pytest.raises(InvalidManifestError, match=r"lineage\.datasets"):
        parse_manifest(json.dumps(data))


def _format_1_manifest() -> dict:
    path = Path(__file__).parents[1] / "data" / "iris-format1.tar.gz"
    with tarfile.open(path) as tar:
        return json.loads(tar.extractfile("manifest.json").read())


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda m: m["signature"]["inputs"].__setitem__(
                0, {"name": "sepal_length", "type": "float", "nullable": True, "dtype": "float64"}
            ),
            "signature.inputs.sepal_length: nullable columns need format_version 2",
        ),
        (
            lambda m: m["signature"]["inputs"].__setitem__(
                0, {"name": "g", "type": "category", "dtype": "category", "categories": ["a"]}
            ),
            "signature.inputs.g: format 1 has dtypes float64, float32, int64, int32, bool, string "
            "only, not type 'category' with dtype 'category'; signature.inputs.g: categories need",
        ),
        (
            lambda m: m["signature"]["inputs"].__setitem__(
                0, {"name": "t", "type": "datetime", "dtype": "datetime64[ns]"}
            ),
            "not type 'datetime' with dtype 'datetime64[ns]'",
        ),
        (
            lambda m: m["signature"].__setitem__("model_input", "dataframe"),
            "signature.model_input 'dataframe' needs format_version 2",
        ),
        (lambda m: m.__setitem__("flavor", "xgboost"), "flavor 'xgboost' needs format_version 2"),
    ],
)
def test_a_format_1_manifest_may_not_use_format_2_features(change, problem):
    # GIVEN the manifest of a real format 1 bundle, which parses
    manifest = _format_1_manifest()
    legacy = parse_manifest(json.dumps(manifest))
    # AND, read and written again (as the registry keeps it), still parses
    assert parse_manifest(legacy.model_dump_json()) == legacy
    # WHEN it is given a feature only format 2 has
    change(manifest)
    # THEN it is refused, naming the feature and the format it needs
    with pytest.raises(InvalidManifestError, match="format_version 1: ") as raised:
        parse_manifest(json.dumps(manifest))
    assert problem in str(raised.value)
