"""Deploying an environment into the embedded cloud with the real CDK CLI."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from slipway.local.cloud import ACCOUNT_ID, REGION
from slipway.local.credentials import LocalCredentials

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
# `make setup` installs the CDK CLI and a supported Node.js (package.json) here.
NODE_BIN = REPO_ROOT / "node_modules" / ".bin"


class DeployError(RuntimeError):
    """The CDK CLI failed; the message holds the end of its output."""


def cdk_command() -> list[str]:
    local_cli = NODE_BIN / "cdk"
    return [str(local_cli)] if local_cli.exists() else ["npx", "--no-install", "cdk"]


def with_project_node(env: dict[str, str]) -> dict[str, str]:
    """`env` with the project's Node.js first on PATH, for the CDK CLI and for jsii, which
    runs `node` from PATH; the machine's own Node may be past its end of life."""
    if not (NODE_BIN / "node").exists():
        return dict(env)
    return {**env, "PATH": os.pathsep.join([str(NODE_BIN), env.get("PATH", os.defpath)])}


def cdk_environment(endpoint_url: str, credentials: LocalCredentials) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env = with_project_node(env)
    env.update(credentials.environment())
    env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = REGION
    env["AWS_ENDPOINT_URL"] = endpoint_url
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["CDK_DISABLE_CLI_TELEMETRY"] = "1"
    return env


def run_cdk(
    args: list[str], endpoint_url: str, credentials: LocalCredentials, log: Path | None = None
) -> str:
    result = subprocess.run(
        [*cdk_command(), *args],
        cwd=REPO_ROOT,
        env=cdk_environment(endpoint_url, credentials),
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as handle:
            handle.write(f"$ cdk {' '.join(args)}\n{output}\n")
    if result.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-25:])
        raise DeployError(f"cdk {args[0]} failed (exit {result.returncode}):\n{tail}")
    return output


def deploy_environment(
    endpoint_url: str,
    credentials: LocalCredentials,
    *,
    environment: str = "local",
    app: str | None = None,
    outputs_file: Path,
    log: Path | None = None,
    context: dict[str, str] | None = None,
) -> dict[str, str]:
    """Bootstrap and deploy every stack of the environment; return their outputs, merged.

    ``app`` may name an already synthesized cloud assembly, so a test session synthesizes once.
    Without one, the app is synthesized once here for both commands: each would otherwise
    synthesize it again (15-30 s each on two cores).
    ``context`` adds CDK context values to the synthesis (the earlier environment's public
    key, for an embedded environment of a chain).
    """
    if app is None:
        context_args = [
            arg for key, value in (context or {}).items() for arg in ("-c", f"{key}={value}")
        ]
        with tempfile.TemporaryDirectory(prefix="slipway-cdk-") as assembly:
            synth = ["synth", "--quiet", "--output", assembly, "-c", f"env={environment}"]
            run_cdk(
                [*synth, *context_args, "--no-notices", "--no-color"],
                endpoint_url,
                credentials,
                log,
            )
            return deploy_environment(
                endpoint_url,
                credentials,
                environment=environment,
                app=assembly,
                outputs_file=outputs_file,
                log=log,
            )
    common = ["--app", app, "-c", f"env={environment}", "--no-notices", "--no-color"]
    run_cdk(["bootstrap", f"aws://{ACCOUNT_ID}/{REGION}", *common], endpoint_url, credentials, log)
    # --method direct: moto reports stack outputs for CreateStack/UpdateStack, not change sets.
    run_cdk(
        [
            "deploy",
            "--all",
            "--require-approval",
            "never",
            "--method",
            "direct",
            "--outputs-file",
            str(outputs_file),
            *common,
        ],
        endpoint_url,
        credentials,
        log,
    )
    by_stack = json.loads(outputs_file.read_text())
    return {key: value for outputs in by_stack.values() for key, value in outputs.items()}
