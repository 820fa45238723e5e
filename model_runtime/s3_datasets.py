"""Datasets read from S3 once: the local copy to train on, and the lineage that names the
exact object version it came from.

A training job that downloads ``s3://bucket/key`` and then hands Slipway the local file would
record ``file:///tmp/...``: an address nobody else can read, whose bytes nobody can find
again. ``fetch_dataset`` makes one GetObject, records the object version S3 served (the
newest when none is named), its ETag, and the sha256 and row count of the bytes as they are
written to disk; ``package_model`` takes the result (or the ``s3://`` URI itself) without
reading S3 again. Overwriting the key later changes nothing recorded: the version id still
names the bytes that were trained on.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from model_runtime.csv_data import count_csv_rows
from model_runtime.exceptions import DatasetSourceError
from model_runtime.extraction import sha256_file
from model_runtime.manifest import DatasetRef
from registry.lineage_audit import s3_dataset_uri, s3_version_of

# A dataset is read into memory to train and to infer the signature: past this, packaging
# would fail slowly; the caller may raise it (max_bytes=).
MAX_DATASET_BYTES = 2 * 1024**3
_CHUNK = 1024 * 1024
Role = Literal["train", "validation", "test", "evaluation"]


def is_s3_uri(value: Any) -> bool:
    return isinstance(value, str) and value[:5].lower() == "s3://"


@dataclass(frozen=True)
class FetchedDataset:
    """A dataset downloaded once: ``path`` to train on, ``ref`` to record in the lineage."""

    path: Path
    ref: DatasetRef


def fetch_dataset(
    uri: str,
    *,
    role: Role = "train",
    directory: Path | str = ".",
    s3_client: Any = None,
    max_bytes: int = MAX_DATASET_BYTES,
) -> FetchedDataset:
    """Download ``s3://bucket/key[?versionId=...]`` (a CSV with a header) into ``directory``
    with one GetObject, hashing as it writes; return the file and its lineage record.

    The object's size is checked against ``max_bytes`` from the answer's headers, before its
    body is read. In an unversioned bucket S3 names no version: the record says
    ``versionId=null`` (with a warning), which an environment requiring durable datasets
    refuses.
    """
    located = s3_version_of(uri)
    if located is None:
        raise DatasetSourceError(
            f"{uri!r} is not an S3 object URI: use s3://bucket/key, optionally ?versionId=<id>"
        )
    bucket, key, version = located
    if version == "":
        raise DatasetSourceError(f"{uri}: versionId is empty")
    client = s3_client if s3_client is not None else _default_client()
    answer = _get_object(client, uri, bucket, key, version)
    body = answer["Body"]
    try:
        size = int(answer.get("ContentLength", 0))
        if size > max_bytes:
            raise DatasetSourceError(
                f"{uri} has {size} bytes; the limit is {max_bytes} (max_bytes=): a dataset is "
                "read into memory to train and to type the signature"
            )
        if size == 0:  # no header, no rows: pandas would fail later without naming it
            raise DatasetSourceError(f"{uri} is empty (0 bytes); a dataset is a CSV with a header")
        served = answer.get("VersionId") or "null"
        if version is not None and served != version:
            raise DatasetSourceError(f"{uri}: S3 served version {served!r}, not {version!r}")
        target = Path(directory) / _file_name(key)
        target, sha256 = _write(body, target, uri, max_bytes)
    except BotoCoreError as exc:  # the connection broke, or the body was shorter than said
        raise DatasetSourceError(f"cannot read {uri}: {exc}") from None
    finally:
        body.close()
    if served == "null":
        warnings.warn(
            f"s3://{bucket}/{key}: the bucket is not versioned, so these bytes have no "
            "version id; the lineage records versionId=null, which environments requiring "
            "durable datasets refuse. Turn on versioning and write the data again.",
            stacklevel=2,
        )
    etag = str(answer.get("ETag") or "").strip('"') or None
    ref = DatasetRef(
        role=role,
        uri=s3_dataset_uri(bucket, key, served),
        sha256=sha256,
        rows=count_csv_rows(target),
        etag=etag,
    )
    return FetchedDataset(path=target, ref=ref)


def _default_client() -> Any:
    import boto3

    return boto3.client("s3")


def _get_object(client: Any, uri: str, bucket: str, key: str, version: str | None) -> Any:
    request = {"Bucket": bucket, "Key": key}
    if version is not None:
        request["VersionId"] = version
    try:
        return client.get_object(**request)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise DatasetSourceError(
            f"cannot read {uri}: {error.get('Code', 'error')} ({error.get('Message', '')})"
        ) from None
    except BotoCoreError as exc:
        raise DatasetSourceError(f"cannot read {uri}: {exc}") from None


# bytes of a file name we write: file systems allow 255, and ".<name>.partial" adds 9
MAX_FILE_NAME_BYTES = 200


def _file_name(key: str) -> str:
    """The key's last part as a file name (never a path: the key is the data owner's),
    bounded in bytes (a name of 150 accented letters is 300 bytes, too long for Linux)."""
    name = key.rsplit("/", 1)[-1]
    if name in ("", ".", "..") or "\\" in name or "\x00" in name:
        return "dataset.csv"
    encoded = name.encode("utf-8", "surrogatepass")
    if len(encoded) <= MAX_FILE_NAME_BYTES:
        return name
    suffix = Path(name).suffix.encode("utf-8", "surrogatepass")[:16]
    stem = encoded[: MAX_FILE_NAME_BYTES - len(suffix)].decode("utf-8", "ignore")
    return stem + suffix.decode("utf-8", "ignore")


def _free_place(target: Path, digest: str) -> Path:
    """Where the fetched bytes go: ``target``, unless another dataset's bytes are there (two
    keys with one last part, e.g. train/data.csv and eval/data.csv, fetched into one
    directory): then ``data-2.csv``, ``data-3.csv``... An earlier fetch's file is never
    overwritten with other bytes under it."""
    for n in range(1, 1000):
        place = target if n == 1 else target.with_name(f"{target.stem}-{n}{target.suffix}")
        if not place.exists() or sha256_file(place) == digest:
            return place
    raise DatasetSourceError(f"{target.parent} holds too many files named like {target.name}")


def _write(body: Any, target: Path, uri: str, max_bytes: int) -> tuple[Path, str]:
    """Stream ``body`` into ``target`` (renamed into place when whole, see
    :func:`_free_place`); where it landed, and its sha256. The
    count is enforced while reading too: a body longer than its header said still stops."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    digest, written = hashlib.sha256(), 0
    try:
        with open(partial, "wb") as handle:
            while chunk := body.read(_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise DatasetSourceError(f"{uri} is larger than the limit of {max_bytes} bytes")
                digest.update(chunk)
                handle.write(chunk)
        place = _free_place(target, digest.hexdigest())
        os.replace(partial, place)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return place, digest.hexdigest()
