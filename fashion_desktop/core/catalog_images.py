"""Where the catalog's photos are: folders, scans, image rows, moves and dataset splits."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from .catalog_records import CatalogAccess, FileInfo, ImageInfo, ImageMove, ImageRecord, SyncCounts, timestamp


class ImageStore:
    """Folders and images of one catalog; every write commits before returning."""

    def __init__(self, catalog: CatalogAccess) -> None:
        self._catalog = catalog
        self._columns: str | None = None

    # -- folders ------------------------------------------------------------------------------
    def add_folder(self, folder: str | os.PathLike) -> int:
        """Register a folder (absolute path); return its id. Adding twice is harmless."""
        p = str(Path(folder).resolve())
        with self._catalog.transaction() as db:
            db.execute("INSERT OR IGNORE INTO folders(path, added_at) VALUES(?, ?)", (p, timestamp()))
            return int(db.execute("SELECT id FROM folders WHERE path=?", (p,)).fetchone()[0])

    def folders(self) -> list[str]:
        return [r[0] for r in self._catalog.query("SELECT path FROM folders ORDER BY id")]

    def folder_summary(self, folder: str | os.PathLike) -> tuple[int, int]:
        """(photos shown from ``folder``, how many of them carry a person's decision or review).

        Zeros for a folder that is not in the library.
        """
        row = self._catalog.query(
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
        with self._catalog.transaction() as db:
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

        A file whose size, mtime, ctime or inode changed (what ``touch -r`` cannot restore; those two are
        compared only where both are known) is described again, its hash until then kept as its prior
        one: ``set_image_info`` then tells a new picture (scores dropped, decisions to confirm) from
        metadata written into it (nothing lost). Meanwhile it keeps its scores and decisions.
        """
        counts = counts or SyncCounts()
        now = timestamp()
        with self._catalog.transaction() as db:
            for f in files:
                row = db.execute(
                    "SELECT id, size, mtime, present, ctime_ns, inode FROM images WHERE path=?", (f.path,)
                ).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO images(path, folder_id, size, mtime, ctime_ns, inode, added_at, last_seen)"
                        " VALUES(?,?,?,?,?,?,?,?)",
                        (f.path, folder_id, f.size, f.mtime, f.ctime_ns, f.inode, now, scan_token),
                    )
                    counts.new += 1
                    continue
                image_id, size, mtime, present, ctime_ns, inode = row
                same = size == f.size and ctime_ns == f.ctime_ns and inode == f.inode and mtime is not None
                # The careful look (times compared within a microsecond, an unknown ctime or inode) only
                # where the quick one sees a difference: most files of a re-scan are as they were.
                if not (same and abs(mtime - f.mtime) <= 1e-6) and _signal_changed(
                    size, mtime, ctime_ns, inode, f
                ):
                    db.execute(
                        "UPDATE images SET size=?, mtime=?, ctime_ns=?, inode=?, width=NULL, height=NULL,"
                        " prior_hash=COALESCE(prior_hash, content_hash, ''), content_hash=NULL, error=NULL,"
                        " present=1, folder_id=?, last_seen=? WHERE id=?",
                        (f.size, f.mtime, f.ctime_ns, f.inode, folder_id, scan_token, image_id),
                    )
                    counts.changed += 1
                else:
                    db.execute(
                        "UPDATE images SET present=1, folder_id=?, last_seen=? WHERE id=?",
                        (folder_id, scan_token, image_id),
                    )
                    if (ctime_ns is None and f.ctime_ns is not None) or (
                        inode is None and f.inode is not None
                    ):
                        # A row of an older catalog (or one tagged before it was scanned) learns its signal.
                        db.execute(
                            "UPDATE images SET ctime_ns=?, inode=? WHERE id=?",
                            (f.ctime_ns, f.inode, image_id),
                        )
                    if present:
                        counts.unchanged += 1
                    else:
                        counts.restored += 1
        return counts

    def new_scan_token(self, folder_id: int) -> float:
        """A token for a new scan of the folder, later than any earlier scan's (clocks can be coarse)."""
        row = self._catalog.query("SELECT MAX(last_seen) FROM images WHERE folder_id=?", (folder_id,))
        last = row[0][0] if row and row[0][0] is not None else 0.0
        return max(timestamp(), float(last) + 1e-3)

    def finish_scan(self, folder_id: int, scan_token: float, counts: SyncCounts | None = None) -> SyncCounts:
        """After a complete scan, mark images of the folder that were not seen as not present."""
        counts = counts or SyncCounts()
        with self._catalog.transaction() as db:
            cur = db.execute(
                "UPDATE images SET present=0 WHERE folder_id=? AND present=1 AND (last_seen IS NULL OR last_seen<?)",
                (folder_id, scan_token),
            )
            counts.removed += cur.rowcount
            db.execute("UPDATE folders SET scanned_at=? WHERE id=?", (timestamp(), folder_id))
        return counts

    def undescribed(
        self, folder_id: int, changed_only: bool = False, page: int = 20_000
    ) -> Iterator[tuple[int, str, int, float, str | None]]:
        """(id, path, size, mtime, prior hash) of the folder's present images that have no content hash
        yet, in id order (the scan's); the prior hash is None for a file never described, "" for a changed
        one whose old hash is unknown. ``changed_only``: only files a scan saw change.

        Read ``page`` rows at a time, each page after the last id read (the folder index's order: no sort).
        A million rows read at once were ~250 MB for a moment at the end of a scan, and building them held
        the interpreter lock the window needs (a 124 ms stall)."""
        sql = (
            "SELECT id, path, size, mtime, prior_hash FROM images WHERE folder_id=? AND present=1"
            " AND content_hash IS NULL AND size IS NOT NULL AND mtime IS NOT NULL"
            + (" AND prior_hash IS NOT NULL" if changed_only else "")
            + " AND id>? ORDER BY id LIMIT ?"
        )
        after = 0
        while True:
            rows = self._catalog.query(sql, (folder_id, after, page))
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1][0]

    def set_image_info(self, infos: Iterable[ImageInfo]) -> int:
        """Store width, height and content hash of images, all in one transaction.

        An image whose size or mtime in the catalog is no longer the one ``info`` was measured at
        (the file changed meanwhile and a scan noticed) is left alone. One whose picture is not the one
        the catalog knew (``same_picture`` False) loses its scores and embeddings, and its decisions wait
        to be confirmed (``content_changed``). Returns how many were stored.
        """
        stored = 0
        now = timestamp()
        with self._catalog.transaction() as db:
            for i in infos:
                cur = db.execute(
                    "UPDATE images SET width=?, height=?, content_hash=?, prior_hash=NULL"
                    " WHERE id=? AND size=? AND mtime=?",
                    (i.width, i.height, i.content_hash, i.image_id, i.size, i.mtime),
                )
                stored += cur.rowcount
                if cur.rowcount and i.same_picture is False:
                    content_changed(db, i.image_id, now)
        return stored

    def record_metadata_write(
        self,
        image_id: int,
        old_size: int | None,
        old_mtime: float | None,
        new_size: int,
        new_mtime: float,
        new_hash: str | None,
        new_ctime_ns: int | None = None,
        new_inode: int | None = None,
    ) -> bool:
        """The app wrote keywords into an image: its new size, mtime and hash, in one transaction.

        A metadata write is no new picture, so scores, decisions and review state stay. Only a record
        that still has ``old_size``/``old_mtime`` and no change waiting to be looked at is updated (a
        scan that saw another change meanwhile wins: its verdict compares with the hash from before);
        returns whether it was.
        """
        if old_size is None or old_mtime is None:
            return False
        with self._catalog.transaction() as db:
            cur = db.execute(
                "UPDATE images SET size=?, mtime=?, content_hash=?, ctime_ns=?, inode=?"
                " WHERE id=? AND size=? AND ABS(mtime-?)<=1e-6 AND prior_hash IS NULL",
                (new_size, new_mtime, new_hash, new_ctime_ns, new_inode, image_id, old_size, old_mtime),
            )
            return cur.rowcount == 1

    def set_errors(self, errors: Iterable[tuple[int, str | None]]) -> None:
        """Record (or clear, with None) the load error of images."""
        with self._catalog.transaction() as db:
            db.executemany("UPDATE images SET error=? WHERE id=?", [(e, i) for i, e in errors])

    # -- images -------------------------------------------------------------------------------
    @property
    def _IMG_COLS(self) -> str:  # noqa: N802 (was a constant: a catalog before schema 11 opened read-only lacks one)
        if self._columns is None:
            have = {r[1] for r in self._catalog.query("PRAGMA table_info(images)")}
            confirm = "confirm_since IS NOT NULL" if "confirm_since" in have else "0"
            self._columns = f"id, path, size, mtime, width, height, present, error, reviewed_at, folder_id, content_hash, {confirm}"
        return self._columns

    @staticmethod
    def _img(row: tuple) -> ImageRecord:
        return ImageRecord(
            row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8] is not None, row[9],
            row[10], bool(row[11]),
        )  # fmt: skip

    def to_confirm_ids(self) -> set[int]:
        """Photos whose picture changed after a person decided on them: their decisions wait to be
        confirmed (marking the photo reviewed again) and count for nothing meanwhile."""
        if "confirm_since" not in self._IMG_COLS:
            return set()
        return {r[0] for r in self._catalog.query("SELECT id FROM images WHERE confirm_since IS NOT NULL")}

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
        return [self._img(r) for r in self._catalog.query(sql + " ORDER BY path", params)]

    def image(self, image_id: int) -> ImageRecord | None:
        rows = self._catalog.query(f"SELECT {self._IMG_COLS} FROM images WHERE id=?", (image_id,))
        return self._img(rows[0]) if rows else None

    def image_by_path(self, path: str | os.PathLike) -> ImageRecord | None:
        rows = self._catalog.query(f"SELECT {self._IMG_COLS} FROM images WHERE path=?", (str(path),))
        return self._img(rows[0]) if rows else None

    def ids_of_paths(self, paths: Iterable[str], chunk: int = 500) -> dict[str, int]:
        """The image id of each of ``paths`` the catalog knows (by its path index, ``chunk`` at a time)."""
        wanted = list(dict.fromkeys(paths))
        out: dict[str, int] = {}
        for start in range(0, len(wanted), chunk):
            part = wanted[start : start + chunk]
            marks = ",".join("?" * len(part))
            out.update(
                (p, i)
                for i, p in self._catalog.query(f"SELECT id, path FROM images WHERE path IN ({marks})", part)
            )
        return out

    def ensure_images(self, paths: Iterable[str | os.PathLike], chunk: int = 2000) -> dict[str, int]:
        """Image ids for ``paths``, adding unknown files (outside any scanned folder) as needed.

        Works in transactions of ``chunk`` paths so that a long list never holds the catalog's
        write lock (and a person's decision made meanwhile) for more than a moment.
        """
        out: dict[str, int] = {}
        now = timestamp()
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
        with self._catalog.transaction() as db:
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
        rows = self._catalog.query(
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
        with self._catalog.transaction() as db:
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
                    db.execute(
                        "UPDATE images SET width=NULL, height=NULL, content_hash=NULL WHERE id=?",
                        (m.image_id,),
                    )
                    content_changed(db, m.image_id, timestamp())
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
        # The embeddings go with those scores (model first: the key's order, so no full scan).
        db.execute(
            "INSERT OR IGNORE INTO embeddings(model_id, image_id, vector) SELECT model_id, ?, vector"
            " FROM embeddings WHERE model_id IN (SELECT id FROM models) AND image_id=?",
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
        return int(self._catalog.query("SELECT COUNT(*) FROM images WHERE present=1")[0][0])

    def set_splits(self, splits: Iterable[tuple[int, str | None]]) -> None:
        """Record (or clear, with None) the dataset split (``train``, ``val``, ``test``) of images."""
        with self._catalog.transaction() as db:
            db.executemany("UPDATE images SET split=? WHERE id=?", [(s or None, i) for i, s in splits])

    def splits(self, image_ids: Sequence[int] | None = None) -> dict[int, str]:
        """Dataset split by image id, for images that have one (all, or the given ids)."""
        rows = self._catalog.query("SELECT id, split FROM images WHERE split IS NOT NULL")
        if image_ids is None:
            return {r[0]: r[1] for r in rows}
        wanted = set(image_ids)
        return {r[0]: r[1] for r in rows if r[0] in wanted}


def _signal_changed(
    size: int | None, mtime: float | None, ctime_ns: int | None, inode: int | None, f: FileInfo
) -> bool:
    """Whether the file may have changed since the catalog recorded it (ctime and inode count only where
    both sides know them: an older catalog's rows, Windows' missing inode numbers)."""
    if size != f.size or mtime is None or abs(mtime - f.mtime) > 1e-6:
        return True
    return (None not in (ctime_ns, f.ctime_ns) and ctime_ns != f.ctime_ns) or (
        None not in (inode, f.inode) and inode != f.inode
    )


def content_changed(db: sqlite3.Connection, image_id: int, now: float) -> None:
    """The picture under this image's name is another one: its scores (and with them its embeddings) go,
    and decisions a person made on the old picture wait to be confirmed: kept, but no longer reviewed
    (``confirm_since``) until the person marks the photo reviewed again. ``changed_at`` makes its
    thumbnail new."""
    db.execute("DELETE FROM predictions WHERE image_id=?", (image_id,))
    db.execute(
        "UPDATE images SET changed_at=?, error=NULL, confirm_since=CASE WHEN reviewed_at IS NOT NULL"
        " OR EXISTS(SELECT 1 FROM decisions WHERE image_id=images.id) THEN COALESCE(confirm_since, ?)"
        " ELSE confirm_since END, reviewed_at=NULL WHERE id=?",
        (now, now, image_id),
    )
