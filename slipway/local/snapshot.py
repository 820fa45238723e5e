"""What the embedded cloud keeps across ``slipway local down`` and ``up``: the registry and
the artifacts, through the same public APIs as any client.

``down`` saves every item of the lineage table and every version of every object in the
artifact bucket under ``.slipway/local/snapshot/``; the next ``up`` deploys afresh, then puts
them back (unless ``--fresh``). A new deployment's bucket has another name and its objects
get new version ids, so every reference to the old ones in the registry is rewritten to the
new ones; the upload rule is disabled meanwhile, so restoring an object starts no promotion.
Promotions in flight at ``down`` are not kept: their versions stay as they were, and
``slipway doctor`` names them.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

SNAPSHOT = "snapshot"
MANIFEST = "snapshot.json"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__decimal__": str(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _dynamo(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__decimal__"}:
            return Decimal(value["__decimal__"])
        return {k: _dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamo(v) for v in value]
    return value


def save(target: Any, directory: Path) -> dict[str, int]:
    """Write the table's items and the bucket's object versions of the environment
    ``target`` (slipway.target.Target) under ``directory``; returns how many of each."""
    outputs = target.outputs
    kept = directory / SNAPSHOT
    staging = directory / f"{SNAPSHOT}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "objects").mkdir(parents=True)
    table = target.table()
    items: list[dict[str, Any]] = []
    scan: dict[str, Any] = {}
    while True:
        page = table.scan(**scan)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    s3 = target.client("s3")
    bucket = outputs["ArtifactBucketName"]
    objects: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])[
                "Body"
            ].read()
            file = staging / "objects" / f"{len(objects)}"
            file.write_bytes(body)
            objects.append(
                {
                    "key": version["Key"],
                    "version_id": version["VersionId"],
                    "last_modified": version["LastModified"].isoformat(),
                    "file": file.name,
                }
            )
    objects.sort(key=lambda o: o["last_modified"])  # put back in the order they came
    manifest = {"bucket": bucket, "items": _plain(items), "objects": objects}
    (staging / MANIFEST).write_text(json.dumps(manifest))
    shutil.rmtree(kept, ignore_errors=True)
    staging.rename(kept)
    return {"items": len(items), "objects": len(objects)}


def exists(directory: Path) -> bool:
    return (directory / SNAPSHOT / MANIFEST).is_file()


def discard(directory: Path) -> None:
    shutil.rmtree(directory / SNAPSHOT, ignore_errors=True)


def restore(target: Any, directory: Path) -> dict[str, int]:
    """Put a saved registry and its artifacts into the fresh deployment ``target``; returns
    how many items and objects were restored."""
    source = directory / SNAPSHOT
    manifest = json.loads((source / MANIFEST).read_text())
    s3, events = target.client("s3"), target.client("events")
    bucket = target.outputs["ArtifactBucketName"]
    rules = [r["Name"] for r in events.list_rules()["Rules"] if "UploadRule" in r["Name"]]
    renamed = {manifest["bucket"]: bucket}
    for rule in rules:
        events.disable_rule(Name=rule)
    try:
        for saved in manifest["objects"]:
            body = (source / "objects" / saved["file"]).read_bytes()
            put = s3.put_object(Bucket=bucket, Key=saved["key"], Body=body)
            renamed[saved["version_id"]] = put["VersionId"]
    finally:
        for rule in rules:
            events.enable_rule(Name=rule)
    table = target.table()
    items = [_dynamo(_renamed(item, renamed)) for item in manifest["items"]]
    with table.batch_writer() as batch:
        for item in items:
            batch.put_item(Item=item)
    return {"items": len(items), "objects": len(manifest["objects"])}


def _renamed(value: Any, renamed: dict[str, str]) -> Any:
    """``value`` with every string that names the old bucket or an old object version
    replaced by the new one (they are whole strings in the registry's items)."""
    if isinstance(value, str):
        return renamed.get(value, value)
    if isinstance(value, dict):
        return {k: _renamed(v, renamed) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, renamed) for v in value]
    return value
