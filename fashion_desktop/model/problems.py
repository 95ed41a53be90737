"""The one "path + reason" type: a file or folder that could not be used, and why."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class PathProblem(NamedTuple):
    """A file or folder that could not be used, and a reason a person can act on.

    A named tuple, so code that reads it as a ``(path, reason)`` pair keeps working.
    """

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def printable(text: str) -> str:
    """``text`` as UTF-8 can hold it: bytes of another encoding in a POSIX name (surrogate escapes) become �."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
