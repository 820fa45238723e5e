"""The CDK CLI and jsii run on the supported Node.js that package.json pins, and no warning
about an unsupported Node is hidden: if one appears, these tests see it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from slipway.local.cloud import REGION
from slipway.local.credentials import LocalCredentials
from slipway.local.deploy import NODE_BIN, REPO_ROOT, cdk_environment, with_project_node

SILENCER = "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION"


def _pinned_node() -> str:
    package = json.loads((REPO_ROOT / "package.json").read_text())
    return package["devDependencies"]["node"]


def test_the_project_pins_an_exact_node_release_and_installs_it():
    pinned = _pinned_node()
    assert pinned.count(".") == 2 and pinned.replace(".", "").isdigit(), pinned
    installed = subprocess.run(
        [str(NODE_BIN / "node"), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert installed == f"v{pinned}"


def test_the_cdk_cli_runs_on_the_project_node_with_no_warning_silenced():
    # GIVEN the environment every `cdk` call of the embedded cloud gets
    credentials = LocalCredentials("AKIAEXAMPLE", "secret")
    env = cdk_environment("http://localhost:1", credentials)
    # THEN the project's Node comes first and nothing hides jsii's end-of-life banner
    assert env["PATH"].split(os.pathsep)[0] == str(NODE_BIN)
    assert SILENCER not in env
    assert env["AWS_REGION"] == REGION
    assert SILENCER not in (REPO_ROOT / "Makefile").read_text()


def test_jsii_starts_on_the_project_node_without_an_end_of_life_banner():
    # GIVEN a shell whose own Node may be past its end of life, and no silencer
    env = with_project_node({k: v for k, v in os.environ.items() if k != SILENCER})
    # WHEN the CDK library starts its Node process
    started = subprocess.run(
        [sys.executable, "-c", "import aws_cdk"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # THEN it starts, and says nothing about an unsupported Node
    assert started.returncode == 0, started.stderr[-2000:]
    assert "end-of-life" not in started.stderr
    assert "not supported" not in started.stderr
