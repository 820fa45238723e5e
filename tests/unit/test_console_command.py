"""`slipway ui` itself: the line it prints opens the console, Ctrl-C stops it, and a port
already taken is a one-line error. The environment is an AWS one whose stacks moto holds,
so the registry's URL comes from real stack outputs; no registry call is made."""

from __future__ import annotations

import json
import socket

import boto3
import httpx
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from infra.config import load_environment
from slipway.cli import app
from slipway.target import read_environments

runner = CliRunner()
ENV = "dev"


@pytest.fixture
def deployed_stacks(monkeypatch):
    """The environment's four stacks as CloudFormation reports them, the registry's URL
    among their outputs."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        config = load_environment(read_environments(), ENV)
        cloudformation = boto3.client("cloudformation", region_name=config.region)
        for name in config.stack_names:
            template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": {}}
            if name.endswith("-workflow"):
                url = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/"
                template["Outputs"]["RegistryUrl"] = {"Value": url}
            cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
        yield


def test_the_printed_link_opens_the_console_and_ctrl_c_stops_it(deployed_stacks, monkeypatch):
    from slipway.console.server import RunningConsole

    opened: dict[str, object] = {}

    def user_opens_the_link_then_presses_ctrl_c(running: RunningConsole) -> None:
        answer = httpx.get(running.url, follow_redirects=False, timeout=10)
        opened.update(status=answer.status_code, cookie=answer.headers.get("set-cookie", ""))
        opened["port"] = running.port
        raise KeyboardInterrupt

    monkeypatch.setattr(RunningConsole, "wait", user_opens_the_link_then_presses_ctrl_c)
    # WHEN `slipway ui` starts on any free port
    result = runner.invoke(app, ["ui", "--env", ENV, "--port", "0"])
    # THEN it printed one link with its secret, which answered with the console's cookie
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    assert line.startswith(f"Console: http://127.0.0.1:{opened['port']}/?token=")
    assert opened["status"] == 303
    assert "HttpOnly" in str(opened["cookie"]) and "SameSite=Strict" in str(opened["cookie"])
    # AND Ctrl-C stopped the server: nothing listens on its port any more
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", opened["port"]), 2):
        pass


def test_a_port_already_taken_is_a_one_line_error(deployed_stacks):
    # GIVEN another program listening on the port asked for
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        # WHEN `slipway ui` is asked for that port
        result = runner.invoke(app, ["ui", "--env", ENV, "--port", str(port)])
    # THEN it exits 1 naming the address, and serves nothing
    assert result.exit_code == 1, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Console:" not in result.output
