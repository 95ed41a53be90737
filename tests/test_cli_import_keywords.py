"""``fashion import --keywords-in-photos``: the keywords photos carry, as decisions (issue 21)."""

from __future__ import annotations

import os

from fashion_desktop.cli import main
from fashion_desktop.core import exiftool as et_mod
from tests.core.test_keyword_import import decisions, keyword_library, needs_exiftool, write_keywords


@needs_exiftool
def test_keywords_in_photos_become_decisions_and_a_dry_run_changes_nothing(tmp_path, capsys):
    db, folder = keyword_library(tmp_path)
    write_keywords(folder / "a.jpg", "-XMP-lr:HierarchicalSubject=colour|Black", "-XMP-dc:Subject=denim")
    args = ["import", "--keywords-in-photos", "--catalog", str(db)]
    assert main([*args, "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "1 matched photos, 2 decisions would be recorded (2 new, 0 changed)" in err
    assert "1 new tags: denim (keywords)" in err
    assert decisions(db, folder)["a.jpg"] == {}
    assert main([*args, "--model", "m"]) == 0
    assert "2 decisions recorded" in capsys.readouterr().err
    assert decisions(db, folder)["a.jpg"] == {"Black": True, "denim": True}


@needs_exiftool
def test_an_unreadable_photo_exits_3_and_no_keywords_at_all_exits_1(tmp_path, capsys):
    db, folder = keyword_library(tmp_path)
    args = ["import", "--keywords-in-photos", "--catalog", str(db)]
    assert main(args) == 1  # nothing imported: no photo carries a keyword
    write_keywords(folder / "a.jpg", "-XMP-dc:Subject=denim")
    (folder / "c.jpg").unlink()  # gone since the last scan
    assert main(args) == 3
    err = capsys.readouterr().err
    assert "1 files could not be read: c.jpg: 'cannot read (No such file or directory)'" in err


def test_a_table_or_keywords_exactly_one(tmp_path, capsys):
    db = tmp_path / "lib.ffcat"
    assert main(["import", "--catalog", str(db)]) == 2
    assert "give a TABLE or --keywords-in-photos" in capsys.readouterr().err
    assert main(["import", "x.csv", "--keywords-in-photos", "--catalog", str(db)]) == 2
    assert "a TABLE or --keywords-in-photos, not both" in capsys.readouterr().err


def test_missing_exiftool_says_what_to_install(tmp_path, capsys, monkeypatch):
    db, _folder = keyword_library(tmp_path)
    monkeypatch.setenv(et_mod.EXIFTOOL_ENV, os.fspath(tmp_path / "no-exiftool"))
    assert main(["import", "--keywords-in-photos", "--catalog", str(db)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "libimage-exiftool-perl" in err
