"""The catalog: one SQLite file holding images, model predictions and human decisions, kept apart."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .tags import decision_matrix, default_thresholds, final_tag_matrix, review_decisions
from .thresholds import ThresholdPolicy

SCHEMA_VERSION = 4

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


def _v4_view_state_and_settled_reviews(db: sqlite3.Connection) -> None:
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
    # v4: per-model view state, and photos reviewed before reviewing settled them get settled now.
    _v4_view_state_and_settled_reviews,
]


class CatalogError(RuntimeError):
    """The catalog file cannot be opened or is from a newer version of the app."""


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
class ModelRecord:
    id: int
    key: str
    name: str
    path: str | None
    labels: tuple[str, ...]
    groups: dict[str, str] = field(default_factory=dict)
    thresholds: tuple[float, ...] = ()  # the bundle's per-label defaults; empty when not recorded


@dataclass
class SyncCounts:
    """What a scan changed in the catalog."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    restored: int = 0


def _now() -> float:
    return time.time()


class Catalog:
    """SQLite catalog. Thread-safe (one connection behind a lock; WAL so readers elsewhere never block).

    Every public write commits before returning, so nothing a person decided lives only in memory.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), check_same_thread=False, timeout=30.0, isolation_level=None
            )
        except (sqlite3.Error, OSError) as exc:
            raise CatalogError(f"{self.path}: cannot open catalog ({exc})") from exc
        self._lock = threading.RLock()
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise CatalogError(f"{self.path}: not a Fashion Finder catalog ({exc})") from exc
        self._model_cache: dict[str, ModelRecord] = {}

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
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

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
                raise CatalogError(
                    f"{self.path}: catalog schema version {version} is newer than this app "
                    f"({SCHEMA_VERSION}); update Fashion Finder to open it"
                )
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
    ) -> ModelRecord:
        """Register a model (by its stable key, e.g. ``Bundle.model_id``) with its default
        per-label ``thresholds``; return its record."""
        if thresholds is not None and len(thresholds) != len(labels):
            raise ValueError(f"{len(thresholds)} thresholds for {len(labels)} labels")
        th = json.dumps([float(t) for t in thresholds]) if thresholds is not None else None
        with self._tx() as db:
            row = db.execute("SELECT id FROM models WHERE model_key=?", (key,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO models(model_key, name, path, labels, groups, thresholds, added_at)"
                    " VALUES(?,?,?,?,?,?,?)",
                    (key, name, path, json.dumps(list(labels)), json.dumps(groups or {}), th, _now()),
                )
            else:
                db.execute(
                    "UPDATE models SET path=COALESCE(?, path), name=COALESCE(NULLIF(?, ''), name),"
                    " thresholds=COALESCE(?, thresholds) WHERE id=?",
                    (path, name, th, row[0]),
                )
        self._model_cache.pop(key, None)
        rec = self.model(key)
        assert rec is not None
        return rec

    def model(self, key: str) -> ModelRecord | None:
        if key in self._model_cache:
            return self._model_cache[key]
        rows = self._query(
            "SELECT id, model_key, name, path, labels, groups, thresholds FROM models WHERE model_key=?",
            (key,),
        )
        if not rows:
            return None
        r = rows[0]
        rec = ModelRecord(
            r[0],
            r[1],
            r[2] or "",
            r[3],
            tuple(json.loads(r[4])),
            json.loads(r[5] or "{}"),
            tuple(json.loads(r[6])) if r[6] else (),
        )
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
        rows = self._query(
            "SELECT i.path FROM predictions p JOIN images i ON i.id=p.image_id WHERE p.model_id=?",
            (model.id,),
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
        """Record that a person turned ``label`` on/off for the images (None forgets the decision)."""
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

    # -- view state -------------------------------------------------------------------------------
    def view_state(self, model_key: str) -> ThresholdPolicy | None:
        """The threshold view last set for a model (None: never set, or not readable: the defaults)."""
        rows = self._query("SELECT state FROM view_state WHERE model_key=?", (model_key,))
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
