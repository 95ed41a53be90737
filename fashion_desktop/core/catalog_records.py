"""What the catalog reads and writes: its records, its errors, and what a store needs of the catalog."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from ..model.bundle_format import label_problem
from ..model.groups import at_least_one_columns, exclusive_columns, exclusive_labels


class CatalogError(RuntimeError):
    """The catalog file cannot be opened or is from a newer version of the app."""


class NotACatalog(CatalogError):
    """The file is something else (another program's database, not a database): it was left untouched."""


class CatalogWriteError(CatalogError):
    """Writing to the catalog failed (disk full, read-only, I/O error); ``reason`` says why in words."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def write_reason(exc: sqlite3.Error) -> str:
    """What a failed SQLite write means, in words (e.g. "the disk is full")."""
    text = str(exc).lower()
    if "disk is full" in text or "database or disk is full" in text:
        return "the disk is full"
    if "readonly" in text or "read-only" in text:
        return "the catalog file is read-only"
    if "disk i/o" in text:
        return "the disk reported an input/output error"
    if "locked" in text or "busy" in text:
        return "another program holds the catalog locked"
    return f"cannot write ({exc})"


class FileInfo(NamedTuple):
    """A file found by scanning (a named tuple: a scan makes one per file, and a frozen dataclass of
    five fields cost a tenth of an unchanged folder's re-scan)."""

    path: str
    size: int
    mtime: float
    # What ``touch -r`` cannot restore: a rewrite or replacement of the file changes one of them. None
    # where unknown (a catalog's older rows; Windows reports no inode number: 0 is stored as None).
    ctime_ns: int | None = None
    inode: int | None = None


@dataclass(frozen=True)
class ImageRecord:
    id: int
    path: str
    size: int | None
    mtime: float | None
    width: int | None
    height: int | None
    present: bool
    error: str | None
    reviewed: bool
    folder_id: int | None = None
    content_hash: str | None = None  # see core.scan.content_hash; None until the scan described the file
    # Its picture changed after a person decided on it: the decisions wait until it is reviewed again.
    to_confirm: bool = False


@dataclass(frozen=True)
class ImageInfo:
    """What a file says about itself, measured at the ``size``/``mtime`` the catalog knows it by."""

    image_id: int
    size: int
    mtime: float
    width: int | None  # None: not a readable image (its bytes are still fingerprinted)
    height: int | None
    content_hash: str
    # Against the fingerprint the catalog held before a scan saw the file change: False for a new
    # picture, True when only its metadata changed, None when there was nothing to compare.
    same_picture: bool | None = None


@dataclass(frozen=True)
class ImageMove:
    """Where a catalog image now lives: its new path, with the size and mtime found there.

    ``same_content``: the file is known to hold the same bytes (its scores still apply); False drops
    its scores and description as a scan does for a changed file. Decisions and review always stay.
    """

    image_id: int
    path: str
    size: int
    mtime: float
    same_content: bool = True


@dataclass(frozen=True)
class ModelRecord:
    id: int
    key: str
    name: str
    path: str | None
    labels: tuple[str, ...]
    groups: dict[str, str] = field(default_factory=dict)
    thresholds: tuple[float, ...] = ()  # the bundle's per-label defaults; empty when not recorded
    exclusive: tuple[str, ...] = ()  # groups with one value per photo (fashion_desktop.model.groups)
    at_least_one: tuple[str, ...] = ()  # groups every scored photo gets a value of (model.groups)

    # The columns ``from_row`` reads, in order (thresholds may be NULL, or absent before schema 3;
    # exclusive is absent before schema 7, at_least_one before 8: ``columns_sql`` reads NULL there).
    COLUMNS = "id, model_key, name, path, labels, groups, thresholds, exclusive, at_least_one"

    @classmethod
    def columns_sql(cls, present: Iterable[str]) -> str:
        """COLUMNS for a models table with the ``present`` columns (NULL for those an older schema lacks)."""
        have = set(present)
        return ", ".join(c if c in have else "NULL" for c in cls.COLUMNS.split(", "))

    @classmethod
    def from_row(cls, row: Sequence) -> ModelRecord:
        """A record from a ``SELECT {COLUMNS} FROM models`` row (labels, groups, thresholds as JSON)."""
        return cls(
            row[0],
            row[1],
            row[2] or "",
            row[3],
            tuple(json.loads(row[4])),
            json.loads(row[5] or "{}"),
            tuple(json.loads(row[6])) if row[6] else (),
            tuple(json.loads(row[7])) if len(row) > 7 and row[7] else (),
            tuple(json.loads(row[8])) if len(row) > 8 and row[8] else (),
        )

    def exclusive_columns(self) -> tuple[np.ndarray, ...]:
        """Column indices of each exclusive group, for the tag rule (``core.tags.predicted_matrix``)."""
        return exclusive_columns(self.labels, self.groups, self.exclusive)

    def exclusive_labels(self) -> set[str]:
        """The labels of its exclusive groups (their thresholds are floors: ``ThresholdPolicy.thresholds``)."""
        return exclusive_labels(self.labels, self.groups, self.exclusive)

    def at_least_one_columns(self) -> tuple[np.ndarray, ...]:
        """Column indices of each at-least-one group, for the tag rule (``predicted_matrix``)."""
        return at_least_one_columns(self.labels, self.groups, self.at_least_one)


@dataclass
class SyncCounts:
    """What a scan changed in the catalog."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    restored: int = 0


def check_label(label: str) -> None:
    """Raise ValueError for a name that cannot be a tag (empty, or holding the tag separator)."""
    problem = label_problem(label)
    if problem is not None:
        raise ValueError(f"not a usable tag name: {problem}")


def timestamp() -> float:
    return time.time()


# (image id, label, value) decisions a person made; value None forgets one.
DecisionChanges = Iterable[tuple[int, str, bool | None]]


class CatalogAccess(Protocol):
    """What a store needs of the catalog that owns the connection (``core.catalog.Catalog``)."""

    path: Path

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def query(self, sql: str, params: Sequence | dict = ()) -> list[tuple]: ...

    def query_newer_table(self, table: str, sql: str, params: Sequence | dict = ()) -> list[tuple]: ...
