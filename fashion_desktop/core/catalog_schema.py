"""The catalog schema: its first tables, then append-only migrations with their version check."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..model.arch_table import ARCH_NAMES
from .catalog_records import CatalogError, ModelRecord, timestamp
from .tags import decision_matrix, default_thresholds, final_tag_matrix, review_decisions
from .thresholds import ThresholdPolicy

SCHEMA_VERSION = 11
# The oldest schema a read-only open can read as it is (v2 added ``images.split``, v3 ``models.thresholds``).
READABLE_FROM = 3
# SQLite's header field for "which program's file is this" (``PRAGMA application_id``): b"FaFi".
APPLICATION_ID = 0x46614669
# Tables every catalog has had since v1: with a ``schema_version`` row in ``meta`` they mark a catalog
# written before the application id existed.
V1_TABLES = frozenset({"meta", "folders", "images", "models", "predictions", "decisions"})


SCHEMA_V1 = """
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
    # Only a bare word can be one: ids this app writes (uuid hex, "sha256:...", names with "-") never are.
    words = [
        k for k in keys if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", k) and not re.fullmatch(r"[0-9a-f]{32}", k)
    ]
    return [k for k in words if k in ARCH_NAMES]


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


def settle_reviewed(db: sqlite3.Connection) -> int:
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
    now, added = timestamp(), 0
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
    settle_reviewed(db)


def _v9_embeddings(db: sqlite3.Connection) -> None:
    """v9: each photo's compact embedding per model (``core.embeddings`` has the blob's layout), from the
    forward pass that scored it. Keyed model first, so one model's embeddings load as one range. An
    embedding lives only as long as its photo's scores from that model: the trigger drops it whenever those
    scores are dropped (a changed file, a dropped model, a removed photo), so it never outlives them."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS embeddings ("
        " model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,"
        " image_id INTEGER NOT NULL,"
        " vector BLOB NOT NULL,"
        " PRIMARY KEY (model_id, image_id)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS predictions_drop_embedding AFTER DELETE ON predictions BEGIN"
        " DELETE FROM embeddings WHERE model_id=OLD.model_id AND image_id=OLD.image_id; END"
    )


def _v10_adapters(db: sqlite3.Connection) -> None:
    """v10: a library's adapter per model (``core.adapter``: corrections fitted to a person's decisions on
    the stored embeddings), and whether the person has it on. It goes with its model (cascade)."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS adapters ("
        " model_id INTEGER PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,"
        " payload BLOB, enabled INTEGER NOT NULL DEFAULT 1, fitted_at REAL)"
    )


def _v11_changed_pictures(db: sqlite3.Connection) -> None:
    """v11: what tells a new picture under a known name (``core.scan``): the file's ctime and inode beside
    its size and mtime (``touch -r`` restores only those two), the hash it had before a scan saw it change
    (``prior_hash``, until it is fingerprinted again), and since when a changed photo's decisions wait to
    be confirmed (``confirm_since``: not reviewed, not learnt from, until the person reviews it again).
    The rows of older catalogs get their ctime and inode at their next scan."""
    have = {r[1] for r in db.execute("PRAGMA table_info(images)")}
    for column in ("ctime_ns INTEGER", "inode INTEGER", "prior_hash TEXT", "confirm_since REAL"):
        if column.split()[0] not in have:
            db.execute(f"ALTER TABLE images ADD COLUMN {column}")


# Each entry upgrades the schema from version i+1 to i+2: SQL statements, or a Python step that gets
# the connection inside the migration's transaction (and must be safe to run twice). Append, never edit.
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
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
    # v8: a model's at-least-one groups (JSON list of group names: a scored photo with none of the group's
    # labels passing gets its top one), so a library opened without its bundle file still applies them.
    "ALTER TABLE models ADD COLUMN at_least_one TEXT",
    # v9: photos' compact embeddings per model, next to their scores (photos tagged earlier have none).
    _v9_embeddings,
    # v10: the library's adapter per model and its on/off switch.
    _v10_adapters,
    # v11: the file signal (ctime, inode), the hash before a change, and decisions to confirm.
    _v11_changed_pictures,
]


def newer_message(path: Path, version: int) -> str:
    """What a person reads when the catalog at ``path`` has a schema newer than this app's."""
    return (
        f"{path}: catalog schema version {version} is newer than this app's "
        f"({SCHEMA_VERSION}); update Fashion Finder to open it"
    )


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the catalog on ``db`` up to SCHEMA_VERSION (creating it when empty), inside the caller's
    transaction. Raises CatalogError for a schema newer than this app's."""
    for stmt in SCHEMA_V1.split(";"):
        if stmt.strip():
            db.execute(stmt)
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version == 0:
        version = 1
    if version > SCHEMA_VERSION:
        raise CatalogError(newer_message(path, version))
    for i in range(version - 1, len(MIGRATIONS)):
        step = MIGRATIONS[i]
        if callable(step):
            step(db)
        else:
            for stmt in step.split(";"):
                if stmt.strip():
                    db.execute(stmt)
        version = i + 2
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)", (str(version),))
