"""Errors the CLI reports as one readable line (with what to do next), exit code 1; under
``--json``, as one JSON object on stdout, as every command's --json answer is."""

from __future__ import annotations

import json
from typing import IO, Any

from typer._click.exceptions import ClickException
from typer._click.utils import echo


class CliError(ClickException):
    """A failure the user can act on; the message says how. Click prints it, exit code 1.
    ``details`` (JSON values) go with the message when it is printed as JSON."""

    exit_code = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details
        self.as_json = False  # set when the command was asked for --json

    def show(self, file: IO[Any] | None = None) -> None:
        if not self.as_json:
            super().show(file)
            return
        echo(json.dumps({"error": self.format_message(), **self.details}, default=str))
