"""Catalog: re-scans keep decisions, schema versions and migrations, crash safety of decisions."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from fashion_desktop.core.catalog import SCHEMA_VERSION, Catalog, CatalogError, ImageInfo
from fashion_desktop.core.scan import sync_folder
from tests.conftest import ROOT, make_photo


def _sync(cat: Catalog, folder: Path):
    return list(sync_folder(cat, folder))[-1]


def test_rescan_finds_new_removed_and_changed_files_and_keeps_decisions(
    photo_folder: Path, tmp_path: Path
) -> None:
    with Catalog(tmp_path / "cat.db") as cat:
        first = _sync(cat, photo_folder)
        assert first.counts.new == 9
        by_name = {Path(r.path).name: r for r in cat.images()}
        red, green, blue = by_name["red_0.jpg"], by_name["green_1.jpg"], by_name["blue_2.jpg"]
        cat.register_model("m", ["red", "green", "blue"])
        cat.add_predictions("m", [(r.id, np.array([0.9, 0.1, 0.1])) for r in cat.images()])
        cat.set_decision(red.id, "red", True)
        cat.set_decision(green.id, "green", False)
        cat.set_decision(blue.id, "blue", True)
        cat.set_reviewed([red.id, green.id])

        Path(red.path).unlink()  # removed
        make_photo(photo_folder / "new_one.jpg")  # new
        time.sleep(0.01)
        make_photo(Path(green.path), size=(200, 150), colour="blue")  # changed content
        os.utime(green.path, (time.time() + 5, time.time() + 5))

        second = _sync(cat, photo_folder)
        assert (second.counts.new, second.counts.changed, second.counts.removed) == (1, 1, 1)
        assert second.counts.unchanged == 7
        assert cat.count() == 9
        assert cat.image(red.id) is not None and not cat.image(red.id).present
        assert cat.decisions(red.id) == {"red": True}, "decision on a removed photo was lost"
        assert cat.decisions(green.id) == {"green": False}, "decision on a changed photo was lost"
        # Another picture: its decisions wait to be confirmed, no longer reviewed (issue 23, case 2).
        assert not cat.image(green.id).reviewed and cat.image(green.id).to_confirm
        assert green.id not in cat.scores("m"), "stale scores of a changed photo were kept"
        assert blue.id in cat.scores("m") and cat.decisions(blue.id) == {"blue": True}

        make_photo(Path(red.path))  # the photo comes back: same record, same decisions
        third = _sync(cat, photo_folder)
        assert third.counts.restored + third.counts.changed == 1
        assert cat.image_by_path(red.path).id == red.id
        assert cat.decisions(red.id) == {"red": True}


def test_removing_a_folder_hides_its_photos_and_keeps_decisions_scores_and_reviews(tmp_path: Path) -> None:
    keep, drop = tmp_path / "keep", tmp_path / "drop"
    make_photo(keep / "k.jpg")
    for name in ("a.jpg", "b.jpg"):
        make_photo(drop / name)
    with Catalog(tmp_path / "cat.db") as cat:
        _sync(cat, keep)
        _sync(cat, drop)
        a = next(r for r in cat.images() if r.path.endswith("a.jpg"))
        cat.register_model("m", ["red"])
        cat.add_predictions("m", [(a.id, np.array([0.7]))])
        cat.set_decision(a.id, "red", True)
        cat.set_reviewed([a.id])
        assert cat.folder_summary(drop) == (2, 1)
        assert cat.folder_summary(tmp_path / "elsewhere") == (0, 0)

        assert cat.remove_folder(drop) == 2
        assert cat.folders() == [str(keep.resolve())]
        assert [Path(r.path).name for r in cat.images()] == ["k.jpg"]
        assert cat.decisions(a.id) == {"red": True} and cat.image(a.id).reviewed
        assert cat.remove_folder(drop) == 0  # not in the library (any more): nothing happens
        assert sorted(p.name for p in drop.iterdir()) == ["a.jpg", "b.jpg"]

        _sync(cat, drop)  # added again: the same photos, with what was decided on them
        assert len(cat.images()) == 3 and cat.image(a.id).present
        assert cat.decisions(a.id) == {"red": True} and cat.image(a.id).reviewed
        assert cat.scores("m", [a.id])[a.id] == pytest.approx([0.7])


def test_image_info_measured_before_a_change_is_not_stored(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photos" / "a.jpg")
    with Catalog(tmp_path / "cat.db") as cat:
        list(sync_folder(cat, tmp_path / "photos"))
        rec = cat.images()[0]
        assert (rec.width, rec.height) == (96, 64) and rec.content_hash
        stale = ImageInfo(rec.id, rec.size - 1, rec.mtime, 1, 1, "0" * 32)  # the file as it was before
        assert cat.set_image_info([stale]) == 0
        assert cat.images()[0] == rec
        fresh = ImageInfo(rec.id, os.path.getsize(photo), rec.mtime, 2, 3, "f" * 32)
        assert cat.set_image_info([fresh]) == 1
        assert (cat.images()[0].width, cat.images()[0].content_hash) == (2, "f" * 32)


def test_schema_version_is_recorded(tmp_path: Path) -> None:
    with Catalog(tmp_path / "cat.db") as cat:
        assert cat.schema_version == SCHEMA_VERSION
    db = sqlite3.connect(tmp_path / "cat.db")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


def test_catalog_from_a_newer_app_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "cat.db"
    with Catalog(path) as cat:
        (image_id,) = cat.ensure_images([str(tmp_path / "a.jpg")]).values()
        cat.set_decision(image_id, "dress", True)
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(CatalogError) as err:
        Catalog(path)
    message = str(err.value)
    assert str(path) in message and "99" in message and "newer" in message
    db = sqlite3.connect(path)  # refusing must not have touched it
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("99",)
    assert db.execute("SELECT label FROM decisions").fetchall() == [("dress",)]
    db.close()


def test_version_1_catalog_is_migrated_keeping_decisions(tmp_path: Path) -> None:
    from fashion_desktop.core import catalog_schema

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(catalog_schema.SCHEMA_V1)
    db.execute("INSERT INTO meta VALUES('schema_version', '1')")
    db.execute("INSERT INTO images(id, path, added_at) VALUES(1, '/photos/a.jpg', 0)")
    db.execute("INSERT INTO decisions VALUES(1, 'dress', 1, 0)")
    db.execute("INSERT INTO models(id, model_key, labels, added_at) VALUES(1, 'old-model', '[\"dress\"]', 0)")
    db.commit()
    db.close()
    with Catalog(path) as cat:
        assert cat.schema_version == SCHEMA_VERSION
        assert cat.decisions(1) == {"dress": True}
        cat.set_splits([(1, "train")])
        assert cat.splits() == {1: "train"}
        assert cat.model("old-model").thresholds == ()  # unknown before v3, not invented


def test_a_models_tuned_thresholds_are_kept_with_the_library(tmp_path: Path) -> None:
    with Catalog(tmp_path / "cat.db") as cat:
        cat.register_model("m1", ["dress", "hat"], "M", thresholds=[0.3, 0.8])
        cat.register_model("m1", ["dress", "hat"], "M")  # re-registering without thresholds keeps them
    with Catalog(tmp_path / "cat.db") as cat:
        assert cat.model("m1").thresholds == pytest.approx((0.3, 0.8))
        with pytest.raises(ValueError):
            cat.register_model("m2", ["dress", "hat"], thresholds=[0.5])


def test_a_file_that_is_not_a_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "photo.db"
    path.write_bytes(b"\xff\xd8 definitely not sqlite" * 100)
    with pytest.raises(CatalogError, match="not a Fashion Finder catalog"):
        Catalog(path)
    assert path.read_bytes().startswith(b"\xff\xd8")


def test_splits_round_trip_and_clear(tmp_path: Path) -> None:
    with Catalog(tmp_path / "cat.db") as cat:
        ids = cat.ensure_images(["/p/a.jpg", "/p/b.jpg", "/p/c.jpg"])
        a, b, c = ids["/p/a.jpg"], ids["/p/b.jpg"], ids["/p/c.jpg"]
        cat.set_splits([(a, "train"), (b, "test")])
        cat.set_splits([(b, None)])
        assert cat.splits() == {a: "train"}
        assert cat.splits([b, c]) == {}


_WRITER = textwrap.dedent(
    """
    import sys, time
    from fashion_desktop.core.catalog import Catalog
    cat = Catalog(sys.argv[1])
    ids = list(cat.ensure_images([f"/photos/p{i:04d}.jpg" for i in range(5000)]).values())
    print("ready", flush=True)
    for n, image_id in enumerate(ids):
        cat.set_decision(image_id, "dress" if n % 2 else "coat", bool(n % 3))
        print(image_id, flush=True)  # only after the commit returned
    """
)


@pytest.mark.slow
def test_decisions_survive_kill_9_of_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "cat.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    acked: list[int] = []
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        while len(acked) < 200:
            line = proc.stdout.readline()
            assert line, "the writer died before being killed"
            acked.append(int(line))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    with Catalog(path) as cat:
        decided = cat.all_decisions()
        missing = [i for i in acked if i not in decided]
        assert not missing, f"{len(missing)} acknowledged decisions lost"
        for image_id in acked:
            n = int(Path(cat.image(image_id).path).stem[1:])
            assert decided[image_id] == {("dress" if n % 2 else "coat"): bool(n % 3)}
        assert len(decided) >= len(acked)  # the writer may have committed more before dying
