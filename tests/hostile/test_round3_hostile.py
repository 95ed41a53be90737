"""Never lose or corrupt a person's work, round 3: each case as a hostile user tried it (issue 23)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.model.fileio import atomic_write_bytes
from tests.hostile.test_catalog_hostile import _fingerprint, _old_catalog

needs_links = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX links")


def _other_database(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE precious(x)")
    db.execute("INSERT INTO precious VALUES(42)")
    db.commit()
    db.close()
    return path


# -- 1: a planted link overwrites another file ------------------------------------------------------
@needs_links
def test_links_planted_at_the_backups_names_are_never_written_through(tmp_path: Path) -> None:
    path = _old_catalog(tmp_path / "lib.ffcat", 3)
    other = _other_database(tmp_path / "elsewhere.db")
    before = _fingerprint(other)
    # What an older app used as its temporary name, and the backup's own name pointing at nothing.
    (tmp_path / f"lib.ffcat.bak-v3.tmp-{os.getpid()}").symlink_to(other)
    (tmp_path / "lib.ffcat.bak-v3").symlink_to(tmp_path / "nowhere.db")
    with Catalog(path) as cat:
        backup = cat.backup_path
    assert _fingerprint(other) == before  # its table is still there
    assert sqlite3.connect(other).execute("SELECT x FROM precious").fetchall() == [(42,)]
    assert not (tmp_path / "nowhere.db").exists()
    assert backup == tmp_path / "lib.ffcat.bak-v3.2" and not backup.is_symlink() and backup.is_file()
    assert sqlite3.connect(backup).execute("SELECT label FROM decisions").fetchall() == [("dress",)]
    assert (tmp_path / "lib.ffcat.bak-v3").is_symlink()  # the planted link is left as it was, not replaced
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@needs_links
def test_an_export_replaces_a_link_at_its_name_and_never_writes_through_it(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("the person's notes")
    out = tmp_path / "tags.csv"
    out.symlink_to(other)
    atomic_write_bytes(out, b"path,tags\n")
    assert other.read_text() == "the person's notes"
    assert not out.is_symlink() and out.read_bytes() == b"path,tags\n"


# -- 4: tracebacks after the work is done ---------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("preview", [False, True])
def test_labels_a_model_cannot_hold_are_refused_before_training(tmp_path: Path, preview: bool) -> None:
    from tests.trainer.trainer_helpers import FAST, make_class_folders, run_trainer

    data = make_class_folders(
        tmp_path / "data", per_class=3, splits=("train", "val"), classes=["red", "t|shirt"]
    )
    args = ["train", "--data", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", *FAST]
    res = run_trainer([*args, "--preview"] if preview else args, tmp_path)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert "'t|shirt' contains the tag separator" in res.stderr and str(data) in res.stderr
    assert not (tmp_path / "run" / "last.pt").exists()  # refused before the first epoch, not after the last
