"""The slipway CLI against the in-process embedded cloud: push, status, invoke, lineage."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from examples.iris.train import train_and_package
from slipway.cli import app
from slipway.local.state import LocalState

runner = CliRunner()


@pytest.fixture
def cli_env(deployed, tmp_path, monkeypatch):
    """Point the CLI's state file at the test's embedded cloud."""
    state = LocalState(
        pid=os.getpid(),
        endpoint_url=deployed.session.cloud.endpoint_url,
        routes=deployed.session.refresh_routes(),
        outputs=deployed.outputs,
    )
    state.save(tmp_path)
    monkeypatch.setenv("SLIPWAY_LOCAL_DIR", str(tmp_path))
    return deployed


def run(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_push_watch_invoke_and_trace_a_model(cli_env, tmp_path):
    bundle = tmp_path / "cli.tar.gz"
    manifest = train_and_package(bundle, name="iris-cli", version="1")

    pushed = run("push", str(bundle), "--env", "local")
    assert pushed["key"] == "models/iris-cli/1/bundle.tar.gz"

    status = run("status", "iris-cli", "1", "--env", "local", "--watch", "--timeout", "120")
    assert status["status"] == "SUCCEEDED"
    assert status["live_version"] == "1"
    assert status["execution"].endswith(pushed["execution"])

    body = json.dumps({"inputs": manifest.input_example.inputs})
    answer = run("invoke", "iris-cli", "--env", "local", "--data", body)
    assert answer["status"] == 200
    assert answer["body"]["outputs"] == manifest.input_example.expected_output

    lineage = run("lineage", "iris-cli", "1", "--env", "local")
    datasets = lineage["version"]["lineage"]["datasets"]
    assert [d["sha256"] for d in datasets] == [d.sha256 for d in manifest.lineage.datasets]
    assert [event["outcome"] for event in lineage["audit"]] == [
        "registered",
        "staged",
        "approved",
        "live",
    ]


def test_a_rejected_push_exits_1_with_the_reason(cli_env, tmp_path):
    bundle = tmp_path / "conflict.tar.gz"
    train_and_package(bundle, name="iris-cli-conflict", version="1")
    run("push", str(bundle), "--env", "local")
    run("status", "iris-cli-conflict", "1", "--env", "local", "--watch")
    train_and_package(bundle, name="iris-cli-conflict", version="1", c=0.01)
    run("push", str(bundle), "--env", "local")
    result = runner.invoke(
        app, ["status", "iris-cli-conflict", "1", "--env", "local", "--watch", "--json"]
    )
    assert result.exit_code == 1
    assert "VersionConflictError" in json.loads(result.stdout)["reason"]


def test_invoke_of_an_unknown_model_exits_1_with_the_problem(cli_env):
    result = runner.invoke(
        app, ["invoke", "no-such-model", "--env", "local", "--data", '{"inputs": [[1]]}', "--json"]
    )
    assert result.exit_code == 1
    answer = json.loads(result.stdout)
    assert answer["status"] == 404
    assert answer["body"]["detail"] == "model 'no-such-model' has no live version"
