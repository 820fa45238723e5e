"""`slipway local up` synthesizes the app once per deploy: bootstrap and deploy both read
that one assembly (each would otherwise synthesize the app again, 15-30 s on two cores)."""

from __future__ import annotations

import json
from pathlib import Path

from slipway.local import deploy
from slipway.local.credentials import LocalCredentials


def test_without_an_assembly_the_app_is_synthesized_once_for_bootstrap_and_deploy(
    tmp_path, monkeypatch
):
    commands: list[list[str]] = []

    def cdk(args, endpoint_url, credentials, log=None):  # the CLI's side, as it answers
        commands.append(list(args))
        if args[0] == "synth":
            assembly = Path(args[args.index("--output") + 1])
            assert assembly.is_dir()
            (assembly / "manifest.json").write_text("{}")
        if args[0] == "deploy":
            assembly = Path(args[args.index("--app") + 1])
            assert (assembly / "manifest.json").exists()  # still there while deploying
            outputs = Path(args[args.index("--outputs-file") + 1])
            outputs.write_text(json.dumps({"stack-a": {"A": "1"}, "stack-b": {"B": "2"}}))
        return ""

    monkeypatch.setattr(deploy, "run_cdk", cdk)
    # WHEN an environment of a chain is deployed without an assembly
    outputs = deploy.deploy_environment(
        "http://127.0.0.1:1",
        LocalCredentials("AKIAEXAMPLE", "secret"),
        environment="local-prod",
        outputs_file=tmp_path / "outputs.json",
        context={"slipway:accepts_from_key": "PEM"},
    )
    # THEN the app is synthesized once, with the environment and the chain's context
    assert [command[0] for command in commands] == ["synth", "bootstrap", "deploy"]
    synth, bootstrap, deploy_command = commands
    assert "env=local-prod" in synth and "slipway:accepts_from_key=PEM" in synth
    # AND bootstrap and deploy read that assembly, not the app
    assembly = synth[synth.index("--output") + 1]
    assert bootstrap[bootstrap.index("--app") + 1] == assembly
    assert deploy_command[deploy_command.index("--app") + 1] == assembly
    # AND the stacks' outputs come back merged, and the assembly is gone
    assert outputs == {"A": "1", "B": "2"}
    assert not Path(assembly).exists()
