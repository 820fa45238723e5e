"""A format 1 bundle built before typed columns (tests/data/iris-format1.tar.gz) still
passes the Validate job's checks, loads, and is served through the endpoint's handler."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from model_runtime.bundle import open_bundle
from model_runtime.extraction import sha256_file
from model_runtime.jobs.validate import validate_upload
from model_runtime.model import check_input_example, load_model
from model_runtime.model_store import ModelStore
from model_runtime.sandboxed_model import DeployedSandbox
from model_runtime.serving.handler import app
from registry.repository import LineageRepository, UploadedBundle
from registry.statuses import ServingRole
from registry.workflow_state import PromotionState
from tests.conftest import create_lineage_table, load_event
from tests.serving.test_handler import call, function_url_event

FORMAT_1_BUNDLE = Path(__file__).parents[1] / "data" / "iris-format1.tar.gz"
KEY = "models/iris-legacy/1/bundle.tar.gz"


@pytest.fixture
def uploaded_format_1(tmp_path):
    """moto S3 holding the committed format 1 bundle at its upload key."""
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="artifacts")
        s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
        put = s3.put_object(Bucket="artifacts", Key=KEY, Body=FORMAT_1_BUNDLE.read_bytes())
        yield s3, put["VersionId"]


def test_a_format_1_bundle_opens_loads_and_reproduces_its_input_example(tmp_path):
    # GIVEN the committed format 1 bundle
    bundle = open_bundle(FORMAT_1_BUNDLE, tmp_path / "opened")
    # WHEN it is opened and loaded by today's runtime
    assert bundle.manifest.format_version == 1
    model = load_model(bundle)
    # THEN its features read as float columns of an array model, and its example reproduces
    assert [c.type for c in model.signature.inputs] == ["float"] * 4
    assert model.signature.model_input == "array"
    assert check_input_example(model, bundle) == [1, 0, 0]


def test_a_format_1_bundle_passes_the_validate_job(uploaded_format_1):
    # GIVEN the format 1 bundle uploaded at its key
    s3, version_id = uploaded_format_1
    state = copy.deepcopy(load_event("promotion_state_start.json"))
    state.update(
        bucket="artifacts",
        key=KEY,
        version_id=version_id,
        size=FORMAT_1_BUNDLE.stat().st_size,
        execution_name="iris-legacy-1-format1",
    )
    # WHEN the Validate job checks it
    repository = LineageRepository(create_lineage_table())
    # (a scikit-learn bundle: the python sandbox is never called)
    validated = validate_upload(s3, repository, PromotionState.parse(state), DeployedSandbox())
    # THEN it is a valid bundle with its digest, its manifest kept for Register
    assert (validated.name, validated.version) == ("iris-legacy", "1")
    assert validated.digest == sha256_file(FORMAT_1_BUNDLE)
    kept = repository.validated_manifest("iris-legacy", "1", validated.digest)
    assert kept["format_version"] == 1


def test_a_live_format_1_bundle_is_served_through_the_function_url_handler(
    uploaded_format_1, tmp_path
):
    # GIVEN the format 1 bundle registered and live
    s3, version_id = uploaded_format_1
    bundle = open_bundle(FORMAT_1_BUNDLE, tmp_path / "opened")
    repository = LineageRepository(create_lineage_table())
    uploaded = UploadedBundle(
        "artifacts", KEY, version_id, sha256_file(FORMAT_1_BUNDLE), FORMAT_1_BUNDLE.stat().st_size
    )
    repository.register_version(json.loads(bundle.manifest.model_dump_json()), uploaded, "exec-1")
    repository.promote("iris-legacy", "1", "exec-1")
    app.state.model_store = ModelStore(
        repository,
        s3,
        tmp_path / "cache",
        pointer_ttl_seconds=0,
        model_cache_bytes=10**9,
        role=ServingRole.LIVE,
    )
    try:
        # WHEN its input example arrives as a Function URL request, and then a bad row
        example = bundle.manifest.input_example
        body = json.dumps({"inputs": example.inputs})
        status, headers, answer = call(function_url_event("/v1/models/iris-legacy/predict", body))
        bad = json.dumps({"inputs": [[6.1, "wide", 4.0, 1.3]]})
        refused, _, problem = call(function_url_event("/v1/models/iris-legacy/predict", bad))
    finally:
        app.state.model_store = None
    # THEN the live model answers its recorded expected output, and names the bad value
    assert status == 200 and headers["x-model-version"] == "1"
    assert answer["outputs"] == example.expected_output
    assert (answer["model"], answer["version"]) == ("iris-legacy", "1")
    assert refused == 422
    assert problem["detail"] == (
        "inputs[0].sepal_width: expected a number, received a string ('wide')"
    )
