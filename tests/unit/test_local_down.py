"""`slipway local down` keeps what it can of each environment and always stops the cloud."""

from __future__ import annotations

from types import SimpleNamespace

from typer.testing import CliRunner

from slipway import cli, target
from slipway.local import control, snapshot
from slipway.local.state import LocalState


def test_an_environment_that_cannot_be_kept_neither_stops_the_others_nor_the_cloud(
    monkeypatch,
):
    # GIVEN a running cloud holding a half-deployed 'rehearsal' (its outputs unreadable)
    # and a whole 'local'
    monkeypatch.setattr(
        LocalState, "load", classmethod(lambda cls, d: SimpleNamespace(is_alive=lambda: True))
    )
    deployed = [SimpleNamespace(name="rehearsal"), SimpleNamespace(name="local")]
    monkeypatch.setattr(cli, "_deployed_environments", lambda state: deployed)

    def resolve(env: str) -> str:
        if env == "rehearsal":
            raise target.CliError("stack slipway-rehearsal-workflow has no outputs")
        return env

    kept, stopped = [], []
    monkeypatch.setattr(target, "resolve_target", resolve)
    monkeypatch.setattr(snapshot, "save", lambda t, d: kept.append(t) or {"items": 3, "objects": 2})
    monkeypatch.setattr(control, "stop_daemon", lambda: stopped.append(True) or True)
    # WHEN the cloud is taken down
    result = CliRunner().invoke(cli.app, ["local", "down"])
    # THEN local was kept, rehearsal named as not kept, and the cloud stopped all the same
    assert result.exit_code == 0, result.output
    assert kept == ["local"] and stopped == [True]
    assert "rehearsal: not kept (stack slipway-rehearsal-workflow has no outputs)" in " ".join(
        result.output.split()
    )
    assert "local: kept 3 registry items" in result.output
