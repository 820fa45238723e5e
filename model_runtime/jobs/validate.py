"""Workflow step Validate: is the uploaded object a safe, complete, loadable bundle?

Runs in the runtime image so a model is judged by exactly the code that will serve it.
"""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import boto3

from model_runtime.bundle import check_upload_matches_manifest, open_bundle, parse_upload_key
from model_runtime.model import check_input_example, load_model


@cache
def _s3() -> Any:
    return boto3.client("s3")


def validate_upload(s3: Any, bucket: str, key: str, version_id: str) -> dict[str, Any]:
    """Download the exact object version, verify it, load it and replay its input example."""
    parse_upload_key(key)
    with tempfile.TemporaryDirectory(prefix="slipway-validate-") as work:
        archive = Path(work) / "bundle.tar.gz"
        extra = {"VersionId": version_id} if version_id and version_id != "null" else {}
        s3.download_file(bucket, key, str(archive), ExtraArgs=extra)
        bundle = open_bundle(archive, Path(work) / "bundle")
        check_upload_matches_manifest(key, bundle.manifest)
        check_input_example(load_model(bundle), bundle)
        return {
            "name": bundle.manifest.name,
            "version": bundle.manifest.version,
            "digest": bundle.digest,
            "size": archive.stat().st_size,
            "manifest": json.loads(bundle.manifest.model_dump_json()),
        }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return validate_upload(_s3(), event["bucket"], event["key"], event["version_id"])
