"""Fixtures of the gate's unit tests: real iris bundles, and an account in moto."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from examples.iris.train import train_and_package
from model_runtime import sandboxed_model
from registry.environment import (
    APPROVAL_TOKEN_KEY,
    APPROVERS,
    ATTESTATION_KEY,
    CHAIN_POLICY,
    ENVIRONMENT_NAME,
    SANDBOX_FUNCTION,
    SEPARATION_OF_DUTIES,
)
from registry.repository import LineageRepository
from tests.conftest import create_lineage_table, renamed_iris_data
from tests.unit.gate import BUCKET, BUNDLE_CACHE_DIR, ENVIRONMENT, ForkedLambda, Gate


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real scikit-learn bundles of the shipped iris data, each named iris <label>."""
    folder = tmp_path_factory.mktemp("gate-bundles")
    made = {
        "good": {"c": 1.0},
        "better": {"c": 0.9},
        "weak": {"c": 0.0005, "threshold": 0.0},  # passes its own bar, loses to live
        "unreachable": {"threshold": 1.01},
    }
    paths = {}
    for label, training in made.items():
        paths[label] = folder / f"{label}.tar.gz"
        train_and_package(paths[label], name="iris", version=label, **training)
    # every feature renamed: a candidate whose evaluation data the live model cannot read
    renamed, data = renamed_iris_data(folder, "x_")
    paths["renamed"] = folder / "renamed.tar.gz"
    train_and_package(
        paths["renamed"], name="iris", version="renamed", feature_names=renamed, **data
    )
    return paths


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The artifact bucket and the lineage table in moto, and the settings infra would set."""
    from model_runtime.jobs import evaluate
    from model_runtime.serving import dependencies, settings

    # Step Functions executions run in moto (a decision resumes a real waiting execution)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        table = create_lineage_table()
        monkeypatch.setenv("SLIPWAY_TABLE_NAME", table.name)
        monkeypatch.setenv("SLIPWAY_POINTER_CACHE_SECONDS", "0")
        monkeypatch.setenv(BUNDLE_CACHE_DIR, str(tmp_path / "cache"))
        key = boto3.client("kms").create_key(Description="approval tokens")["KeyMetadata"]
        monkeypatch.setenv(APPROVAL_TOKEN_KEY, key["Arn"])
        signing = boto3.client("kms").create_key(
            Description="attestations", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"
        )["KeyMetadata"]
        monkeypatch.setenv(ATTESTATION_KEY, signing["Arn"])
        monkeypatch.setenv(APPROVERS, "[]")  # as infra sets it where cdk.json lists none
        monkeypatch.setenv(CHAIN_POLICY, "null")  # as infra sets it without accepts_from
        monkeypatch.setenv(SANDBOX_FUNCTION, "slipway-unit-python-sandbox")
        monkeypatch.setenv(ENVIRONMENT_NAME, ENVIRONMENT)
        monkeypatch.setenv(SEPARATION_OF_DUTIES, "false")  # as infra sets it by default
        monkeypatch.setattr(sandboxed_model, "sandbox_client", ForkedLambda)
        dependencies.get_model_store.cache_clear()
        evaluate.judging_store.cache_clear()
        settings.get_registry_store_settings.cache_clear()
        yield Gate(s3, LineageRepository(table), tmp_path / "endpoint-cache")
        dependencies.get_model_store.cache_clear()
        evaluate.judging_store.cache_clear()
        settings.get_registry_store_settings.cache_clear()
