"""Fast bulk reads of a catalog for views over 100,000 images, on a connection of their own."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .catalog_records import CatalogError


@dataclass
class ImageColumns:
    """Present images as columns (one entry per image, in id order)."""

    ids: np.ndarray  # int64
    paths: list[str]
    mtimes: np.ndarray  # float64, NaN when unknown
    sizes: np.ndarray  # int64, -1 when unknown
    reviewed: np.ndarray  # bool
    errors: dict[int, str]  # image id -> load error
    names: list[str] | None = None  # file names (computed where the columns are read, off the GUI thread)
    changed: np.ndarray | None = (
        None  # float64: when the catalog saw its picture change (0: never; None: all 0)
    )
    to_confirm: np.ndarray | None = None  # bool: its picture changed after it was decided (None: all False)

    def changed_at(self) -> np.ndarray:
        return self.changed if self.changed is not None else np.zeros(len(self), np.float64)

    def confirm(self) -> np.ndarray:
        return self.to_confirm if self.to_confirm is not None else np.zeros(len(self), bool)

    def __len__(self) -> int:
        return len(self.paths)

    @staticmethod
    def concat(parts: list[ImageColumns]) -> ImageColumns:
        """One set of columns from several (in the given order)."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return _image_columns([])
        errors: dict[int, str] = {}
        for p in parts:
            errors.update(p.errors)
        return ImageColumns(
            np.concatenate([p.ids for p in parts]),
            [path for p in parts for path in p.paths],
            np.concatenate([p.mtimes for p in parts]),
            np.concatenate([p.sizes for p in parts]),
            np.concatenate([p.reviewed for p in parts]),
            errors,
            None if any(p.names is None for p in parts) else [n for p in parts for n in p.names],
            np.concatenate([p.changed_at() for p in parts]),
            np.concatenate([p.confirm() for p in parts]),
        )


def _posix_file_name(path: str) -> str:
    return path.rpartition("/")[2]  # posixpath.basename, without its per-call overhead


_file_name = _posix_file_name if os.sep == "/" and not os.altsep else os.path.basename


def _image_columns(rows: list[tuple]) -> ImageColumns:
    """Rows of ``CatalogReader._images_sql`` as columns (transposed in C: per-row Python for a million
    photos was a second of the opening)."""
    if not rows:
        ids, paths, mt, sz, rev, err, changed, confirm = ((),) * 8
    else:
        ids, paths, mt, sz, rev, err, changed, confirm = zip(*rows, strict=True)
    n = len(ids)
    mtimes = (
        np.array(mt, dtype=np.float64)
        if None not in mt
        else np.array([np.nan if m is None else m for m in mt], dtype=np.float64)
    )
    sizes = (
        np.array(sz, dtype=np.int64)
        if None not in sz
        else np.array([-1 if v is None else v for v in sz], dtype=np.int64)
    )
    ids_a = np.array(ids, dtype=np.int64).reshape(n)
    errors = {i: e for i, e in zip(ids, err, strict=True) if e}
    return ImageColumns(
        ids_a,
        list(paths),
        mtimes.reshape(n),
        sizes.reshape(n),
        np.array(rev, dtype=bool).reshape(n),
        errors,
        [_file_name(p) for p in paths],
        np.array(changed, dtype=np.float64).reshape(n),
        np.array(confirm, dtype=bool).reshape(n),
    )


class CatalogReader:
    """Read-only view of a catalog file that never waits on the writer (SQLite WAL readers do not block).

    Takes the catalog's path; each thread gets its own connection. Reads see every committed write.
    Raises sqlite3.Error only when the file is not a catalog.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._model_ids: dict[str, tuple[int, tuple[str, ...]]] = {}
        self._confirm: str | None = None

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            if (
                not self.path.is_file()
            ):  # sqlite3.connect would make an empty file there and say "no such table"
                what = "is not a file" if self.path.exists() else "not found"
                raise CatalogError(f"{self.path}: catalog {what}")
            db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30.0)
            db.execute("PRAGMA query_only=ON")
            self._local.db = db
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def max_image_id(self) -> int:
        """The largest image id the catalog holds, present or not (0 when it has none)."""
        return int(self._db().execute("SELECT COALESCE(MAX(id), 0) FROM images").fetchone()[0])

    def _images_sql(self) -> str:
        if self._confirm is None:  # a catalog before schema 11 has no photos to confirm
            have = {r[1] for r in self._db().execute("PRAGMA table_info(images)")}
            self._confirm = "confirm_since IS NOT NULL" if "confirm_since" in have else "0"
        return (
            "SELECT id, path, mtime, size, reviewed_at IS NOT NULL, error, COALESCE(changed_at, 0),"
            f" {self._confirm} FROM images WHERE present=1"
        )

    def images(self, after_id: int = 0, ids: list[int] | None = None) -> ImageColumns:
        """Present images with id > ``after_id`` (or exactly ``ids``), in id order."""
        if ids is None:
            return ImageColumns.concat(list(self.image_chunks(after_id)))
        sql = self._images_sql()
        rows: list[tuple] = []
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            rows += self._db().execute(f"{sql} AND id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        rows.sort()
        return _image_columns(rows)

    def image_chunks(self, after_id: int = 0, chunk: int = 50_000) -> Iterator[ImageColumns]:
        """Present images with id > ``after_id``, in id order, ``chunk`` at a time: a million rows fetched
        at once were ~350 MB of Python tuples for a moment beside the library's columns."""
        cursor = self._db().execute(f"{self._images_sql()} AND id>? ORDER BY id", (after_id,))
        try:
            while rows := cursor.fetchmany(chunk):
                yield _image_columns(rows)
        finally:
            cursor.close()

    def errors(self, image_ids: list[int] | None = None) -> dict[int, str]:
        rows = (
            self._db()
            .execute("SELECT id, error FROM images WHERE error IS NOT NULL AND present=1")
            .fetchall()
        )
        if image_ids is None:
            return dict(rows)
        wanted = set(image_ids)
        return {i: e for i, e in rows if i in wanted}

    def model_labels(self, model_key: str) -> tuple[str, ...] | None:
        found = self._model(model_key)
        return found[1] if found else None

    def _model(self, model_key: str) -> tuple[int, tuple[str, ...]] | None:
        if model_key not in self._model_ids:
            import json

            row = (
                self._db().execute("SELECT id, labels FROM models WHERE model_key=?", (model_key,)).fetchone()
            )
            if row is None:
                return None
            self._model_ids[model_key] = (int(row[0]), tuple(json.loads(row[1])))
        return self._model_ids[model_key]

    def without_embeddings(self, model_key: str) -> int:
        """``Catalog.without_embeddings`` on this thread's connection (0 for a model the catalog lacks)."""
        from .catalog_scores import count_without_embeddings

        found = self._model(model_key)
        if found is None:
            return 0
        return count_without_embeddings(
            lambda sql, params: self._db().execute(sql, params).fetchall(), found[0]
        )

    def scored_count(self, model_key: str) -> int:
        """How many present photos hold scores of model ``model_key`` (0 for a model the catalog lacks)."""
        found = self._model(model_key)
        if found is None:
            return 0
        sql = (
            "SELECT COUNT(*) FROM predictions JOIN images ON images.id = predictions.image_id "
            "WHERE predictions.model_id=? AND images.present=1"
        )
        return int(self._db().execute(sql, (found[0],)).fetchone()[0])

    def score_chunks(
        self, model_key: str, since: float = -1.0, chunk: int = 20_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
        """Scores of one model written after ``since``, a chunk of photos at a time: (image ids [n], scores
        [n, labels], the newest time in the chunk). Pass the newest time back as ``since`` to get only what
        a running tagging job added since.

        A chunk at a time because this runs beside the window: joining a million photos' scores in one
        step held the interpreter lock, and so froze the window, for 94 ms (66 labels)."""
        found = self._model(model_key)
        if found is None:
            return
        model_id, labels = found
        nl = len(labels)
        cursor = self._db().execute(
            "SELECT image_id, scores, created_at FROM predictions WHERE model_id=? AND created_at>?",
            (model_id, since),
        )
        while rows := cursor.fetchmany(chunk):
            n = len(rows)
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
            mat = np.frombuffer(b"".join([r[1] for r in rows]), dtype="<f4").reshape(n, nl)
            yield ids, mat.astype(np.float32, copy=False), float(max(r[2] for r in rows))

    def decisions(self) -> list[tuple[int, str, bool]]:
        """Every (image id, label, value) decision."""
        return [
            (i, lab, bool(v))
            for i, lab, v in self._db().execute("SELECT image_id, label, value FROM decisions")
        ]
