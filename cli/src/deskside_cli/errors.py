"""Failures the `deskside` command expects, told as sentences instead of tracebacks.

CliError              anything expected: bad input, a refused request, a missing file
└── Unreachable       no answer from Deskside at all: later calls would fail the same way
"""

from __future__ import annotations


class CliError(Exception):
    """An expected failure: its message is what the user reads; the command exits non-zero."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class Unreachable(CliError):
    """The gateway did not answer (refused, timed out, broken connection)."""
