"""The environments in the embedded cloud: which ``cdk.json`` entries may go there, which are
deployed in it, and what each deployed.

Several embedded environments live side by side in one embedded cloud: their stacks,
functions, buckets and tables are named after the environment, as in one AWS account. What
is deployed is read back from the cloud's own CloudFormation (as the CLI reads AWS), so no
file can disagree with it; the daemon's state file only says where the cloud is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.config import ConfigError, EnvironmentConfig, load_environment
from slipway.errors import CliError
from slipway.local.cloud import ACCOUNT_ID, REGION


def check_embeddable(config: EnvironmentConfig) -> None:
    """Refuse an environment the embedded cloud cannot hold, saying what to change: one not
    marked embedded, or one naming another account or region than the cloud's only one."""
    if not config.embedded:
        raise CliError(
            f'environment {config.name} is not embedded (cdk.json has no "embedded": true); '
            f"deploy it to AWS with `npx cdk deploy --all -c env={config.name}`"
        )
    if (config.account, config.region) != (ACCOUNT_ID, REGION):
        raise CliError(
            f"environment {config.name} is embedded but names account {config.account} in "
            f"{config.region}; the embedded cloud is account {ACCOUNT_ID} in {REGION}: "
            "set those in cdk.json"
        )


def embedded_environments(environments: dict[str, Any]) -> list[EnvironmentConfig]:
    """cdk.json's environments marked embedded, in cdk.json's order. An entry that does not
    load is left out here: `local up` refuses it with every problem, so it is never deployed."""
    configs = []
    for name, entry in environments.items():
        if not (isinstance(entry, dict) and entry.get("embedded") is True):
            continue
        try:
            configs.append(load_environment(environments, name))
        except ConfigError:
            continue
    return configs


@dataclass(frozen=True)
class DeployedEnvironment:
    name: str
    outputs: dict[str, str]

    def endpoints(self, routes: dict[str, str]) -> dict[str, str]:
        """Endpoint name -> the local URL serving it."""
        return {
            key.removeprefix("EndpointUrl").lower(): routes.get(url, "(not served)")
            for key, url in self.outputs.items()
            if key.startswith("EndpointUrl")
        }

    def registry(self, routes: dict[str, str]) -> str:
        return routes.get(self.outputs.get("RegistryUrl", ""), "(not served)")


def deployed_environments(
    cloudformation: Any, configs: list[EnvironmentConfig]
) -> list[DeployedEnvironment]:
    """Those of ``configs`` whose stacks the embedded cloud holds, their outputs merged."""
    stacks = {
        stack["StackName"]: stack
        for page in cloudformation.get_paginator("describe_stacks").paginate()
        for stack in page["Stacks"]
        if not stack["StackStatus"].startswith("DELETE_")
    }
    deployed = []
    for config in configs:
        own = [stacks[s] for s in config.stack_names if s in stacks]
        if not own:
            continue
        outputs = {o["OutputKey"]: o["OutputValue"] for s in own for o in s.get("Outputs", [])}
        deployed.append(DeployedEnvironment(config.name, outputs))
    return deployed


def environment_functions(cloudformation: Any, config: EnvironmentConfig) -> list[str]:
    """The names of the Lambda functions the environment's stacks created: exact, where a
    name prefix would match ``local`` inside ``local-b``'s functions too."""
    functions = []
    for stack in config.stack_names:
        try:
            pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
            for page in pages:
                functions += [
                    r["PhysicalResourceId"]
                    for r in page["StackResourceSummaries"]
                    if r["ResourceType"] == "AWS::Lambda::Function"
                ]
        except cloudformation.exceptions.ClientError:
            continue  # a stack not deployed has no functions
    return functions


def in_chain_order(configs: list[EnvironmentConfig]) -> list[EnvironmentConfig]:
    """``configs`` with each one after the environment it accepts models from, where both
    are among them (its deploy needs the earlier one's key); otherwise in the order given."""
    ordered: list[EnvironmentConfig] = []
    waiting = list(configs)
    while waiting:
        names = {config.name for config in waiting}
        ready = [c for c in waiting if _earlier(c) not in names or _earlier(c) == c.name]
        if not ready:
            cycle = " -> ".join(f"{c.name} accepts from {_earlier(c)}" for c in waiting)
            raise CliError(f"the environments accept models from each other in a ring: {cycle}")
        ordered.append(ready[0])
        waiting.remove(ready[0])
    return ordered


def _earlier(config: EnvironmentConfig) -> str | None:
    return config.accepts_from.environment if config.accepts_from is not None else None


def chain_context(config: EnvironmentConfig, state: Any) -> dict[str, str]:
    """The CDK context an embedded environment's deploy needs: where its ``accepts_from``
    says ``"public_key": "embedded"``, the earlier environment's deployed attestation key,
    read from the embedded cloud now (at deploy time, never at run time). The earlier
    environment must be deployed first: `local up --env EARLIER --env THIS` does so."""
    from infra.embedded_chain import EMBEDDED_KEY_CONTEXT
    from registry.chain_policy import EMBEDDED_PUBLIC_KEY
    from slipway.promote_across import attestation_public_key
    from slipway.target import Target, read_environments

    accepts = config.accepts_from
    if accepts is None or accepts.public_key != EMBEDDED_PUBLIC_KEY:
        return {}
    try:
        earlier = load_environment(read_environments(), accepts.environment)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    try:
        key = attestation_public_key(Target(earlier, local_state=state))
    except CliError as exc:
        raise CliError(
            f"{config.name} accepts models from {earlier.name}, whose key it needs: deploy "
            f"both, {earlier.name} first: `slipway local up --env {earlier.name} --env "
            f"{config.name}` ({exc})"
        ) from None
    return {EMBEDDED_KEY_CONTEXT: key}
