"""A version's lineage as OpenLineage run events, for Marquez or any OpenLineage consumer.

The training run is the job; its inputs are the datasets (versioned by sha256) and its output
is the model bundle (versioned by its digest). Only public OpenLineage facets are used.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

PRODUCER = "https://github.com/slipway-mlops/slipway"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent"
_FACET = "https://openlineage.io/spec/facets/1-0-0/"


def _facet(name: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": f"{_FACET}{name}.json", **fields}


def _dataset(uri: str, version: str, extra: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit(uri)
    namespace = f"{parts.scheme}://{parts.netloc}" if parts.scheme else "file"
    return {
        "namespace": namespace,
        "name": parts.path or uri,
        "facets": {
            "version": _facet("DatasetVersionDatasetFacet", datasetVersion=version),
            **extra,
        },
    }


def run_events(item: dict[str, Any]) -> list[dict[str, Any]]:
    """START and COMPLETE events describing the run that produced this version."""
    name, version = item["name"], item["version"]
    lineage = item["lineage"]
    code = lineage["code"]
    run_id = str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"slipway:{name}:{version}:{item['bundle']['digest']}")
    )
    job = {
        "namespace": "slipway",
        "name": f"train.{name}",
        "facets": {
            "sourceCodeLocation": _facet(
                "SourceCodeLocationJobFacet",
                type="git",
                url=code["repository"],
                version=code["commit"],
            )
        },
    }
    inputs = [
        _dataset(d["uri"], d["sha256"], {"slipway_role": {"role": d["role"], "rows": d["rows"]}})
        for d in lineage["datasets"]
    ]
    bundle = item["bundle"]
    outputs = [_dataset(f"s3://{bundle['bucket']}/{bundle['key']}", bundle["digest"], {})]
    run = {
        "runId": run_id,
        "facets": {
            "slipway_training": {
                "_producer": PRODUCER,
                "_schemaURL": f"{PRODUCER}/blob/main/docs/lineage.md#openlineage",
                "params": lineage.get("params", {}),
                "metrics": lineage.get("metrics", {}),
                "dirty": code["dirty"],
                "parent": lineage.get("parent"),
            }
        },
    }
    base = {
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": run,
        "job": job,
        "inputs": inputs,
    }
    at = item["registered_at"]
    return [
        {**base, "eventType": "START", "eventTime": at},
        {**base, "eventType": "COMPLETE", "eventTime": at, "outputs": outputs},
    ]
