"""Starting, deploying into, and stopping the embedded cloud daemon."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from slipway.errors import CliError
from slipway.local.deploy import DeployError, deploy_environment
from slipway.local.state import DEFAULT_PORT, LocalState, state_dir

_START_TIMEOUT_SECONDS = 60
_ROUTE_TIMEOUT_SECONDS = 30


def _reachable(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answers: unsigned requests are refused (credentials.py)
    except OSError:
        return False


def start_daemon(port: int = DEFAULT_PORT, directory: Path | None = None) -> LocalState:
    """Start the daemon unless one is running; return its state once it answers."""
    directory = directory or state_dir()
    state = LocalState.load(directory)
    if state is not None and state.is_alive() and _reachable(state.endpoint_url):
        return state
    # the state dir holds the per-start key, and its log the requests: its owner's only
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    descriptor = os.open(directory / "daemon.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.chmod(directory / "daemon.log", 0o600)  # a log made before this rule
    log = os.fdopen(descriptor, "a")  # handed to the child process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "slipway.local.daemon",
            "--port",
            str(port),
            "--state-dir",
            str(directory),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CliError(
                f"the embedded cloud exited at start (code {process.returncode}); "
                f"see {directory / 'daemon.log'} (is port {port} in use? try --port)"
            )
        state = LocalState.load(directory)
        if state is not None and state.pid == process.pid and _reachable(state.endpoint_url):
            return state
        time.sleep(0.2)
    process.kill()
    raise CliError(f"the embedded cloud did not answer within {_START_TIMEOUT_SECONDS} s")


def deploy(
    state: LocalState,
    environment: str,
    directory: Path | None = None,
    context: dict[str, str] | None = None,
) -> dict[str, str]:
    """Deploy one embedded environment with the real CDK CLI, wait until its Function URLs
    are served, and return its stacks' outputs. Another environment deployed before stays
    as it is: each has stacks of its own. ``context``: CDK context for its synthesis."""
    directory = directory or state_dir()
    try:
        outputs = deploy_environment(
            state.endpoint_url,
            state.credentials,
            environment=environment,
            outputs_file=directory / f"outputs-{environment}.json",
            log=directory / "cdk.log",
            context=context,
        )
    except DeployError as exc:
        raise CliError(f"{exc}\n(full log: {directory / 'cdk.log'})") from None
    urls = [
        value
        for key, value in outputs.items()
        if key.startswith("EndpointUrl") or key == "RegistryUrl"
    ]
    deadline = time.monotonic() + _ROUTE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        current = LocalState.load(directory)
        if current is not None and all(url in current.routes for url in urls):
            return outputs
        time.sleep(0.2)
    raise CliError(f"the local gateway did not open the Function URLs of {environment} in time")


def stop_daemon(directory: Path | None = None) -> bool:
    """Stop the daemon; return whether one was running."""
    directory = directory or state_dir()
    state = LocalState.load(directory)
    if state is None or not state.is_alive():
        LocalState.path(directory).unlink(missing_ok=True)
        return False
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and state.is_alive():
        time.sleep(0.1)
    if state.is_alive():
        os.kill(state.pid, signal.SIGKILL)
    LocalState.path(directory).unlink(missing_ok=True)
    return True
