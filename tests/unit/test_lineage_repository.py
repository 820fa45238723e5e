"""The lineage repository against moto's DynamoDB: immutable versions, audited pointers."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.exceptions import VersionConflictError, VersionNotRegisteredError
from registry.repository import LineageRepository, UploadedBundle
from tests.conftest import create_lineage_table


@pytest.fixture
def repository():
    with mock_aws():
        table = create_lineage_table()
        yield LineageRepository(table)


@pytest.fixture
def manifest(iris_bundle) -> dict:
    return json.loads(iris_bundle[1].model_dump_json())


def bundle(digest: str = "a" * 64) -> UploadedBundle:
    return UploadedBundle("bucket", "models/iris/1/bundle.tar.gz", "v1", digest, 100)


def test_register_writes_version_and_edges(repository, manifest):
    assert repository.register_version(manifest, bundle(), "exec-1") == "registered"
    item = repository.get_version("iris", "1")
    assert item["status"] == "registered"
    assert item["lineage"]["metrics"]["accuracy"] == manifest["lineage"]["metrics"]["accuracy"]
    train = manifest["lineage"]["datasets"][0]["sha256"]
    users = repository.versions_using_dataset(train)
    assert [(edge["name"], edge["version"], edge["role"]) for edge in users] == [
        ("iris", "1", "train")
    ]


def test_register_is_idempotent_for_the_same_execution(repository, manifest):
    repository.register_version(manifest, bundle(), "exec-1")
    assert repository.register_version(manifest, bundle(), "exec-1") == "registered"


def test_same_bytes_from_another_upload_is_a_duplicate(repository, manifest):
    repository.register_version(manifest, bundle(), "exec-1")
    assert repository.register_version(manifest, bundle(), "exec-2") == "duplicate"


def test_other_bytes_under_a_registered_version_are_refused(repository, manifest):
    repository.register_version(manifest, bundle(), "exec-1")
    with pytest.raises(VersionConflictError, match="immutable"):
        repository.register_version(manifest, bundle("b" * 64), "exec-2")
    assert repository.get_version("iris", "1")["bundle"]["digest"] == "a" * 64


def test_promote_moves_the_pointer_and_archives_the_previous_version(repository, manifest):
    repository.register_version(manifest, bundle(), "exec-1")
    second = dict(manifest, version="2")
    repository.register_version(second, bundle("b" * 64), "exec-2")
    assert repository.promote("iris", "1", "exec-1") is None
    assert repository.promote("iris", "2", "exec-2") == "1"
    assert repository.get_pointer("iris")["version"] == "2"
    assert repository.get_version("iris", "1")["status"] == "archived"
    assert repository.get_version("iris", "2")["status"] == "live"
    # a redelivered promotion is a no-op
    assert repository.promote("iris", "2", "exec-2") == "1"


def test_promote_refuses_an_unregistered_version(repository):
    with pytest.raises(VersionNotRegisteredError):
        repository.promote("iris", "9", "exec-9")
    assert repository.get_pointer("iris") is None


def test_audit_events_are_idempotent_and_ordered(repository):
    event = AuditEvent("iris", "1", "exec-1", AuditStep.REGISTER, AuditOutcome.REGISTERED, "ok")
    repository.record_audit(event)
    repository.record_audit(event)
    repository.record_audit(
        AuditEvent("iris", "1", "exec-1", AuditStep.PROMOTE, AuditOutcome.LIVE, "moved")
    )
    history = repository.audit_history("iris", "1")
    assert [item["step"] for item in history] == ["register", "promote"]


def test_the_events_of_one_execution_never_share_a_key(repository):
    # GIVEN a version that waited for approval and was then approved, in one execution
    for step, outcome in (
        (AuditStep.APPROVAL_REQUESTED, AuditOutcome.AWAITING_APPROVAL),
        (AuditStep.APPROVAL, AuditOutcome.APPROVED),
    ):
        repository.record_audit(AuditEvent("iris", "1", "exec-1", step, outcome, "why"))
    # THEN both events are in its history (an approval once overwrote the request)
    outcomes = [item["outcome"] for item in repository.audit_history("iris", "1")]
    assert outcomes == ["awaiting-approval", "approved"]


def test_versions_built_from_a_commit_are_listed_by_their_code_edges(repository, manifest):
    repository.register_version(manifest, bundle(), "exec-1")
    code = manifest["lineage"]["code"]
    page = repository.code_users(code["repository"], code["commit"])
    assert [(edge["name"], edge["version"]) for edge in page.items] == [("iris", "1")]
    assert repository.code_users(code["repository"], "another-commit").items == []
