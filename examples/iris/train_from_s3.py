"""Train the iris classifier on data held in a versioned S3 bucket, and package it: the
lineage names each dataset by its S3 object version (``s3://bucket/key?versionId=...``), a
durable address an environment can require (``lineage_policy.durable_datasets``).

    python -m examples.iris.train_from_s3 --bucket BUCKET --upload --out bundle.tar.gz

``--upload`` first writes the shipped CSVs into the bucket (created, with versioning on, if
it is missing). After ``eval "$(slipway local env)"`` the embedded cloud's S3 is used;
otherwise boto3's default credentials and endpoint.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from examples.iris.train import EVALUATION_CSV, TRAIN_CSV, train_and_package
from model_runtime.manifest import Manifest
from model_runtime.s3_datasets import fetch_dataset
from registry.lineage_audit import s3_dataset_uri

TRAIN_KEY = "iris/train.csv"
EVALUATION_KEY = "iris/evaluation.csv"


def s3_client() -> Any:
    """The embedded cloud's S3 where `slipway local env` was evaluated, else boto3's."""
    import boto3

    endpoint = os.environ.get("SLIPWAY_LOCAL_ENDPOINT_URL")
    if not endpoint:
        return boto3.client("s3")
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("SLIPWAY_LOCAL_REGION", "us-east-1"),
        aws_access_key_id=os.environ["SLIPWAY_LOCAL_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["SLIPWAY_LOCAL_SECRET_ACCESS_KEY"],
    )


def upload_datasets(s3: Any, bucket: str) -> tuple[str, str]:
    """Write the shipped CSVs into ``bucket`` (versioned); their URIs at these versions."""
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    uris = []
    for path, key in ((TRAIN_CSV, TRAIN_KEY), (EVALUATION_CSV, EVALUATION_KEY)):
        version = s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())["VersionId"]
        uris.append(s3_dataset_uri(bucket, key, version))
    return uris[0], uris[1]


def train_from_s3(
    out: Path, *, s3: Any, train_uri: str, evaluation_uri: str, name: str, version: str
) -> Manifest:
    """Read each dataset from S3 once (the newest version unless the URI names one), train
    on the copy, and package with the lineage naming the object versions read."""
    with tempfile.TemporaryDirectory(prefix="iris-s3-") as work:
        train = fetch_dataset(train_uri, role="train", directory=work, s3_client=s3)
        evaluation = fetch_dataset(evaluation_uri, role="evaluation", directory=work, s3_client=s3)
        return train_and_package(
            out,
            name=name,
            version=version,
            train_csv=train.path,
            evaluation_csv=evaluation.path,
            recorded=(train, evaluation),
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--upload", action="store_true", help="write the shipped CSVs first")
    parser.add_argument("--out", type=Path, default=Path("out/bundle.tar.gz"))
    parser.add_argument("--name", default="iris")
    parser.add_argument("--version", default="1")
    args = parser.parse_args()
    s3 = s3_client()
    if args.upload:
        train_uri, evaluation_uri = upload_datasets(s3, args.bucket)
        print(f"uploaded {train_uri}\n         {evaluation_uri}")
    else:
        train_uri = f"s3://{args.bucket}/{TRAIN_KEY}"
        evaluation_uri = f"s3://{args.bucket}/{EVALUATION_KEY}"
    manifest = train_from_s3(
        args.out,
        s3=s3,
        train_uri=train_uri,
        evaluation_uri=evaluation_uri,
        name=args.name,
        version=args.version,
    )
    for dataset in manifest.lineage.datasets:
        print(f"  {dataset.role}: {dataset.uri}")
    print(f"wrote {args.out}: {manifest.name} {manifest.version}")


if __name__ == "__main__":
    main()
