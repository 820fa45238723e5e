"""Environments as a chain (issue 16), on the embedded cloud: `local` takes direct uploads;
`local-prod` (cdk.json) accepts models only from `local`, proven by a statement `local`
signs with its own KMS key, whose public half `local-prod`'s deploy was given (as
`slipway local up --env local --env local-prod` gives it).

Both are deployed into an embedded cloud of this module's own: the package's cloud keeps
`local` alone, as tests elsewhere find its functions by name. The lineage local-prod requires
is set per test through the policy the gate's first state writes, as cdk.json would set it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from examples.iris.train import EVALUATION_CSV, TRAIN_CSV, read_csv, train_and_package
from examples.iris.train import TARGET as LABEL
from infra.config import load_environment
from slipway.cli import app
from slipway.local.deploy import deploy_environment
from slipway.local.session import LocalSession
from slipway.local.state import LocalState
from slipway.target import read_environments
from tests.workflow.conftest import DeployedLocal
from tests.workflow.signed_http import SignedHttp

runner = CliRunner()
SOURCE, TARGET = "local", "local-prod"
CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
NOTHING_REQUIRED = {"clean_commit": False, "shareable_repository": False, "durable_datasets": False}
http = SignedHttp()  # this module's cloud's key; the package's cloud keeps its own


def _state(session: LocalSession) -> LocalState:
    key = session.cloud.credentials
    return LocalState(
        pid=os.getpid(),
        endpoint_url=session.cloud.endpoint_url,
        access_key_id=key.access_key_id,
        secret_access_key=key.secret_access_key,
        routes=session.refresh_routes(),
    )


def _synthesize_with_context(env: str, extra: dict[str, str], outdir: Path) -> Path:
    """cdk.json's environment synthesized in this process with deploy-time context."""
    import aws_cdk as cdk

    from infra.app_builder import build_app

    context = json.loads(CDK_JSON.read_text())["context"]
    application = cdk.App(outdir=str(outdir), context={**context, "env": env, **extra})
    build_app(application)
    application.synth()
    return outdir


@pytest.fixture(scope="module")
def chain(synthesized, tmp_path_factory) -> Iterator[tuple[DeployedLocal, DeployedLocal]]:
    from slipway.local.environments import chain_context

    work = tmp_path_factory.mktemp("chain-cloud")
    session = LocalSession(work_dir=work / "cloud").start()
    http.credentials = session.cloud.credentials
    common = {"log": work / "cdk.log"}
    try:
        source_outputs = deploy_environment(
            session.cloud.endpoint_url,
            session.cloud.credentials,
            environment=SOURCE,
            app=str(synthesized(SOURCE).outdir),
            outputs_file=work / "local.json",
            **common,
        )
        # what `slipway local up` passes to local-prod's deploy: local's deployed key
        context = chain_context(load_environment(read_environments(), TARGET), _state(session))
        assembly = _synthesize_with_context(TARGET, context, work / "cdk-local-prod")
        target_outputs = deploy_environment(
            session.cloud.endpoint_url,
            session.cloud.credentials,
            environment=TARGET,
            app=str(assembly),
            outputs_file=work / "local-prod.json",
            **common,
        )
        yield DeployedLocal(session, source_outputs), DeployedLocal(session, target_outputs)
    finally:
        session.stop()


@pytest.fixture
def cli(chain, tmp_path, monkeypatch) -> tuple[DeployedLocal, DeployedLocal]:
    """The CLI pointed at this module's cloud, as `slipway local up` would leave it."""
    source, _ = chain
    _state(source.session).save(tmp_path / "local-state")
    monkeypatch.setenv("SLIPWAY_LOCAL_DIR", str(tmp_path / "local-state"))
    return chain


def cli_json(*args: str, exit_code: int = 0) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == exit_code, (result.output, result.exception)
    return json.loads(result.stdout)


def live_in_source(source: DeployedLocal, bundles: dict[str, Path]) -> None:
    """Push each bundle (name -> bundle, each of another model: they go through the gate
    side by side) to local, and wait until each is live there."""
    executions = {}
    for name_version, bundle in bundles.items():
        name, version = name_version.split("/")
        executions[name_version] = source.push(bundle, name, version)
    for name_version, execution in executions.items():
        ended = source.wait_for_execution(execution, timeout=180)
        assert ended["status"] == "SUCCEEDED", (name_version, ended.get("cause"))


def attestation_of(source: DeployedLocal, name: str, version: str) -> dict[str, Any]:
    """What local signs now of a version, through its registry API (as promote asks)."""
    answer = http.post(f"{source.registry}/v1/models/{name}/versions/{version}/attestation")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def declared_upload_reason(
    target: DeployedLocal, bundle: Path, name: str, version: str, attestation: Any
) -> str:
    """Declare ``bundle`` in local-prod through its registry API's declaration route with
    ``attestation`` attached, upload it, and return why its gate refused it (nothing is
    registered: the refusal comes before Register)."""
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    declared = http.request(
        "PUT",
        f"{target.registry}/v1/models/{name}/versions/{version}/upload",
        json={"sha256": digest, "attestation": attestation},
    )
    assert declared.status_code == 200, declared.text
    ended = target.wait_for_execution(target.push(bundle, name, version), timeout=180)
    assert ended["status"] == "FAILED", ended
    assert target.repository.get_version(name, version) is None
    (ending,) = [e for e in target.repository.audit_history(name, version) if e["step"] == "reject"]
    assert ending["outcome"] == "rejected", ending
    return str(ending["reason"])


def test_a_direct_upload_is_refused_and_a_promoted_version_goes_live(cli, tmp_path):
    from examples.iris.train_from_s3 import train_from_s3, upload_datasets

    source, target = cli
    # GIVEN iris trained on data in a versioned bucket (local-prod requires durable datasets)
    s3 = source.client("s3")
    train_uri, evaluation_uri = upload_datasets(s3, "chain-datasets")
    bundles = {"2": tmp_path / "chain-iris-2.tar.gz"}
    manifest = train_from_s3(
        bundles["2"],
        s3=s3,
        train_uri=train_uri,
        evaluation_uri=evaluation_uri,
        name="chain-iris",
        version="2",
    )
    # WHEN version 2 is pushed straight to local-prod, which accepts models only from local
    cli_json("push", str(bundles["2"]), "--env", TARGET)
    # THEN its gate refuses it, naming what is missing, and registers nothing
    watch = ("--watch", "--timeout", "180")
    refused = cli_json("status", "chain-iris", "2", "--env", TARGET, *watch, exit_code=1)
    assert refused["version_status"] is None
    assert "no attestation from local" in refused["reason"]
    # WHEN version 2 goes live in local and the same bytes are promoted with its attestation
    live_in_source(source, {"chain-iris/2": bundles["2"]})
    watched = cli_json("promote", "chain-iris", "2", "--from", SOURCE, "--to", TARGET, *watch)
    # THEN local-prod puts it live, from the very bytes local registered
    assert watched["status"] == "SUCCEEDED" and watched["result"] == "live", watched
    assert watched["promotion"]["outcome"] == "uploaded"
    # AND local-prod's registry API judged the declaration as its gate does (its deploy was
    # given local's key): attested, it would take the version number from a direct upload's
    declaration = target.repository.upload_declaration("chain-iris", "2")
    assert declaration is not None and declaration.get("attested") is True, declaration
    there = target.repository.get_version("chain-iris", "2")
    here = source.repository.get_version("chain-iris", "2")
    assert there["bundle"]["digest"] == here["bundle"]["digest"]
    assert there["bundle"]["bucket"] == target.bucket != here["bundle"]["bucket"]
    # AND it answers on local-prod's endpoint
    answer = http.post(
        f"{target.endpoint}/v1/models/chain-iris/predict",
        json={"inputs": manifest.input_example.inputs},
    )
    assert answer.status_code == 200 and answer.json()["version"] == "2", answer.text
    # AND local-prod's lineage holds the statement it received, signed by local
    described = http.get(f"{target.registry}/v1/models/chain-iris/versions/2").json()
    received = described["received_attestation"]
    assert (received["environment"], received["status"]) == (SOURCE, "live")
    statement = received["envelope"]["statement"]
    assert statement["bundle_sha256"] == here["bundle"]["digest"]
    # AND `slipway lineage` in local-prod shows both environments
    shown = runner.invoke(app, ["lineage", "chain-iris", "2", "--env", TARGET])
    assert shown.exit_code == 0, shown.output
    assert "arrived from local" in shown.stdout and target.bucket in shown.stdout
    # AND promoting again is safe: the bytes are there, nothing is uploaded twice
    again = cli_json("promote", "chain-iris", "2", "--from", SOURCE, "--to", TARGET)
    assert again["outcome"] == "registered already" and again["target_status"] == "live"


def test_forged_statements_are_each_rejected_with_the_reason(cli, tmp_path):
    from registry.attestation import Statement, sign_statement

    source, target = cli
    bundles = {}
    for version in ("1", "2", "3"):
        bundles[version] = tmp_path / f"forged-{version}.tar.gz"
        train_and_package(bundles[version], name=f"chain-forged-{version}", version=version)
    live_in_source(source, {f"chain-forged-{v}/{v}": b for v, b in bundles.items()})
    with target.gate_policy(lineage_policy=NOTHING_REQUIRED):
        # a statement changed after signing: a manual approval nobody gave
        tampered = copy.deepcopy(attestation_of(source, "chain-forged-1", "1"))
        tampered["statement"]["approval"] = {
            "policy": "manual",
            "by": "arn:aws:iam::123456789012:user/mallory",
            "at": tampered["statement"]["issued_at"],
            "reason": "trust me",
        }
        reason = declared_upload_reason(target, bundles["1"], "chain-forged-1", "1", tampered)
        assert reason.startswith("ProvenanceRefusedError"), reason
        assert "altered after signing" in reason, reason
        # a genuine statement, but of other bytes than the ones uploaded under it
        genuine = attestation_of(source, "chain-forged-2", "2")
        other = tmp_path / "other-bytes.tar.gz"
        train_and_package(other, name="chain-forged-2", version="2", c=0.3)
        reason = declared_upload_reason(target, other, "chain-forged-2", "2", genuine)
        assert "attested for other bytes" in reason, reason
        assert genuine["statement"]["bundle_sha256"] in reason, reason
        # a well-formed statement signed with a key local-prod was not given
        kms = source.client("kms")
        stranger = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
        statement = Statement.model_validate(
            attestation_of(source, "chain-forged-3", "3")["statement"]
        )
        forged = sign_statement(kms, stranger["KeyMetadata"]["Arn"], statement)
        reason = declared_upload_reason(
            target, bundles["3"], "chain-forged-3", "3", json.loads(forged.to_json())
        )
        assert "signed by another key" in reason, reason
    # AND none of them is live in local-prod
    for version in ("1", "2", "3"):
        assert target.repository.get_pointer(f"chain-forged-{version}") is None


def test_a_version_rolled_back_in_the_source_cannot_be_promoted(cli, tmp_path):
    source, target = cli
    first, second = tmp_path / "r1.tar.gz", tmp_path / "r2.tar.gz"
    train_and_package(first, name="chain-rollback", version="1")
    train_and_package(second, name="chain-rollback", version="2", c=0.5)
    live_in_source(source, {"chain-rollback/1": first})
    live_in_source(source, {"chain-rollback/2": second})
    # GIVEN version 2, live in local, rolled back there
    cli_json("rollback", "chain-rollback", "--env", SOURCE, "--reason", "bad answers")
    # WHEN it is promoted to local-prod (whose policy forbids rollbacks: cdk.json's default)
    refused = cli_json(
        "promote", "chain-rollback", "2", "--from", SOURCE, "--to", TARGET, exit_code=1
    )
    # THEN promote refuses before uploading anything, naming the rollback
    assert "rolled back in local" in refused["error"], refused
    assert target.repository.get_version("chain-rollback", "2") is None
    # AND local-prod's gate refuses the same statement sent around the CLI
    with target.gate_policy(lineage_policy=NOTHING_REQUIRED):
        statement = attestation_of(source, "chain-rollback", "2")
        reason = declared_upload_reason(target, second, "chain-rollback", "2", statement)
    assert "rolled back in local" in reason and "bad answers" in reason, reason


def _dirty_bundle(tmp_path: Path, name: str, version: str) -> Path:
    """An iris model packaged from a git checkout with an uncommitted change."""
    from sklearn.linear_model import LogisticRegression

    from slipway import package_model

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (checkout / "train.py").write_text("C = 1.0\n")
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "train"], check=True)
    (checkout / "train.py").write_text("C = 2.0  # not committed\n")
    features, labels = read_csv(TRAIN_CSV)
    out = tmp_path / f"{name}-{version}.tar.gz"
    package_model(
        LogisticRegression(max_iter=500).fit(features, labels),
        name=name,
        version=version,
        train=TRAIN_CSV,
        evaluation=EVALUATION_CSV,
        target=LABEL,
        metric="accuracy",
        threshold=0.8,
        out=out,
        code_path=checkout,
    )
    return out


def test_the_lineage_policy_rejects_a_dirty_commit_and_a_local_dataset(cli, tmp_path):
    source, target = cli
    dirty = _dirty_bundle(tmp_path, "chain-dirty", "1")
    local_data = tmp_path / "local-data.tar.gz"
    train_and_package(local_data, name="chain-local-data", version="1")
    live_in_source(source, {"chain-dirty/1": dirty, "chain-local-data/1": local_data})
    # GIVEN genuine statements of versions live in local: the chain policy is met
    # WHEN local-prod requires a clean commit, the version built from a dirty one is refused
    with target.gate_policy(lineage_policy={**NOTHING_REQUIRED, "clean_commit": True}):
        statement = attestation_of(source, "chain-dirty", "1")
        reason = declared_upload_reason(target, dirty, "chain-dirty", "1", statement)
    assert "dirty" in reason, reason
    # WHEN it requires durable datasets, one trained on a local file is refused, named
    with target.gate_policy(lineage_policy={**NOTHING_REQUIRED, "durable_datasets": True}):
        statement = attestation_of(source, "chain-local-data", "1")
        reason = declared_upload_reason(target, local_data, "chain-local-data", "1", statement)
    assert "file://" in reason, reason
