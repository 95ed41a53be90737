"""The ExifTool process: keywords read by where they are stored, and files it must not open."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from PIL import Image

from fashion_desktop.core import exiftool as et_mod
from fashion_desktop.core.exiftool import ExifTool, ExifToolMissing, config_path

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="ExifTool not installed")


def _tagged_jpeg(path, *args):
    Image.new("RGB", (24, 16), (180, 30, 30)).save(path)
    subprocess.run(
        ["exiftool", "-config", str(config_path()), "-q", "-overwrite_original", *args, str(path)], check=True
    )


@needs_exiftool
def test_keywords_are_read_by_where_they_are_stored(tmp_path):
    photo = tmp_path / "a.jpg"
    _tagged_jpeg(
        photo,
        "-XMP-dc:Subject=denim",
        "-XMP-dc:Subject=dress",
        "-XMP-lr:HierarchicalSubject=colour|Black",
        "-IPTC:Keywords=summer",
        "-XMP-ffd:Keywords=dress",
    )
    plain = tmp_path / "b.jpg"
    Image.new("RGB", (8, 8)).save(plain)
    with ExifTool() as et:
        found = et.read_keywords([photo, plain, tmp_path])
    kw = found[str(photo)]
    assert kw.subject == ["denim", "dress"] and kw.hierarchy == ["colour|Black"] and kw.iptc == ["summer"]
    assert kw.theirs() == (["denim", "summer"], ["colour|Black"])  # dress was the app's own
    assert found[str(plain)].subject == [] and found[str(plain)].ours == []
    assert "not a regular file" in found[str(tmp_path)]


@needs_exiftool
def test_a_pipe_or_huge_file_is_not_handed_to_exiftool(tmp_path, monkeypatch):
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)
    big = tmp_path / "big.jpg"
    Image.new("RGB", (8, 8)).save(big)
    monkeypatch.setattr(et_mod, "MAX_PHOTO_BYTES", 10)
    with ExifTool() as et:
        found = et.read_keywords([fifo, big])
    assert "not a regular file" in found[str(fifo)]
    assert "too large" in found[str(big)]


def test_missing_exiftool_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv(et_mod.EXIFTOOL_ENV, str(tmp_path / "no-such-exiftool"))
    with pytest.raises(ExifToolMissing, match="libimage-exiftool-perl"), ExifTool():
        pass
