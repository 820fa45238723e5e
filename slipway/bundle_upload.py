"""Uploading a bundle to an environment's bucket: what `slipway push` and `slipway promote`
both do once the upload is declared."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

UPLOAD_PART_BYTES = 8 * 1024**2  # single PUT below, multipart above (S3: 5 MiB-5 GiB parts)


def upload_bundle(
    s3: Any, bundle: Path, bucket: str, key: str, console: Console, quiet: bool
) -> str:
    """Upload with a progress bar; return the object version this upload wrote (the answer
    of its own PUT or CompleteMultipartUpload: asking S3 for the newest version afterwards
    would name another push's when two run at once)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    size = bundle.stat().st_size
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        disable=quiet,
    ) as progress:
        task = progress.add_task(f"uploading {bundle.name}", total=size)
        if size <= UPLOAD_PART_BYTES:
            answer = s3.put_object(Bucket=bucket, Key=key, Body=bundle.read_bytes())
            progress.advance(task, size)
        else:
            answer = _multipart_upload(s3, bundle, bucket, key, lambda n: progress.advance(task, n))
    return str(answer.get("VersionId") or "null")


def _multipart_upload(
    s3: Any, bundle: Path, bucket: str, key: str, sent: Callable[[int], None]
) -> dict[str, Any]:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        parts = []
        with bundle.open("rb") as source:
            while chunk := source.read(UPLOAD_PART_BYTES):
                number = len(parts) + 1
                etag = s3.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=chunk
                )["ETag"]
                parts.append({"ETag": etag, "PartNumber": number})
                sent(len(chunk))
        return dict(
            s3.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
            )
        )
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)  # no orphan parts
        raise
