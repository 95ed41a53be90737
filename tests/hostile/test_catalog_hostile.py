"""Hostile cases for the catalog: other programs' files, read-only and old catalogs, shared model ids,
a full disk while tagging, and a moved folder. Each test failed before the fix it guards."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fashion_desktop.cli import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, main
from fashion_desktop.core import catalog_schema
from fashion_desktop.core.catalog import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    Catalog,
    CatalogError,
    CatalogWriteError,
    NotACatalog,
)
from tests.conftest import ROOT, TINY_LABELS, make_photo


def _fingerprint(path: Path) -> tuple[int, str]:
    return os.stat(path).st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def _read(path: Path) -> pd.DataFrame:
    # App-layout CSVs start with "# field: value" lines saying which model and thresholds made them.
    return pd.read_csv(
        path, encoding="utf-8-sig", keep_default_na=False, comment=None, skiprows=_comments(path)
    )


def _comments(path: Path) -> int:
    """How many "#" lines stand above the header."""
    count = 0
    with open(path, encoding="utf-8-sig") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            count += 1
    return count


def _old_catalog(path: Path, version: int) -> Path:
    """A catalog as an app of schema ``version`` (1 to 3) left it, in SQLite's default journal mode."""
    db = sqlite3.connect(path)
    db.executescript(catalog_schema.SCHEMA_V1)
    for step in catalog_schema.MIGRATIONS[: version - 1]:
        db.executescript(step)
    db.execute("INSERT INTO meta VALUES('schema_version', ?)", (str(version),))
    db.execute("INSERT INTO images(id, path, size, mtime, added_at) VALUES(1, '/photos/a.jpg', 10, 1, 0)")
    db.execute("INSERT INTO decisions VALUES(1, 'dress', 1, 0)")
    db.execute("INSERT INTO models(id, model_key, labels, added_at) VALUES(1, 'good-id', '[\"dress\"]', 0)")
    db.execute("INSERT INTO predictions VALUES(1, 1, ?, 0)", (np.float32([0.9]).tobytes(),))
    # Older apps keyed a bundle without an id by its architecture's name: not unique.
    db.execute("INSERT INTO models(id, model_key, labels, added_at) VALUES(2, 'cnn', '[\"dress\"]', 0)")
    db.execute("INSERT INTO predictions VALUES(1, 2, ?, 0)", (np.float32([0.1]).tobytes(),))
    db.commit()
    db.close()
    return path


# -- 5: another program's SQLite file ------------------------------------------------------------
@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_another_programs_sqlite_file_is_refused_untouched(
    journal: str, photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path, capsys
) -> None:
    lrcat = tmp_path / "Lightroom Catalog.lrcat"
    db = sqlite3.connect(lrcat)
    db.execute(f"PRAGMA journal_mode={journal}")
    db.execute("CREATE TABLE Adobe_images (id_local INTEGER PRIMARY KEY, rootFile INTEGER, rating REAL)")
    db.execute("CREATE TABLE AgLibraryFile (id_local INTEGER PRIMARY KEY, baseName TEXT)")
    db.execute("INSERT INTO AgLibraryFile VALUES (1, 'IMG_0001')")
    db.commit()
    db.close()
    before, listing = _fingerprint(lrcat), _siblings(lrcat)

    out = tmp_path / "out.csv"
    tag = [
        "tag",
        str(photo_folder),
        "--model",
        str(tiny_bundle_path),
        "--catalog",
        str(lrcat),
        "--out",
        str(out),
    ]
    assert main(tag) == EXIT_ERROR
    assert main(["export", "--catalog", str(lrcat), "--out", str(out)]) == EXIT_ERROR
    assert main(["relink", str(photo_folder), str(tmp_path), "--catalog", str(lrcat)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("not a Fashion Finder catalog (it is another program's SQLite database)") == 3
    assert f"{lrcat}:" in err and "nothing was changed" in err and "Traceback" not in err
    with pytest.raises(NotACatalog):
        Catalog(lrcat)
    with pytest.raises(NotACatalog):
        Catalog(lrcat, read_only=True)
    assert _fingerprint(lrcat) == before and _siblings(lrcat) == listing and not out.exists()
    db = sqlite3.connect(lrcat)
    assert db.execute("PRAGMA journal_mode").fetchone() == (journal,)
    assert {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")} == {
        "Adobe_images",
        "AgLibraryFile",
    }
    db.close()


def test_a_new_catalog_carries_its_marker_and_empty_or_missing_files_are_new(tmp_path: Path) -> None:
    empty = tmp_path / "empty.ffcat"
    empty.write_bytes(b"")
    for path in (empty, tmp_path / "missing.ffcat"):
        Catalog(path).close()
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
        db.close()
    # Another program's marker alone is enough to refuse, tables or not.
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("PRAGMA application_id=1234")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.commit()
    db.close()
    with pytest.raises(NotACatalog, match="another program's SQLite database"):
        Catalog(other)


def test_a_newer_schema_is_refused_naming_both_versions_by_every_command(tmp_path: Path, capsys) -> None:
    path = tmp_path / "cat.db"
    Catalog(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    before = _fingerprint(path)
    for read_only in (False, True):
        with pytest.raises(CatalogError, match=f"version 99 is newer than this app's \\({SCHEMA_VERSION}\\)"):
            Catalog(path, read_only=read_only)
    assert main(["export", "--catalog", str(path), "--out", str(tmp_path / "o.csv")]) == EXIT_ERROR
    assert "99" in capsys.readouterr().err
    assert _fingerprint(path) == before


# -- 5: read-only commands never migrate -------------------------------------------------------------
def test_export_reads_an_older_catalog_without_upgrading_it(tmp_path: Path, capsys) -> None:
    path = _old_catalog(tmp_path / "v3.db", 3)
    before, listing = _fingerprint(path), _siblings(path)
    out = tmp_path / "out.csv"
    assert main(["export", "--catalog", str(path), "--out", str(out), "--scores"]) == EXIT_OK
    df = _read(out)
    assert list(df["tags"]) == ["dress"] and list(df["score:dress"]) == [pytest.approx(0.9)]
    # Scores under an architecture's name are not offered (the upgrade drops them): only good-id counts.
    assert "cnn" not in capsys.readouterr().err
    assert _fingerprint(path) == before and _siblings(path) == sorted([*listing, "out.csv"])
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    db.close()


def test_export_refuses_a_catalog_too_old_to_read_saying_how_to_upgrade_it(tmp_path: Path, capsys) -> None:
    path = _old_catalog(tmp_path / "v1.db", 1)
    before = _fingerprint(path)
    assert main(["export", "--catalog", str(path), "--out", str(tmp_path / "out.csv")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "older version" in err and "schema 1" in err and "open it once in the app" in err
    assert f"--catalog {path}" in err and "not a Fashion Finder" not in err
    assert _fingerprint(path) == before and not (tmp_path / "out.csv").exists()


# -- 8: a read-only catalog exports fine ---------------------------------------------------------
def _small_library(path: str | Path, checkpoint: bool = True) -> None:
    """Two photos, one scored, one decided; ``checkpoint=False`` leaves the catalog open with its
    changes in the -wal file (for a writer that then dies)."""
    cat = Catalog(path)
    if not checkpoint:
        cat._db.execute("PRAGMA wal_autocheckpoint=0")
    ids = cat.ensure_images(["/photos/a.jpg", "/photos/b.jpg"])
    cat.register_model("m", ["dress", "coat"], thresholds=[0.5, 0.5])
    cat.add_predictions("m", [(ids["/photos/a.jpg"], np.float32([0.9, 0.1]))])
    cat.set_decision(ids["/photos/b.jpg"], "coat", True)
    if checkpoint:
        cat.close()


def test_a_read_only_catalog_exports_fine_and_is_opened_read_only(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    path = tmp_path / "lib.ffcat"
    _small_library(path)
    path.chmod(0o444)
    before, listing = _fingerprint(path), _siblings(path)
    real_connect = sqlite3.connect
    opened: list[str] = []

    def spy(database, *args, **kwargs):
        opened.append(str(database))
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", spy)
    out = tmp_path / "out.csv"
    assert main(["export", "--catalog", str(path), "--out", str(out)]) == EXIT_OK
    assert list(_read(out)["tags"]) == ["dress", "coat"]
    # Root may write anywhere: what counts is that the export asked SQLite for read-only access.
    assert opened and all("mode=ro" in uri for uri in opened)
    assert _fingerprint(path) == before and _siblings(path) == sorted([*listing, "out.csv"])
    # Writing commands say why they cannot, never "not a catalog".
    with pytest.raises(CatalogWriteError, match="read-only") as err:
        Catalog(path)
    assert "not a Fashion Finder" not in str(err.value)


_AS_NOBODY = textwrap.dedent(
    """
    import os, pwd, sys
    import fashion_desktop.cli as cli
    # A first export of a copy, as root, imports everything (pandas imports lazily) while the
    # interpreter's files can still be read; then the real one runs as a user who cannot write.
    assert cli.main(["export", "--catalog", sys.argv[3], "--out", sys.argv[4]]) == 0
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)
    print("dropped", flush=True)
    sys.exit(cli.main(["export", "--catalog", sys.argv[1], "--out", sys.argv[2]]))
    """
)


_CRASHED_WRITER = textwrap.dedent(
    """
    import os, sys
    from fashion_desktop.core.catalog import Catalog
    from tests.hostile.test_catalog_hostile import _small_library
    _small_library(sys.argv[1], checkpoint=False)
    os._exit(0)  # the app died: its last changes are only in the -wal file
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "setuid"), reason="needs POSIX users")
@pytest.mark.parametrize("wal", [False, True], ids=["closed", "changes-in-wal"])
def test_a_read_only_catalog_exports_fine_for_a_user_who_cannot_write_it(wal: bool, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("dropping privileges needs root (a plain user already runs this case in the test above)")
    share = Path(tempfile.mkdtemp(prefix="ff-share-"))
    try:
        path = share / "lib.ffcat"
        if wal:
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            subprocess.run([sys.executable, "-c", _CRASHED_WRITER, str(path)], check=True, cwd=ROOT, env=env)
            assert Path(f"{path}-wal").stat().st_size > 0
        else:
            _small_library(path)
        for f in share.iterdir():
            f.chmod(0o444)
        share.chmod(0o755)  # a read-only share: the folder cannot be written by the user either
        outdir = share / "out"
        outdir.mkdir()
        outdir.chmod(0o777)
        before = _fingerprint(path)
        wal_before = _fingerprint(Path(f"{path}-wal")) if wal else None
        warm = tmp_path / "warm-up.ffcat"
        _small_library(warm)
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                _AS_NOBODY,
                str(path),
                str(outdir / "out.csv"),
                str(warm),
                str(tmp_path / "w.csv"),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
        )
        if "dropped" not in proc.stdout:
            pytest.skip(f"cannot drop privileges here: {proc.stderr.strip()[-300:]}")
        assert proc.returncode == EXIT_OK, proc.stderr
        assert "not a Fashion Finder" not in proc.stderr
        assert list(_read(outdir / "out.csv")["tags"]) == ["dress", "coat"]
        assert _fingerprint(path) == before
        assert wal_before is None or _fingerprint(Path(f"{path}-wal")) == wal_before
        assert sorted(p.name for p in share.iterdir()) == sorted(
            ["lib.ffcat", "out"] + (["lib.ffcat-shm", "lib.ffcat-wal"] if wal else [])
        )
    finally:
        share.chmod(0o755)
        for p in sorted(share.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        share.rmdir()


# -- Deliver: a catalog is copied aside before an upgrade -----------------------------------------
def test_an_upgrade_keeps_a_copy_of_the_old_catalog_and_never_overwrites_one(
    photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path, capsys
) -> None:
    path = _old_catalog(tmp_path / "lib.ffcat", 3)
    old_bytes = path.read_bytes()
    args = ["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--catalog", str(path)]
    assert main([*args, "--out", str(tmp_path / "o.csv")]) == EXIT_OK
    backup = tmp_path / "lib.ffcat.bak-v3"
    assert f"the old file is kept as {backup}" in capsys.readouterr().err
    copy = sqlite3.connect(backup)
    assert copy.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("3",)
    assert copy.execute("SELECT image_id, label, value FROM decisions").fetchall() == [(1, "dress", 1)]
    assert copy.execute("SELECT model_key FROM models ORDER BY id").fetchall() == [("good-id",), ("cnn",)]
    copy.close()
    with Catalog(path) as cat:
        assert cat.schema_version == SCHEMA_VERSION and cat.decisions(1) == {"dress": True}
    first_backup = _fingerprint(backup)
    # The person puts the old file back and upgrades again: the first copy stays as it was.
    for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    path.write_bytes(old_bytes)
    with Catalog(path) as cat:
        assert cat.backup_path == tmp_path / "lib.ffcat.bak-v3.2"
    assert _fingerprint(backup) == first_backup
    assert (tmp_path / "lib.ffcat.bak-v3.2").read_bytes()[:16] == b"SQLite format 3\x00"


# -- 2: model identity ----------------------------------------------------------------------------
def _bundle_file(path: Path, labels: tuple[str, ...], model_id: str | None, bias: float = -3.0) -> Path:
    """A colour bundle with other labels (and head bias); without ``model_id`` as an old-format file that
    carries none (older apps wrote such files)."""
    import torch

    from fashion_desktop.core.demo import colour_bundle
    from fashion_desktop.model.bundle import save_bundle

    b = colour_bundle()
    sd = dict(b.state_dict)
    sd["classifier.bias"] = torch.full_like(sd["classifier.bias"], bias)
    b = dataclasses.replace(
        b, labels=labels, groups={}, thresholds=(), state_dict=sd, provenance={"name": path.stem}
    )
    if model_id is not None:
        return save_bundle(dataclasses.replace(b, provenance={"model_id": model_id, "name": path.stem}), path)
    d = b.to_dict()
    d["format_version"] = 1
    d["provenance"] = {"name": path.stem}
    torch.save(d, path)
    return path


def test_two_bundles_without_an_id_keep_their_own_scores_and_labels(
    photo_folder: Path, tmp_path: Path, capsys
) -> None:
    a = _bundle_file(tmp_path / "a.fmodel", ("red", "green", "blue"), None, bias=-3.0)
    b = _bundle_file(tmp_path / "b.fmodel", ("dress", "coat", "hat"), None, bias=-1.0)
    db = tmp_path / "lib.ffcat"
    outs = {}
    for bundle in (a, b):
        out = tmp_path / f"{bundle.stem}.csv"
        run = ["tag", str(photo_folder), "--model", str(bundle), "--catalog", str(db), "--out", str(out)]
        assert main([*run, "--threshold", "0.5"]) == EXIT_OK
        assert "tagged 9, skipped 0" in capsys.readouterr().err
        outs[bundle.stem] = _read(out)
    assert [c for c in outs["a"].columns if c.startswith("score:")] == [f"score:{x}" for x in TINY_LABELS]
    assert [c for c in outs["b"].columns if c.startswith("score:")] == [
        "score:dress",
        "score:coat",
        "score:hat",
    ]
    red = outs["a"]["path"].str.contains("red_")
    assert set(outs["a"].loc[red, "tags"]) == {"red"} and set(outs["b"].loc[red, "tags"]) == {"dress"}
    assert not np.allclose(outs["a"]["score:red"], outs["b"]["score:dress"])


def test_a_model_id_shared_by_bundles_with_other_labels_is_refused_not_reused(
    photo_folder: Path, tmp_path: Path, capsys
) -> None:
    a = _bundle_file(tmp_path / "a.fmodel", ("red", "green", "blue"), "same-id")
    b = _bundle_file(tmp_path / "b.fmodel", ("dress", "coat", "hat"), "same-id")
    db = tmp_path / "lib.ffcat"
    run = ["tag", str(photo_folder), "--catalog", str(db)]
    assert main([*run, "--model", str(a), "--out", str(tmp_path / "a.csv")]) == EXIT_OK
    capsys.readouterr()
    assert main([*run, "--model", str(b), "--out", str(tmp_path / "b.csv")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{db}:" in err and "'same-id'" in err and "other labels" in err and "Traceback" not in err
    assert not (tmp_path / "b.csv").exists()
    with Catalog(db) as cat:  # the first model's record and scores are as they were
        assert cat.model("same-id").labels == ("red", "green", "blue")
        assert len(cat.predicted_paths("same-id")) == 9


def test_the_upgrade_drops_scores_stored_under_an_architecture_name(tmp_path: Path) -> None:
    path = _old_catalog(tmp_path / "v3.db", 3)
    with Catalog(path) as cat:
        assert [m.key for m in cat.models()] == ["good-id"]
        assert cat.model("cnn") is None and cat.scores("good-id") == {1: pytest.approx([0.9])}
        assert cat.decisions(1) == {"dress": True}
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM predictions").fetchone() == (1,)
    db.close()


# -- 10: the disk fills while tagging into a catalog ------------------------------------------------
def _disk_fills_after_first_batch(monkeypatch) -> None:
    real = Catalog.add_predictions
    calls = {"n": 0}

    def add_predictions(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 1:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Catalog, "add_predictions", add_predictions)


def test_disk_full_while_tagging_into_a_catalog_is_a_message_and_keeps_the_work(
    tmp_path: Path, tiny_bundle_path: Path, monkeypatch, capsys
) -> None:
    folder = tmp_path / "photos"
    for i in range(12):
        make_photo(folder / f"{TINY_LABELS[i % 3]}_{i:02d}.jpg", colour=TINY_LABELS[i % 3])
    db = tmp_path / "lib.ffcat"
    args = ["tag", str(folder), "--model", str(tiny_bundle_path), "--catalog", str(db), "--batch-size", "4"]
    _disk_fills_after_first_batch(monkeypatch)
    assert main([*args, "--out", str(tmp_path / "o.csv")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{db}: the disk is full; the 4 photos tagged so far are kept" in err
    assert "Traceback" not in err and not (tmp_path / "o.csv").exists()
    monkeypatch.undo()
    assert main([*args, "--out", str(tmp_path / "o.csv")]) == EXIT_OK
    assert "tagged 8, skipped 4" in capsys.readouterr().err


def test_disk_full_while_scanning_into_a_catalog_is_a_message(
    photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Catalog, "record_scan_batch", full)
    db = tmp_path / "lib.ffcat"
    run = [
        "tag",
        str(photo_folder),
        "--model",
        str(tiny_bundle_path),
        "--catalog",
        str(db),
        "--out",
        str(tmp_path / "o.csv"),
    ]
    assert main(run) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{db}: the disk is full while scanning {photo_folder}" in err and "Traceback" not in err


def test_disk_full_without_a_catalog_names_the_temporary_folder_not_a_kept_catalog(
    tmp_path: Path, tiny_bundle_path: Path, monkeypatch, capsys
) -> None:
    folder = tmp_path / "photos"
    for i in range(8):
        make_photo(folder / f"p{i}.jpg", colour=TINY_LABELS[i % 3])
    _disk_fills_after_first_batch(monkeypatch)
    run = [
        "tag",
        str(folder),
        "--model",
        str(tiny_bundle_path),
        "--batch-size",
        "4",
        "--out",
        str(tmp_path / "o.csv"),
    ]
    assert main(run) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "fashion-tag-" in err and "the disk is full" in err and "--catalog FILE" in err
    assert "kept" not in err and "Traceback" not in err


def test_disk_full_in_the_tagging_process_ends_in_a_failure_message(
    tmp_path: Path, tiny_bundle_path: Path, monkeypatch
) -> None:
    from fashion_desktop.core import tag_process
    from fashion_desktop.core.scan import sync_folder

    folder = tmp_path / "photos"
    for i in range(8):
        make_photo(folder / f"p{i}.jpg", colour=TINY_LABELS[i % 3])
    db = tmp_path / "lib.ffcat"
    with Catalog(db) as cat:
        for _ in sync_folder(cat, folder):
            pass
    _disk_fills_after_first_batch(monkeypatch)
    job = {"catalog": str(db), "bundle": str(tiny_bundle_path), "batch_size": 4, "device": "cpu"}
    events = []
    with pytest.raises(CatalogWriteError) as err:
        for event in tag_process.run_tag(job, threading.Event()):
            events.append(event)
    # The process reports this error by its class name as a Failure with this message (no traceback).
    assert type(err.value).__name__ == "CatalogWriteError"
    assert str(err.value) == f"{db}: the disk is full; the 4 photos tagged so far are kept"
    with Catalog(db) as cat:
        assert len(cat.predicted_paths(cat.models()[0].key)) == 4


# -- Deliver: a moved folder is relinked ------------------------------------------------------------
def test_a_moved_folder_is_relinked_keeping_decisions_review_and_scores(
    photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path, capsys
) -> None:
    db = tmp_path / "lib.ffcat"
    tag = ["--model", str(tiny_bundle_path), "--catalog", str(db), "--out", str(tmp_path / "o.csv")]
    assert main(["tag", str(photo_folder), *tag]) == EXIT_OK
    with Catalog(db) as cat:
        before = {r.path: r for r in cat.images()}
        assert all(r.content_hash for r in before.values())
        red0 = before[str(photo_folder / "red_0.jpg")]
        blue2 = before[str(photo_folder / "sub" / "blue_2.jpg")]
        cat.set_decision(red0.id, "green", True)
        cat.set_reviewed([red0.id, blue2.id])
        # A photo the scan could not fingerprint is found by relative path and size instead.
        cat._db.execute("UPDATE images SET content_hash=NULL WHERE id=?", (blue2.id,))
        key = cat.models()[0].key
        scores = cat.scores(key)
    moved = tmp_path / "renamed drive" / "photos"
    moved.parent.mkdir()
    os.rename(photo_folder, moved)
    (moved / "green_1.jpg").rename(moved / "sub" / "renamed.jpg")  # found by content under a new name
    (moved / "sub" / "blue_5.jpg").unlink()  # lost for good: listed, kept

    assert main(["relink", str(photo_folder), str(moved), "--catalog", str(db)]) == EXIT_PARTIAL
    err = capsys.readouterr().err
    assert "relinked 8 of 9 photos" in err and "7 by content, 1 by name and size" in err
    assert str(photo_folder / "sub" / "blue_5.jpg") in err
    with Catalog(db) as cat:
        after = {r.id: r for r in cat.images(include_missing=True)}
        assert after[red0.id].path == str(moved / "red_0.jpg")
        assert after[before[str(photo_folder / "green_1.jpg")].id].path == str(moved / "sub" / "renamed.jpg")
        assert cat.decisions(red0.id) == {"green": True}
        assert after[red0.id].reviewed and after[blue2.id].reviewed
        assert after[blue2.id].path == str(moved / "sub" / "blue_2.jpg")
        kept = cat.scores(key)
        assert set(kept) == set(scores) and all(np.array_equal(kept[i], scores[i]) for i in scores)
        assert cat.folders() == [str(moved)]
        assert len(after) == 9  # no new rows: the photos moved, nothing was duplicated
    # Tagging the new place re-tags nothing and shows the person's decision.
    assert main(["tag", str(moved), *tag]) == EXIT_OK
    assert "tagged 0, skipped 8" in capsys.readouterr().err
    row = _read(tmp_path / "o.csv").set_index("path").loc[str(moved / "red_0.jpg")]
    assert row["tags"] == "red|green"


def test_relinking_after_the_new_place_was_already_scanned_merges_instead_of_duplicating(
    photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path
) -> None:
    from fashion_desktop.core.relink import relink_folder
    from fashion_desktop.core.scan import sync_folder

    db = tmp_path / "lib.ffcat"
    assert main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--catalog", str(db),
                 "--out", str(tmp_path / "o.csv")]) == EXIT_OK  # fmt: skip
    with Catalog(db) as cat:
        red0 = cat.image_by_path(str(photo_folder / "red_0.jpg"))
        cat.set_decision(red0.id, "blue", False)
    moved = tmp_path / "moved"
    os.rename(photo_folder, moved)
    with Catalog(db) as cat:
        for _ in sync_folder(cat, moved):  # the person added the new place before relinking
            pass
        assert len(cat.images(include_missing=True)) == 18
        report = relink_folder(cat, photo_folder, moved)
        assert report.moved == 9 and report.merged == 9 and not report.not_found
        assert len(cat.images(include_missing=True)) == 9 and cat.count() == 9
        assert cat.image_by_path(str(moved / "red_0.jpg")).id == red0.id
        assert cat.decisions(red0.id) == {"blue": False}
        assert cat.folders() == [str(moved)]


@pytest.mark.slow
def test_recognising_a_catalog_never_drops_the_locks_of_one_already_open(tmp_path: Path) -> None:
    # POSIX drops every lock a process holds on a file when it closes any descriptor of it: reading
    # the header with open() let another process delete the write-ahead log of the app's open catalog.
    path = tmp_path / "lib.ffcat"
    app = Catalog(path)  # the app's own connection, as the window holds it
    try:
        app.ensure_images([f"/photos/{i}.jpg" for i in range(50)])
        Catalog(path).close()  # a scan worker of the same process opens and closes its own
        Catalog(path, read_only=True).close()
        other = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT COUNT(*) FROM images').fetchall(); c.close()"
        subprocess.run([sys.executable, "-c", other, str(path)], check=True, timeout=60)
        assert Path(f"{path}-wal").exists()  # nobody believed they were the last and removed it
        app.ensure_images([f"/photos/more{i}.jpg" for i in range(50)])
        assert app.count() == 100
    finally:
        app.close()
    with Catalog(path) as cat:
        assert cat._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert cat.count() == 100


def test_training_from_a_catalog_not_upgraded_yet_never_uses_architecture_named_scores(
    tmp_path: Path,
) -> None:
    from fashion_desktop.core.training_table import TrainingTableError, training_table

    path = _old_catalog(tmp_path / "v3.db", 3)
    db = sqlite3.connect(path)
    db.execute("UPDATE images SET reviewed_at=1")
    db.commit()
    db.close()
    before = _fingerprint(path)
    table = training_table(path)  # 'cnn' was registered last, but its scores are not trustworthy
    assert table.model_key == "good-id"
    with pytest.raises(TrainingTableError, match="no model 'cnn'"):
        training_table(path, "cnn")
    assert _fingerprint(path) == before


def test_the_app_relinks_a_moved_folder_and_keeps_every_decision(qtbot, tmp_path: Path) -> None:
    """A person renames the folder outside the app: File → Relink Moved Folder finds each photo by its
    content at the new place, with the tags they set, instead of showing them as gone."""
    from fashion_desktop.gui.main_window import MainWindow
    from fashion_desktop.gui.tag.library_model import Roles
    from tests.conftest import make_photo

    old = tmp_path / "Shoot 2026"
    for i, colour in enumerate(["red", "green", "blue", "red"]):
        make_photo(old / f"look_{i}.jpg", (64 + i, 48), colour)
    window = MainWindow(tmp_path / "lib.ffcat")
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.library_ctl.add_folder(old)
    qtbot.waitUntil(lambda: all(r.content_hash for r in window.catalog.images()), timeout=20_000)
    first = window.catalog.images()[0]
    window.catalog.set_decision(first.id, "denim", True)
    new = tmp_path / "Archive" / "Shoot 2026 (final)"
    new.parent.mkdir()
    old.rename(new)
    with qtbot.waitSignal(window.relinked, timeout=20_000) as blocker:
        assert window.library_ctl.relink_folder(str(old), str(new))
    assert blocker.args[0].by_content == 4 and not blocker.args[0].not_found
    moved = {Path(r.path).name: r for r in window.catalog.images()}
    assert sorted(moved) == [f"look_{i}.jpg" for i in range(4)]
    assert all(Path(r.path).parent == new for r in moved.values())
    assert window.catalog.decisions(moved[Path(first.path).name].id) == {"denim": True}
    shown = {window.library.index(r).data(Roles.Path) for r in range(window.library.rowCount())}
    assert all(str(new) in p for p in shown) and len(shown) == 4
    assert window.catalog.folders() == [str(new)]
    window.close()
