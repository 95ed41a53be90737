"""The catalog: one SQLite file holding images, model predictions and human decisions, kept apart."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model.fileio import exclusive_temp, place_new
from .catalog_decisions import DecisionStore
from .catalog_images import ImageStore
from .catalog_records import (
    CatalogError,
    CatalogWriteError,
    DecisionChanges,
    FileInfo,
    ImageInfo,
    ImageMove,
    ImageRecord,
    ModelRecord,
    NotACatalog,
    SyncCounts,
    write_reason,
)
from .catalog_schema import (
    APPLICATION_ID,
    READABLE_FROM,
    SCHEMA_VERSION,
    V1_TABLES,
    architecture_named,
    migrate,
    newer_message,
)
from .catalog_scores import ScoreStore
from .thresholds import ThresholdPolicy

# Names callers import from here (the records and the schema's numbers live in their own modules).
__all__ = [
    "APPLICATION_ID",
    "READABLE_FROM",
    "SCHEMA_VERSION",
    "Catalog",
    "CatalogError",
    "CatalogWriteError",
    "FileInfo",
    "ImageInfo",
    "ImageMove",
    "ImageRecord",
    "ModelRecord",
    "NotACatalog",
    "SyncCounts",
    "architecture_named",
    "connect_read_only",
    "write_reason",
]

log = logging.getLogger(__name__)


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


def _wal_problem(path: Path) -> str | None:
    """The message for a catalog whose last changes sit in a ``-wal`` file in a folder that cannot be written
    (SQLite then says only "unable to open database file"), or None when that is not the case."""
    if Path(f"{path}-wal").exists() and not _has_write_bits(path.parent):
        return (
            f"{path}: cannot read the catalog: its last changes are still in {path.name}-wal, which needs a "
            f"writable folder to be read, and {path.parent} is read-only; open it once where the folder can be "
            "written"
        )
    return None


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
        raise CatalogError(_wal_problem(path) or f"{path}: cannot read the catalog ({exc})") from None
    if app_id == 0 and not tables:
        return _Identity(0, False)  # an empty SQLite file holds nothing to lose
    if app_id == 0 and (row is None or not tables >= V1_TABLES):
        raise NotACatalog(foreign)
    try:
        version = int(row[0]) if row else 0
    except ValueError:
        raise CatalogError(f"{path}: the catalog's schema version {row[0]!r} is not a number") from None
    return _Identity(version, app_id == APPLICATION_ID)


def _backup_names(path: Path, version: int) -> Iterator[Path]:
    """``<name>.bak-v<version>``, then with ``.2``, ``.3`` ... added (an earlier backup is never replaced)."""
    base = path.with_name(f"{path.name}.bak-v{version}")
    yield base
    for n in range(2, 10_000):
        yield base.with_name(f"{base.name}.{n}")


class Catalog:
    """SQLite catalog. Thread-safe (one connection behind a lock; WAL so readers elsewhere never block).

    Every public write commits before returning, so nothing a person decided lives only in memory.
    Catalog owns the file and the connection (open, upgrade, the one writer, close); the reads and
    writes are done by three stores it hands over to (``ImageStore``, ``ScoreStore``,
    ``DecisionStore``, documented there), so callers keep one object and one API.
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
        self._hidden_keys: frozenset[str] = frozenset()  # set by a read-only open of a pre-v4 catalog
        if self.path.is_dir():
            raise CatalogError(f"{self.path}: is a folder, not a catalog file")
        identity = _identify(self.path)
        if identity.version > SCHEMA_VERSION:
            raise CatalogError(newer_message(self.path, identity.version))
        self._db = self._open_read_only(identity) if read_only else self._open_for_writing(identity)
        self._images = ImageStore(self)
        self._scores = ScoreStore(self, self._hidden_keys)
        self._decisions = DecisionStore(self)

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
            raise CatalogError(
                _wal_problem(self.path) or f"{self.path}: cannot read the catalog ({exc})"
            ) from None
        if identity.version < 4:
            # What the v4 upgrade would drop is not shown: those scores cannot be trusted.
            keys = [r[0] for r in db.execute("SELECT model_key FROM models").fetchall()]
            self._hidden_keys = frozenset(architecture_named(keys))
        return db

    def _open_for_writing(self, identity: _Identity) -> sqlite3.Connection:
        if self.path.exists() and _has_write_bits(self.path) and not _has_write_bits(self.path.parent):
            reason = f"the folder {self.path.parent} is read-only (the catalog writes its journal beside it)"
            raise CatalogWriteError(
                f"{self.path}: {reason}; 'fashion export' can still read it, but tagging or changes need a "
                "folder that can be written: make it writable or move the catalog",
                reason,
            )
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
            with self.transaction() as tx:
                migrate(tx, self.path)
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
        # The copy is made in a file created exclusively under a random name and then linked to the first
        # free backup name: a file or link planted at a predictable name is never written through or replaced.
        target = next(_backup_names(self.path, version))
        tmp = None
        try:
            tmp = exclusive_temp(self.path.parent, target.name)
            dst = sqlite3.connect(str(tmp))
            try:
                db.backup(dst)
            finally:
                dst.close()
            target = place_new(tmp, _backup_names(self.path, version))
        except (sqlite3.Error, OSError) as exc:
            for leftover in (
                [tmp, *(Path(f"{tmp}{end}") for end in ("-journal", "-wal", "-shm"))] if tmp else []
            ):
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

    # -- the connection (the stores read and write through these) ---------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The one writer: a write transaction under the lock, committed before the block's caller
        goes on (rolled back when it raises). Raises CatalogError when opened read-only."""
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

    def query_newer_table(self, table: str, sql: str, params: Sequence | dict = ()) -> list[tuple]:
        """``query`` over a table a later schema added: no rows when an older catalog, opened
        read-only (so never upgraded), does not have it yet; any other SQLite error still raises."""
        exists = self.query("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,))
        return self.query(sql, params) if exists else []

    def query(self, sql: str, params: Sequence | dict = ()) -> list[tuple]:
        """Rows of one read, under the lock."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    @property
    def schema_version(self) -> int:
        return int(self.query("SELECT value FROM meta WHERE key='schema_version'")[0][0])

    # -- folders, scans and images: ImageStore ----------------------------------------------------
    def add_folder(self, folder: str | os.PathLike) -> int:
        return self._images.add_folder(folder)

    def folders(self) -> list[str]:
        return self._images.folders()

    def folder_summary(self, folder: str | os.PathLike) -> tuple[int, int]:
        return self._images.folder_summary(folder)

    def remove_folder(self, folder: str | os.PathLike) -> int:
        return self._images.remove_folder(folder)

    def record_scan_batch(
        self, folder_id: int, files: Iterable[FileInfo], scan_token: float, counts: SyncCounts | None = None
    ) -> SyncCounts:
        return self._images.record_scan_batch(folder_id, files, scan_token, counts)

    def new_scan_token(self, folder_id: int) -> float:
        return self._images.new_scan_token(folder_id)

    def finish_scan(self, folder_id: int, scan_token: float, counts: SyncCounts | None = None) -> SyncCounts:
        return self._images.finish_scan(folder_id, scan_token, counts)

    def undescribed(
        self, folder_id: int, changed_only: bool = False
    ) -> Iterator[tuple[int, str, int, float, str | None]]:
        return self._images.undescribed(folder_id, changed_only)

    def to_confirm_ids(self) -> set[int]:
        return self._images.to_confirm_ids()

    def set_image_info(self, infos: Iterable[ImageInfo]) -> int:
        return self._images.set_image_info(infos)

    def set_errors(self, errors: Iterable[tuple[int, str | None]]) -> None:
        self._images.set_errors(errors)

    def record_metadata_write(
        self, image_id: int, old_size: int | None, old_mtime: float | None, new_size: int, new_mtime: float,
        new_hash: str | None, new_ctime_ns: int | None = None, new_inode: int | None = None,
    ) -> bool:  # fmt: skip
        return self._images.record_metadata_write(
            image_id, old_size, old_mtime, new_size, new_mtime, new_hash, new_ctime_ns, new_inode
        )

    def images(
        self, include_missing: bool = False, folder: str | os.PathLike | None = None
    ) -> list[ImageRecord]:
        return self._images.images(include_missing, folder)

    def image(self, image_id: int) -> ImageRecord | None:
        return self._images.image(image_id)

    def image_by_path(self, path: str | os.PathLike) -> ImageRecord | None:
        return self._images.image_by_path(path)

    def ids_of_paths(self, paths: Iterable[str]) -> dict[str, int]:
        return self._images.ids_of_paths(paths)

    def ensure_images(self, paths: Iterable[str | os.PathLike], chunk: int = 2000) -> dict[str, int]:
        return self._images.ensure_images(paths, chunk)

    def images_under(self, folder: str) -> list[ImageRecord]:
        return self._images.images_under(folder)

    def move_images(self, moves: Sequence[ImageMove], old_folder: str, new_folder: str) -> int:
        return self._images.move_images(moves, old_folder, new_folder)

    def count(self) -> int:
        return self._images.count()

    def set_splits(self, splits: Iterable[tuple[int, str | None]]) -> None:
        self._images.set_splits(splits)

    def splits(self, image_ids: Sequence[int] | None = None) -> dict[int, str]:
        return self._images.splits(image_ids)

    # -- models and their scores: ScoreStore ------------------------------------------------------
    def register_model(
        self,
        key: str,
        labels: Sequence[str],
        name: str = "",
        path: str | None = None,
        groups: dict[str, str] | None = None,
        thresholds: Sequence[float] | None = None,
        exclusive: Sequence[str] = (),
        at_least_one: Sequence[str] = (),
    ) -> ModelRecord:
        return self._scores.register_model(
            key, labels, name, path, groups, thresholds, exclusive, at_least_one
        )

    def model(self, key: str) -> ModelRecord | None:
        return self._scores.model(key)

    def models(self) -> list[ModelRecord]:
        return self._scores.models()

    def add_predictions(
        self,
        model_key: str,
        results: Iterable[tuple[int, np.ndarray]],
        embeddings: Sequence[bytes] | None = None,
    ) -> int:
        return self._scores.add_predictions(model_key, results, embeddings)

    def embeddings(self, model_key: str) -> tuple[np.ndarray, list[bytes]]:
        return self._scores.embeddings(model_key)

    def embedded_paths(self, model_key: str) -> set[str]:
        return self._scores.embedded_paths(model_key)

    def without_embeddings(self, model_key: str) -> int:
        return self._scores.without_embeddings(model_key)

    def predicted_paths(self, model_key: str) -> set[str]:
        return self._scores.predicted_paths(model_key)

    def scores(self, model_key: str, image_ids: Sequence[int] | None = None) -> dict[int, np.ndarray]:
        return self._scores.scores(model_key, image_ids)

    # -- what people decided: DecisionStore -------------------------------------------------------
    def set_decision(self, image_ids: int | Sequence[int], label: str, value: bool | None) -> None:
        self._decisions.set_decision(image_ids, label, value)

    def set_decisions(self, changes: DecisionChanges) -> None:
        self._decisions.set_decisions(changes)

    def decisions(self, image_id: int) -> dict[str, bool]:
        return self._decisions.decisions(image_id)

    def decisions_for(self, image_ids: Sequence[int]) -> dict[int, dict[str, bool]]:
        return self._decisions.decisions_for(image_ids)

    def all_decisions(self) -> dict[int, dict[str, bool]]:
        return self._decisions.all_decisions()

    def set_reviewed(
        self, image_ids: int | Sequence[int], reviewed: bool = True, decisions: DecisionChanges = ()
    ) -> None:
        self._decisions.set_reviewed(image_ids, reviewed, decisions)

    def person_labels(self) -> dict[str, str]:
        return self._decisions.person_labels()

    def add_person_label(self, label: str, group: str, decisions: DecisionChanges = ()) -> None:
        self._decisions.add_person_label(label, group, decisions)

    def add_person_labels(self, labels: Mapping[str, str], decisions: DecisionChanges = ()) -> None:
        self._decisions.add_person_labels(labels, decisions)

    def remove_person_label(self, label: str, decisions: DecisionChanges = ()) -> None:
        self._decisions.remove_person_label(label, decisions)

    def remove_person_labels(self, labels: Sequence[str], decisions: DecisionChanges = ()) -> None:
        self._decisions.remove_person_labels(labels, decisions)

    def view_state(self, model_key: str) -> ThresholdPolicy | None:
        return self._decisions.view_state(model_key)

    def set_view_state(self, model_key: str, policy: ThresholdPolicy) -> None:
        self._decisions.set_view_state(model_key, policy)

    def label_keys(self) -> dict[str, str]:
        return self._decisions.label_keys()

    def set_label_keys(self, keys: Mapping[str, str]) -> None:
        self._decisions.set_label_keys(keys)
