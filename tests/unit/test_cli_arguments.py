"""Names and versions the CLI puts into URL paths are checked before any request is made."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from slipway.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        ["approve", "fraud/../iris", "1"],
        ["approve", "iris", "1?stage=staging"],
        ["reject", "iris?x=1", "1"],
        ["rollback", "iris/versions/1/approve"],
        ["status", "iris", "1/../2"],
        ["pull", "iris\n", "1"],
        ["invoke", "iris", "--data", "{}", "--version", "1#frag"],
        ["lineage", "a/b", "1"],
        ["versions", "Iris"],
    ],
)
def test_a_name_or_version_that_is_not_one_is_a_usage_error(args):
    # GIVEN no embedded cloud and no account WHEN a name or version carries URL syntax
    result = runner.invoke(app, args)
    # THEN the CLI stops with exit code 2 naming the argument, before calling anything
    assert result.exit_code == 2, result.output
    assert "Invalid value for" in result.output
