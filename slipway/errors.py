"""Errors the CLI reports as one readable line (with what to do next), exit code 1."""


class CliError(Exception):
    """A failure the user can act on; the message says how."""
