"""The shapes of lineage items, built in one place for the repository (and bulk loaders)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from registry import keys
from registry.statuses import Stage, VersionStatus

# What only the table needs (keys, index keys) or nobody may read (a sealed task token):
# never part of what the registry API or the CLI shows.
INTERNAL_ATTRIBUTES = frozenset(
    {keys.PK, keys.SK, keys.MODELS_INDEX_PK, keys.MODELS_INDEX_SK, "approval_token"}
)


def public(item: dict[str, Any]) -> dict[str, Any]:
    """An item as people and programs read it: without its internal attributes."""
    return {key: value for key, value in item.items() if key not in INTERNAL_ATTRIBUTES}


def to_dynamo(value: Any) -> Any:
    """DynamoDB wants Decimal, not float; a JSON round-trip converts nested values too."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def version_item(
    manifest: dict[str, Any],
    bundle: dict[str, Any],
    execution: str,
    at: str,
    uploaded_by: str | None = None,
    baseline: dict[str, Any] | None = None,
) -> dict[str, Any]:
    name, version = manifest["name"], manifest["version"]
    item = {
        keys.PK: keys.model_pk(name),
        keys.SK: keys.version_sk(version),
        "kind": "version",
        "name": name,
        "version": version,
        "status": VersionStatus.REGISTERED,
        "registered_at": at,
        "execution": execution,
        "uploaded_by": uploaded_by,  # None: nobody declared the upload (registry/uploads.py)
        "bundle": to_dynamo(bundle),
        "flavor": manifest["flavor"],
        "signature": to_dynamo(manifest["signature"]),
        "input_example": to_dynamo(manifest["input_example"]),
        "lineage": to_dynamo(manifest["lineage"]),
        "evaluation": to_dynamo(manifest.get("evaluation")),
        "runtime": manifest.get("runtime", {}),
    }
    if baseline is not None:  # bundles packaged before monitoring have none
        item["baseline"] = to_dynamo(baseline)
    return item


def validated_manifest_item(
    manifest: dict[str, Any],
    digest: str,
    execution: str,
    expires_at: int,
    baseline: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest Validate checked, for Register to read: the workflow's state carries
    only its digest (Step Functions' state is limited to 256 KiB; a manifest may be more).
    ``baseline`` summarises the bundle's monitoring baseline (rows, columns, its sha256)."""
    name, version = manifest["name"], manifest["version"]
    item = {
        keys.PK: keys.model_pk(name),
        keys.SK: keys.validated_sk(version, digest),
        "kind": "validated-manifest",
        "execution": execution,
        "manifest": json.dumps(manifest, sort_keys=True),  # one string: Decimal-free, exact
        "expires_at": expires_at,
    }
    if baseline is not None:
        item["baseline"] = json.dumps(baseline, sort_keys=True)
    return item


def datasets_by_digest(datasets: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A version's datasets grouped by content, in manifest order: one CSV used both to
    train and to evaluate is one dataset, and one edge (a transaction may not write one
    item twice)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for dataset in datasets:
        grouped.setdefault(dataset["sha256"], []).append(dataset)
    return grouped


def edge_items(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Edges from each dataset (by sha256) and from the code commit to the version.

    Dataset edges carry ``live`` so "which live models used this data" is one Query;
    promotions keep it current.
    """
    name, version = manifest["name"], manifest["version"]
    lineage = manifest["lineage"]
    edges = [
        {
            keys.PK: keys.dataset_pk(sha256),
            keys.SK: keys.edge_sk(name, version),
            "kind": "dataset-edge",
            "name": name,
            "version": version,
            "role": ", ".join(dict.fromkeys(d["role"] for d in same)),
            "uri": same[0]["uri"],
            "rows": same[0]["rows"],
            "live": False,
        }
        for sha256, same in datasets_by_digest(lineage["datasets"]).items()
    ]
    code = lineage["code"]
    edges.append(
        {
            keys.PK: keys.code_pk(code["repository"], code["commit"]),
            keys.SK: keys.edge_sk(name, version),
            "kind": "code-edge",
            "name": name,
            "version": version,
            "dirty": code["dirty"],
        }
    )
    return edges


def model_summary_item(name: str, latest_version: str, at: str) -> dict[str, Any]:
    """The model's summary, listed by name through the MODELS index."""
    return {
        keys.PK: keys.model_pk(name),
        keys.SK: keys.MODEL_SK,
        "kind": "model",
        "name": name,
        "latest_version": latest_version,
        "created_at": at,
        "updated_at": at,
        keys.MODELS_INDEX_PK: keys.MODELS_PARTITION,
        keys.MODELS_INDEX_SK: name,
    }


def pointer_item(
    name: str, stage: Stage, version: str, previous: str | None, execution: str, at: str
) -> dict[str, Any]:
    return {
        keys.PK: keys.model_pk(name),
        keys.SK: keys.stage_sk(stage),
        "kind": "pointer",
        "name": name,
        "stage": stage,
        "version": version,
        "previous_version": previous,
        "updated_at": at,
        "execution": execution,
    }


def monitor_verdict(summary: dict[str, Any]) -> dict[str, Any]:
    """A monitor report's verdict as its model's summary item keeps it (``monitor``), for a
    model listing: which version, what the report says, the window's end (ISO, UTC)."""
    return {
        "version": summary["version"],
        "verdict": summary["verdict"],
        "window_end": summary["window"]["end"],
    }


def monitor_report_item(summary: dict[str, Any]) -> dict[str, Any]:
    """A monitor report's summary, under its version: the verdict, the window, the worst
    columns and the live metric; the whole report is the S3 object ``report`` names."""
    return {
        keys.PK: keys.model_pk(summary["model"]),
        keys.SK: keys.monitor_sk(summary["version"], summary["window"]["end_key"]),
        "kind": "monitor-report",
        **to_dynamo(summary),
    }
