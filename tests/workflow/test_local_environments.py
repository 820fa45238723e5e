"""Several embedded environments side by side in one embedded cloud, through the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import httpx
from typer.testing import CliRunner

from examples.iris.train import train_and_package
from functions.canary.metrics import serving_stats
from slipway.cli import app
from slipway.local.credentials import LocalCredentials, SigV4Auth

runner = CliRunner()


def run(*args: str) -> dict | list:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_two_embedded_environments_run_side_by_side_and_stay_apart(tmp_path, monkeypatch):
    from slipway.local.cloud import free_port

    monkeypatch.setenv("SLIPWAY_LOCAL_DIR", str(tmp_path / "local"))
    try:
        # GIVEN local and rehearsal (both marked embedded in cdk.json) brought up together
        up = run("local", "up", "--port", str(free_port()), "--env", "local", "--env", "rehearsal")
        assert set(up["environments"]) == {"local", "rehearsal"}
        for environment in up["environments"].values():
            assert environment["endpoints"]["default"].startswith("http://localhost:")
        # WHEN the status is asked for after the daemon opened every route
        status = run("local", "status")
        # THEN each environment is listed with its own served endpoints and registry
        local, rehearsal = status["environments"]["local"], status["environments"]["rehearsal"]
        for environment in (local, rehearsal):
            assert environment["endpoints"]["default"].startswith("http://localhost:")
            assert environment["registry"].startswith("http://localhost:")
        assert local["endpoints"]["default"] != rehearsal["endpoints"]["default"]
        assert local["outputs"]["ArtifactBucketName"] != rehearsal["outputs"]["ArtifactBucketName"]
        # AND the daemon's file holds where the cloud is, never outputs it could lose
        state = json.loads((tmp_path / "local" / "state.json").read_text())
        assert "outputs" not in state and state["pid"] == status["pid"]
        # WHEN a model is pushed to local and goes live there
        bundle = tmp_path / "apart.tar.gz"
        manifest = train_and_package(bundle, name="iris-apart", version="1")
        run("push", str(bundle), "--env", "local")
        watched = run("status", "iris-apart", "1", "--env", "local", "--watch", "--timeout", "120")
        assert watched["status"] == "SUCCEEDED"
        # THEN rehearsal knows nothing of it, and its endpoint does not serve it
        assert [m["name"] for m in run("models", "--env", "local")] == ["iris-apart"]
        assert run("models", "--env", "rehearsal") == []
        key = LocalCredentials(state["access_key_id"], state["secret_access_key"])
        body = {"inputs": manifest.input_example.inputs}
        url = "{}/v1/models/iris-apart/predict"
        answer = httpx.post(
            url.format(local["endpoints"]["default"]), json=body, auth=SigV4Auth(key), timeout=60
        )
        assert answer.status_code == 200, answer.text
        elsewhere = httpx.post(
            url.format(rehearsal["endpoints"]["default"]),
            json=body,
            auth=SigV4Auth(key),
            timeout=60,
        )
        assert elsewhere.status_code == 404, elsewhere.text
        # AND the live request counts in local's per-version series, which rehearsal's canary
        # and dashboard never read, though both share the cloud's account and region
        cloudwatch = boto3.client(
            "cloudwatch",
            endpoint_url=state["endpoint_url"],
            region_name="us-east-1",  # local's and rehearsal's, in cdk.json
            aws_access_key_id=state["access_key_id"],
            aws_secret_access_key=state["secret_access_key"],
        )
        now = datetime.now(UTC)
        window = (now - timedelta(minutes=10), now + timedelta(minutes=1))
        served_here = serving_stats(cloudwatch, "local", "iris-apart", "1", *window)
        served_there = serving_stats(cloudwatch, "rehearsal", "iris-apart", "1", *window)
        assert (served_here.invocations, served_there.invocations) == (1, 0)
        # AND each environment's logs are its own functions' (both have an endpointdefault)
        logs = run("local", "logs", "endpointdefault", "--env", "local")
        assert any('"model":"iris-apart"' in e["message"] for e in logs["events"])
        quiet = run("local", "logs", "endpointdefault", "--env", "rehearsal")
        assert quiet["function"] != logs["function"]
        assert not any('"model":"iris-apart"' in e["message"] for e in quiet["events"])
        # (only the 404 it answered above, as a request no model answered)
        assert any(
            '"path":"/v1/models/iris-apart/predict"' in e["message"] for e in quiet["events"]
        )
        # AND an environment not marked embedded is refused before anything is deployed
        refused = runner.invoke(app, ["local", "up", "--env", "prod"])
        assert refused.exit_code == 1
        assert "environment prod is not embedded" in refused.stderr
    finally:
        down = runner.invoke(app, ["local", "down"])
    # AND `down` keeps each environment's registry for its next `up`
    assert down.exit_code == 0, down.output
    assert "local: kept" in down.stdout and "rehearsal: kept" in down.stdout
