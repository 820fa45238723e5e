"""The slipway CLI against the in-process embedded cloud: push, status, invoke, lineage."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from examples.iris.train import train_and_package
from registry import keys
from slipway.cli import app
from slipway.local.credentials import LocalCredentials, SigV4Auth
from slipway.target import read_environments, resolve_target
from tests.workflow.conftest import point_cli_at

runner = CliRunner()


@pytest.fixture
def cli_env(deployed, tmp_path, monkeypatch):
    """Point the CLI's state file at the test's embedded cloud."""
    point_cli_at(deployed, tmp_path, monkeypatch)
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
    assert pushed["declared_by"] == "local"  # no SigV4 authorizer on the embedded cloud

    status = run("status", "iris-cli", "1", "--env", "local", "--watch", "--timeout", "120")
    assert status["status"] == "SUCCEEDED"
    assert status["live_version"] == "1"
    assert status["execution"].endswith(pushed["execution"])

    body = json.dumps({"inputs": manifest.input_example.inputs})
    answer = run("invoke", "iris-cli", "--env", "local", "--data", body)
    assert answer["status"] == 200
    assert answer["body"]["outputs"] == manifest.input_example.expected_output

    lineage = run("lineage", "iris-cli", "1", "--env", "local")
    assert lineage["version"]["uploaded_by"] == "local"
    datasets = lineage["version"]["lineage"]["datasets"]
    assert [d["sha256"] for d in datasets] == [d.sha256 for d in manifest.lineage.datasets]
    assert [event["outcome"] for event in lineage["audit"]] == [
        "skipped",  # VerifyProvenance: local requires no provenance
        "registered",
        "staged",
        "approved",
        "live",
    ]


def upload_around_the_cli_and_watch(bundle: Path, name: str, version: str) -> dict:
    """Upload with S3 alone (no declaration), then what `status --watch` answers: it must
    exit 1."""
    target = resolve_target("local")
    target.client("s3").upload_file(
        str(bundle), target.outputs["ArtifactBucketName"], f"models/{name}/{version}/bundle.tar.gz"
    )
    result = runner.invoke(app, ["status", name, version, "--env", "local", "--watch", "--json"])
    assert result.exit_code == 1, result.output
    return json.loads(result.stdout)


def test_the_same_bytes_as_a_rejected_version_are_reported_rejected_not_green(cli_env, tmp_path):
    # GIVEN a version the gate rejected (it cannot reach its own bar)
    bundle = tmp_path / "unreachable.tar.gz"
    train_and_package(bundle, name="iris-cli-rejected", version="1", threshold=1.01)
    run("push", str(bundle), "--env", "local")
    first = runner.invoke(app, ["status", "iris-cli-rejected", "1", "--env", "local", "--watch"])
    assert first.exit_code == 1
    # WHEN the same bytes are uploaded again (around the CLI, which refuses them already)
    again = runner.invoke(app, ["push", str(bundle), "--env", "local"])
    assert again.exit_code == 1 and "(rejected)" in " ".join(again.output.split())
    # THEN status says the version is rejected, with the reason, and exits 1 (not a green
    # "already registered")
    answer = upload_around_the_cli_and_watch(bundle, "iris-cli-rejected", "1")
    assert (answer["result"], answer["version_status"]) == ("already registered", "rejected")
    assert "threshold" in answer["reason"] or "1.01" in answer["reason"]
    said = runner.invoke(app, ["status", "iris-cli-rejected", "1", "--env", "local"])
    assert said.exit_code == 1 and "already registered, and rejected" in " ".join(
        said.output.split()
    )


def test_a_rejected_push_exits_1_with_the_reason(cli_env, tmp_path):
    bundle = tmp_path / "conflict.tar.gz"
    train_and_package(bundle, name="iris-cli-conflict", version="1")
    run("push", str(bundle), "--env", "local")
    run("status", "iris-cli-conflict", "1", "--env", "local", "--watch")
    # the same bytes again: the declaration says there is nothing to upload
    again = runner.invoke(app, ["push", str(bundle), "--env", "local"])
    assert again.exit_code == 1
    assert "with these bytes: nothing to upload" in " ".join(again.output.split())
    # other bytes under the registered version: refused before uploading...
    train_and_package(bundle, name="iris-cli-conflict", version="1", c=0.01)
    refused = runner.invoke(app, ["push", str(bundle), "--env", "local"])
    assert refused.exit_code == 1 and "versions are immutable" in " ".join(refused.output.split())
    # ...and uploaded around the CLI, rejected by the gate with the reason
    answer = upload_around_the_cli_and_watch(bundle, "iris-cli-conflict", "1")
    # (Validate refuses them already: they are not the bytes the version's declaration names)
    assert answer["reason"].startswith("UploadNotDeclaredError: iris-cli-conflict 1 was declared")
    # the upload was rejected, not the version: it stays live
    assert answer["version_status"] == "live" and answer["live_version"] == "1"
    said = runner.invoke(app, ["status", "iris-cli-conflict", "1", "--env", "local"])
    assert said.exit_code == 1
    said_text = " ".join(said.output.split())  # rich wraps lines
    assert "this upload was rejected" in said_text and "registered earlier is live" in said_text


def test_invoke_of_an_unknown_model_exits_1_with_the_problem(cli_env):
    result = runner.invoke(
        app, ["invoke", "no-such-model", "--env", "local", "--data", '{"inputs": [[1]]}', "--json"]
    )
    assert result.exit_code == 1
    answer = json.loads(result.stdout)
    assert answer["status"] == 404
    assert answer["body"]["detail"] == "model 'no-such-model' has no live version"


@pytest.mark.parametrize(
    ("module", "name"),
    [("examples.iris_onnx.train", "iris-onnx"), ("examples.iris_python.train", "iris-python")],
    ids=["onnx", "python"],
)
def test_the_onnx_and_python_examples_run_end_to_end(cli_env, tmp_path, module, name):
    import importlib

    bundle = tmp_path / f"{name}.tar.gz"
    manifest = importlib.import_module(module).train_and_package(bundle, version="7")
    run("push", str(bundle), "--env", "local")
    assert run("status", name, "7", "--env", "local", "--watch")["status"] == "SUCCEEDED"
    answer = run(
        "invoke",
        name,
        "--env",
        "local",
        "--data",
        json.dumps({"inputs": manifest.input_example.inputs}),
    )
    assert answer["body"]["outputs"] == manifest.input_example.expected_output
    assert answer["version"] == "7"


def test_package_builds_each_flavor_from_the_command_line(tmp_path):
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    from examples.iris.train import HERE, read_csv
    from examples.iris_onnx.train import export_onnx

    x, y = read_csv(HERE / "data" / "train.csv")
    forest = tmp_path / "forest.skops"
    sio.dump(RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y), forest)
    onnx_file = export_onnx(
        RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y),
        4,
        tmp_path / "forest.onnx",
    )
    predictor = Path(__file__).resolve().parents[2] / "examples" / "iris_python" / "predictor"
    common = [
        "--version",
        "1",
        "--train",
        str(HERE / "data" / "train.csv"),
        "--evaluation",
        str(HERE / "data" / "evaluation.csv"),
        "--target",
        "species",
        "--threshold",
        "0.8",
    ]
    for model, flavor in ((forest, "sklearn"), (onnx_file, "onnx")):
        out = tmp_path / f"{flavor}.tar.gz"
        built = run("package", str(model), "--name", f"cli-{flavor}", "--out", str(out), *common)
        assert built["manifest"]["flavor"] == flavor
        assert built["manifest"]["evaluation"]["dataset"] == "data/evaluation.csv"
        assert "monitoring/baseline.json" in built["manifest"]["files"]  # the monitor's baseline
        assert [d["role"] for d in built["manifest"]["lineage"]["datasets"]] == [
            "train",
            "evaluation",
        ]
    # a predictor folder needs its own data files; without centroids.json it cannot load
    result = runner.invoke(
        app,
        [
            "package",
            str(predictor),
            "--name",
            "cli-python",
            "--out",
            str(tmp_path / "p.tar.gz"),
            *common,
        ],
    )
    assert result.exit_code != 0
    assert "Predictor.load failed" in str(result.exception)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--name": "Iris_Model"}, "Invalid value for '--name': 'Iris_Model'"),
        ({"--version": "1 2"}, "Invalid value for '--version': '1 2'"),
        ({"--train": "missing.csv"}, "Invalid value for '--train': file 'missing.csv' does not"),
        ({"--metric": "auc"}, "'auc' is not one of accuracy, balanced_accuracy"),
        ({"model": "missing.skops"}, "Invalid value for 'model': path 'missing.skops' does not"),
        (
            {"--evaluation": "evaluation.csv"},
            "Invalid value for '--threshold': give the metric's threshold with --evaluation",
        ),
    ],
    ids=["name", "version", "train", "metric", "model", "no-threshold"],
)
def test_package_refuses_bad_arguments_before_loading_anything(tmp_path, change, message):
    from examples.iris.train import HERE

    options = {
        "--name": "iris",
        "--version": "1",
        "--train": str(HERE / "data" / "train.csv"),
        "--target": "species",
        "--metric": "accuracy",
    }
    options.update({k: v for k, v in change.items() if k.startswith("--")})
    if "--evaluation" in change:
        options["--evaluation"] = str(HERE / "data" / change["--evaluation"])
    model = change.get("model", str(tmp_path / "never-read.skops"))
    (tmp_path / "never-read.skops").write_bytes(b"not read: arguments fail first")
    args = ["package", model, *[part for pair in options.items() for part in pair]]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_listing_tracing_and_decisions(cli_env, tmp_path):
    bundle = tmp_path / "listed.tar.gz"
    manifest = train_and_package(bundle, name="cli-listed", version="1")
    run("push", str(bundle), "--env", "local")
    run("status", "cli-listed", "1", "--env", "local", "--watch")
    assert "cli-listed" in [m["name"] for m in run("models", "--env", "local")]
    versions = run("versions", "cli-listed", "--env", "local", "--status", "live")
    assert [v["version"] for v in versions] == ["1"]
    # the deployed Validate and Register put the monitoring baseline's summary on the version
    assert versions[0]["baseline"] == {
        "file": "monitoring/baseline.json",
        "sha256": manifest.files["monitoring/baseline.json"],
        "rows": manifest.lineage.datasets[0].rows,
        "columns": len(manifest.signature.inputs),
        "outputs": 1,
    }
    train = manifest.lineage.datasets[0]
    users = run("lineage", "--dataset", train.sha256, "--env", "local")
    assert {"model": "cli-listed", "version": "1", "live": True}.items() <= next(
        row for row in users["versions"] if row["model"] == "cli-listed"
    ).items()
    events = run("lineage", "cli-listed", "1", "--env", "local", "--openlineage")
    assert events[1]["eventType"] == "COMPLETE"
    # decisions the registry refuses are errors with the reason, exit code 1
    result = runner.invoke(app, ["rollback", "cli-listed", "--env", "local"])
    assert result.exit_code == 1
    assert "no good version live before 1 to roll back to" in result.stderr
    result = runner.invoke(app, ["approve", "cli-listed", "1", "--env", "local"])
    assert result.exit_code == 1 and "not waiting for approval" in result.stderr


def test_local_status_and_logs(cli_env):
    status = run("local", "status")
    # the outputs read from the cloud itself (moto's backends live as long as the process:
    # environments an earlier test module deployed may be listed too)
    local = status["environments"]["local"]
    assert local["endpoints"]["default"].startswith("http://localhost:")
    assert local["registry"].startswith("http://localhost:")
    logs = run("local", "logs", "Endpointdefault", "--lines", "500")
    assert any('"message":"prediction"' in e["message"] for e in logs["events"])
    result = runner.invoke(app, ["local", "logs", "Function"])
    assert result.exit_code == 1 and "be more specific" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["status", "no-such-model", "1", "--env", "local"],
            "no promotion found for no-such-model 1",
        ),
        (["status", "no-such-model", "--env", "local"], "'no-such-model' has no live version"),
        (["lineage", "no-such-model", "1", "--env", "local"], "no-such-model 1 is not registered"),
        (["push", "missing.tar.gz", "--env", "local"], "missing.tar.gz does not exist"),
        (["invoke", "iris", "--env", "local", "--data", "{bad"], "--data is not valid JSON"),
        (  # the names in cdk.json, whatever environments a team added
            ["models", "--env", "qa"],
            f"environment 'qa' is not in cdk.json; known: {', '.join(sorted(read_environments()))}",
        ),
    ],
    ids=[
        "unknown-version",
        "unknown-model",
        "unknown-lineage",
        "missing-bundle",
        "bad-json",
        "unknown-env",
    ],
)
def test_error_paths_are_one_line_with_exit_code_1(cli_env, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_embedded_cloud_not_running_says_how_to_start_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIPWAY_LOCAL_DIR", str(tmp_path / "nothing-here"))
    result = runner.invoke(app, ["status", "iris", "--env", "local"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: the embedded cloud is not running; start it with `slipway local up`"
    )


def test_usage_errors_exit_2():
    assert runner.invoke(app, ["bogus"]).exit_code == 2
    assert runner.invoke(app, ["invoke", "iris"]).exit_code == 2  # --data is required


def test_wrong_credentials_for_a_function_url_are_explained(tmp_path, monkeypatch):
    """A Function URL with AWS_IAM auth answers 403 to credentials it does not accept; here
    a loopback server answers exactly that, since no AWS account is reachable offline."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from slipway import target as target_module

    seen = {}

    class FunctionUrlRefusing(BaseHTTPRequestHandler):
        def do_POST(self):
            seen["authorization"] = self.headers.get("authorization", "")
            body = b'{"Message":"Forbidden. For troubleshooting Function URL authorization issues"}'
            self.send_response(403)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FunctionUrlRefusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    real_resolve = target_module.resolve_target

    def dev_target(env):
        resolved = real_resolve(env)
        resolved.__dict__["outputs"] = {"EndpointUrlDefault": url}
        return resolved

    monkeypatch.setattr(target_module, "resolve_target", dev_target)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
    try:
        result = runner.invoke(
            app, ["invoke", "iris", "--env", "dev", "--data", '{"inputs": [[1, 2, 3, 4]]}']
        )
    finally:
        server.shutdown()
    assert result.exit_code == 1
    assert "refused the request (HTTP 403)" in result.stderr
    assert "access key …ONG1" in result.stderr
    # both actions are named: function URLs made since October 2025 need both
    assert "lambda:InvokeFunctionUrl and lambda:InvokeFunction" in result.stderr
    assert ":live" in result.stderr
    assert seen["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAWRONGWRONGWRONG1/")


def test_local_up_status_and_down_run_the_daemon_and_the_real_cdk_deploy(tmp_path, monkeypatch):
    from slipway.local.cloud import free_port

    monkeypatch.setenv("SLIPWAY_LOCAL_DIR", str(tmp_path / "local"))
    try:
        up = run("local", "up", "--port", str(free_port()))
        assert up["environments"]["local"]["endpoints"]["default"].startswith("http://localhost:")
        status = run("local", "status")
        assert status["pid"] == up["pid"]
        # the per-start key lives in a state file only its owner reads, and signs requests
        state_file = tmp_path / "local" / "state.json"
        assert state_file.stat().st_mode & 0o077 == 0
        env = runner.invoke(app, ["local", "env"])
        exports = dict(
            line.removeprefix("export ").split("=", 1) for line in env.stdout.splitlines()
        )
        key = LocalCredentials(
            exports["SLIPWAY_LOCAL_ACCESS_KEY_ID"], exports["SLIPWAY_LOCAL_SECRET_ACCESS_KEY"]
        )
        url = f"{status['environments']['local']['endpoints']['default']}/health"
        assert httpx.get(url, auth=SigV4Auth(key), timeout=30).json() == {"status": "ok"}
        assert httpx.get(url, timeout=30).status_code == 403
        # a model promoted before `down`...
        bundle = tmp_path / "kept.tar.gz"
        manifest = train_and_package(bundle, name="iris-kept", version="1")
        run("push", str(bundle), "--env", "local")
        status = run("status", "iris-kept", "1", "--env", "local", "--watch", "--timeout", "120")
        assert status["status"] == "SUCCEEDED"
    finally:
        result = runner.invoke(app, ["local", "down"])
    assert result.exit_code == 0 and "stopped" in result.stdout
    assert "kept" in result.stdout and "objects" in result.stdout
    assert runner.invoke(app, ["local", "status"]).exit_code == 1
    # ...is there after the next `up` (finding 11: down/up lost every model), and serves
    try:
        up = run("local", "up", "--port", str(free_port()))
        assert up["environments"]["local"]["restored"]["objects"] >= 1
        (kept,) = run("versions", "iris-kept", "--env", "local")
        assert (kept["version"], kept["status"]) == ("1", "live")
        body = json.dumps({"inputs": manifest.input_example.inputs})
        answer = run("invoke", "iris-kept", "--env", "local", "--data", body)
        assert answer["status"] == 200, answer
        assert answer["body"]["outputs"] == manifest.input_example.expected_output
        # the registered bytes are the restored object's: pull checks the digest
        run("pull", "iris-kept", "1", "--env", "local", "--out", str(tmp_path / "pulled.tar.gz"))
    finally:
        assert runner.invoke(app, ["local", "down"]).exit_code == 0
    # AND --fresh starts empty
    try:
        up = run("local", "up", "--port", str(free_port()), "--fresh")
        assert "restored" not in up["environments"]["local"]
        assert run("models", "--env", "local") == []
    finally:
        assert runner.invoke(app, ["local", "down"]).exit_code == 0


def test_serve_answers_over_http(tmp_path, iris_bundle):
    import subprocess
    import sys
    import time

    from slipway.local.cloud import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "slipway.cli", "serve", str(iris_bundle[0]), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/v1/models/iris/predict",
                    json={"inputs": iris_bundle[1].input_example.inputs},
                    timeout=5,
                )
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "slipway serve did not start"
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert answer.json()["outputs"] == iris_bundle[1].input_example.expected_output


def test_pull_writes_the_registered_bytes_even_after_the_key_is_overwritten(cli_env, tmp_path):
    # GIVEN a version pushed and live, and then other bytes uploaded at the same S3 key
    bundle = tmp_path / "pulled.tar.gz"
    train_and_package(bundle, name="cli-pull", version="1")
    pushed = bundle.read_bytes()
    run("push", str(bundle), "--env", "local")
    assert run("status", "cli-pull", "1", "--env", "local", "--watch")["status"] == "SUCCEEDED"
    train_and_package(bundle, name="cli-pull", version="1", c=0.01)
    assert bundle.read_bytes() != pushed
    cli_env.client("s3").put_object(
        Bucket=cli_env.bucket, Key="models/cli-pull/1/bundle.tar.gz", Body=bundle.read_bytes()
    )
    # WHEN the version is pulled
    out = tmp_path / "out" / "pulled.tar.gz"
    pulled = run("pull", "cli-pull", "1", "--env", "local", "--out", str(out))
    # THEN the file holds the registered bytes (by S3 version id), not the key's latest ones
    assert out.read_bytes() == pushed
    assert pulled == {
        "bundle": str(out),
        "digest": hashlib.sha256(pushed).hexdigest(),
        "status": "live",
    }


def test_pull_refuses_bytes_that_do_not_match_the_registered_digest(cli_env, tmp_path):
    # GIVEN a registered version whose recorded digest no longer matches its object
    bundle = tmp_path / "tampered.tar.gz"
    train_and_package(bundle, name="cli-pull-digest", version="1")
    run("push", str(bundle), "--env", "local")
    run("status", "cli-pull-digest", "1", "--env", "local", "--watch")
    recorded = "0" * 64
    cli_env.repository._table.update_item(
        Key={keys.PK: keys.model_pk("cli-pull-digest"), keys.SK: keys.version_sk("1")},
        UpdateExpression="SET bundle.digest = :digest",
        ExpressionAttributeValues={":digest": recorded},
    )
    # WHEN it is pulled
    out = tmp_path / "out" / "tampered.tar.gz"
    result = runner.invoke(
        app, ["pull", "cli-pull-digest", "1", "--env", "local", "--out", str(out)]
    )
    # THEN nothing is written, and the one-line error names both digests
    assert result.exit_code == 1, result.output
    actual = hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert result.stderr.strip() == (
        f"Error: the downloaded bytes have sha256 {actual}, the registry recorded {recorded}: "
        "nothing was written"
    )
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_pull_of_a_version_that_is_not_registered_exits_1_in_one_line(cli_env, tmp_path):
    result = runner.invoke(
        app, ["pull", "no-such-model", "3", "--env", "local", "--out", str(tmp_path / "x.tar.gz")]
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no-such-model 3 is not registered in local"
    assert not (tmp_path / "x.tar.gz").exists()


def test_an_event_that_keeps_failing_reaches_the_dead_letter_queue_and_can_be_redriven(
    cli_env, tmp_path
):
    # (finding 11: moto deleted every message whatever the function answered, so nothing
    # ever reached a dead-letter queue)
    deployed = cli_env
    sqs = deployed.client("sqs")
    queue = deployed.outputs["IngestQueueUrl"]
    before = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["VisibilityTimeout"])
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "1"})
    try:
        # GIVEN an event ingest cannot read, and a real upload, in the same queue
        sqs.send_message(QueueUrl=queue, MessageBody='{"detail": "not an S3 event"}')
        bundle = tmp_path / "dlq.tar.gz"
        train_and_package(bundle, name="iris-dlq", version="1")
        execution = deployed.push(bundle, "iris-dlq", "1")
        # THEN the upload is promoted once, and the bad event, after five receives, waits
        # in the dead-letter queue
        assert deployed.wait_for_execution(execution)["status"] == "SUCCEEDED"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            waiting = runner.invoke(app, ["dlq", "list", "--env", "local", "--json"])
            (ingest,) = [q for q in json.loads(waiting.stdout) if q["queue"] == "ingest"]
            if ingest["messages"]:
                break
            time.sleep(0.5)
        assert waiting.exit_code == 1 and ingest["messages"] == 1, waiting.stdout
        assert ingest["first"][0]["about"].startswith("unreadable message")
        assert len(deployed.executions("iris-dlq-1")) == 1
    finally:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes=before["Attributes"])
    # AND a redrive sends it back to the queue it came from
    assert run("dlq", "redrive", "ingest", "--env", "local") == {"queue": "ingest", "moved": 1}
    dead = sqs.get_queue_attributes(
        QueueUrl=deployed.outputs["IngestDeadLetterQueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )
    assert dead["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_doctor_names_what_is_inconsistent_and_exits_1(cli_env, tmp_path):
    deployed = cli_env
    bundle = tmp_path / "doctor.tar.gz"
    train_and_package(bundle, name="iris-doctor", version="1")
    assert (
        deployed.wait_for_execution(deployed.push(bundle, "iris-doctor", "1"))["status"]
        == "SUCCEEDED"
    )
    assert run("doctor", "iris-doctor", "--env", "local") == {"models": 1, "findings": []}
    # a lock left by an execution Step Functions no longer knows
    gone = deployed.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:")
    deployed.repository._table.put_item(
        Item={
            keys.PK: keys.model_pk("iris-doctor"),
            keys.SK: keys.LOCK_SK,
            "execution": "long-gone",
            "execution_arn": f"{gone}:long-gone",
            "version": "2",
            "expires_at": 4102444800,
        }
    )
    said = runner.invoke(app, ["doctor", "iris-doctor", "--env", "local"])
    assert said.exit_code == 1
    text = " ".join(said.output.split())
    assert "iris-doctor: stale-lock" in text and "slipway unlock iris-doctor" in text
    assert run("unlock", "iris-doctor", "--env", "local")["holder_status"] == "GONE"


class Watcher:
    """`slipway status --watch` as a user runs it: its own process, lines read as printed."""

    def __init__(self, name: str, version: str) -> None:
        import subprocess
        import sys
        import threading

        command = ["status", name, version, "--env", "local", "--watch"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "slipway.cli", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "500"},  # one notice, one line
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for_line(self, text: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if text in line]
            if found:
                return found[0]
            assert self.process.poll() is None, ("ended", self.lines, self.process.stderr.read())
            time.sleep(0.2)
        raise AssertionError(f"no line with {text!r} in {self.lines}")

    def end(self, timeout: float = 120) -> tuple[int, str, str]:
        self.process.wait(timeout)
        return self.process.returncode, "".join(self.lines), self.process.stderr.read()


def test_watch_says_what_a_waiting_version_needs_and_follows_it_to_the_end(cli_env, tmp_path):
    with cli_env.gate_policy(approval="manual"):
        # GIVEN a version waiting for a person's approval
        bundle = tmp_path / "waits.tar.gz"
        train_and_package(bundle, name="cli-waits", version="1")
        cli_env.push(bundle, "cli-waits", "1")
        watcher = Watcher("cli-waits", "1")
        # THEN the watch says so once, with the exact commands that decide it
        notice = watcher.wait_for_line("waits for a person's decision")
        assert "`slipway approve cli-waits 1 --env local`" in notice
        assert "`slipway reject cli-waits 1 --env local --reason TEXT`" in notice
        # AND it keeps watching: once approved, the version goes live and the watch ends 0
        run("approve", "cli-waits", "1", "--env", "local", "--reason", "checked")
        code, out, err = watcher.end()
    assert code == 0, (out, err)
    assert "cli-waits 1: live" in out
    assert out.count("waits for a person's decision") == 1


def test_ctrl_c_stops_watching_cleanly_and_the_promotion_goes_on(cli_env, tmp_path):
    import signal

    with cli_env.gate_policy(approval="manual"):
        bundle = tmp_path / "interrupted.tar.gz"
        train_and_package(bundle, name="cli-interrupted", version="1")
        execution = cli_env.push(bundle, "cli-interrupted", "1")
        watcher = Watcher("cli-interrupted", "1")
        watcher.wait_for_line("waits for a person's decision")
        # WHEN the user presses Ctrl-C
        watcher.process.send_signal(signal.SIGINT)
        code, out, err = watcher.end()
        # THEN the watch ends 130, no traceback, saying how to follow the promotion again
        assert code == 130, (out, err)
        assert "Traceback" not in err
        assert "`slipway status cli-interrupted 1 --env local --watch`" in " ".join(err.split())
        # AND the promotion still waits
        assert cli_env.repository.get_version("cli-interrupted", "1")["status"] == (
            "awaiting-approval"
        )
        run("reject", "cli-interrupted", "1", "--env", "local", "--reason", "test over")
        assert cli_env.wait_for_execution(execution)["status"] == "FAILED"


@pytest.fixture(scope="module")
def sorted_versions(deployed, tmp_path_factory):
    """cli-sorted 1 (live), 2 and 10 (rejected: their bar is out of reach), and what
    `status --watch` printed for each."""
    watched = {}
    folder = tmp_path_factory.mktemp("cli-sorted")
    with pytest.MonkeyPatch.context() as patch:
        point_cli_at(deployed, folder, patch)
        unreachable = {"threshold": 1.01}
        for version, training in (("1", {}), ("2", unreachable), ("10", unreachable)):
            bundle = folder / f"sorted-{version}.tar.gz"
            train_and_package(bundle, name="cli-sorted", version=version, **training)
            run("push", str(bundle), "--env", "local")
            watched[version] = runner.invoke(
                app, ["status", "cli-sorted", version, "--env", "local", "--watch"]
            )
    return watched


def test_a_rejection_is_watched_with_its_reason_not_lambdas_stack_trace(sorted_versions):
    watched = sorted_versions["2"]
    shown = " ".join(watched.output.split())
    assert watched.exit_code == 1
    assert "✗ Evaluate EvaluationFailedError: accuracy" in shown, shown
    assert "stackTrace" not in shown and "errorMessage" not in shown, shown


def test_versions_are_listed_as_people_count_not_as_text(cli_env, sorted_versions):
    versions = run("versions", "cli-sorted", "--env", "local")
    assert [v["version"] for v in versions] == ["1", "2", "10"]  # not 1, 10, 2
    said = runner.invoke(app, ["versions", "cli-sorted", "--env", "local"]).output
    assert [line.split(":")[0] for line in said.splitlines()] == ["1", "2", "10"]


def test_models_show_the_live_version_beside_the_latest(cli_env, sorted_versions):
    (model,) = [m for m in run("models", "--env", "local") if m["name"] == "cli-sorted"]
    assert (model["live_version"], model["latest_version"]) == ("1", "10")
    said = " ".join(runner.invoke(app, ["models", "--env", "local"]).output.split())
    assert "cli-sorted: live 1; latest registered 10" in said


def test_lineage_json_is_a_document_without_the_tables_keys(cli_env, sorted_versions):
    lineage = run("lineage", "cli-sorted", "1", "--env", "local")
    internal = {"pk", "sk", "gsi1pk", "gsi1sk", "approval_token"}
    assert lineage["version"]["version"] == "1" and not internal & lineage["version"].keys()
    assert lineage["audit"] and all(not internal & event.keys() for event in lineage["audit"])


def test_openlineage_start_and_complete_carry_their_own_times(cli_env, sorted_versions):
    start, complete = run("lineage", "cli-sorted", "1", "--env", "local", "--openlineage")
    registered = run("lineage", "cli-sorted", "1", "--env", "local")["version"]["registered_at"]
    # the run began when the promotion started (the upload), and completed at registration
    assert complete["eventTime"] == registered
    assert datetime.fromisoformat(start["eventTime"]) < datetime.fromisoformat(registered)


def test_a_refused_decision_under_json_is_a_json_error_with_exit_1(cli_env):
    result = runner.invoke(app, ["approve", "no-such-model", "1", "--env", "local", "--json"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)
    assert error["status"] == 404 and "is not registered" in error["error"]
    assert error["problem"]["status"] == 404


@pytest.mark.parametrize(
    "args", [["local", "status"], ["status", "iris", "--env", "local"]], ids=["local", "status"]
)
def test_json_errors_of_a_cloud_not_running(tmp_path, monkeypatch, args):
    monkeypatch.setenv("SLIPWAY_LOCAL_DIR", str(tmp_path / "nothing-here"))
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "error": "the embedded cloud is not running; start it with `slipway local up`"
    }


def test_watch_says_until_when_a_canary_bakes(cli_env, tmp_path):
    # GIVEN a live version, and a canary policy that bakes (here briefly, and nobody calls)
    for version in ("1", "2"):
        train_and_package(tmp_path / f"bakes-{version}.tar.gz", name="cli-bakes", version=version)
    run("push", str(tmp_path / "bakes-1.tar.gz"), "--env", "local")
    run("status", "cli-bakes", "1", "--env", "local", "--watch")
    policy = {"share": 0.5, "bake_seconds": 1, "min_requests": 3, "max_bake_seconds": 6}
    with cli_env.gate_policy(canary=policy):
        run("push", str(tmp_path / "bakes-2.tar.gz"), "--env", "local")
        watched = runner.invoke(app, ["status", "cli-bakes", "2", "--env", "local", "--watch"])
    shown = " ".join(watched.output.split())
    # THEN the watch says once that the canary takes live traffic, until about when
    assert shown.count("BakeCanary: the canary of cli-bakes 2 takes a share of live traffic") == 1
    assert re.search(r"until about \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", shown), shown
    # AND it follows the canary to its end (no client called it: rejected)
    assert watched.exit_code == 1 and "it needs 3 to be judged" in shown
