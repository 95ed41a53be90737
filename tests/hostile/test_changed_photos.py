"""Issue 23, case 2: a different photo under the same name loses its scores and its decisions wait to be
confirmed; keywords written into a photo are no new picture."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from fashion_desktop.cli import EXIT_OK, main
from fashion_desktop.core.adapter_library import library_examples, reviewed_ids
from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.photo_keywords import write_keywords
from fashion_desktop.core.scan import sync_folder
from fashion_desktop.core.spreadsheet import comment_lines
from fashion_desktop.core.training_table import training_table
from tests.conftest import make_photo

MODEL = "tiny-test-model"


def _tagged_library(tmp_path: Path, bundle: Path, capsys) -> tuple[Path, Path, Path]:
    """A folder of two photos tagged into a catalog; IMG_0001 (red: the "dress") and IMG_0002 reviewed."""
    folder = tmp_path / "photos"
    photo = make_photo(folder / "IMG_0001.jpg", (96, 64), "red")
    make_photo(folder / "IMG_0002.jpg", (90, 64), "green")
    db = tmp_path / "lib.ffcat"
    assert main(["tag", str(folder), "--model", str(bundle), "--catalog", str(db), "--out", str(tmp_path / "a.csv")]) == EXIT_OK  # fmt: skip
    capsys.readouterr()
    with Catalog(db) as cat:
        for rec in cat.images():
            red = rec.path == str(photo)
            cat.set_reviewed(rec.id, True, [(rec.id, "red", red), (rec.id, "green", not red)])
    return folder, photo, db


def _rescan(db: Path, folder: Path) -> None:
    with Catalog(db) as cat:
        list(sync_folder(cat, folder))


def _export(db: Path, out: Path) -> pd.DataFrame:
    assert main(["export", "--catalog", str(db), "--out", str(out)]) == EXIT_OK
    return pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False, skiprows=comment_lines(out))


def _assert_to_confirm(db: Path, photo: Path, tmp_path: Path) -> None:
    with Catalog(db) as cat:
        rec = cat.image_by_path(photo)
        assert rec is not None
        assert cat.scores(MODEL, [rec.id]) == {}  # the old picture's scores are gone
        assert not rec.reviewed and rec.to_confirm
        assert cat.decisions(rec.id) == {"red": True, "green": False}  # kept, waiting to be confirmed
        assert rec.id not in reviewed_ids(cat) and cat.to_confirm_ids() == {rec.id}
    exported = _export(db, tmp_path / "e.csv").set_index("path")
    assert exported.loc[str(photo), "reviewed"] == "to confirm"
    assert [r.path for r in training_table(db).rows] == [str(photo.parent / "IMG_0002.jpg")]


def test_a_different_photo_under_the_same_name_loses_its_scores_and_its_decisions_wait(
    tmp_path: Path, tiny_bundle_path: Path, capsys
) -> None:
    folder, photo, db = _tagged_library(tmp_path, tiny_bundle_path, capsys)
    make_photo(photo, (120, 80), "blue")  # the camera reused the name: a shoe, not the dress
    _rescan(db, folder)
    _assert_to_confirm(db, photo, tmp_path)
    # Tagged again, it has scores and an embedding, but its decisions still wait: no training, no adapter.
    args = ["tag", str(folder), "--model", str(tiny_bundle_path), "--catalog", str(db)]
    assert main([*args, "--out", str(tmp_path / "b.csv")]) == EXIT_OK
    with Catalog(db) as cat:
        examples, _ = library_examples(cat, MODEL)
        assert len(examples) == 1  # IMG_0002 only
        assert cat.to_confirm_ids() == {cat.image_by_path(photo).id}
    assert [r.path for r in training_table(db).rows] == [str(folder / "IMG_0002.jpg")]


def _same_length(a: Path, b: Path) -> None:
    """Pad the shorter JPEG after its end marker (decoders ignore it) so both files have one length."""
    la, lb = a.stat().st_size, b.stat().st_size
    short = a if la < lb else b
    with short.open("ab") as fh:
        fh.write(b"\0" * abs(la - lb))


def test_a_changed_photo_with_size_and_time_restored_is_tagged_again(
    tmp_path: Path, tiny_bundle_path: Path, capsys
) -> None:
    folder, photo, db = _tagged_library(tmp_path, tiny_bundle_path, capsys)
    other = make_photo(tmp_path / "other" / "IMG_0001.jpg", (96, 64), "blue")
    _same_length(photo, other)
    before = photo.stat()
    assert other.stat().st_size == before.st_size
    with photo.open("r+b") as fh:  # an in-place edit: same inode, same length
        fh.write(other.read_bytes())
    os.utime(photo, ns=(before.st_atime_ns, before.st_mtime_ns))  # what touch -r does
    assert (photo.stat().st_size, photo.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    out = tmp_path / "again.csv"
    args = ["tag", str(folder), "--model", str(tiny_bundle_path), "--catalog", str(db), "--out", str(out)]
    assert main(args) == EXIT_OK
    err = capsys.readouterr().err
    assert "tagged 1, skipped 1" in err, err
    tags = pd.read_csv(out, keep_default_na=False, skiprows=comment_lines(out)).set_index("path")["tags"]
    assert tags[str(photo)] == "blue"  # the new picture's tags, not the reviewed dress's
    with Catalog(db) as cat:
        rec = cat.image_by_path(photo)
        assert rec.to_confirm and not rec.reviewed


def _assert_kept(db: Path, photo: Path) -> None:
    with Catalog(db) as cat:
        rec = cat.image_by_path(photo)
        assert len(cat.scores(MODEL, [rec.id])) == 1
        assert rec.reviewed and not rec.to_confirm
        assert cat.decisions(rec.id) == {"red": True, "green": False}
        assert cat.to_confirm_ids() == set()
        assert rec.size == photo.stat().st_size  # the stored signal follows the file


_NO_EXIFTOOL = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")


@pytest.mark.parametrize("writer", [pytest.param("exiftool", marks=_NO_EXIFTOOL), "this app"])
def test_keywords_written_into_the_photo_are_no_new_picture(
    tmp_path: Path, tiny_bundle_path: Path, capsys, writer: str
) -> None:
    folder, photo, db = _tagged_library(tmp_path, tiny_bundle_path, capsys)
    size = photo.stat().st_size
    if writer == "exiftool":  # as Lightroom or a script would
        command = ["exiftool", "-q", "-overwrite_original", "-Keywords+=dress", "-XMP-dc:Subject+=dress"]
        subprocess.run([*command, str(photo)], check=True)
    else:
        with Catalog(db) as cat:
            assert not write_keywords([(photo, ["dress"])], catalog=cat).skipped
    assert photo.stat().st_size != size
    _rescan(db, folder)
    _assert_kept(db, photo)


def test_marking_the_changed_photo_reviewed_again_confirms_its_decisions(
    tmp_path: Path, tiny_bundle_path: Path, capsys
) -> None:
    folder, photo, db = _tagged_library(tmp_path, tiny_bundle_path, capsys)
    make_photo(photo, (120, 80), "blue")
    _rescan(db, folder)
    with Catalog(db) as cat:
        rec = cat.image_by_path(photo)
        cat.set_reviewed(rec.id, True, [(rec.id, "blue", True), (rec.id, "red", False)])
        assert cat.to_confirm_ids() == set() and cat.image(rec.id).reviewed
    assert _export(db, tmp_path / "c.csv").set_index("path").loc[str(photo), "reviewed"] in (True, "True")
    assert sorted(r.path for r in training_table(db).rows) == [str(photo), str(folder / "IMG_0002.jpg")]


def test_the_window_lists_photos_to_confirm_and_makes_their_thumbnail_again(
    qtbot, tmp_path: Path, tiny_bundle_path: Path, capsys
) -> None:
    from fashion_desktop.gui.tag.filter_bar import FilterBar
    from fashion_desktop.gui.tag.library_model import LibraryModel, ViewSpec
    from fashion_desktop.gui.tag.review_pane import ReviewPane
    from fashion_desktop.gui.tag.thumbnails import Thumbnailer

    folder, photo, db = _tagged_library(tmp_path, tiny_bundle_path, capsys)
    with Catalog(db) as cat:
        model = LibraryModel(cat)
        model.set_active_model(MODEL)
        model.reload()
        old_key = model.thumb_key(cat.image_by_path(photo).id)
        before = photo.stat()
        other = make_photo(tmp_path / "other" / "IMG_0001.jpg", (96, 64), "blue")
        _same_length(photo, other)
        with photo.open("r+b") as fh:
            fh.write(other.read_bytes())
        os.utime(photo, ns=(before.st_atime_ns, before.st_mtime_ns))
        list(sync_folder(cat, folder, describe=False))
        model.sync_finished()
        bar = FilterBar()
        qtbot.addWidget(bar)
        texts = [bar.review_combo.itemText(i) for i in range(bar.review_combo.count())]
        assert "To confirm" in texts
        model.set_spec(ViewSpec(review=bar.review_combo.itemData(texts.index("To confirm"))))
        assert [model.index(r).data() for r in range(model.rowCount())] == ["IMG_0001.jpg"]
        image_id = cat.image_by_path(photo).id
        new_key = model.thumb_key(image_id)
        assert new_key != old_key  # the cached picture of the old photo is not shown
        pane = ReviewPane(Thumbnailer())
        qtbot.addWidget(pane)
        pane.set_library(model)
        pane.show_images([image_id])
        assert pane.state_label.text().startswith("To confirm")
        model.write_reviewed([image_id], True)  # Space: the person confirms
        pane.refresh()
        assert pane.state_label.text() == "Reviewed" and cat.to_confirm_ids() == set()
        model.set_spec(ViewSpec(review="to confirm"))
        assert model.rowCount() == 0


def _hash(path: Path) -> str:
    from fashion_desktop.core.scan import content_hash

    with path.open("rb") as fh:
        return content_hash(fh, path.stat().st_size)


@_NO_EXIFTOOL
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF"])
def test_the_hash_covers_the_picture_and_not_the_keywords(tmp_path: Path, fmt: str) -> None:
    photo = make_photo(tmp_path / f"a.{fmt.lower()}", (64, 48), "red", fmt=fmt)
    before = _hash(photo)
    subprocess.run(
        [
            "exiftool",
            "-q",
            "-overwrite_original",
            "-XMP-dc:Subject+=dress",
            "-XMP-dc:Title=Red dress",
            str(photo),
        ],
        check=True,
    )
    assert _hash(photo) == before
    if fmt == "JPEG":  # turned by its orientation tag: the model and the thumbnail see another picture
        subprocess.run(["exiftool", "-q", "-overwrite_original", "-Orientation#=6", str(photo)], check=True)
        assert _hash(photo) != before
    make_photo(photo, (64, 48), "blue", fmt=fmt)  # another picture under the name
    assert _hash(photo) != before


def _as_schema_10(db: Path) -> None:
    """The catalog as schema 10 left it: hashes of the file's ends (metadata included), no file signal."""
    import sqlite3

    from fashion_desktop.core.fingerprint import legacy_hash

    con = sqlite3.connect(db)
    for image_id, path, size in con.execute("SELECT id, path, size FROM images").fetchall():
        with open(path, "rb") as fh:
            con.execute("UPDATE images SET content_hash=? WHERE id=?", (legacy_hash(fh, size), image_id))
    for column in ("ctime_ns", "inode", "prior_hash", "confirm_since"):
        con.execute(f"ALTER TABLE images DROP COLUMN {column}")
    con.execute("UPDATE meta SET value='10' WHERE key='schema_version'")
    con.commit()
    con.close()


def test_an_upgraded_catalog_compares_its_old_hashes_the_old_way(
    tmp_path: Path, tiny_bundle_path: Path, capsys
) -> None:
    folder, photo, db = _tagged_library(tmp_path, tiny_bundle_path, capsys)
    _as_schema_10(db)
    with Catalog(db) as cat:
        assert cat.schema_version == 11 and cat.backup_path == tmp_path / "lib.ffcat.bak-v10"
    _rescan(db, folder)  # the first scan records the signal: nothing changed
    _assert_kept(db, photo)
    os.chmod(photo, 0o640)  # a new ctime, the same bytes: hashed again the old way, found equal
    _rescan(db, folder)
    _assert_kept(db, photo)
    with Catalog(db) as cat:
        assert cat.image_by_path(photo).content_hash.startswith("v2:")  # the old hash made way for a new one
    make_photo(photo, (120, 80), "blue")
    _rescan(db, folder)
    _assert_to_confirm(db, photo, tmp_path)


def test_a_moved_folder_of_an_upgraded_catalog_is_relinked_by_its_old_hashes(
    tmp_path: Path, tiny_bundle_path: Path, capsys
) -> None:
    from fashion_desktop.core.relink import relink_folder

    folder, photo, db = _tagged_library(tmp_path, tiny_bundle_path, capsys)
    _as_schema_10(db)
    moved = folder.rename(tmp_path / "moved")
    with Catalog(db) as cat:
        report = relink_folder(cat, folder, moved)
        assert (report.by_content, report.changed, report.not_found) == (2, 0, [])
        rec = cat.image_by_path(moved / photo.name)
        assert rec.reviewed and len(cat.scores(MODEL, [rec.id])) == 1
