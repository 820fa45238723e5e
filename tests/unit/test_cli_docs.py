"""docs/cli.md is generated from the CLI's help; this fails when the two drift apart."""

from pathlib import Path

from slipway.cli_docs import render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_matches_the_cli():
    assert DOCS.read_text() == render(), "run `make docs` and commit docs/cli.md"
