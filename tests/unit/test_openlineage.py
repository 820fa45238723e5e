"""A version's lineage as OpenLineage run events, checked by openlineage-python's classes."""

from __future__ import annotations

import uuid
from datetime import datetime

from functions.registry_api.openlineage import PRODUCER, run_events

ITEM = {
    "name": "house-prices",
    "version": "3",
    "registered_at": "2026-11-29T10:00:00.000+00:00",
    "bundle": {
        "bucket": "artifacts",
        "key": "models/house-prices/3/bundle.tar.gz",
        "digest": "a" * 64,
    },
    "lineage": {
        "code": {"repository": "https://git.example/ml.git", "commit": "abc123", "dirty": False},
        "datasets": [
            {"role": "train", "uri": "file:///data/train.csv", "sha256": "b" * 64, "rows": 800},
            {"role": "evaluation", "uri": "s3://data/eval.csv", "sha256": "c" * 64, "rows": 200},
        ],
        "params": {"max_depth": 6},
        "metrics": {"rmse": 31000.5},
        "parent": "2",
    },
}


def test_a_version_is_a_start_and_a_complete_event_of_its_training_run():
    start, complete = run_events(ITEM)
    assert [start["eventType"], complete["eventType"]] == ["START", "COMPLETE"]
    assert start["run"]["runId"] == complete["run"]["runId"]
    uuid.UUID(start["run"]["runId"])  # the spec wants a UUID
    assert start["producer"] == PRODUCER
    assert start["job"] == complete["job"]
    assert start["job"]["name"] == "train.house-prices"
    assert start["job"]["facets"]["sourceCodeLocation"]["version"] == "abc123"
    training = start["run"]["facets"]["slipway_training"]
    assert training["params"] == {"max_depth": 6} and training["parent"] == "2"


def test_datasets_are_named_by_openlineage_conventions_and_versioned_by_digest():
    _, complete = run_events(ITEM)
    train, evaluation = complete["inputs"]
    assert (train["namespace"], train["name"]) == ("file", "/data/train.csv")
    assert (evaluation["namespace"], evaluation["name"]) == ("s3://data", "eval.csv")
    assert train["facets"]["version"]["datasetVersion"] == "b" * 64
    assert train["facets"]["slipway_role"] == {
        "_producer": PRODUCER,
        "_schemaURL": train["facets"]["slipway_role"]["_schemaURL"],
        "role": "train",
        "rows": 800,
    }
    (bundle,) = complete["outputs"]
    assert (bundle["namespace"], bundle["name"]) == ("s3://artifacts", ITEM["bundle"]["key"])
    assert bundle["facets"]["version"]["datasetVersion"] == "a" * 64


def test_the_same_version_always_gives_the_same_run_id():
    assert run_events(ITEM)[0]["run"]["runId"] == run_events(dict(ITEM))[0]["run"]["runId"]


def test_the_start_and_the_completion_carry_their_own_times():
    # GIVEN the run began when the upload's promotion started, and ended with the registration
    start, complete = run_events(ITEM, started_at="2026-11-29T09:59:31.250+00:00")
    # THEN each event says when it happened
    assert start["eventTime"] == "2026-11-29T09:59:31.250+00:00"
    assert complete["eventTime"] == ITEM["registered_at"]
    assert datetime.fromisoformat(start["eventTime"]) < datetime.fromisoformat(
        complete["eventTime"]
    )


def test_where_a_version_has_been_is_a_run_facet():
    # GIVEN a version that arrived from staging and was attested here twice
    item = {
        **ITEM,
        "received_attestation": {
            "environment": "staging",
            "account": "333333333333",
            "statement_sha256": "d" * 64,
            "status": "live",
            "issued_at": "2026-11-29T09:00:00.000+00:00",
            "verified_at": "2026-11-29T09:59:00.000+00:00",
            "envelope": "{...}",
            "chain": [{"environment": "dev", "statement_sha256": "e" * 64}],
        },
    }
    issued = [
        {"statement_sha256": "f" * 64, "issued_at": "2026-11-29T10:05:00+00:00", "occasion": "live"}
    ]
    # WHEN it is exported THEN both runs' events say where it has been, without the envelope
    for event in run_events(item, attestations=issued):
        facet = event["run"]["facets"]["slipway_attestations"]
        assert facet["received"]["environment"] == "staging"
        assert facet["received"]["chain"] == [{"environment": "dev", "statement_sha256": "e" * 64}]
        assert "envelope" not in facet["received"]
        assert facet["issued"] == issued
        assert facet["_producer"] == PRODUCER and facet["_schemaURL"].endswith("#openlineage")
    # AND a version uploaded directly says it received nothing
    facet = run_events(ITEM)[0]["run"]["facets"]["slipway_attestations"]
    assert "received" not in facet and facet["issued"] == []  # Serde leaves out a None
