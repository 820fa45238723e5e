"""S3 datasets read once and recorded by object version and ETag: by fetch_dataset, by
package_model, against moto's S3 (versioned buckets, and one that is not)."""

from __future__ import annotations

import hashlib
import json
import warnings

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws
from sklearn.linear_model import LogisticRegression

from model_runtime.bundle import open_bundle
from model_runtime.exceptions import DatasetSourceError, InvalidManifestError
from model_runtime.manifest import DatasetRef, parse_manifest
from model_runtime.s3_datasets import fetch_dataset
from registry.lineage_audit import LineagePolicy, s3_version_of, shortfalls
from slipway import package_model

BUCKET = "acme-data"


def frame(seed: int, rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    return pd.DataFrame({"x": x, "z": rng.normal(size=rows), "label": (x > 0).astype(int)})


def csv_bytes(data: pd.DataFrame) -> bytes:
    return data.to_csv(index=False).encode()


class CountingS3:
    """A real boto3 client on moto, counting GetObject calls (botocore's own event hook)."""

    def __init__(self) -> None:
        self.client = boto3.client("s3", region_name="us-east-1")
        self.get_objects: list[dict] = []
        self.client.meta.events.register("before-parameter-build.s3.GetObject", self._count)

    def _count(self, params: dict, **_: object) -> None:
        self.get_objects.append(params)


@pytest.fixture
def s3():
    with mock_aws():
        counting = CountingS3()
        counting.client.create_bucket(Bucket=BUCKET)
        counting.client.put_bucket_versioning(
            Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
        )
        yield counting


def put(s3: CountingS3, key: str, body: bytes, bucket: str = BUCKET) -> dict:
    return s3.client.put_object(Bucket=bucket, Key=key, Body=body)


def test_a_dataset_is_read_once_and_recorded_by_its_version_and_etag(s3, tmp_path):
    # GIVEN a CSV in a versioned bucket
    body = csv_bytes(frame(0))
    written = put(s3, "churn/train.csv", body)
    # WHEN it is fetched by its key alone
    fetched = fetch_dataset(
        f"s3://{BUCKET}/churn/train.csv", s3_client=s3.client, directory=tmp_path
    )
    # THEN one GetObject read it, and the record names the version S3 served, with its ETag
    assert len(s3.get_objects) == 1
    assert fetched.path.read_bytes() == body
    assert fetched.path.parent == tmp_path
    ref = fetched.ref
    assert ref.uri == f"s3://{BUCKET}/churn/train.csv?versionId={written['VersionId']}"
    assert ref.etag == written["ETag"].strip('"')
    assert ref.sha256 == hashlib.sha256(body).hexdigest()
    assert ref.rows == 60 and ref.role == "train"
    assert shortfalls({"datasets": [ref.model_dump()]}, LineagePolicy(durable_datasets=True)) == []


def test_an_overwrite_after_the_fetch_changes_nothing_recorded(s3, tmp_path):
    # GIVEN a dataset fetched, then its key overwritten with other rows
    first = csv_bytes(frame(0))
    put(s3, "train.csv", first)
    fetched = fetch_dataset(f"s3://{BUCKET}/train.csv", s3_client=s3.client, directory=tmp_path)
    put(s3, "train.csv", csv_bytes(frame(1, rows=10)))
    # WHEN the recorded URI is read again
    again = fetch_dataset(fetched.ref.uri, s3_client=s3.client, directory=tmp_path / "again")
    # THEN it still gives the bytes that were recorded; the key alone now gives others
    assert again.ref == fetched.ref
    assert again.path.read_bytes() == first
    assert s3.get_objects[-1]["VersionId"] == s3_version_of(fetched.ref.uri)[2]
    newest = fetch_dataset(
        f"s3://{BUCKET}/train.csv", s3_client=s3.client, directory=tmp_path / "n"
    )
    assert newest.ref.uri != fetched.ref.uri and newest.ref.rows == 10


def test_package_model_reads_each_s3_dataset_once_and_records_it(s3, tmp_path):
    # GIVEN training and evaluation data in S3
    train, evaluation = frame(0), frame(1)
    put(s3, "train.csv", csv_bytes(train))
    put(s3, "eval.csv", csv_bytes(evaluation))
    model = LogisticRegression().fit(train[["x", "z"]], train["label"])
    # WHEN the model is packaged from their S3 URIs
    manifest = package_model(
        model,
        name="churn",
        version="1",
        train=f"s3://{BUCKET}/train.csv",
        evaluation=f"s3://{BUCKET}/eval.csv",
        target="label",
        metric="accuracy",
        threshold=0.5,
        out=tmp_path / "bundle.tar.gz",
        s3_client=s3.client,
    )
    # THEN each object was read exactly once, and the bundle's lineage names its version
    assert sorted(call["Key"] for call in s3.get_objects) == ["eval.csv", "train.csv"]
    datasets = {d.role: d for d in manifest.lineage.datasets}
    assert datasets["train"].uri.startswith(f"s3://{BUCKET}/train.csv?versionId=")
    assert datasets["evaluation"].etag
    assert datasets["train"].rows == 60
    opened = open_bundle(tmp_path / "bundle.tar.gz", tmp_path / "opened")
    assert opened.manifest.lineage.datasets == manifest.lineage.datasets
    # the bundled evaluation data is the bytes the lineage names
    shipped = hashlib.sha256((opened.root / "data/evaluation.csv").read_bytes()).hexdigest()
    assert shipped == datasets["evaluation"].sha256
    lineage = json.loads(manifest.model_dump_json())["lineage"]
    assert shortfalls(lineage, LineagePolicy(durable_datasets=True)) == []


def test_a_dataset_fetched_for_training_is_not_read_again_by_package_model(s3, tmp_path):
    # GIVEN a dataset the training script fetched and trained on
    put(s3, "train.csv", csv_bytes(frame(0)))
    train = fetch_dataset(f"s3://{BUCKET}/train.csv", s3_client=s3.client, directory=tmp_path)
    data = pd.read_csv(train.path)
    model = LogisticRegression().fit(data[["x", "z"]], data["label"])
    # WHEN it is handed to package_model
    manifest = package_model(
        model,
        name="churn",
        version="1",
        train=train,
        target="label",
        out=tmp_path / "bundle.tar.gz",
        s3_client=s3.client,
    )
    # THEN S3 was read once in all, and the record is the fetch's
    assert len(s3.get_objects) == 1
    assert manifest.lineage.datasets == [train.ref]


def test_a_fetched_file_changed_before_packaging_is_refused(s3, tmp_path):
    put(s3, "train.csv", csv_bytes(frame(0)))
    train = fetch_dataset(f"s3://{BUCKET}/train.csv", s3_client=s3.client, directory=tmp_path)
    data = pd.read_csv(train.path)
    model = LogisticRegression().fit(data[["x", "z"]], data["label"])
    data.head(5).to_csv(train.path, index=False)  # cleaned in place after the fetch
    with pytest.raises(ValueError, match=r"is not what was fetched from s3://acme-data/train\.csv"):
        package_model(
            model, name="churn", version="1", train=train, target="label", out=tmp_path / "b.tar.gz"
        )


def test_an_unversioned_bucket_is_recorded_as_null_which_the_durable_policy_refuses(s3, tmp_path):
    # GIVEN a bucket that never had versioning
    s3.client.create_bucket(Bucket="scratch-data")
    put(s3, "train.csv", csv_bytes(frame(0)), bucket="scratch-data")
    # WHEN a dataset is fetched from it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fetched = fetch_dataset(
            "s3://scratch-data/train.csv", s3_client=s3.client, directory=tmp_path
        )
    # THEN it is recorded with the null version, the user is told, and the policy refuses it
    assert fetched.ref.uri == "s3://scratch-data/train.csv?versionId=null"
    assert any("not versioned" in str(w.message) for w in caught)
    (reason,) = shortfalls(
        {"datasets": [fetched.ref.model_dump()]}, LineagePolicy(durable_datasets=True)
    )
    assert 'its version id is "null"' in reason


def test_an_object_over_the_size_limit_is_refused_before_its_body_is_read(s3, tmp_path):
    body = csv_bytes(frame(0, rows=500))
    put(s3, "big.csv", body)
    with pytest.raises(DatasetSourceError, match=f"has {len(body)} bytes; the limit is 1000"):
        fetch_dataset(
            f"s3://{BUCKET}/big.csv", s3_client=s3.client, directory=tmp_path, max_bytes=1000
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://acme-data/missing.csv", "NoSuchKey"),
        ("s3://no-such-bucket-here/train.csv", "NoSuchBucket"),
        (
            "s3://acme-data/train.csv?versionId=not-a-version",
            "cannot read s3://acme-data/train.csv",
        ),
        ("s3://acme-data/train.csv?versionId=", "versionId is empty"),
        ("file:///tmp/train.csv", "is not an S3 object URI"),
        ("s3://acme-data/train.csv?versionId=a&x=1", "is not an S3 object URI"),
    ],
)
def test_what_cannot_be_read_gets_a_clear_error(s3, tmp_path, uri, expected):
    put(s3, "train.csv", csv_bytes(frame(0)))
    with pytest.raises(DatasetSourceError, match=expected.replace("?", r"\?")):
        fetch_dataset(uri, s3_client=s3.client, directory=tmp_path)


def test_a_key_never_chooses_where_the_file_lands(s3, tmp_path):
    put(s3, "a/../../../escape.csv", csv_bytes(frame(0)))
    put(s3, "b/..", csv_bytes(frame(0)))
    inside = tmp_path / "inside"
    first = fetch_dataset(
        f"s3://{BUCKET}/a/../../../escape.csv", s3_client=s3.client, directory=inside
    )
    second = fetch_dataset(f"s3://{BUCKET}/b/..", s3_client=s3.client, directory=inside)
    assert first.path == inside / "escape.csv"
    assert second.path == inside / "dataset.csv"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["dataset.csv", "escape.csv", "inside"]


def test_two_keys_with_one_last_part_never_overwrite_each_other(s3, tmp_path):
    # GIVEN train/data.csv and eval/data.csv, fetched into one directory
    put(s3, "train/data.csv", csv_bytes(frame(0)))
    put(s3, "eval/data.csv", csv_bytes(frame(1)))
    train = fetch_dataset(f"s3://{BUCKET}/train/data.csv", s3_client=s3.client, directory=tmp_path)
    evaluation = fetch_dataset(
        f"s3://{BUCKET}/eval/data.csv", role="evaluation", s3_client=s3.client, directory=tmp_path
    )
    # THEN each file holds the bytes its record names: training reads the training set
    assert train.path != evaluation.path
    assert train.path.read_bytes() == csv_bytes(frame(0))
    assert evaluation.path.read_bytes() == csv_bytes(frame(1))
    assert hashlib.sha256(train.path.read_bytes()).hexdigest() == train.ref.sha256
    # AND fetching the same object again (a script run twice) lands where it did
    again = fetch_dataset(f"s3://{BUCKET}/train/data.csv", s3_client=s3.client, directory=tmp_path)
    assert again.path == train.path


def test_an_empty_object_is_refused_by_name_before_anything_is_written(s3, tmp_path):
    put(s3, "empty.csv", b"")
    with pytest.raises(DatasetSourceError, match=r"s3://acme-data/empty\.csv is empty"):
        fetch_dataset(f"s3://{BUCKET}/empty.csv", s3_client=s3.client, directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_key_of_long_unicode_gets_a_file_name_the_file_system_takes(s3, tmp_path):
    key = "é" * 150 + ".csv"  # 150 characters, 304 bytes in UTF-8: Linux takes 255
    put(s3, key, csv_bytes(frame(0)))
    fetched = fetch_dataset(f"s3://{BUCKET}/{key}", s3_client=s3.client, directory=tmp_path)
    assert fetched.path.read_bytes() == csv_bytes(frame(0))
    assert fetched.path.suffix == ".csv" and len(fetched.path.name.encode()) <= 200
    assert s3_version_of(fetched.ref.uri)[1] == key  # the record names the whole key


# --- the manifest's etag ---------------------------------------------------------------------


def test_a_dataset_without_an_etag_is_written_as_before() -> None:
    ref = DatasetRef(role="train", uri="file:///x.csv", sha256="a" * 64, rows=1)
    assert json.loads(ref.model_dump_json()) == {
        "role": "train",
        "uri": "file:///x.csv",
        "sha256": "a" * 64,
        "rows": 1,
    }


@pytest.mark.parametrize("etag", ['"quoted"', "with space", "", "x" * 257, "é"])
def test_an_etag_is_printable_ascii_without_quotes(iris_bundle, etag: str) -> None:
    _, manifest = iris_bundle
    document = json.loads(manifest.model_dump_json())
    document["lineage"]["datasets"][0]["etag"] = etag
    with pytest.raises(InvalidManifestError, match=r"lineage\.datasets\.0\.etag"):
        parse_manifest(json.dumps(document))


def test_manifests_with_and_without_an_etag_read_back(iris_bundle) -> None:
    _, manifest = iris_bundle
    document = json.loads(manifest.model_dump_json())
    assert "etag" not in document["lineage"]["datasets"][0]
    assert parse_manifest(json.dumps(document)) == manifest
    document["lineage"]["datasets"][0]["etag"] = "9b2cf535f27731c974343645a3985328-3"
    read = parse_manifest(json.dumps(document))
    assert read.lineage.datasets[0].etag == "9b2cf535f27731c974343645a3985328-3"
    assert json.loads(read.model_dump_json()) == document


# --- slipway package ---------------------------------------------------------------------------


def test_slipway_package_records_s3_datasets_read_once(s3, tmp_path):
    import skops.io as sio
    from typer.testing import CliRunner

    from slipway.cli import app

    # GIVEN a skops model and its data in S3, and the user's default AWS session
    train = frame(0)
    put(s3, "train.csv", csv_bytes(train))
    written = put(s3, "eval.csv", csv_bytes(frame(1)))
    model_file = tmp_path / "model.skops"
    sio.dump(LogisticRegression().fit(train[["x", "z"]], train["label"]), model_file)
    boto3.setup_default_session()
    reads: list[str] = []
    boto3.DEFAULT_SESSION.events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: reads.append(params["Key"])
    )
    # WHEN `slipway package` is given their S3 URIs
    result = CliRunner().invoke(
        app,
        [
            "package",
            str(model_file),
            "--name",
            "churn",
            "--version",
            "1",
            "--train",
            f"s3://{BUCKET}/train.csv",
            "--evaluation",
            f"s3://{BUCKET}/eval.csv?versionId={written['VersionId']}",
            "--target",
            "label",
            "--threshold",
            "0.5",
            "--out",
            str(tmp_path / "bundle.tar.gz"),
            "--json",
        ],
    )
    # THEN each object was read once and the bundle's lineage names its version and ETag
    assert result.exit_code == 0, result.output
    assert sorted(reads) == ["eval.csv", "train.csv"]
    datasets = json.loads(result.output)["manifest"]["lineage"]["datasets"]
    assert datasets[1]["uri"] == f"s3://{BUCKET}/eval.csv?versionId={written['VersionId']}"
    assert datasets[1]["etag"] == written["ETag"].strip('"')
    assert shortfalls({"datasets": datasets}, LineagePolicy(durable_datasets=True)) == []


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ("missing.csv", "Invalid value for '--train': file 'missing.csv' does not exist"),
        ("s3://acme-data/t.csv?versionId=1&x=2", "use s3://bucket/key, optionally ?versionId"),
        ("s3://Not_A_Bucket/t.csv", "use s3://bucket/key"),
    ],
)
def test_slipway_package_refuses_a_dataset_it_cannot_name_before_reading_anything(
    tmp_path, train, message
):
    from typer.testing import CliRunner

    from slipway.cli import app

    (tmp_path / "m.skops").write_bytes(b"never read")
    args = ["package", str(tmp_path / "m.skops"), "--name", "m", "--version", "1"]
    result = CliRunner().invoke(app, [*args, "--train", train, "--target", "y"])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_slipway_package_reports_an_s3_object_it_cannot_read(s3, tmp_path):
    from typer.testing import CliRunner

    from slipway.cli import app

    (tmp_path / "m.skops").write_bytes(b"never read")
    args = ["package", str(tmp_path / "m.skops"), "--name", "m", "--version", "1"]
    result = CliRunner().invoke(app, [*args, "--train", f"s3://{BUCKET}/none.csv", "--target", "y"])
    assert result.exit_code == 1
    assert "cannot read s3://acme-data/none.csv: NoSuchKey" in result.output
