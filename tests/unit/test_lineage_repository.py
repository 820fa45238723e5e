"""The lineage repository against moto's DynamoDB: immutable versions, audited pointers."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.exceptions import (
    UploadDeclarationConflictError,
    VersionConflictError,
    VersionNotRegisteredError,
)
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


ALICE = "arn:aws:sts::123456789012:assumed-role/ml-engineer/alice"
BOB = "arn:aws:sts::123456789012:assumed-role/ml-engineer/bob"


def test_an_upload_declaration_is_kept_for_its_author(repository):
    first = repository.declare_upload("iris", "2", "a" * 64, ALICE)
    assert (first["digest"], first["declared_by"]) == ("a" * 64, ALICE)
    # the same person's same declaration again (a retried `slipway push`): the same answer
    assert repository.declare_upload("iris", "2", "a" * 64, ALICE)["declared_by"] == ALICE
    # another person: refused, naming who declared what
    for digest in ("a" * 64, "b" * 64):
        with pytest.raises(UploadDeclarationConflictError, match=f"declared already by {ALICE}"):
            repository.declare_upload("iris", "2", digest, BOB)
    assert repository.upload_declaration("iris", "2")["declared_by"] == ALICE


def test_a_registered_version_takes_no_declaration(repository, manifest):
    repository.register_version(manifest, bundle(), "exec-1", uploaded_by=ALICE)
    assert repository.get_version("iris", "1")["uploaded_by"] == ALICE
    with pytest.raises(UploadDeclarationConflictError, match="with these bytes: nothing to"):
        repository.declare_upload("iris", "1", "a" * 64, BOB)
    with pytest.raises(UploadDeclarationConflictError, match="immutable"):
        repository.declare_upload("iris", "1", "b" * 64, BOB)


def test_an_expired_declaration_counts_as_none_before_dynamodb_deletes_it(repository):
    repository.declare_upload("iris", "3", "a" * 64, ALICE)
    key = {"pk": "MODEL#iris", "sk": "UPLOAD#3"}
    repository._table.update_item(
        Key=key, UpdateExpression="SET expires_at = :past", ExpressionAttributeValues={":past": 1}
    )
    assert repository.upload_declaration("iris", "3") is None
    # and the version number is free again, for anyone
    assert repository.declare_upload("iris", "3", "b" * 64, BOB)["declared_by"] == BOB


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


def test_a_pointer_to_a_missing_version_is_replaced_without_making_a_phantom(repository, manifest):
    # GIVEN a damaged live pointer: it names version 999, which is not registered
    repository.register_version(manifest, bundle(), "exec-1")
    repository._table.put_item(
        Item={"pk": "MODEL#iris", "sk": "STAGE#live", "kind": "pointer", "version": "999"}
    )
    # WHEN a registered version is promoted THEN live moves to it, and no VERSION#999 appears
    assert repository.promote("iris", "1", "exec-1") == "999"
    assert repository.get_pointer("iris")["version"] == "1"
    assert repository.get_version("iris", "999") is None
    assert [v["version"] for v in repository.list_versions("iris").items] == ["1"]


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


def test_the_same_declaration_again_changes_nothing_and_its_author_may_fix_the_bytes(repository):
    first = repository.declare_upload("iris", "4", "a" * 64, ALICE)
    again = repository.declare_upload("iris", "4", "a" * 64, ALICE)
    assert (again["declared_at"], again["expires_at"]) == (
        first["declared_at"],
        first["expires_at"],
    )
    # a bundle refused at Validate, fixed and pushed again by its author: allowed
    fixed = repository.declare_upload("iris", "4", "b" * 64, ALICE)
    assert fixed["digest"] == "b" * 64
    with pytest.raises(UploadDeclarationConflictError, match=f"declared already by {ALICE}"):
        repository.declare_upload("iris", "4", "b" * 64, BOB)


def test_one_file_used_to_train_and_evaluate_is_one_edge_with_both_roles(repository, manifest):
    # GIVEN a version trained and evaluated on the same bytes (one CSV for both)
    train = manifest["lineage"]["datasets"][0]
    manifest["lineage"]["datasets"] = [train, dict(train, role="evaluation")]
    # WHEN it is registered and goes live
    assert repository.register_version(manifest, bundle(), "exec-1") == "registered"
    assert repository.promote("iris", "1", "exec-1") is None
    # THEN the dataset has one edge naming both roles, live with the version
    (edge,) = repository.versions_using_dataset(train["sha256"])
    assert edge["role"] == "train, evaluation" and edge["live"] is True
    # AND the version keeps both datasets as the manifest gave them
    roles = [d["role"] for d in repository.get_version("iris", "1")["lineage"]["datasets"]]
    assert roles == ["train", "evaluation"]
