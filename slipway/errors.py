"""Errors the CLI reports as one readable line (with what to do next), exit code 1."""

from typer._click.exceptions import ClickException


class CliError(ClickException):
    """A failure the user can act on; the message says how. Click prints it, exit code 1."""

    exit_code = 1
