"""Shared fixtures: real event JSON, a real iris bundle, and AWS credentials that go nowhere."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from examples.iris.train import FEATURES, HERE, train_and_package
from model_runtime.manifest import Manifest
from slipway.local.deploy import with_project_node

# In-process synthesis starts jsii, which runs `node` from PATH: the project's supported one.
os.environ.update(with_project_node(dict(os.environ)))

EVENTS = Path(__file__).parent / "events"

# CI machines are shared and slow at times: a property is judged on its result, not its speed.
settings.register_profile("slipway", deadline=None, derandomize=False)
settings.load_profile("slipway")

_MARKERS = {
    "unit": "unit",
    "infra": "infra",
    "serving": "serving",
    "workflow": "workflow",
    "soak": "soak",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test directory is a layer; its marker lets a developer run one layer alone."""
    for item in items:
        layer = Path(str(item.fspath)).parent.name
        if layer in _MARKERS:
            item.add_marker(getattr(pytest.mark, _MARKERS[layer]))


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test may reach a real AWS account, whatever the developer's shell holds; and no
    test reuses another's cached clients (each may run in its own moto context)."""
    from registry import aws

    for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    aws.client.cache_clear()
    aws.lineage_repository.cache_clear()
    yield
    aws.client.cache_clear()
    aws.lineage_repository.cache_clear()


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str = "slipway-test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:slipway-test-function"
    )
    aws_request_id: str = "3f1b6c0e-5a8e-4d5e-9a53-6a8c2b7d0e11"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


def renamed_iris_data(tmp_path, prefix: str) -> tuple[list[str], dict[str, object]]:
    """The shipped iris CSVs with every feature renamed: a candidate with a new schema."""
    renamed = [f"{prefix}{feature}" for feature in FEATURES]
    paths = {}
    for role in ("train", "evaluation"):
        source = (HERE / "data" / f"{role}.csv").read_text().splitlines()
        header = source[0]
        for old, new in zip(FEATURES, renamed, strict=True):
            header = header.replace(old, new)
        target = tmp_path / f"{role}.csv"
        target.write_text("\n".join([header, *source[1:]]) + "\n")
        paths[f"{role}_csv" if role == "train" else "evaluation_csv"] = target
    return renamed, paths


def create_lineage_table(name: str = "lineage") -> Any:
    """A table with the lineage key schema, in whatever moto context is active."""
    import boto3

    from registry import keys

    return boto3.resource("dynamodb").create_table(**keys.create_table_request(name))


@pytest.fixture(scope="session")
def iris_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """A bundle of a real scikit-learn model trained on the shipped iris data."""
    out = tmp_path_factory.mktemp("bundles") / "iris-1.tar.gz"
    return out, train_and_package(out, name="iris", version="1")


CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


@dataclass
class Synthesized:
    """One environment's cloud assembly, synthesized once per test session."""

    outdir: Path
    template: Any  # aws_cdk.assertions.Template
    template_json: dict[str, Any]
    nag_findings: list[str]  # unsuppressed cdk-nag errors and warnings


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Synthesized]:
    """Synthesize an environment in-process on first use; later uses get the same assembly."""
    cache: dict[str, Synthesized] = {}
    context = json.loads(CDK_JSON.read_text())["context"]  # feature flags included

    def synth(env: str) -> Synthesized:
        if env not in cache:
            import aws_cdk as cdk
            from aws_cdk.assertions import Annotations, Match, Template

            from infra.app_builder import build_app

            outdir = tmp_path_factory.mktemp(f"cdk-{env}")
            app = cdk.App(outdir=str(outdir), context={**context, "env": env})
            environment = build_app(app)
            app.synth()
            # one view over the environment's stacks: logical ids are unique across them
            merged: dict[str, Any] = {"Resources": {}, "Outputs": {}}
            findings = []
            for stack in environment.stacks:
                template = Template.from_stack(stack).to_json()
                merged["Resources"].update(template.get("Resources", {}))
                merged["Outputs"].update(template.get("Outputs", {}))
                annotations = Annotations.from_stack(stack)
                findings += [
                    f"{finding.id}: {finding.entry.data}"
                    for finding in [
                        *annotations.find_error("*", Match.any_value()),
                        *annotations.find_warning("*", Match.any_value()),
                    ]
                ]
            cache[env] = Synthesized(outdir, Template.from_json(merged), merged, findings)
        return cache[env]

    return synth


def python_bundle_with(tmp_path: Path, name: str, version: str, extra_code: str) -> Path:
    """The python example's predictor with ``extra_code`` appended (a hostile uploader's),
    packaged as ``name`` ``version`` by the example's own trainer."""
    import shutil

    from examples.iris_python.train import PREDICTOR, train_and_package

    folder = tmp_path / f"{name}-{version}-predictor"
    shutil.copytree(PREDICTOR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    code = (folder / "predictor.py").read_text()
    (folder / "predictor.py").write_text(f"{code}\n{extra_code}\n")
    bundle = tmp_path / f"{name}-{version}.tar.gz"
    train_and_package(bundle, name=name, version=version, predictor=folder)
    return bundle
