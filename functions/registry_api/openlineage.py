"""A version's lineage as OpenLineage run events, for Marquez or any OpenLineage consumer.

The training run is the job; its inputs are the datasets (versioned by sha256) and its output
is the model bundle (versioned by its digest). The events are built with openlineage-python,
whose classes check what the spec requires (a UUID run id, ISO times, the facets' fields).
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar
from urllib.parse import urlsplit

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    RunFacet,
    dataset_version_dataset,
    source_code_location_job,
)
from openlineage.client.serde import Serde

PRODUCER = "https://github.com/slipway-mlops/slipway"
FACET_SCHEMA = f"{PRODUCER}/blob/main/docs/lineage.md#openlineage"
JOB_NAMESPACE = "slipway"


@attr.define
class SlipwayTrainingRunFacet(RunFacet):
    """Parameters, metrics, dirty flag and parent version of the training run."""

    params: dict[str, Any] = attr.field(factory=dict)
    metrics: dict[str, float] = attr.field(factory=dict)
    dirty: bool = attr.field(default=False)
    parent: str | None = attr.field(default=None)
    _additional_skip_redact: ClassVar[list[str]] = ["params", "metrics", "dirty", "parent"]

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA


@attr.define
class SlipwayRoleDatasetFacet(DatasetFacet):
    """What a dataset was to the run (train, evaluation, ...) and how many rows it had."""

    role: str = attr.field()
    rows: int = attr.field()
    _additional_skip_redact: ClassVar[list[str]] = ["role", "rows"]

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA


@attr.define
class SlipwayAttestationsRunFacet(RunFacet):
    """Where the version has been: the attestation it arrived with from the environment
    before (verified on arrival), and those this environment signed about it."""

    received: dict[str, Any] | None = attr.field(default=None)
    issued: list[dict[str, Any]] = attr.field(factory=list)
    _additional_skip_redact: ClassVar[list[str]] = ["received", "issued"]

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA


def attestations_facet(
    item: dict[str, Any], issued: list[dict[str, Any]]
) -> SlipwayAttestationsRunFacet:
    """The facet of a version item and its issued attestation items (their summaries: the
    envelopes themselves are in the registry)."""
    received = item.get("received_attestation")
    return SlipwayAttestationsRunFacet(
        received=None
        if not received
        else {
            key: received.get(key)
            for key in ("environment", "account", "statement_sha256", "status", "issued_at")
        }
        | {"verified_at": received.get("verified_at"), "chain": received.get("chain", [])},
        issued=[
            {
                "statement_sha256": a["statement_sha256"],
                "issued_at": a["issued_at"],
                "occasion": a["occasion"],
            }
            for a in issued
        ],
        producer=PRODUCER,
    )


def _where(uri: str) -> tuple[str, str]:
    """(namespace, name) of a dataset URI by OpenLineage's naming conventions: local files
    are ``file`` + path, objects are ``s3://<bucket>`` + key."""
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        return "file", parts.path or uri
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/") or uri


def _version_facet(version: str) -> dataset_version_dataset.DatasetVersionDatasetFacet:
    return dataset_version_dataset.DatasetVersionDatasetFacet(
        datasetVersion=version, producer=PRODUCER
    )


def run_events(
    item: dict[str, Any],
    started_at: str | None = None,
    attestations: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """START and COMPLETE events describing the run that produced this version: it started
    at ``started_at`` (when its promotion began: the upload arrived) and completed when the
    registry registered the version. Without a known start (an execution Step Functions no
    longer keeps, 90 days after it closed) both carry the registration's time."""
    name, version, bundle = item["name"], item["version"], item["bundle"]
    lineage = item["lineage"]
    code = lineage["code"]
    run = Run(
        runId=str(uuid.uuid5(uuid.NAMESPACE_URL, f"slipway:{name}:{version}:{bundle['digest']}")),
        facets={
            "slipway_training": SlipwayTrainingRunFacet(
                params=lineage.get("params", {}),
                metrics=lineage.get("metrics", {}),
                dirty=code["dirty"],
                parent=lineage.get("parent"),
                producer=PRODUCER,
            ),
            "slipway_attestations": attestations_facet(item, attestations or []),
        },
    )
    job = Job(
        namespace=JOB_NAMESPACE,
        name=f"train.{name}",
        facets={
            "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet(
                type="git", url=code["repository"], version=code["commit"], producer=PRODUCER
            )
        },
    )
    inputs = [
        InputDataset(
            *_where(d["uri"]),
            facets={
                "version": _version_facet(d["sha256"]),
                "slipway_role": SlipwayRoleDatasetFacet(
                    role=d["role"], rows=d["rows"], producer=PRODUCER
                ),
            },
        )
        for d in lineage["datasets"]
    ]
    output = OutputDataset(
        *_where(f"s3://{bundle['bucket']}/{bundle['key']}"),
        facets={"version": _version_facet(bundle["digest"])},
    )
    completed = item["registered_at"]
    events = [
        RunEvent(
            eventType=RunState.START,
            eventTime=started_at or completed,
            run=run,
            job=job,
            inputs=inputs,
            producer=PRODUCER,
        ),
        RunEvent(
            eventType=RunState.COMPLETE,
            eventTime=completed,
            run=run,
            job=job,
            inputs=inputs,
            outputs=[output],
            producer=PRODUCER,
        ),
    ]
    return [Serde.to_dict(event) for event in events]
