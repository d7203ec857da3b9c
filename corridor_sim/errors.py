"""User errors, kept apart from bugs.

A mistake in a scenario file is the user's to fix, so it is reported as one readable message per
fault, naming the file, the key path inside it and what is wrong, and the command line exits with
status 2 and no traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One fault in a scenario: where it is and what is wrong."""

    file: str
    key_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key_path}" if self.key_path else self.file
        return f"{where}: {self.message}"


class ScenarioError(Exception):
    """One or more problems found in a scenario; all are reported together."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(f"error: {p}" for p in self.problems))


class UsageError(Exception):
    """A command-line mistake that is not in a scenario file (a bad --set, an existing folder)."""
