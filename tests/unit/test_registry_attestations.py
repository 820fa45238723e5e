"""The registry API's attestations: a fresh one on demand (what `slipway promote` carries),
the ones issued and the one received in a version's description, an approval signed, and an
upload declared with the earlier environment's attestation."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from model_runtime.extraction import sha256_file
from registry import workflow as steps
from registry.attestation import MAX_ENVELOPE_BYTES, public_key_of, verify_envelope
from registry.environment import ATTESTATION_KEY, CHAIN_POLICY
from tests.unit.gate import ENVIRONMENT, live, registered, run
from tests.unit.test_provenance_step import (  # noqa: F401 (staging: a fixture)
    promoted_upload,
    signed,
    staging,
    staging_statement,
)
from tests.unit.test_registry_decisions import CALLER, call, waiting  # noqa: F401 (fixture)

PATH = "/v1/models/iris/versions/good"


def public_key() -> str:
    return public_key_of(boto3.client("kms"), os.environ[ATTESTATION_KEY])


def test_a_live_version_is_attested_on_demand_and_described_with_its_attestations(gate, bundles):
    # GIVEN iris good, live here
    live(gate, bundles["good"], "good")
    # WHEN the next environment's promotion asks for a fresh attestation
    status, envelope = call("POST", f"{PATH}/attestation")
    # THEN it is this environment's signed statement of the version as it is now
    assert status == 200, envelope
    statement = verify_envelope(json.dumps(envelope), public_key())
    assert (statement.environment, statement.status) == (ENVIRONMENT, "live")
    assert statement.bundle_sha256 == sha256_file(bundles["good"])
    # AND the version's description lists what was signed about it, oldest first
    status, described = call("GET", PATH)
    issued = described["attestations"]
    assert [a["occasion"] for a in issued] == ["approved", "live", "requested"]
    assert issued[-1]["envelope"] == envelope
    assert "received_attestation" not in described  # it was uploaded here directly


def test_a_version_never_approved_nor_live_has_no_attestation(gate, bundles):
    registered(gate, bundles["good"], "good")
    status, problem = call("POST", f"{PATH}/attestation")
    assert status == 409
    assert "never approved nor live in unit (status registered)" in problem["detail"]
    assert call("POST", "/v1/models/iris/versions/nope/attestation")[0] == 404


def test_a_persons_approval_is_signed_with_who_approved(gate, waiting):  # noqa: F811
    status, _ = call("POST", f"{PATH}/approve", {"reason": "reviewed"})
    assert status == 200
    (approval,) = gate.repository.attestations("iris", "good")
    statement = verify_envelope(approval["envelope"], public_key())
    assert approval["occasion"] == "approved" and statement.status == "approved"
    assert statement.approval.policy == "manual" and statement.approval.by == CALLER
    assert statement.approval.reason == "reviewed" and statement.live_since is None


def test_an_upload_is_declared_with_the_earlier_environments_attestation(gate, bundles):
    # GIVEN an attestation signed elsewhere (here: this environment's own, for its shape)
    live(gate, bundles["good"], "good")
    _, envelope = call("POST", f"{PATH}/attestation")
    digest = sha256_file(bundles["better"])
    # WHEN a version is declared with it
    status, declared = call(
        "PUT", "/v1/models/iris/versions/better/upload", {"sha256": digest, "attestation": envelope}
    )
    # THEN the declaration keeps it, as sent, for the gate to verify
    assert status == 200, declared
    assert declared["attestation"] == envelope["statement_sha256"]
    kept = gate.repository.upload_declaration("iris", "better")["attestation"]
    assert verify_envelope(kept, public_key()).version == "good"


def test_a_malformed_or_oversized_attestation_is_refused_when_declared(gate):
    digest = "ab" * 32
    path = "/v1/models/iris/versions/1/upload"
    status, problem = call("PUT", path, {"sha256": digest, "attestation": {"statement": {}}})
    assert status == 400 and "attestation" in problem["detail"]
    huge = {"statement": {"padding": "x" * MAX_ENVELOPE_BYTES}}
    status, problem = call("PUT", path, {"sha256": digest, "attestation": huge})
    assert status == 400 and f"at most {MAX_ENVELOPE_BYTES} bytes" in problem["detail"]
    assert gate.repository.upload_declaration("iris", "1") is None


def test_the_received_attestation_is_described_as_an_object(gate, bundles, staging):  # noqa: F811
    # GIVEN iris good verified on arrival with staging's attestation
    digest = sha256_file(bundles["good"])
    envelope = signed(staging, staging_statement(digest))
    run(
        steps.REGISTER,
        run(steps.VERIFY_PROVENANCE, promoted_upload(gate, staging, bundles["good"], envelope)),
    )
    # THEN its description carries that attestation, readable
    _, described = call("GET", PATH)
    received = described["received_attestation"]
    assert received["environment"] == "staging"
    assert received["envelope"] == json.loads(envelope)
    assert received["statement_sha256"] == json.loads(envelope)["statement_sha256"]


def test_the_openlineage_export_carries_the_attestations(gate, bundles, monkeypatch):
    from registry.environment import STATE_MACHINE_ARN
    from tests.unit.gate import token_waiting_machine

    monkeypatch.setenv(STATE_MACHINE_ARN, token_waiting_machine("lineage-runs")[0])
    live(gate, bundles["good"], "good")
    status, events = call("GET", f"{PATH}/openlineage")
    assert status == 200, events
    issued = events[-1]["run"]["facets"]["slipway_attestations"]["issued"]
    stored = gate.repository.attestations("iris", "good")
    assert [a["statement_sha256"] for a in issued] == [a["statement_sha256"] for a in stored]
    assert [a["occasion"] for a in issued] == ["approved", "live"]


def test_slipway_lineage_shows_both_environments():
    from rich.console import Console
    from rich.tree import Tree

    from slipway.cli import _attestation_branches

    tree = Tree("iris good")
    received = {
        "environment": "staging",
        "account": "333333333333",
        "status": "live",
        "issued_at": "2026-12-07T10:00:00+00:00",
        "verified_at": "2026-12-07T10:01:00+00:00",
        "statement_sha256": "d" * 64,
        "chain": [{"environment": "dev", "statement_sha256": "e" * 64}],
    }
    issued = [
        {"issued_at": "2026-12-07T11:00:00+00:00", "occasion": "live", "statement_sha256": "f" * 64}
    ]
    _attestation_branches(tree, {"received_attestation": received}, issued, "prod")
    console = Console(width=400, record=True)
    console.print(tree)
    text = console.export_text()
    assert "arrived from staging (account 333333333333): live there" in text
    assert f"before that: dev ({'e' * 64})" in text
    assert "attested by prod" in text and f"live: statement sha256 {'f' * 64}" in text


def test_a_rolled_back_version_is_attested_with_its_rollback_and_live_times(gate, bundles):
    # GIVEN good then better live, and better rolled back to good
    live(gate, bundles["good"], "good")
    first_live = gate.repository.get_version("iris", "good")["live_since"]
    live(gate, bundles["better"], "better")
    assert call("POST", "/v1/models/iris/rollback", {"reason": "complaints"})[0] == 200
    # WHEN each is attested now
    _, rolled_back = call("POST", "/v1/models/iris/versions/better/attestation")
    _, back = call("POST", "/v1/models/iris/versions/good/attestation")
    better = verify_envelope(json.dumps(rolled_back), public_key())
    good = verify_envelope(json.dumps(back), public_key())
    # THEN better says it was rolled back, by whom and why, and when it stopped being live
    assert better.status == "rolled-back"
    (rollback,) = better.rollbacks
    assert rollback.by == CALLER and rollback.reason.endswith("complaints")
    assert better.live_until is not None and better.live_until >= better.live_since
    # AND good, live again, keeps the time it first went live, with no end and no rollback
    assert good.status == "live" and good.live_since == first_live
    assert good.live_until is None and good.rollbacks == []


def test_a_declaration_again_with_an_attestation_keeps_it(gate):
    # GIVEN a push declared iris 1 without an attestation; WHEN the same person promotes the
    # same bytes with one (a retried `slipway promote`) THEN the declaration carries it
    digest = "ab" * 32
    gate.repository.declare_upload("iris", "1", digest, CALLER)
    gate.repository.declare_upload("iris", "1", digest, CALLER, attestation='{"x":1}')
    assert gate.repository.upload_declaration("iris", "1")["attestation"] == '{"x":1}'
    # AND the same declaration again changes nothing
    same = gate.repository.declare_upload("iris", "1", digest, CALLER, attestation='{"x":1}')
    assert same["attestation"] == '{"x":1}'


BOB = "arn:aws:sts::123456789012:assumed-role/pusher/bob"


def test_a_promotion_takes_the_version_number_from_an_unattested_declaration(
    gate,
    bundles,
    staging,  # noqa: F811
    monkeypatch,
):
    # GIVEN an environment that takes iris only from staging, where Bob declared iris good
    # (other bytes, no attestation: his upload can never pass this environment's gate)
    monkeypatch.setenv(CHAIN_POLICY, json.dumps(staging["chain"]))
    path = "/v1/models/iris/versions/good/upload"
    status, squat = call("PUT", path, {"sha256": "cd" * 32}, caller=BOB)
    assert status == 200 and "no attestation from staging" in squat["provenance"]
    # AND a forged attestation does not take the number from him either
    digest = sha256_file(bundles["good"])
    genuine = json.loads(signed(staging, staging_statement(digest)))
    forged = {**genuine, "signature": signed_by_another_key(staging, digest)}
    status, problem = call("PUT", path, {"sha256": digest, "attestation": forged})
    assert status == 409 and "declared already by " + BOB in problem["detail"]
    # WHEN the version is promoted from staging with its genuine, fresh attestation
    status, declared = call("PUT", path, {"sha256": digest, "attestation": genuine})
    # THEN the promotion's declaration stands, and Bob cannot take the number back
    assert status == 200, declared
    assert declared["declared_by"] == CALLER and "provenance" not in declared
    assert gate.repository.upload_declaration("iris", "good")["digest"] == digest
    status, problem = call("PUT", path, {"sha256": "cd" * 32}, caller=BOB)
    assert status == 409 and "declared already by " + CALLER in problem["detail"]


def signed_by_another_key(earlier: dict[str, Any], digest: str) -> str:
    other = earlier["kms"].create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    envelope = signed(earlier, staging_statement(digest), key=other["KeyMetadata"]["Arn"])
    return str(json.loads(envelope)["signature"])


def test_where_uploads_are_direct_a_declaration_keeps_its_number_for_its_declarer(gate):
    # GIVEN an environment without accepts_from, where Bob declared iris 1
    path = "/v1/models/iris/versions/1/upload"
    assert call("PUT", path, {"sha256": "cd" * 32}, caller=BOB)[0] == 200
    # WHEN someone else declares it, attestation or not, THEN it is Bob's
    status, problem = call("PUT", path, {"sha256": "ab" * 32})
    assert status == 409 and "declared already by " + BOB in problem["detail"]


def test_requests_for_attestations_never_push_out_what_was_signed_as_it_happened(gate, bundles):
    from registry.attesting import MAX_ATTESTATIONS_PER_VERSION

    # GIVEN iris good live here: its approval and its going live were signed
    live(gate, bundles["good"], "good")
    # WHEN a registry reader asks for fresh attestations more often than are kept
    for _ in range(MAX_ATTESTATIONS_PER_VERSION + 3):
        assert call("POST", f"{PATH}/attestation")[0] == 200
    # THEN the requested ones are bounded, and the approval's and the live one's remain
    occasions = [a["occasion"] for a in call("GET", PATH)[1]["attestations"]]
    assert occasions[:2] == ["approved", "live"]
    assert occasions.count("requested") == MAX_ATTESTATIONS_PER_VERSION


def test_a_declared_forgery_is_judged_in_the_gates_own_words(
    gate,
    bundles,
    staging,  # noqa: F811
    monkeypatch,
):
    # GIVEN an environment that takes iris only from staging
    monkeypatch.setenv(CHAIN_POLICY, json.dumps(staging["chain"]))
    digest = sha256_file(bundles["good"])
    genuine = json.loads(signed(staging, staging_statement(digest)))
    forged = {**genuine, "signature": signed_by_another_key(staging, digest)}
    # WHEN a declaration carries a statement signed by another key
    status, declared = call(
        "PUT", "/v1/models/iris/versions/good/upload", {"sha256": digest, "attestation": forged}
    )
    # THEN the registry says what the gate will say: one judgement, worded once
    assert status == 200
    assert declared["provenance"].startswith(
        "the gate will refuse this upload: the attestation from staging is invalid: "
    )
