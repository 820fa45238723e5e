"""What a console asks the registry first: who am I to it (GET /v1/identity), and the models
with their stages, newest version and newest monitor verdict (GET /v1/models), a page of
them in a bounded number of DynamoDB calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from functions.registry_api import handler as registry_handler
from functions.registry_api.app import create_app, get_repository
from registry import items
from registry.environment import APPROVERS, ENVIRONMENT_NAME, SEPARATION_OF_DUTIES
from registry.repository import LineageRepository
from registry.statuses import Stage, VersionStatus
from tests.conftest import LambdaContext, create_lineage_table, load_event

CALLER = "arn:aws:sts::123456789012:assumed-role/ml-engineer/ml-engineer"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Any]]:
    monkeypatch.setenv(APPROVERS, "[]")
    monkeypatch.setenv(ENVIRONMENT_NAME, "staging")
    monkeypatch.setenv(SEPARATION_OF_DUTIES, "true")
    with mock_aws():
        table = create_lineage_table()
        app = create_app()
        app.dependency_overrides[get_repository] = lambda: LineageRepository(table)
        yield TestClient(app), table


def identity_through_the_function_url(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """GET /v1/identity as the deployed function answers it: a Function URL event whose
    IAM authorizer names the caller."""
    event = load_event("function_url_predict.json")
    event.update(rawPath="/v1/identity", body=None, isBase64Encoded=False, rawQueryString="")
    event["requestContext"]["http"].update(method="GET", path="/v1/identity")
    answer = registry_handler.handler(event, LambdaContext())
    assert answer["statusCode"] == 200, answer
    return json.loads(answer["body"])  # type: ignore[no-any-return]


def test_identity_is_the_actor_the_registry_records_and_whether_it_approves(registry, monkeypatch):
    told = identity_through_the_function_url(monkeypatch)
    assert told == {
        "actor": CALLER,
        "approver": True,  # the environment lists no approvers: nobody is excluded
        "environment": "staging",
        "separation_of_duties": True,
    }
    monkeypatch.setenv(APPROVERS, json.dumps(["arn:aws:sts::123456789012:assumed-role/ops/*"]))
    assert identity_through_the_function_url(monkeypatch)["approver"] is False  # never a 403
    monkeypatch.setenv(APPROVERS, json.dumps(["arn:aws:sts::*:assumed-role/ml-engineer/*"]))
    assert identity_through_the_function_url(monkeypatch)["approver"] is True


def test_identity_outside_aws_is_local(registry):
    client, _ = registry
    assert client.get("/v1/identity").json()["actor"] == "local"


def version(table: Any, name: str, number: str, status: str, **attributes: Any) -> None:
    table.put_item(
        Item={
            "pk": f"MODEL#{name}",
            "sk": f"VERSION#{number}",
            "kind": "version",
            "name": name,
            "version": number,
            "status": status,
            "registered_at": "2026-12-07T08:00:00.000+00:00",
            **attributes,
        }
    )


def model(table: Any, name: str, latest: str) -> None:
    table.put_item(Item=items.model_summary_item(name, latest, "2026-12-07T08:00:00.000+00:00"))


def report(name: str, number: str, end: str, verdict: str, role: str = "live") -> dict[str, Any]:
    return {
        "model": name,
        "version": number,
        "role": role,
        "verdict": verdict,
        "window": {"start": "x", "end": end, "hours": 24, "end_key": end.replace(":", "-")},
        "report": f"s3://b/monitoring/{name}/{number}/{end}.json",
    }


def test_models_carry_their_stages_latest_status_and_monitor_verdict(registry):
    client, table = registry
    repository = LineageRepository(table)
    model(table, "iris", "3")
    version(table, "iris", "2", VersionStatus.LIVE)
    version(
        table,
        "iris",
        "3",
        VersionStatus.REJECTED,
        status_changed_at="2026-12-07T09:00:00.000+00:00",
        rejection_reason="EvaluationFailedError: accuracy 0.31 < 0.9",
    )
    table.put_item(Item=items.pointer_item("iris", Stage.LIVE, "2", None, "e", "t"))
    table.update_item(
        Key={"pk": "MODEL#iris", "sk": "STAGE#live"},
        UpdateExpression="SET canary_version = :v, canary_weight = :w",
        ExpressionAttributeValues={":v": "3", ":w": items.to_dynamo(0.1)},
    )
    table.put_item(Item=items.pointer_item("iris", Stage.STAGING, "3", None, "e", "t"))
    # reports written out of order: the newest window's verdict stays, a canary's never shows
    repository.put_monitor_report(report("iris", "2", "2026-12-07T10:00:00+00:00", "drift"))
    repository.put_monitor_report(report("iris", "2", "2026-12-07T09:00:00+00:00", "ok"))
    repository.put_monitor_report(
        report("iris", "3", "2026-12-07T11:00:00+00:00", "ok", role="canary")
    )
    model(table, "wine", "1")  # newly registered: no pointer, no report
    version(table, "wine", "1", VersionStatus.REGISTERED)
    # a report of a model nobody registered makes no summary
    repository.put_monitor_report(report("ghost", "1", "2026-12-07T10:00:00+00:00", "ok"))

    iris, wine = client.get("/v1/models").json()["models"]

    assert iris["name"] == "iris" and iris["latest_version"] == "3" and iris["live_version"] == "2"
    assert iris["created_at"] and iris["updated_at"]
    assert iris["stages"] == {
        "live": {"version": "2", "canary_version": "3", "canary_weight": 0.1},
        "staging": {"version": "3"},
    }
    assert iris["latest"] == {
        "version": "3",
        "status": "rejected",
        "status_changed_at": "2026-12-07T09:00:00.000+00:00",
        "reason": "EvaluationFailedError: accuracy 0.31 < 0.9",
    }
    assert iris["monitor"] == {
        "version": "2",
        "verdict": "drift",
        "window_end": "2026-12-07T10:00:00+00:00",
    }
    assert wine["stages"] == {"live": None, "staging": None} and wine["monitor"] is None
    assert wine["live_version"] is None
    assert wine["latest"] == {
        "version": "1",
        "status": "registered",
        "status_changed_at": None,
        "reason": None,
    }
    assert "pk" not in iris and "gsi1pk" not in iris
    assert LineageRepository(table).get_model("ghost") is None


def test_the_same_window_again_replaces_the_verdict(registry):
    client, table = registry
    repository = LineageRepository(table)
    model(table, "iris", "1")
    repository.put_monitor_report(report("iris", "1", "2026-12-07T10:00:00+00:00", "ok"))
    repository.put_monitor_report(report("iris", "1", "2026-12-07T10:00:00+00:00", "quality"))
    (iris,) = client.get("/v1/models").json()["models"]
    assert iris["monitor"]["verdict"] == "quality"


def test_a_page_of_a_hundred_models_costs_a_bounded_number_of_calls(registry):
    client, table = registry
    for n in range(120):
        name = f"model-{n:03d}"
        model(table, name, "1")
        version(table, name, "1", VersionStatus.LIVE)
        table.put_item(Item=items.pointer_item(name, Stage.LIVE, "1", None, "e", "t"))
    calls: list[str] = []
    table.meta.client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )

    page = client.get("/v1/models?limit=100").json()

    assert len(page["models"]) == 100 and page["next_token"]
    assert all(m["live_version"] == "1" for m in page["models"])
    # one Query, and 300 keys (live, staging, newest version per model) in batches of 100
    assert calls.count("Query") == 1
    assert calls.count("BatchGetItem") == 3
    assert set(calls) == {"Query", "BatchGetItem"}

    rest = client.get(f"/v1/models?limit=100&next_token={page['next_token']}").json()
    assert len(rest["models"]) == 20 and rest["next_token"] is None
