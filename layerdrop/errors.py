"""Errors a user can fix, and how they reach the terminal.

Library code raises these with a message that names the problem and the fix; the CLI prints
`str(error)` as one line on stderr and exits with `error.exit_code`. Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LayerdropError(Exception):
    """Base for expected, user-facing failures."""

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem.rstrip(".")
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.problem
        if self.fix:
            text += f"; {self.fix.rstrip('.')}"
        # One line, always: multi-line messages from lower layers are folded.
        return " ".join(text.split()) + "."


class UsageError(LayerdropError):
    """Bad flags, names or values: exit code 2."""


class DataError(UsageError):
    """Missing or malformed data files: exit code 2."""


class ModelError(UsageError):
    """A model that cannot be found, loaded or operated on."""


class RunFailed(LayerdropError):
    """A run started and failed (non-finite loss, out of memory, ...): exit code 1."""

    exit_code = 1


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ` (did you mean 'x'?)` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_name(kind: str, name: str, choices: Iterable[str], listing: str) -> UsageError:
    """The standard error for an unknown strategy, task, model alias, parameter, ..."""
    choices = sorted(choices)
    return UsageError(
        f"unknown {kind} '{name}'{did_you_mean(name, choices)}",
        f"choose one of {', '.join(choices)}" if len(choices) <= 12 else listing,
    )
