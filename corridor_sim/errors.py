"""User errors, kept apart from bugs.

A mistake in a scenario file is the user's to fix, so it is reported as one readable message per
fault, naming the file, the key path inside it and what is wrong, and the command line exits with
status 2 and no traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MAX_MESSAGE_CHARS = 1000
"""A key path or message longer than this is shortened in the middle (a 1 MB value is not echoed)."""


def printable(text: str) -> str:
    """`text` with every non-printable character escaped (a key holding a newline or a record
    separator must not split one error into several lines)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` cut in the middle to about `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    keep = limit // 2
    return f"{text[:keep]}...[{len(text) - 2 * keep} characters left out]...{text[-keep:]}"


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
        self.problems = [replace(p, key_path=shorten(printable(p.key_path)), message=shorten(printable(p.message)))
                         for p in problems]
        super().__init__("\n".join(f"error: {p}" for p in self.problems))


class UsageError(Exception):
    """A command-line mistake that is not in a scenario file (a bad --set, an existing folder)."""
