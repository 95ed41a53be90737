"""``fashion write-keywords``: the export's final tags written into the photos, the catalog following them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from fashion_desktop.cli import main
from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.exiftool import EXIFTOOL_ENV
from fashion_desktop.core.scan import content_hash, sync_folder
from fashion_desktop.model import exit_codes
from tests.conftest import make_photo

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="ExifTool not installed")


def _subjects(path: Path) -> list[str]:
    out = subprocess.run(
        ["exiftool", "-j", "-G1", "-XMP-dc:Subject", str(path)], capture_output=True, text=True
    )
    value = json.loads(out.stdout)[0].get("XMP-dc:Subject", [])
    return value if isinstance(value, list) else [value]


def _tagged_library(tmp_path: Path, tiny_bundle_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "photos"
    for colour in ("red", "green", "blue"):
        make_photo(folder / f"{colour}.jpg", (64, 48), colour)
    db = tmp_path / "lib.ffcat"
    out = tmp_path / "tags.csv"
    code = main(
        ["tag", str(folder), "--model", str(tiny_bundle_path), "--out", str(out), "--catalog", str(db)]
    )
    assert code == exit_codes.OK
    return db, folder


@needs_exiftool
def test_written_keywords_keep_the_photos_scores_and_decisions_across_a_rescan(
    tmp_path, tiny_bundle_path, capsys
):
    db, folder = _tagged_library(tmp_path, tiny_bundle_path)
    cat = Catalog(db)
    red = cat.image_by_path(folder / "red.jpg")
    cat.set_decision(red.id, "blue", True)
    key = cat.models()[0].key
    before_scores = cat.scores(key)
    cat.close()

    assert main(["write-keywords", "--catalog", str(db)]) == exit_codes.OK
    assert "3 photos written" in capsys.readouterr().err
    assert sorted(_subjects(folder / "red.jpg")) == ["blue", "red"]
    assert _subjects(folder / "green.jpg") == ["green"]

    cat = Catalog(db)
    record = cat.image_by_path(folder / "red.jpg")
    with open(folder / "red.jpg", "rb") as fh:
        assert record.content_hash == content_hash(fh, record.size)
    list(sync_folder(cat, folder))
    after = cat.scores(key)
    assert set(after) == set(before_scores) and all((after[i] == before_scores[i]).all() for i in after)
    assert cat.decisions(red.id) == {"blue": True}
    cat.close()
    # Again: nothing to change, the photos untouched.
    assert main(["write-keywords", "--catalog", str(db)]) == exit_codes.OK
    err = capsys.readouterr().err
    assert "0 photos written" in err and "3 unchanged" in err


@needs_exiftool
def test_dry_run_lists_the_files_and_changes_nothing(tmp_path, tiny_bundle_path, capsys):
    db, folder = _tagged_library(tmp_path, tiny_bundle_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert main(["write-keywords", "--catalog", str(db), "--dry-run"]) == exit_codes.OK
    captured = capsys.readouterr()
    assert "3 files would change" in captured.err
    assert sorted(Path(line).name for line in captured.out.split()) == ["blue.jpg", "green.jpg", "red.jpg"]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@needs_exiftool
def test_some_skipped_exits_3_and_lists_them(tmp_path, tiny_bundle_path, capsys):
    db, folder = _tagged_library(tmp_path, tiny_bundle_path)
    (folder / "red.jpg").chmod(0o444)
    assert (
        main(["write-keywords", "--catalog", str(db), "--reviewed-only"]) == exit_codes.ERROR
    )  # none reviewed
    assert main(["write-keywords", "--catalog", str(db)]) == exit_codes.PARTIAL
    err = capsys.readouterr().err
    assert "2 photos written" in err and "1 skipped" in err and "red.jpg: read-only photo" in err


def test_sidecars_need_no_exiftool_and_take_the_chosen_naming(tmp_path, tiny_bundle_path, monkeypatch):
    db, folder = _tagged_library(tmp_path, tiny_bundle_path)
    monkeypatch.setenv(EXIFTOOL_ENV, str(tmp_path / "no-exiftool"))
    code = main(["write-keywords", "--catalog", str(db), "--into", "sidecars", "--naming", "appended"])
    assert code == exit_codes.OK
    assert sorted(p.name for p in folder.glob("*.xmp")) == ["blue.jpg.xmp", "green.jpg.xmp", "red.jpg.xmp"]


def test_missing_exiftool_is_one_line_with_the_install_hint(tmp_path, tiny_bundle_path, monkeypatch, capsys):
    db, _folder = _tagged_library(tmp_path, tiny_bundle_path)
    monkeypatch.setenv(EXIFTOOL_ENV, str(tmp_path / "no-exiftool"))
    capsys.readouterr()
    assert main(["write-keywords", "--catalog", str(db)]) == exit_codes.ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "libimage-exiftool-perl" in err[0] and "Traceback" not in err[0]
