"""What the embedded cloud keeps across ``slipway local down`` and ``up``: the registry and
the artifacts, through the same public APIs as any client.

``down`` saves every item of the lineage table and every version of every object in the
artifact bucket, per environment (``.slipway/local/snapshot/`` for ``local``,
``snapshot-<env>/`` for another embedded one); the next ``up`` of that environment deploys it
afresh, then puts them back (unless ``--fresh``). A new deployment's bucket has another name
and its objects get new version ids, so every reference to the old ones in the registry is
rewritten to the new ones; the upload rule is disabled meanwhile, so restoring an object
starts no promotion.
Promotions in flight at ``down`` are not kept: their versions stay as they were, and
``slipway doctor`` names them.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

from registry import keys
from registry.statuses import UNDECIDED, VersionStatus

SNAPSHOT = "snapshot"
MANIFEST = "snapshot.json"
DEFAULT_ENVIRONMENT = "local"  # its snapshot keeps the folder it had before there were others


def folder(directory: Path, environment: str) -> Path:
    """Where the environment's snapshot is kept under the state directory."""
    name = SNAPSHOT if environment == DEFAULT_ENVIRONMENT else f"{SNAPSHOT}-{environment}"
    return directory / name


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
    """Write the table's items and the bucket's object versions (and delete markers) of
    the environment ``target`` (slipway.target.Target) under ``directory``, streaming each
    object to a file; returns how many of each."""
    outputs = target.outputs
    kept = folder(directory, target.config.name)
    staging = kept.with_name(f"{kept.name}.partial")
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
    # S3 lists a key's versions and delete markers newest first: kept oldest first
    history: dict[str, list[dict[str, Any]]] = {}
    count = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = [("object", v) for v in page.get("Versions", [])]
        entries += [("delete", m) for m in page.get("DeleteMarkers", [])]
        for kind, entry in entries:
            record = {"kind": kind, "key": entry["Key"], "version_id": entry["VersionId"]}
            record["last_modified"] = entry["LastModified"].isoformat()
            if kind == "object":
                record["file"] = str(count)
                with (staging / "objects" / record["file"]).open("wb") as out:
                    s3.download_fileobj(
                        bucket, entry["Key"], out, ExtraArgs={"VersionId": entry["VersionId"]}
                    )
                count += 1
            history.setdefault(entry["Key"], []).append(record)
    for records in history.values():
        # newest first as listed (a delete marker and a version of one second keep S3's
        # order only within their own lists, so the time decides between the two)
        records.sort(key=lambda r: r["last_modified"], reverse=True)
        records.reverse()
    manifest = {"bucket": bucket, "items": _plain(items), "history": history}
    (staging / MANIFEST).write_text(json.dumps(manifest))
    shutil.rmtree(kept, ignore_errors=True)
    staging.rename(kept)
    return {"items": len(items), "objects": count}


def exists(directory: Path, environment: str) -> bool:
    return (folder(directory, environment) / MANIFEST).is_file()


def discard(directory: Path, environment: str) -> None:
    shutil.rmtree(folder(directory, environment), ignore_errors=True)


def restore(target: Any, directory: Path) -> dict[str, int]:
    """Put a saved registry and its artifacts into the fresh deployment ``target``; returns
    how many items and objects were restored. The lock, its line and its newest-arrival
    record are not restored (their executions are gone), and a version whose promotion was
    under way is marked failed, so ``slipway retry`` runs its gate again."""
    source = folder(directory, target.config.name)
    manifest = json.loads((source / MANIFEST).read_text())
    s3, events = target.client("s3"), target.client("events")
    bucket = target.outputs["ArtifactBucketName"]
    rules = [r["Name"] for r in events.list_rules()["Rules"] if "UploadRule" in r["Name"]]
    versions: dict[tuple[str, str], str] = {}
    objects = 0
    for rule in rules:
        events.disable_rule(Name=rule)
    try:
        for key, records in manifest["history"].items():
            for record in records:  # oldest first: the last one is current again
                if record["kind"] == "delete":
                    s3.delete_object(Bucket=bucket, Key=key)
                    continue
                with (source / "objects" / record["file"]).open("rb") as body:
                    put = s3.put_object(Bucket=bucket, Key=key, Body=body)
                versions[(key, record["version_id"])] = put["VersionId"]
                objects += 1
    finally:
        for rule in rules:
            events.enable_rule(Name=rule)
    table = target.table()
    items = [
        _dynamo(_rewritten(item, manifest["bucket"], bucket, versions))
        for item in manifest["items"]
        if not _of_a_lost_execution(item)
    ]
    with table.batch_writer() as batch:
        for item in items:
            batch.put_item(Item=_undecided_failed(item))
    return {"items": len(items), "objects": objects}


def _of_a_lost_execution(item: dict[str, Any]) -> bool:
    sk = str(item.get(keys.SK, ""))
    return sk in (keys.LOCK_SK, keys.NEWEST_SK) or sk.startswith(keys.WAITING_PREFIX)


def _undecided_failed(item: dict[str, Any]) -> dict[str, Any]:
    if (
        str(item.get(keys.SK, "")).startswith(keys.VERSION_PREFIX)
        and item.get("status") in UNDECIDED
    ):
        return {
            **item,
            "status": str(VersionStatus.FAILED),
            "rejection_reason": "ExecutionEnded: the embedded cloud was stopped while its "
            "promotion ran",
        }
    return item


def _rewritten(value: Any, old_bucket: str, new_bucket: str, versions: Any) -> Any:
    """``value`` with each reference to an object (a mapping naming ``bucket``, ``key`` and
    ``s3_version_id``, as version items and audit details do) pointed at the restored
    object; nothing else is touched."""
    if isinstance(value, list):
        return [_rewritten(v, old_bucket, new_bucket, versions) for v in value]
    if not isinstance(value, dict):
        return value
    rewritten = {k: _rewritten(v, old_bucket, new_bucket, versions) for k, v in value.items()}
    if rewritten.get("bucket") == old_bucket and "key" in rewritten:
        rewritten["bucket"] = new_bucket
        old = (rewritten["key"], rewritten.get("s3_version_id"))
        if old in versions:
            rewritten["s3_version_id"] = versions[old]
    return rewritten
