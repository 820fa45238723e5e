"""Where an environment lives: its AWS clients and the stack outputs the CLI needs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.config import ConfigError, EnvironmentConfig, endpoint_url_output, load_environment
from slipway.errors import CliError
from slipway.local.state import LocalState

REPO_ROOT = Path(__file__).resolve().parent.parent


def read_environments() -> dict[str, Any]:
    cdk_json = REPO_ROOT / "cdk.json"
    try:
        return dict(json.loads(cdk_json.read_text())["context"]["environments"])
    except (FileNotFoundError, KeyError, json.JSONDecodeError) as exc:
        raise CliError(f"cannot read environments from {cdk_json}: {exc}") from None


def profile_variable(environment: str) -> str:
    """The variable naming one environment's AWS profile: 'local-prod' ->
    'SLIPWAY_PROFILE_LOCAL_PROD' (docs/cicd.md)."""
    return "SLIPWAY_PROFILE_" + environment.upper().replace("-", "_")


@dataclass
class Target:
    """One deployed environment, reached either in AWS or in the embedded cloud."""

    config: EnvironmentConfig
    local_state: LocalState | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.local_state is not None

    @cached_property
    def session(self) -> boto3.Session:
        if self.local_state is not None:
            return boto3.Session(
                aws_access_key_id=self.local_state.access_key_id,
                aws_secret_access_key=self.local_state.secret_access_key,
                region_name=self.config.region,
            )
        # A process that reaches two accounts at once (a CI job promoting from staging to
        # prod) names each environment's credentials: SLIPWAY_PROFILE_STAGING=<AWS profile>.
        # Otherwise the default chain (AWS_PROFILE, the environment's variables, ...).
        return boto3.Session(
            region_name=self.config.region,
            profile_name=os.environ.get(profile_variable(self.config.name)) or None,
        )

    def client(self, service: str) -> Any:
        if service not in self._clients:
            endpoint = self.local_state.endpoint_url if self.local_state else None
            self._clients[service] = self.session.client(service, endpoint_url=endpoint)
        return self._clients[service]

    def table(self) -> Any:
        endpoint = self.local_state.endpoint_url if self.local_state else None
        resource = self.session.resource("dynamodb", endpoint_url=endpoint)
        return resource.Table(self.outputs["LineageTableName"])

    @cached_property
    def outputs(self) -> dict[str, str]:
        """The outputs of all the environment's stacks (data, serving, workflow, monitoring)."""
        merged: dict[str, str] = {}
        for name in self.config.stack_names:
            merged.update(self._stack_outputs(name))
        return merged

    def _stack_outputs(self, stack_name: str) -> dict[str, str]:
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as exc:
            raise CliError(
                f"stack {stack_name} is not deployed "
                f"({exc.response['Error']['Message']}); deploy it with "
                + (
                    (
                        "`slipway local up`"
                        if self.config.name == "local"
                        else f"`slipway local up --env {self.config.name}`"
                    )
                    if self.is_local
                    else f"`npx cdk deploy --all -c env={self.config.name}`"
                )
            ) from None
        except BotoCoreError as exc:
            raise CliError(f"cannot reach AWS for {self.config.name}: {exc}") from None
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    def endpoint_url(self, endpoint: str = "default") -> str:
        """The base URL to call: the Function URL, or the local gateway that serves it."""
        key = endpoint_url_output(endpoint)
        if key not in self.outputs:
            raise CliError(f"environment {self.config.name} has no endpoint named {endpoint!r}")
        return self._reachable(self.outputs[key])

    def registry_url(self) -> str:
        return self._reachable(self.outputs["RegistryUrl"])

    def _reachable(self, url: str) -> str:
        if self.local_state is None:
            return url.rstrip("/")
        local = self.local_state.local_url(url)
        if local is None:
            raise CliError(f"the embedded cloud does not serve {url} yet; run `slipway local up`")
        return local


def resolve_target(env: str) -> Target:
    """The environment named in cdk.json; embedded environments need `slipway local up`."""
    try:
        config = load_environment(read_environments(), env)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    if not config.embedded:
        return Target(config)
    from slipway.local.environments import check_embeddable

    check_embeddable(config)  # one account and region: the embedded cloud's
    state = LocalState.load()
    if state is None or not state.is_alive():
        raise CliError("the embedded cloud is not running; start it with `slipway local up`")
    return Target(config, local_state=state)
