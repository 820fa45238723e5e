"""`slipway promote` fetches the exact registered object version, streamed and hashed as it
arrives, bounded by the recorded size, and refuses other bytes before anything moves on."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra.config import load_environment
from slipway.errors import CliError
from slipway.promote_across import RegisteredBundle, download_verified
from slipway.target import Target, read_environments

BUCKET, KEY = "source-models", "models/iris/1/bundle.tar.gz"


@pytest.fixture
def source():
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        target = Target(load_environment(read_environments(), "dev"))
        target._clients["s3"] = s3
        yield target


def _put(source: Target, body: bytes) -> str:
    return str(source.client("s3").put_object(Bucket=BUCKET, Key=KEY, Body=body)["VersionId"])


def _registered(version_id: str, body: bytes) -> RegisteredBundle:
    return RegisteredBundle(BUCKET, KEY, version_id, hashlib.sha256(body).hexdigest(), len(body))


def test_the_registered_object_version_is_fetched_even_after_a_newer_upload(source, tmp_path):
    # GIVEN the registered bytes, then other bytes written over the same key
    registered = b"registered bundle bytes" * 1000
    bundle = _registered(_put(source, registered), registered)
    _put(source, b"a later upload under the same key")
    # WHEN the registered version is downloaded
    out = tmp_path / "bundle.tar.gz"
    download_verified(source, bundle, out, "iris 1 in dev")
    # THEN the file holds exactly the registered bytes
    assert out.read_bytes() == registered


def test_bytes_that_differ_from_the_recorded_digest_are_refused(source, tmp_path):
    body = b"the bytes in the bucket"
    version_id = _put(source, body)
    recorded = RegisteredBundle(BUCKET, KEY, version_id, "0" * 64, len(body))
    with pytest.raises(CliError, match=r"have sha256 [0-9a-f]{64}, its registry recorded 0{64}"):
        download_verified(source, recorded, tmp_path / "b.tar.gz", "iris 1 in dev")


def test_an_object_of_another_size_than_recorded_is_refused_before_reading(source, tmp_path):
    body = b"x" * 100
    recorded = _registered(_put(source, body), body)
    smaller = RegisteredBundle(BUCKET, KEY, recorded.s3_version_id, recorded.digest, 10)
    out = tmp_path / "b.tar.gz"
    with pytest.raises(CliError, match="holds 100 bytes, the registry of dev recorded 10"):
        download_verified(source, smaller, out, "iris 1 in dev")
    assert not out.exists()


def test_a_size_over_what_any_environment_extracts_is_refused_without_a_request(
    source, tmp_path: Path
):
    from slipway.promote_across import MAX_BUNDLE_BYTES

    huge = RegisteredBundle(BUCKET, KEY, "v", "0" * 64, MAX_BUNDLE_BYTES + 1)
    with pytest.raises(CliError, match="no environment takes a bundle over"):
        download_verified(source, huge, tmp_path / "b.tar.gz", "iris 1 in dev")


@pytest.mark.parametrize("gone", ["the object version", "the bucket"])
def test_registered_bytes_that_are_gone_from_the_source_are_named_not_a_traceback(
    source, tmp_path, gone
):
    # GIVEN the registered object version deleted from the source bucket (or the bucket)
    body = b"registered bytes"
    bundle = _registered(_put(source, body), body)
    s3 = source.client("s3")
    s3.delete_object(Bucket=BUCKET, Key=KEY, VersionId=bundle.s3_version_id)
    if gone == "the bucket":
        s3.delete_bucket(Bucket=BUCKET)
    # WHEN it is promoted THEN the error names what cannot be read, and why
    out = tmp_path / "b.tar.gz"
    with pytest.raises(CliError, match=rf"cannot read s3://{BUCKET}/{KEY} version .*NoSuch"):
        download_verified(source, bundle, out, "iris 1 in dev")
    assert not out.exists()


def _targets() -> tuple[Target, Target]:
    environments = read_environments()
    return (
        Target(load_environment(environments, "local")),
        Target(load_environment(environments, "local-prod")),
    )


def test_a_statement_of_another_version_or_other_bytes_moves_nothing():
    from slipway.promote_across import _check_statement

    digest = "a" * 64
    statement = {"model": "iris", "version": "1", "bundle_sha256": digest}
    _check_statement({"statement": statement}, "iris", "1", digest, "iris 1 in local")
    with pytest.raises(CliError, match="speaks of iris 2"):
        _check_statement(
            {"statement": {**statement, "version": "2"}}, "iris", "1", digest, "iris 1 in local"
        )
    with pytest.raises(CliError, match=f"is for sha256 {'b' * 64}, its registry recorded"):
        _check_statement(
            {"statement": {**statement, "bundle_sha256": "b" * 64}}, "iris", "1", digest, "here"
        )
    with pytest.raises(CliError, match="answered no attestation statement"):
        _check_statement({"detail": "nothing"}, "iris", "1", digest, "here")


def test_a_version_the_target_holds_is_not_uploaded_again_and_other_bytes_are_refused():
    from slipway.promote_across import REGISTERED_ALREADY, _already_held

    source, target = _targets()
    held = {
        "status": "live",
        "execution": "iris-1-abc",
        "bundle": {
            "bucket": "b",
            "key": "models/iris/1/bundle.tar.gz",
            "s3_version_id": "v",
            "digest": "a" * 64,
            "size": 10,
        },
    }
    again = _already_held(held, source, target, "iris", "1", "a" * 64)
    assert (again.outcome, again.target_status, again.execution) == (
        REGISTERED_ALREADY,
        "live",
        "iris-1-abc",
    )
    with pytest.raises(CliError, match=r"registered in local-prod with sha256 a{64}, not b{64}"):
        _already_held(held, source, target, "iris", "1", "b" * 64)


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        ("rejected", "package the model as a new version"),
        ("cancelled", "package the model as a new version"),
        ("failed", "slipway retry iris 1 --env local-prod"),
    ],
)
def test_a_version_that_ended_in_the_target_is_an_error_not_a_quiet_success(status, advice):
    # GIVEN the target holds these bytes, but its gate refused them (or broke down)
    from slipway.promote_across import _already_held

    source, target = _targets()
    held = {
        "status": status,
        "rejection_reason": "EvaluationFailedError: accuracy 0.41 < 0.9",
        "bundle": {
            "bucket": "b",
            "key": "models/iris/1/bundle.tar.gz",
            "s3_version_id": "v",
            "digest": "a" * 64,
            "size": 10,
        },
    }
    # WHEN it is promoted again (a CI job re-run) THEN it fails, saying why and what to do
    with pytest.raises(CliError) as ended:
        _already_held(held, source, target, "iris", "1", "a" * 64)
    message = str(ended.value)
    assert f"was {status} there: EvaluationFailedError: accuracy 0.41 < 0.9" in message
    assert advice in message
