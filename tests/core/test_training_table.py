"""Training table: reviewed photos with final tags by the one rule, read without touching the catalog."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from fashion_desktop.core import catalog_schema
from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.core.training_table import TrainingTableError, reviewed_rows, training_table

LABELS = ["dress", "coat", "red"]
GROUPS = {"dress": "category", "coat": "category", "red": "colour"}


def _library(path: Path) -> dict[str, int]:
    """Five photos: decided, scored only, unscored, unreviewed, gone from disk."""
    with Catalog(path) as cat:
        ids = cat.ensure_images([f"/photos/{n}.jpg" for n in ("a", "b", "c", "d", "e")])
        cat.register_model("m", LABELS, "tiny", groups=GROUPS, thresholds=[0.5, 0.8, 0.3])
        cat.add_predictions(
            "m",
            [
                (ids["/photos/a.jpg"], np.float32([0.9, 0.9, 0.1])),
                (ids["/photos/b.jpg"], np.float32([0.6, 0.7, 0.35])),
                (ids["/photos/d.jpg"], np.float32([0.9, 0.9, 0.9])),
            ],
        )
        a, c = ids["/photos/a.jpg"], ids["/photos/c.jpg"]
        cat.set_decisions([(a, "dress", False), (a, "red", True), (a, "scarf", True), (c, "coat", True)])
        cat.set_reviewed([ids[f"/photos/{n}.jpg"] for n in ("a", "b", "c", "e")])
        cat._db.execute("UPDATE images SET present=0 WHERE path='/photos/e.jpg'")
    return ids


def _fingerprint(path: Path) -> tuple[int, str]:
    return os.stat(path).st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def test_final_tags_decisions_win_scores_use_the_catalogs_thresholds_and_unjudged_is_unknown(
    tmp_path: Path,
) -> None:
    _library(tmp_path / "cat.db")
    table = training_table(tmp_path / "cat.db")
    assert table.model_key == "m"
    assert table.labels == ("dress", "coat", "red", "scarf")  # the model's, then people's own
    assert table.groups == {"dress": "category", "coat": "category", "red": "colour", "scarf": "tags"}
    assert table.thresholds == pytest.approx({"dress": 0.5, "coat": 0.8, "red": 0.3})
    rows = {Path(r.path).stem: r for r in table.rows}
    assert list(rows) == ["a", "b", "c"]  # reviewed and present only, in path order
    # a: decisions beat the scores both ways; a label only people use needs no model.
    assert rows["a"].positives == {"coat", "red", "scarf"}
    assert rows["a"].known == {"dress", "coat", "red", "scarf"}
    assert rows["a"].tags == {"category": ("coat",), "colour": ("red",), "tags": ("scarf",)}
    # b: scored only, against the model's own (catalog) thresholds, not 0.5: coat 0.7 < 0.8, red 0.35 >= 0.3.
    assert rows["b"].positives == {"dress", "red"}
    assert rows["b"].known == {"dress", "coat", "red"}
    # c: never scored, one decision: everything else is unknown, not "no".
    assert rows["c"].positives == {"coat"} and rows["c"].known == {"coat"}
    assert reviewed_rows(tmp_path / "cat.db") == table.rows


def test_the_model_is_chosen_by_key_or_the_last_registered_and_none_means_decisions_only(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cat.db"
    ids = _library(db)
    with Catalog(db) as cat:
        cat.register_model("lenient", LABELS, thresholds=[0.1, 0.1, 0.1])
        cat.add_predictions("lenient", [(ids["/photos/b.jpg"], np.float32([0.2, 0.2, 0.0]))])
    rows = {Path(r.path).stem: r for r in training_table(db).rows}
    assert training_table(db).model_key == "lenient"
    assert rows["b"].positives == {"dress", "coat"}
    rows = {Path(r.path).stem: r for r in training_table(db, "m").rows}
    assert rows["b"].positives == {"dress", "red"}
    with pytest.raises(TrainingTableError, match="'nope'.*known: m, lenient"):
        training_table(db, "nope")

    bare = tmp_path / "bare.db"
    with Catalog(bare) as cat:
        i = cat.ensure_images(["/p/x.jpg"])["/p/x.jpg"]
        cat.set_decisions([(i, "hat", True), (i, "coat", False)])
        cat.set_reviewed([i])
    table = training_table(bare)
    assert table.model_key is None and table.groups == {"coat": "tags", "hat": "tags"}
    assert table.rows[0].positives == {"hat"} and table.rows[0].known == {"hat", "coat"}


def test_a_policy_applies_as_everywhere_else(tmp_path: Path) -> None:
    _library(tmp_path / "cat.db")
    policy = ThresholdPolicy(per_label={"coat": 0.65}, top_k=1, at_least_one=True)
    rows = {Path(r.path).stem: r for r in training_table(tmp_path / "cat.db", policy=policy).rows}
    assert rows["b"].positives == {"coat"}  # dress 0.6, coat 0.7, red 0.35 pass; the best one stays


def test_reading_leaves_the_file_untouched(tmp_path: Path) -> None:
    db = tmp_path / "cat.db"
    _library(db)
    before = _fingerprint(db)
    os.chmod(db, 0o444)  # a read-only file reads too (nothing is ever written)
    try:
        training_table(db)
        reviewed_rows(db)
    finally:
        os.chmod(db, 0o644)
    assert _fingerprint(db) == before


def test_a_catalog_the_app_is_writing_is_readable_and_shows_what_was_saved(tmp_path: Path) -> None:
    db = tmp_path / "cat.db"
    ids = _library(db)
    with Catalog(db) as writer:  # the app holds the library open (WAL mode) and keeps deciding
        writer.set_decision(ids["/photos/b.jpg"], "coat", True)
        assert (tmp_path / "cat.db-wal").exists()
        rows = {Path(r.path).stem: r for r in training_table(db).rows}
        assert "coat" in rows["b"].positives
        writer._db.execute("BEGIN IMMEDIATE")  # a write in progress does not block the reader
        try:
            assert len(training_table(db).rows) == 3
        finally:
            writer._db.execute("ROLLBACK")
        writer.set_decision(ids["/photos/b.jpg"], "coat", False)
        assert "coat" not in {Path(r.path).stem: r for r in training_table(db).rows}["b"].positives


def test_a_closed_catalog_on_a_read_only_share_is_read_as_an_immutable_file(tmp_path, monkeypatch) -> None:
    db = tmp_path / "cat.db"
    _library(db)
    assert not (tmp_path / "cat.db-wal").exists()
    real_connect = sqlite3.connect
    uris: list[str] = []

    def no_shared_memory(database, *args, **kwargs):  # what SQLite says when it cannot create cat.db-shm
        uris.append(database)
        if "immutable=1" not in database:
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", no_shared_memory)
    assert len(training_table(db).rows) == 3
    assert uris[-1].endswith("?mode=ro&immutable=1")


def test_an_older_catalog_is_read_without_being_migrated(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    db.executescript(catalog_schema.SCHEMA_V1)
    db.execute("INSERT INTO meta VALUES('schema_version', '1')")
    db.execute("INSERT INTO images(id, path, added_at, reviewed_at) VALUES(1, '/p/a.jpg', 0, 1)")
    db.execute(
        "INSERT INTO models(id, model_key, labels, groups, added_at) VALUES(1, 'm', '[\"dress\"]', '{}', 0)"
    )
    db.execute("INSERT INTO predictions VALUES(1, 1, ?, 0)", (np.float32([0.7]).tobytes(),))
    db.commit()
    db.close()
    before = _fingerprint(path)
    table = training_table(path)
    assert table.thresholds == {"dress": 0.5}  # no thresholds recorded yet: the untuned default
    assert table.rows[0].positives == {"dress"}
    assert _fingerprint(path) == before
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    assert "thresholds" not in {r[1] for r in db.execute("PRAGMA table_info(models)")}
    db.close()


def test_unreadable_newer_or_missing_catalogs_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(TrainingTableError, match="catalog not found"):
        training_table(tmp_path / "missing.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(TrainingTableError, match="junk.db: cannot be read"):
        training_table(junk)
    newer = tmp_path / "newer.db"
    _library(newer)
    db = sqlite3.connect(newer)
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(TrainingTableError, match="schema version 99 is newer"):
        training_table(newer)


def test_confident_predictions_add_unreviewed_photos_only_where_the_model_is_sure(tmp_path: Path) -> None:
    db = tmp_path / "cat.db"
    with Catalog(db) as cat:
        ids = cat.ensure_images([f"/photos/{n}.jpg" for n in ("r", "u", "v", "w")])
        cat.register_model("m", LABELS, "tiny", groups=GROUPS, thresholds=[0.5, 0.5, 0.5])
        cat.add_predictions(
            "m",
            [
                (ids["/photos/r.jpg"], np.float32([0.6, 0.4, 0.5])),  # reviewed: every score counts
                (ids["/photos/u.jpg"], np.float32([0.95, 0.55, 0.1])),  # dress sure yes, red sure no
                (ids["/photos/v.jpg"], np.float32([0.6, 0.45, 0.5])),  # nothing sure: left out
            ],
        )
        cat.set_decisions([(ids["/photos/u.jpg"], "coat", True)])  # a decision counts on any photo
        cat.set_reviewed([ids["/photos/r.jpg"]])
    assert [Path(r.path).stem for r in training_table(db).rows] == ["r"]  # the default: reviewed only
    rows = {Path(r.path).stem: r for r in training_table(db, confident_predictions=True).rows}
    assert list(rows) == ["r", "u"]  # w was never scored, v has no sure answer
    assert rows["r"].reviewed and rows["r"].known == {"dress", "coat", "red"}
    assert rows["r"].positives == {"dress", "red"}
    u = rows["u"]
    assert not u.reviewed
    assert u.known == {"dress", "coat", "red"} and u.positives == {"dress", "coat"}
