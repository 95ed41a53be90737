"""The catalog: one SQLite file holding images, model predictions and human decisions, kept apart."""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..model.bundle_format import label_problem
from ..model.groups import exclusive_columns, exclusive_labels
from .tags import decision_matrix, default_thresholds, final_tag_matrix, review_decisions
from .thresholds import ThresholdPolicy

SCHEMA_VERSION = 7
# The oldest schema a read-only open can read as it is (v2 added ``images.split``, v3 ``models.thresholds``).
READABLE_FROM = 3
# SQLite's header field for "which program's file is this" (``PRAGMA application_id``): b"FaFi".
APPLICATION_ID = 0x46614669
# Tables every catalog has had since v1: with a ``schema_version`` row in ``meta`` they mark a catalog
# written before the application id existed.
_V1_TABLES = frozenset({"meta", "folders", "images", "models", "predictions", "decisions"})

log = logging.getLogger(__name__)

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, added_at REAL NOT NULL, scanned_at REAL);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    folder_id INTEGER REFERENCES folders(id),
    size INTEGER, mtime REAL, width INTEGER, height INTEGER, content_hash TEXT,
    present INTEGER NOT NULL DEFAULT 1,
    error TEXT,
    reviewed_at REAL,
    added_at REAL NOT NULL, changed_at REAL, last_seen REAL);
CREATE INDEX IF NOT EXISTS images_folder ON images(folder_id, present);
CREATE INDEX IF NOT EXISTS images_reviewed ON images(reviewed_at);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY, model_key TEXT NOT NULL UNIQUE, name TEXT, path TEXT,
    labels TEXT NOT NULL, groups TEXT, added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS predictions (
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    scores BLOB NOT NULL,   -- float32 little-endian, one per label in models.labels order
    created_at REAL NOT NULL,
    PRIMARY KEY (image_id, model_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS predictions_model ON predictions(model_id);
CREATE TABLE IF NOT EXISTS decisions (
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    value INTEGER NOT NULL,  -- 1: the person says the tag applies, 0: it does not
    decided_at REAL NOT NULL,
    PRIMARY KEY (image_id, label)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS decisions_label ON decisions(label, value);
"""


def architecture_named(keys: Iterable[str]) -> list[str]:
    """The model keys that are an architecture's name (older apps' id for a bundle without one)."""
    # Only a bare word can be one: ids this app writes (uuid hex, "sha256:...", names with "-") never
    # need the registry, which imports torch (seconds, and the app avoids it on its GUI thread).
    words = [
        k for k in keys if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", k) and not re.fullmatch(r"[0-9a-f]{32}", k)
    ]
    if not words:
        return []
    from ..model.archs import ARCHITECTURES

    return [k for k in words if k in ARCHITECTURES]


def _drop_architecture_keyed_models(db: sqlite3.Connection) -> None:
    """v4: models keyed by an architecture's name are dropped with their scores: two different models
    shared such an id, so the scores cannot be trusted (re-tagging is cheap)."""
    names = architecture_named(r[0] for r in db.execute("SELECT model_key FROM models").fetchall())
    if names:
        marks = ",".join("?" * len(names))
        db.execute(
            f"DELETE FROM predictions WHERE model_id IN (SELECT id FROM models WHERE model_key IN ({marks}))",
            names,
        )
        db.execute(f"DELETE FROM models WHERE model_key IN ({marks})", names)


def _settle_reviewed(db: sqlite3.Connection) -> int:
    """Settle photos reviewed before reviewing recorded decisions: each gets, as the person's decisions,
    the tags it showed (the last registered model's scores against that model's default thresholds,
    by the one tag rule). Labels already decided are kept; running it again adds nothing. Returns the
    number of decisions added."""
    model = db.execute("SELECT model_key, labels, thresholds FROM models ORDER BY id DESC LIMIT 1").fetchone()
    if model is None:
        return 0
    key, labels_json, th_json = model
    rec = ModelRecord(
        0, key, "", None, tuple(json.loads(labels_json)), {}, tuple(json.loads(th_json or "[]"))
    )
    labels, thresholds = rec.labels, default_thresholds(rec)
    rows = db.execute(
        "SELECT p.image_id, p.scores FROM predictions p JOIN models m ON m.id=p.model_id"
        " JOIN images i ON i.id=p.image_id WHERE m.model_key=? AND i.reviewed_at IS NOT NULL ORDER BY p.image_id",
        (key,),
    ).fetchall()
    rows = [(i, b) for i, b in rows if len(b) == 4 * len(labels)]  # an older label list: nothing to trust
    now, added = _now(), 0
    for start in range(0, len(rows), 900):
        chunk = rows[start : start + 900]
        ids = [i for i, _ in chunk]
        decided: dict[int, dict[str, bool]] = {}
        marks = ",".join("?" * len(ids))
        for image_id, label, value in db.execute(
            f"SELECT image_id, label, value FROM decisions WHERE image_id IN ({marks})", ids
        ):
            decided.setdefault(image_id, {})[label] = bool(value)
        scores = np.stack([np.frombuffer(b, dtype="<f4") for _, b in chunk])
        dec = [decided.get(i, {}) for i in ids]
        final = final_tag_matrix(scores, decision_matrix(labels, dec), thresholds, ThresholdPolicy())
        new = [
            (image_id, label, int(value), now)
            for image_id, row, d in zip(ids, final, dec, strict=True)
            for label, value in review_decisions(labels, [labels[j] for j in np.flatnonzero(row)], d).items()
        ]
        db.executemany(
            "INSERT OR IGNORE INTO decisions(image_id, label, value, decided_at) VALUES(?,?,?,?)", new
        )
        added += len(new)
    return added


def _v5_view_state_and_settled_reviews(db: sqlite3.Connection) -> None:
    # The threshold view a person set (overrides, global threshold, top-k, at least one), per model:
    # the catalog is its one home, so an export made tomorrow uses the same thresholds as today's.
    db.execute(
        "CREATE TABLE IF NOT EXISTS view_state ("
        " model_key TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL)"
    )
    _settle_reviewed(db)


# Each entry upgrades the schema from version i+1 to i+2: SQL statements, or a Python step that gets
# the connection inside the migration's transaction (and must be safe to run twice). Append, never edit.
_MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    # v2: the dataset split of an image (train / val / test), as in the seed's spreadsheet layout.
    "ALTER TABLE images ADD COLUMN split TEXT",
    # v3: a model's default per-label thresholds (JSON list), so a library opened without its bundle
    # file still applies the thresholds the model was tuned with.
    "ALTER TABLE models ADD COLUMN thresholds TEXT",
    # v4: scores under an architecture-name model id are dropped (re-tagging is cheap).
    _drop_architecture_keyed_models,
    # v5: per-model view state, and photos reviewed before reviewing settled them get settled now.
    _v5_view_state_and_settled_reviews,
    # v6: labels a person created (a tag the model does not have), with the group they put it in, so
    # the review pane, exports and training group it the same way after the library is reopened.
    "CREATE TABLE IF NOT EXISTS person_labels (label TEXT PRIMARY KEY, group_name TEXT, created_at REAL)",
    # v7: a model's exclusive groups (JSON list of group names: one value per photo, its top score).
    "ALTER TABLE models ADD COLUMN exclusive TEXT",
]


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


def _has_write_bits(path: Path) -> bool:
    """Writable by its mode bits and for this user (root ignores mode bits; a person's chmod 444 counts)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(path, os.W_OK)


def connect_read_only(path: str | os.PathLike, immutable: bool | None = None) -> sqlite3.Connection:
    """A read-only SQLite connection to ``path`` that can never change the file.

    ``mode=ro`` normally: a catalog in WAL mode that the app writes meanwhile stays readable (readers
    never block). ``immutable=1`` when the file or its folder cannot be written and no ``-wal`` file
    exists (nobody is writing it, and a WAL reader could not create its shared-memory file there), or
    when ``immutable`` is True (the caller checked there is no ``-wal``). Raises sqlite3.Error.
    """
    path = Path(path)
    uri = path.resolve().as_uri() + "?mode=ro"
    wal = Path(f"{path}-wal").exists()
    if immutable is None:
        immutable = not wal and not (_has_write_bits(path) and _has_write_bits(path.parent))
    if immutable:
        return sqlite3.connect(uri + "&immutable=1", uri=True, check_same_thread=False, isolation_level=None)
    db = None
    try:
        db = sqlite3.connect(uri, uri=True, timeout=30.0, check_same_thread=False, isolation_level=None)
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        if db is not None:
            db.close()
        if wal:
            raise
        # No shared-memory file could be made (a read-only share): with no -wal nobody is writing it.
        db = sqlite3.connect(uri + "&immutable=1", uri=True, check_same_thread=False, isolation_level=None)
    return db


@dataclass(frozen=True)
class _Identity:
    """What a file is, found without writing to it: ``version`` 0 for a new (empty) catalog."""

    version: int
    marked: bool  # carries our application id (catalogs of older apps do not)


def _identify(path: Path) -> _Identity:
    """Read ``path``'s marker and schema without changing it; raise NotACatalog for anyone else's file."""
    try:
        if path.stat().st_size == 0:
            return _Identity(0, False)  # a zero-byte file: a new catalog
    except FileNotFoundError:
        return _Identity(0, False)
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read the catalog ({exc.strerror or exc})") from None
    # Only through SQLite, never open(): closing any other descriptor of the file drops this process's
    # SQLite locks on it (POSIX), and another process could then delete the write-ahead log under the
    # app's open catalog. Immutable when there is no -wal: a plain read-only open of a WAL file would
    # leave -wal and -shm files beside someone else's database.
    nothing = "nothing was changed"
    foreign = f"{path}: not a Fashion Finder catalog (it is another program's SQLite database); {nothing}"
    try:
        db = connect_read_only(path, immutable=True if not Path(f"{path}-wal").exists() else None)
        try:
            app_id = int(db.execute("PRAGMA application_id").fetchone()[0]) & 0xFFFFFFFF
            if app_id not in (0, APPLICATION_ID):
                raise NotACatalog(foreign)
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            row = (
                db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                if "meta" in tables
                else None
            )
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "file is encrypted" in str(exc):
            raise NotACatalog(
                f"{path}: not a Fashion Finder catalog (not an SQLite database); {nothing}"
            ) from None
        raise CatalogError(f"{path}: cannot read the catalog ({exc})") from None
    if app_id == 0 and not tables:
        return _Identity(0, False)  # an empty SQLite file holds nothing to lose
    if app_id == 0 and (row is None or not tables >= _V1_TABLES):
        raise NotACatalog(foreign)
    try:
        version = int(row[0]) if row else 0
    except ValueError:
        raise CatalogError(f"{path}: the catalog's schema version {row[0]!r} is not a number") from None
    return _Identity(version, app_id == APPLICATION_ID)


def _backup_path(path: Path, version: int) -> Path:
    """``<name>.bak-v<version>``, or with ``.2``, ``.3`` ... added: an earlier backup is never replaced."""
    base = path.with_name(f"{path.name}.bak-v{version}")
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}.{n}")
    return candidate


@dataclass(frozen=True)
class FileInfo:
    """A file found by scanning."""

    path: str
    size: int
    mtime: float


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


@dataclass(frozen=True)
class ImageInfo:
    """What a file says about itself, measured at the ``size``/``mtime`` the catalog knows it by."""

    image_id: int
    size: int
    mtime: float
    width: int | None  # None: not a readable image (its bytes are still fingerprinted)
    height: int | None
    content_hash: str


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

    # The columns ``from_row`` reads, in order (thresholds may be NULL, or absent before schema 3;
    # exclusive is absent before schema 7: ``columns_sql`` reads NULL there).
    COLUMNS = "id, model_key, name, path, labels, groups, thresholds, exclusive"

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
        )

    def exclusive_columns(self) -> tuple[np.ndarray, ...]:
        """Column indices of each exclusive group, for the tag rule (``core.tags.predicted_matrix``)."""
        return exclusive_columns(self.labels, self.groups, self.exclusive)

    def exclusive_labels(self) -> set[str]:
        """The labels of its exclusive groups (their thresholds are floors: ``ThresholdPolicy.thresholds``)."""
        return exclusive_labels(self.labels, self.groups, self.exclusive)


@dataclass
class SyncCounts:
    """What a scan changed in the catalog."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    restored: int = 0


def _check_label(label: str) -> None:
    problem = label_problem(label)
    if problem is not None:
        raise ValueError(f"not a usable tag name: {problem}")


def _now() -> float:
    return time.time()


class Catalog:
    """SQLite catalog. Thread-safe (one connection behind a lock; WAL so readers elsewhere never block).

    Every public write commits before returning, so nothing a person decided lives only in memory.
    """

    def __init__(self, path: str | os.PathLike, read_only: bool = False) -> None:
        """Open the catalog at ``path``; unless ``read_only``, create it when the file is missing or empty.

        The file is identified before anything is written: another program's file is refused untouched
        (NotACatalog) and a newer schema is refused naming both versions. An older catalog is copied
        aside as ``<name>.bak-v<old version>`` (``backup_path``) and upgraded. ``read_only`` never
        writes or upgrades (SQLite read-only, or immutable for a file nobody can be writing); it reads
        schema ``READABLE_FROM`` and later, and refuses older ones saying how to upgrade them.
        Raises CatalogError (CatalogWriteError when the file cannot be written).
        """
        self.path = Path(path)
        self.read_only = read_only
        self.backup_path: Path | None = None
        self._lock = threading.RLock()
        self._model_cache: dict[str, ModelRecord] = {}
        self._hidden_keys: frozenset[str] = frozenset()
        if self.path.is_dir():
            raise CatalogError(f"{self.path}: is a folder, not a catalog file")
        identity = _identify(self.path)
        if identity.version > SCHEMA_VERSION:
            raise CatalogError(self._newer_message(identity.version))
        self._db = self._open_read_only(identity) if read_only else self._open_for_writing(identity)

    def _newer_message(self, version: int) -> str:
        return (
            f"{self.path}: catalog schema version {version} is newer than this app's "
            f"({SCHEMA_VERSION}); update Fashion Finder to open it"
        )

    def _open_read_only(self, identity: _Identity) -> sqlite3.Connection:
        if identity.version == 0:
            what = "not found" if not self.path.exists() else "empty (no library in it yet)"
            raise CatalogError(f"{self.path}: catalog {what}")
        if identity.version < READABLE_FROM:
            raise CatalogError(
                f"{self.path}: this catalog is from an older version of Fashion Finder (schema "
                f"{identity.version}; this app reads {READABLE_FROM} to {SCHEMA_VERSION}) and was left as it is; "
                f"open it once in the app or run `fashion tag FOLDER --model MODEL --out FILE --catalog "
                f"{self.path}` to upgrade it (a copy of the old file is kept)"
            )
        try:
            db = connect_read_only(self.path)
            db.execute("PRAGMA query_only=ON")
            db.execute("SELECT value FROM meta LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            if Path(f"{self.path}-wal").exists() and not _has_write_bits(self.path.parent):
                raise CatalogError(
                    f"{self.path}: cannot read the catalog: its last changes are still in "
                    f"{self.path.name}-wal, which needs a writable folder to be read; open it once in the "
                    "app where the folder can be written"
                ) from None
            raise CatalogError(f"{self.path}: cannot read the catalog ({exc})") from None
        if identity.version < 4:
            # What the v4 upgrade would drop is not shown: those scores cannot be trusted.
            keys = [r[0] for r in db.execute("SELECT model_key FROM models").fetchall()]
            self._hidden_keys = frozenset(architecture_named(keys))
        return db

    def _open_for_writing(self, identity: _Identity) -> sqlite3.Connection:
        if self.path.exists() and not _has_write_bits(self.path):
            reason = "the catalog file is read-only"
            raise CatalogWriteError(
                f"{self.path}: {reason}; 'fashion export' can still read it, but tagging or changes "
                "need write access",
                reason,
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30.0, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise CatalogError(f"{self.path}: cannot open catalog ({exc})") from exc
        try:
            if 0 < identity.version < SCHEMA_VERSION:
                self.backup_path = self._backup(db, identity.version)
            if not identity.marked:
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._db = db
            self._migrate()
        except CatalogError:
            db.close()
            raise
        except sqlite3.DatabaseError as exc:
            db.close()
            reason = write_reason(exc)
            raise CatalogWriteError(
                f"{self.path}: cannot open the catalog for writing: {reason}", reason
            ) from None
        return db

    def _backup(self, db: sqlite3.Connection, version: int) -> Path:
        """Copy the catalog, as it is before an upgrade, to ``<name>.bak-v<version>`` (SQLite's online
        backup: consistent with the write-ahead log included); return the copy's path."""
        target = _backup_path(self.path, version)
        tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        try:
            dst = sqlite3.connect(str(tmp))
            try:
                db.backup(dst)
            finally:
                dst.close()
            target = _backup_path(self.path, version)  # another process may have made one meanwhile
            os.replace(tmp, target)
        except (sqlite3.Error, OSError) as exc:
            for leftover in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                leftover.unlink(missing_ok=True)
            reason = write_reason(exc) if isinstance(exc, sqlite3.Error) else (exc.strerror or str(exc))
            raise CatalogWriteError(
                f"{self.path}: cannot keep a copy as {target.name} before upgrading the catalog from schema "
                f"{version} to {SCHEMA_VERSION} ({reason}); nothing was changed",
                reason,
            ) from None
        log.info("%s: upgrading from schema %d to %d; the old file is kept as %s", self.path, version,
                 SCHEMA_VERSION, target)  # fmt: skip
        return target

    # -- plumbing -----------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise CatalogError(f"{self.path}: opened read-only; nothing can be changed")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query_newer_table(self, table: str, sql: str, params: Sequence | dict = ()) -> list[tuple]:
        """``_query`` over a table a later schema added: no rows when an older catalog, opened
        read-only (so never upgraded), does not have it yet; any other SQLite error still raises."""
        exists = self._query("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,))
        return self._query(sql, params) if exists else []

    def _query(self, sql: str, params: Sequence | dict = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _migrate(self) -> None:
        with self._tx() as db:
            for stmt in _SCHEMA_V1.split(";"):
                if stmt.strip():
                    db.execute(stmt)
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version == 0:
                version = 1
            if version > SCHEMA_VERSION:
                raise CatalogError(self._newer_message(version))
            for i in range(version - 1, len(_MIGRATIONS)):
                step = _MIGRATIONS[i]
                if callable(step):
                    step(db)
                else:
                    for stmt in step.split(";"):
                        if stmt.strip():
                            db.execute(stmt)
                version = i + 2
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)", (str(version),))

    @property
    def schema_version(self) -> int:
        return int(self._query("SELECT value FROM meta WHERE key='schema_version'")[0][0])

    # -- folders ------------------------------------------------------------------------------
    def add_folder(self, folder: str | os.PathLike) -> int:
        """Register a folder (absolute path); return its id. Adding twice is harmless."""
        p = str(Path(folder).resolve())
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO folders(path, added_at) VALUES(?, ?)", (p, _now()))
            return int(db.execute("SELECT id FROM folders WHERE path=?", (p,)).fetchone()[0])

    def folders(self) -> list[str]:
        return [r[0] for r in self._query("SELECT path FROM folders ORDER BY id")]

    def folder_summary(self, folder: str | os.PathLike) -> tuple[int, int]:
        """(photos shown from ``folder``, how many of them carry a person's decision or review).

        Zeros for a folder that is not in the library.
        """
        row = self._query(
            "SELECT COUNT(*), COALESCE(SUM(reviewed_at IS NOT NULL"
            " OR EXISTS(SELECT 1 FROM decisions d WHERE d.image_id=images.id)), 0)"
            " FROM images WHERE present=1 AND folder_id=(SELECT id FROM folders WHERE path=?)",
            (str(Path(folder).resolve()),),
        )[0]
        return int(row[0]), int(row[1])

    def remove_folder(self, folder: str | os.PathLike) -> int:
        """Take ``folder`` out of the library; return how many photos left the view.

        Its photos are marked not present and detached from the folder, and keep their scores,
        decisions and review state: adding the folder again brings them back as they were. No file on
        disk is touched. A folder that is not in the library removes nothing (0).
        """
        p = str(Path(folder).resolve())
        with self._tx() as db:
            row = db.execute("SELECT id FROM folders WHERE path=?", (p,)).fetchone()
            if row is None:
                return 0
            shown = db.execute(
                "SELECT COUNT(*) FROM images WHERE folder_id=? AND present=1", (row[0],)
            ).fetchone()[0]
            db.execute("UPDATE images SET present=0, folder_id=NULL WHERE folder_id=?", (row[0],))
            db.execute("DELETE FROM folders WHERE id=?", (row[0],))
        return int(shown)

    # -- scanning -----------------------------------------------------------------------------
    def record_scan_batch(
        self, folder_id: int, files: Iterable[FileInfo], scan_token: float, counts: SyncCounts | None = None
    ) -> SyncCounts:
        """Upsert one batch of scanned files in one transaction.

        A file whose size or mtime changed loses its (now stale) predictions and load error but
        keeps every human decision and its review state.
        """
        counts = counts or SyncCounts()
        now = _now()
        with self._tx() as db:
            for f in files:
                row = db.execute(
                    "SELECT id, size, mtime, present FROM images WHERE path=?", (f.path,)
                ).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO images(path, folder_id, size, mtime, added_at, last_seen) VALUES(?,?,?,?,?,?)",
                        (f.path, folder_id, f.size, f.mtime, now, scan_token),
                    )
                    counts.new += 1
                    continue
                image_id, size, mtime, present = row
                if size != f.size or mtime is None or abs(mtime - f.mtime) > 1e-6:
                    db.execute(
                        "UPDATE images SET size=?, mtime=?, width=NULL, height=NULL, content_hash=NULL, error=NULL,"
                        " changed_at=?, present=1, folder_id=?, last_seen=? WHERE id=?",
                        (f.size, f.mtime, now, folder_id, scan_token, image_id),
                    )
                    db.execute("DELETE FROM predictions WHERE image_id=?", (image_id,))
                    counts.changed += 1
                else:
                    db.execute(
                        "UPDATE images SET present=1, folder_id=?, last_seen=? WHERE id=?",
                        (folder_id, scan_token, image_id),
                    )
                    if present:
                        counts.unchanged += 1
                    else:
                        counts.restored += 1
        return counts

    def new_scan_token(self, folder_id: int) -> float:
        """A token for a new scan of the folder, later than any earlier scan's (clocks can be coarse)."""
        row = self._query("SELECT MAX(last_seen) FROM images WHERE folder_id=?", (folder_id,))
        last = row[0][0] if row and row[0][0] is not None else 0.0
        return max(_now(), float(last) + 1e-3)

    def finish_scan(self, folder_id: int, scan_token: float, counts: SyncCounts | None = None) -> SyncCounts:
        """After a complete scan, mark images of the folder that were not seen as not present."""
        counts = counts or SyncCounts()
        with self._tx() as db:
            cur = db.execute(
                "UPDATE images SET present=0 WHERE folder_id=? AND present=1 AND (last_seen IS NULL OR last_seen<?)",
                (folder_id, scan_token),
            )
            counts.removed += cur.rowcount
            db.execute("UPDATE folders SET scanned_at=? WHERE id=?", (_now(), folder_id))
        return counts

    def undescribed(self, folder_id: int) -> list[tuple[int, str, int, float]]:
        """(id, path, size, mtime) of the folder's present images that have no content hash yet."""
        return self._query(
            "SELECT id, path, size, mtime FROM images WHERE folder_id=? AND present=1"
            " AND content_hash IS NULL AND size IS NOT NULL AND mtime IS NOT NULL ORDER BY path",
            (folder_id,),
        )

    def set_image_info(self, infos: Iterable[ImageInfo]) -> int:
        """Store width, height and content hash of images, all in one transaction.

        An image whose size or mtime in the catalog is no longer the one ``info`` was measured at
        (the file changed meanwhile and a scan noticed) is left alone. Returns how many were stored.
        """
        stored = 0
        with self._tx() as db:
            for i in infos:
                cur = db.execute(
                    "UPDATE images SET width=?, height=?, content_hash=? WHERE id=? AND size=? AND mtime=?",
                    (i.width, i.height, i.content_hash, i.image_id, i.size, i.mtime),
                )
                stored += cur.rowcount
        return stored

    def set_errors(self, errors: Iterable[tuple[int, str | None]]) -> None:
        """Record (or clear, with None) the load error of images."""
        with self._tx() as db:
            db.executemany("UPDATE images SET error=? WHERE id=?", [(e, i) for i, e in errors])

    # -- images -------------------------------------------------------------------------------
    _IMG_COLS = "id, path, size, mtime, width, height, present, error, reviewed_at, folder_id, content_hash"

    @staticmethod
    def _img(row: tuple) -> ImageRecord:
        return ImageRecord(
            row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8] is not None, row[9],
            row[10],
        )  # fmt: skip

    def images(
        self, include_missing: bool = False, folder: str | os.PathLike | None = None
    ) -> list[ImageRecord]:
        """Images in path order (present ones only unless ``include_missing``)."""
        sql = f"SELECT {self._IMG_COLS} FROM images"
        where, params = [], []
        if not include_missing:
            where.append("present=1")
        if folder is not None:
            where.append("folder_id=(SELECT id FROM folders WHERE path=?)")
            params.append(str(Path(folder).resolve()))
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self._img(r) for r in self._query(sql + " ORDER BY path", params)]

    def image(self, image_id: int) -> ImageRecord | None:
        rows = self._query(f"SELECT {self._IMG_COLS} FROM images WHERE id=?", (image_id,))
        return self._img(rows[0]) if rows else None

    def image_by_path(self, path: str | os.PathLike) -> ImageRecord | None:
        rows = self._query(f"SELECT {self._IMG_COLS} FROM images WHERE path=?", (str(path),))
        return self._img(rows[0]) if rows else None

    def ensure_images(self, paths: Iterable[str | os.PathLike], chunk: int = 2000) -> dict[str, int]:
        """Image ids for ``paths``, adding unknown files (outside any scanned folder) as needed.

        Works in transactions of ``chunk`` paths so that a long list never holds the catalog's
        write lock (and a person's decision made meanwhile) for more than a moment.
        """
        out: dict[str, int] = {}
        now = _now()
        batch: list[str] = []
        for p in paths:
            batch.append(str(p))
            if len(batch) >= chunk:
                self._ensure_chunk(batch, now, out)
                batch = []
        if batch:
            self._ensure_chunk(batch, now, out)
        return out

    def _ensure_chunk(self, paths: list[str], now: float, out: dict[str, int]) -> None:
        with self._tx() as db:
            for p in paths:
                row = db.execute("SELECT id FROM images WHERE path=?", (p,)).fetchone()
                if row is not None:
                    out[p] = int(row[0])
                    continue
                try:
                    st = os.stat(p)
                    size, mtime = st.st_size, st.st_mtime
                except OSError:
                    size, mtime = None, None
                cur = db.execute(
                    "INSERT INTO images(path, size, mtime, added_at) VALUES(?,?,?,?)", (p, size, mtime, now)
                )
                out[p] = int(cur.lastrowid)

    def images_under(self, folder: str) -> list[ImageRecord]:
        """Every image (present or missing) whose path lies under ``folder`` (a path as stored), by path."""
        prefix = folder.rstrip("/\\") + os.sep
        rows = self._query(
            f"SELECT {self._IMG_COLS} FROM images WHERE substr(path, 1, ?)=? ORDER BY path",
            (len(prefix), prefix),
        )
        return [self._img(r) for r in rows]

    def move_images(self, moves: Sequence[ImageMove], old_folder: str, new_folder: str) -> int:
        """Give images new paths under ``new_folder`` in one transaction, keeping each row (its
        decisions, review state, split and, for ``same_content``, scores).

        Registered folders at or under ``old_folder`` are renamed to the same place under
        ``new_folder`` (or merged into one already registered there). A row a scan of the new place
        already made for a moved photo is merged into the moved one (the newer decision of a label
        wins) and removed. Returns how many such rows were merged.
        """
        old_root, new_root = old_folder.rstrip("/\\"), new_folder.rstrip("/\\")
        merged = 0
        with self._tx() as db:
            folder_map: dict[int, int] = {}
            emptied: list[int] = []
            for fid, fpath in db.execute("SELECT id, path FROM folders").fetchall():
                if fpath != old_root and not fpath.startswith(old_root + os.sep):
                    continue
                target = new_root + fpath[len(old_root) :]
                row = db.execute("SELECT id FROM folders WHERE path=?", (target,)).fetchone()
                if row is None:
                    db.execute("UPDATE folders SET path=? WHERE id=?", (target, fid))
                else:
                    folder_map[fid] = int(row[0])
                    emptied.append(fid)
            for m in moves:
                other = db.execute("SELECT id FROM images WHERE path=?", (m.path,)).fetchone()
                if not m.same_content:
                    db.execute("DELETE FROM predictions WHERE image_id=?", (m.image_id,))
                    db.execute(
                        "UPDATE images SET width=NULL, height=NULL, content_hash=NULL, changed_at=? WHERE id=?",
                        (_now(), m.image_id),
                    )
                if other is not None and int(other[0]) != m.image_id:
                    self._merge_image(db, keep=m.image_id, drop=int(other[0]))
                    merged += 1
                db.execute(
                    "UPDATE images SET path=?, size=?, mtime=?, present=1 WHERE id=?",
                    (m.path, m.size, m.mtime, m.image_id),
                )
                fid = db.execute("SELECT folder_id FROM images WHERE id=?", (m.image_id,)).fetchone()[0]
                if fid in folder_map:
                    db.execute("UPDATE images SET folder_id=? WHERE id=?", (folder_map[fid], m.image_id))
            for fid in emptied:
                if db.execute("SELECT 1 FROM images WHERE folder_id=? LIMIT 1", (fid,)).fetchone() is None:
                    db.execute("DELETE FROM folders WHERE id=?", (fid,))
        return merged

    @staticmethod
    def _merge_image(db: sqlite3.Connection, keep: int, drop: int) -> None:
        """Fold image row ``drop`` (the same photo, found again) into ``keep``, then delete it."""
        db.execute(
            "INSERT OR REPLACE INTO decisions(image_id, label, value, decided_at)"
            " SELECT ?, d.label, d.value, d.decided_at FROM decisions d WHERE d.image_id=? AND NOT EXISTS"
            " (SELECT 1 FROM decisions k WHERE k.image_id=? AND k.label=d.label AND k.decided_at>=d.decided_at)",
            (keep, drop, keep),
        )
        db.execute(
            "INSERT OR IGNORE INTO predictions(image_id, model_id, scores, created_at)"
            " SELECT ?, model_id, scores, created_at FROM predictions WHERE image_id=?",
            (keep, drop),
        )
        db.execute(
            "UPDATE images SET"
            " reviewed_at=COALESCE(reviewed_at, (SELECT reviewed_at FROM images WHERE id=?)),"
            " split=COALESCE(split, (SELECT split FROM images WHERE id=?)),"
            " width=COALESCE(width, (SELECT width FROM images WHERE id=?)),"
            " height=COALESCE(height, (SELECT height FROM images WHERE id=?)),"
            " content_hash=COALESCE(content_hash, (SELECT content_hash FROM images WHERE id=?)) WHERE id=?",
            (drop, drop, drop, drop, drop, keep),
        )
        db.execute("DELETE FROM images WHERE id=?", (drop,))

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM images WHERE present=1")[0][0])

    # -- models and predictions ---------------------------------------------------------------
    def register_model(
        self,
        key: str,
        labels: Sequence[str],
        name: str = "",
        path: str | None = None,
        groups: dict[str, str] | None = None,
        thresholds: Sequence[float] | None = None,
        exclusive: Sequence[str] = (),
    ) -> ModelRecord:
        """Register a model (by its stable key, e.g. ``Bundle.model_id``) with its default
        per-label ``thresholds`` and its ``exclusive`` groups; return its record."""
        if thresholds is not None and len(thresholds) != len(labels):
            raise ValueError(f"{len(thresholds)} thresholds for {len(labels)} labels")
        th = json.dumps([float(t) for t in thresholds]) if thresholds is not None else None
        with self._tx() as db:
            row = db.execute("SELECT id, labels FROM models WHERE model_key=?", (key,)).fetchone()
            if row is not None and tuple(json.loads(row[1])) != tuple(labels):
                raise CatalogError(self._other_labels_message(key, json.loads(row[1]), labels))
            if row is None:
                db.execute(
                    "INSERT INTO models(model_key, name, path, labels, groups, thresholds, exclusive, added_at)"
                    " VALUES(?,?,?,?,?,?,?,?)",
                    (key, name, path, json.dumps(list(labels)), json.dumps(groups or {}), th,
                     json.dumps(list(exclusive)) if exclusive else None, _now()),
                )  # fmt: skip
            else:
                db.execute(
                    "UPDATE models SET path=COALESCE(?, path), name=COALESCE(NULLIF(?, ''), name),"
                    " thresholds=COALESCE(?, thresholds), exclusive=COALESCE(?, exclusive) WHERE id=?",
                    (path, name, th, json.dumps(list(exclusive)) if exclusive else None, row[0]),
                )
        self._model_cache.pop(key, None)
        rec = self.model(key)
        assert rec is not None
        return rec

    def _other_labels_message(self, key: str, known: Sequence[str], labels: Sequence[str]) -> str:
        def short(names: Sequence[str]) -> str:
            return ", ".join(names[:5]) + (f" ... ({len(names)} labels)" if len(names) > 5 else "")

        return (
            f"{self.path}: this catalog already has a model with the id {key!r} but other labels "
            f"({short(known)}, not {short(labels)}); its scores are not this bundle's, so nothing was reused. "
            "Two different models carry this id (a copied or edited bundle?): tag with this one into another catalog"
        )

    def model(self, key: str) -> ModelRecord | None:
        """The model registered under ``key``, or None."""
        if key in self._hidden_keys:
            return None
        if key in self._model_cache:
            return self._model_cache[key]
        columns = ModelRecord.columns_sql(r[1] for r in self._query("PRAGMA table_info(models)"))
        rows = self._query(f"SELECT {columns} FROM models WHERE model_key=?", (key,))
        if not rows:
            return None
        rec = ModelRecord.from_row(rows[0])
        self._model_cache[key] = rec
        return rec

    def models(self) -> list[ModelRecord]:
        keys = [r[0] for r in self._query("SELECT model_key FROM models ORDER BY id")]
        return [m for k in keys if (m := self.model(k)) is not None]

    def add_predictions(self, model_key: str, results: Iterable[tuple[int, np.ndarray]]) -> int:
        """Store scores (one float per model label) for image ids in one transaction; return the count."""
        model = self.model(model_key)
        if model is None:
            raise CatalogError(f"model {model_key!r} is not registered in {self.path}")
        now = _now()
        rows = [(int(i), model.id, np.asarray(s, dtype="<f4").tobytes(), now) for i, s in results]
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO predictions(image_id, model_id, scores, created_at) VALUES(?,?,?,?)",
                rows,
            )
            db.executemany("UPDATE images SET error=NULL WHERE id=?", [(r[0],) for r in rows])
        return len(rows)

    def predicted_paths(self, model_key: str) -> set[str]:
        """Paths that already have predictions from this model (for resume)."""
        model = self.model(model_key)
        if model is None:
            return set()
        # Scores of another label count are not this model's (cannot happen since labels are checked
        # on registering; kept as a guard because a wrong skip loses a photo's scores silently).
        rows = self._query(
            "SELECT i.path FROM predictions p JOIN images i ON i.id=p.image_id"
            " WHERE p.model_id=? AND length(p.scores)=?",
            (model.id, 4 * len(model.labels)),
        )
        return {r[0] for r in rows}

    def scores(self, model_key: str, image_ids: Sequence[int] | None = None) -> dict[int, np.ndarray]:
        """Scores by image id for one model (all images, or the given ids)."""
        model = self.model(model_key)
        if model is None:
            return {}
        if image_ids is None:
            rows = self._query("SELECT image_id, scores FROM predictions WHERE model_id=?", (model.id,))
        else:
            rows = []
            ids = list(image_ids)
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                marks = ",".join("?" * len(chunk))
                rows += self._query(
                    f"SELECT image_id, scores FROM predictions WHERE model_id=? AND image_id IN ({marks})",
                    [model.id, *chunk],
                )
        return {r[0]: np.frombuffer(r[1], dtype="<f4") for r in rows}

    # -- human decisions ----------------------------------------------------------------------
    def set_decision(self, image_ids: int | Sequence[int], label: str, value: bool | None) -> None:
        """Record that a person turned ``label`` on/off for the images (None forgets the decision).

        Raises ValueError for a label name that cannot be one (empty, or holding the tag separator).
        """
        _check_label(label)
        ids = [image_ids] if isinstance(image_ids, int) else list(image_ids)
        now = _now()
        with self._tx() as db:
            if value is None:
                db.executemany(
                    "DELETE FROM decisions WHERE image_id=? AND label=?", [(i, label) for i in ids]
                )
            else:
                db.executemany(
                    "INSERT OR REPLACE INTO decisions(image_id, label, value, decided_at) VALUES(?,?,?,?)",
                    [(i, label, int(bool(value)), now) for i in ids],
                )

    def set_decisions(self, changes: Iterable[tuple[int, str, bool | None]]) -> None:
        """Apply many (image id, label, value-or-None) decisions in one transaction."""
        with self._tx() as db:
            self._write_decisions(db, changes)

    @staticmethod
    def _write_decisions(db: sqlite3.Connection, changes: Iterable[tuple[int, str, bool | None]]) -> None:
        now = _now()
        delete = "DELETE FROM decisions WHERE image_id=? AND label=?"
        upsert = "INSERT OR REPLACE INTO decisions(image_id, label, value, decided_at) VALUES(?,?,?,?)"
        # executemany over runs of the same kind: much faster for big imports, order still kept.
        run: list[tuple] = []
        run_sql = upsert
        for image_id, label, value in changes:
            if value is not None:
                _check_label(label)
            sql = delete if value is None else upsert
            if sql is not run_sql and run:
                db.executemany(run_sql, run)
                run = []
            run_sql = sql
            run.append((image_id, label) if value is None else (image_id, label, int(bool(value)), now))
        if run:
            db.executemany(run_sql, run)

    def decisions(self, image_id: int) -> dict[str, bool]:
        rows = self._query("SELECT label, value FROM decisions WHERE image_id=?", (image_id,))
        return {r[0]: bool(r[1]) for r in rows}

    def decisions_for(self, image_ids: Sequence[int]) -> dict[int, dict[str, bool]]:
        """Decisions of the given images only (images without any are absent), in chunked queries."""
        out: dict[int, dict[str, bool]] = {}
        ids = list(image_ids)
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for image_id, label, value in self._query(
                f"SELECT image_id, label, value FROM decisions WHERE image_id IN ({marks})", chunk
            ):
                out.setdefault(image_id, {})[label] = bool(value)
        return out

    def all_decisions(self) -> dict[int, dict[str, bool]]:
        out: dict[int, dict[str, bool]] = {}
        for image_id, label, value in self._query("SELECT image_id, label, value FROM decisions"):
            out.setdefault(image_id, {})[label] = bool(value)
        return out

    def set_splits(self, splits: Iterable[tuple[int, str | None]]) -> None:
        """Record (or clear, with None) the dataset split (``train``, ``val``, ``test``) of images."""
        with self._tx() as db:
            db.executemany("UPDATE images SET split=? WHERE id=?", [(s or None, i) for i, s in splits])

    def splits(self, image_ids: Sequence[int] | None = None) -> dict[int, str]:
        """Dataset split by image id, for images that have one (all, or the given ids)."""
        rows = self._query("SELECT id, split FROM images WHERE split IS NOT NULL")
        if image_ids is None:
            return {r[0]: r[1] for r in rows}
        wanted = set(image_ids)
        return {r[0]: r[1] for r in rows if r[0] in wanted}

    def set_reviewed(
        self,
        image_ids: int | Sequence[int],
        reviewed: bool = True,
        decisions: Iterable[tuple[int, str, bool | None]] = (),
    ) -> None:
        """Mark images reviewed (or not), together with the ``decisions`` that review records
        (``core.tags.review_decisions``), in one transaction: a photo is never reviewed without them."""
        ids = [image_ids] if isinstance(image_ids, int) else list(image_ids)
        with self._tx() as db:
            self._write_decisions(db, decisions)
            db.executemany(
                "UPDATE images SET reviewed_at=? WHERE id=?", [(_now() if reviewed else None, i) for i in ids]
            )

    # -- labels people created -------------------------------------------------------------------
    def person_labels(self) -> dict[str, str]:
        """Labels a person created, in creation order: ``{label: group}`` (an empty dict for a catalog
        older than schema 6 opened read-only)."""
        rows = self._query_newer_table(
            "person_labels", "SELECT label, group_name FROM person_labels ORDER BY created_at, rowid"
        )
        return {label: group or "" for label, group in rows}

    def add_person_label(
        self, label: str, group: str, decisions: Iterable[tuple[int, str, bool | None]] = ()
    ) -> None:
        """Create ``label`` in ``group`` together with its first ``decisions`` (one transaction).

        Raises ValueError for a name or group that cannot be one (empty, holding the tag separator) or a
        label already created (names compare case-insensitively); CatalogError when read-only.
        """
        _check_label(label)
        group = group.strip()
        problem = label_problem(group)
        if problem is not None:
            raise ValueError(f"not a usable group name: {problem}")
        with self._tx() as db:
            same = db.execute(
                "SELECT label FROM person_labels WHERE lower(label)=lower(?)", (label,)
            ).fetchone()
            if same is not None:
                raise ValueError(f"“{label}” is already a label (“{same[0]}”)")
            db.execute(
                "INSERT INTO person_labels(label, group_name, created_at) VALUES(?,?,?)",
                (label, group, _now()),
            )
            self._write_decisions(db, decisions)

    def remove_person_label(self, label: str, decisions: Iterable[tuple[int, str, bool | None]] = ()) -> None:
        """Forget a created label (what undoing its creation does), with ``decisions`` (one transaction):
        the decisions on it are what the caller passes (None forgets one); nothing else changes."""
        with self._tx() as db:
            self._write_decisions(db, decisions)
            db.execute("DELETE FROM person_labels WHERE label=?", (label,))

    # -- view state -------------------------------------------------------------------------------
    def view_state(self, model_key: str) -> ThresholdPolicy | None:
        """The threshold view last set for a model (None: never set, or not readable: the defaults)."""
        rows = self._query_newer_table(
            "view_state", "SELECT state FROM view_state WHERE model_key=?", (model_key,)
        )
        if not rows:
            return None
        try:
            return ThresholdPolicy.from_json(rows[0][0])
        except ValueError:
            return None

    def set_view_state(self, model_key: str, policy: ThresholdPolicy) -> None:
        """Store the threshold view (overrides, global threshold, top-k, at least one) for a model.

        Raises CatalogError naming the file when it cannot be written (read-only, disk full)."""
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT OR REPLACE INTO view_state(model_key, state, updated_at) VALUES(?,?,?)",
                    (model_key, policy.to_json(), _now()),
                )
        except sqlite3.Error as exc:
            raise CatalogError(f"{self.path}: thresholds not saved ({exc})") from exc
