"""A library's reviewed photos as a training table, read without writing to (or migrating) the catalog.

The trainer's one door into a person's library: it opens the catalog file read-only and returns plain
rows, so a training run can never change or upgrade the file the person works in.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path


class TrainingTableError(ValueError):
    """The file cannot be read as a catalog; the message names it and the problem."""


@dataclass(frozen=True)
class TrainingRow:
    """One reviewed photo: its final tags (positives) and every label whose state is known.

    A label the person never judged on this photo is unknown (absent from ``known``), not a "no".
    """

    path: str
    positives: frozenset[str]
    known: frozenset[str]


def _connect_read_only(path: Path) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, timeout=30)
        db.execute("SELECT value FROM meta LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        raise TrainingTableError(f"{path}: cannot be read as a Fashion Finder catalog ({exc})") from None
    return db


def reviewed_rows(path: str | os.PathLike) -> list[TrainingRow]:
    """Reviewed photos still present in the library at ``path``, in path order, with the person's
    decisions as their tags. Raises TrainingTableError for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise TrainingTableError(f"catalog not found: {path}")
    db = _connect_read_only(path)
    try:
        decisions: dict[int, dict[str, bool]] = {}
        for image_id, label, value in db.execute("SELECT image_id, label, value FROM decisions"):
            decisions.setdefault(image_id, {})[label] = bool(value)
        rows = []
        for image_id, image_path in db.execute(
            "SELECT id, path FROM images WHERE present=1 AND reviewed_at IS NOT NULL ORDER BY path"
        ):
            dec = decisions.get(image_id, {})
            rows.append(TrainingRow(image_path, frozenset(k for k, v in dec.items() if v), frozenset(dec)))
        return rows
    except sqlite3.DatabaseError as exc:
        raise TrainingTableError(f"{path}: cannot be read as a Fashion Finder catalog ({exc})") from None
    finally:
        db.close()
