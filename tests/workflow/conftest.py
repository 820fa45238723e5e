"""The embedded cloud, started in this process, with env=local deployed by the real CDK CLI."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from registry.executions import execution_arn
from registry.repository import LineageRepository
from registry.workflow import PROMOTION, SetPolicy
from registry.workflow_state import GatePolicy
from slipway.local.cloud import REGION
from slipway.local.deploy import deploy_environment
from slipway.local.session import LocalSession
from slipway.local.state import LocalState
from tests.workflow.signed_http import local_http

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class DeployedLocal:
    session: LocalSession
    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        key = self.session.cloud.credentials
        return boto3.client(
            service,
            endpoint_url=self.session.cloud.endpoint_url,
            region_name=REGION,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
        )

    @property
    def bucket(self) -> str:
        return self.outputs["ArtifactBucketName"]

    @property
    def repository(self) -> LineageRepository:
        dynamodb = boto3.resource(
            "dynamodb",
            endpoint_url=self.session.cloud.endpoint_url,
            region_name=REGION,
            aws_access_key_id=self.session.cloud.credentials.access_key_id,
            aws_secret_access_key=self.session.cloud.credentials.secret_access_key,
        )
        return LineageRepository(dynamodb.Table(self.outputs["LineageTableName"]))

    @property
    def endpoint(self) -> str:
        return self.session.local_url(self.outputs["EndpointUrlDefault"])

    def upload(self, bundle: Path, name: str, version: str) -> str:
        """Upload a bundle; return the S3 object version id."""
        response = self.client("s3").put_object(
            Bucket=self.bucket,
            Key=f"models/{name}/{version}/bundle.tar.gz",
            Body=bundle.read_bytes(),
        )
        return str(response["VersionId"])

    @property
    def registry(self) -> str:
        return self.session.local_url(self.outputs["RegistryUrl"])

    def push(self, bundle: Path, name: str, version: str) -> str:
        """Upload a bundle; return the name of the execution it starts."""
        from registry.executions import UploadEvent, execution_name

        key = f"models/{name}/{version}/bundle.tar.gz"
        version_id = self.upload(bundle, name, version)
        return execution_name(UploadEvent(self.bucket, key, version_id, bundle.stat().st_size))

    def function_name(self, part: str) -> str:
        names = [
            f["FunctionName"]
            for f in self.client("lambda").list_functions()["Functions"]
            if part in f["FunctionName"]
        ]
        assert len(names) == 1, names
        return names[0]

    @contextmanager
    def state_machine(self, change: Callable[[dict[str, Any]], None]) -> Iterator[None]:
        """Change the deployed state machine's definition for the duration of a test."""
        sfn = self.client("stepfunctions")
        arn = self.outputs["StateMachineArn"]
        original = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
        definition = json.loads(original)
        change(definition)
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(definition))
        try:
            yield
        finally:
            sfn.update_state_machine(stateMachineArn=arn, definition=original)

    def gate_policy(self, **changes: Any) -> AbstractContextManager[None]:
        """Run the gate with other rules, as another environment's cdk.json would set them:
        the policy the state machine's first state writes into every execution."""
        (policy_state,) = [n for n in PROMOTION.nodes if isinstance(n, SetPolicy)]

        def change(definition: dict[str, Any]) -> None:
            state = definition["States"][policy_state.state]
            merged = json.loads(json.dumps(state["Result"]))
            for key, value in changes.items():
                merged[key] = {**merged[key], **value} if isinstance(value, dict) else value
            state["Result"] = GatePolicy.parse(merged).dump()

        return self.state_machine(change)

    @contextmanager
    def execution_end_events_lost(self) -> Iterator[None]:
        """No rule sees executions end (Step Functions delivers those events on a
        best-effort basis): what is left to the next promotion and to operators."""
        events = self.client("events")
        (rule,) = [r["Name"] for r in events.list_rules()["Rules"] if "EndedRule" in r["Name"]]
        events.disable_rule(Name=rule)
        try:
            yield
        finally:
            events.enable_rule(Name=rule)

    def wait_for_audit(
        self, name: str, version: str, step: str, timeout: float = 60
    ) -> dict[str, Any]:
        """The version's audit event of ``step``, once it is written."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.repository.audit_history(name, version) if e["step"] == step]
            if found:
                return found[-1]
            time.sleep(0.25)
        raise AssertionError(f"{name} {version} has no {step!r} audit event")

    def wait_for_status(self, name: str, version: str, status: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self.repository.get_version(name, version)
            if item is not None and item.get("status") == status:
                return
            time.sleep(0.25)
        raise AssertionError(f"{name} {version} never reached status {status}")

    def executions(self, prefix: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        found = sfn.list_executions(stateMachineArn=self.outputs["StateMachineArn"])["executions"]
        return [e for e in found if e["name"].startswith(prefix)]

    def wait_for_execution(self, execution_name: str, timeout: float = 120) -> dict[str, Any]:
        """The execution's description once it has ended."""
        sfn = self.client("stepfunctions")
        arn = execution_arn(self.outputs["StateMachineArn"], execution_name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                described = sfn.describe_execution(executionArn=arn)
            except sfn.exceptions.ExecutionDoesNotExist:
                described = {"status": "NOT_STARTED"}
            if described["status"] in TERMINAL:
                return described
            time.sleep(0.25)
        raise AssertionError(f"execution {execution_name} did not end in {timeout} s")


def point_cli_at(deployed: DeployedLocal, directory: Path, monkeypatch: Any) -> None:
    """Make the CLI find the test's embedded cloud: its state file, as the daemon writes it."""
    key = deployed.session.cloud.credentials
    LocalState(
        pid=os.getpid(),
        endpoint_url=deployed.session.cloud.endpoint_url,
        access_key_id=key.access_key_id,
        secret_access_key=key.secret_access_key,
        routes=deployed.session.refresh_routes(),
    ).save(directory)
    monkeypatch.setenv("SLIPWAY_LOCAL_DIR", str(directory))


@pytest.fixture(scope="package")
def deployed(synthesized, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedLocal]:
    work = tmp_path_factory.mktemp("embedded-cloud")
    session = LocalSession(work_dir=work / "cloud").start()
    local_http.credentials = session.cloud.credentials
    try:
        outputs = deploy_environment(
            session.cloud.endpoint_url,
            session.cloud.credentials,
            app=str(synthesized("local").outdir),
            outputs_file=work / "outputs.json",
            log=work / "cdk.log",
        )
        yield DeployedLocal(session, outputs)
    finally:
        session.stop()
