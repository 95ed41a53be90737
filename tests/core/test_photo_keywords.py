"""Keywords written into photos: round trips read back by exiftool itself, the person's keywords and
metadata kept, pixels untouched, and the files that must not be written."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.exiftool import config_path
from fashion_desktop.core.photo_keywords import write_keywords
from fashion_desktop.core.scan import sync_folder
from tests.conftest import make_photo

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="ExifTool not installed")
GROUPS = {"Black": "colour", "dress": "category"}


def _exiftool(path: Path, *args: str) -> None:
    cmd = ["exiftool", "-config", str(config_path()), "-q", "-overwrite_original", *args, str(path)]
    subprocess.run(cmd, check=True)


def _read(path: Path) -> dict:
    out = subprocess.run(
        ["exiftool", "-config", str(config_path()), "-j", "-G1", "-a", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    row = json.loads(out.stdout)[0]
    return {k: v if isinstance(v, list) else [v] if k.split(":")[-1] in _LISTS else v for k, v in row.items()}


_LISTS = {"Subject", "HierarchicalSubject", "Keywords", "Hierarchical"}


def _photo(tmp_path: Path, fmt: str) -> Path:
    path = tmp_path / f"look.{fmt}"
    arr = np.random.default_rng(3).integers(0, 255, (24, 32, 3), np.uint8)
    Image.fromarray(arr).save(
        path, format={"jpg": "JPEG", "dng": "TIFF", "tif": "TIFF"}.get(fmt, fmt.upper())
    )
    return path


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


@needs_exiftool
@pytest.mark.parametrize("fmt", ["jpg", "tif", "png", "dng"])
def test_round_trip_read_back_by_exiftool(tmp_path: Path, fmt: str) -> None:
    photo = _photo(tmp_path, fmt)
    _exiftool(
        photo,
        "-EXIF:Artist=Ann Lee",
        "-XMP-dc:Subject=summer sale",
        "-XMP-lr:HierarchicalSubject=season|summer",
    )
    pixels = _pixels(photo)
    report = write_keywords([(photo, ["dress", "Black"])], groups=GROUPS)
    assert report.written == [str(photo)] and not report.skipped
    tags = _read(photo)
    assert tags["XMP-dc:Subject"] == ["summer sale", "dress", "Black"]
    assert tags["XMP-lr:HierarchicalSubject"] == ["season|summer", "category|dress", "colour|Black"]
    if fmt != "png":
        assert tags["IPTC:Keywords"] == ["summer sale", "dress", "Black"]
    else:
        assert not any(k.startswith("IPTC:") for k in tags)
    assert tags["XMP-ffd:Keywords"] == ["dress", "Black"]  # only ours are marked as ours
    assert tags["IFD0:Artist"] == "Ann Lee"
    assert np.array_equal(_pixels(photo), pixels)


@needs_exiftool
def test_writing_twice_gives_the_same_file(tmp_path: Path) -> None:
    photo = _photo(tmp_path, "jpg")
    write_keywords([(photo, ["dress", "Black"])], groups=GROUPS)
    first, mtime = photo.read_bytes(), photo.stat().st_mtime_ns
    report = write_keywords([(photo, ["dress", "Black"])], groups=GROUPS)
    assert report.unchanged == [str(photo)] and not report.written
    assert photo.read_bytes() == first and photo.stat().st_mtime_ns == mtime


@needs_exiftool
def test_a_rewrite_swaps_the_apps_keywords_and_keeps_the_persons(tmp_path: Path) -> None:
    photo = _photo(tmp_path, "jpg")
    _exiftool(
        photo, "-EXIF:DateTimeOriginal=2024:05:06 07:08:09", "-XMP-dc:Subject=denim", "-IPTC:Keywords=denim"
    )
    write_keywords([(photo, ["dress", "Black"])], groups=GROUPS)
    # The person adds a keyword of their own in another tool, then the app's tags change.
    _exiftool(photo, "-XMP-dc:Subject+=favourite", "-IPTC:Keywords+=favourite")
    report = write_keywords([(photo, ["Black", "denim", "shirt"])], groups=GROUPS)
    assert report.written == [str(photo)]
    tags = _read(photo)
    assert sorted(tags["XMP-dc:Subject"]) == ["Black", "denim", "favourite", "shirt"]
    assert sorted(tags["IPTC:Keywords"]) == ["Black", "denim", "favourite", "shirt"]
    assert tags["XMP-lr:HierarchicalSubject"] == ["colour|Black", "shirt"]
    assert sorted(tags["XMP-ffd:Keywords"]) == ["Black", "shirt"]  # denim was the person's: never ours
    assert tags["ExifIFD:DateTimeOriginal"] == "2024:05:06 07:08:09"


@needs_exiftool
def test_a_link_at_the_photo_path_is_not_written_through(tmp_path: Path) -> None:
    other = _photo(tmp_path, "jpg")
    before = other.read_bytes()
    link = tmp_path / "photos" / "linked.jpg"
    link.parent.mkdir()
    link.symlink_to(other)
    report = write_keywords([(link, ["dress"])])
    assert other.read_bytes() == before and link.is_symlink()
    assert [p for p, _ in report.skipped] == [str(link)] and "link" in report.skipped[0][1]
    assert not list(link.parent.glob(".fashion-keywords-*"))


@needs_exiftool
def test_read_only_and_changed_photos_are_skipped_and_the_rest_written(tmp_path: Path) -> None:
    locked, changed, fine = (make_photo(tmp_path / f"{n}.jpg") for n in ("locked", "changed", "fine"))
    locked.chmod(stat.S_IRUSR | stat.S_IRGRP)
    catalog = Catalog(tmp_path / "lib.fcat")
    list(sync_folder(catalog, tmp_path))
    expected = {r.path: r for r in catalog.images()}
    with changed.open("ab") as fh:
        fh.write(b"\0")  # changed since the scan
    before = {p: p.read_bytes() for p in (locked, changed)}
    report = write_keywords(
        [(p, ["dress"]) for p in (locked, changed, fine)], expected=expected, catalog=catalog
    )
    reasons = dict(report.skipped)
    assert "read-only" in reasons[str(locked)] and "changed since" in reasons[str(changed)]
    assert report.written == [str(fine)]
    assert all(p.read_bytes() == data for p, data in before.items())
    record = catalog.image_by_path(str(fine))
    assert (record.size, record.mtime) == (fine.stat().st_size, fine.stat().st_mtime)
    catalog.close()


@needs_exiftool
def test_a_file_exiftool_refuses_is_skipped_and_nothing_is_left_behind(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    good = make_photo(tmp_path / "good.jpg")
    report = write_keywords([(bad, ["dress"]), (good, ["dress"])])
    assert report.written == [str(good)] and [p for p, _ in report.skipped] == [str(bad)]
    assert bad.read_bytes() == b"not a jpeg at all"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jpg", "good.jpg"]


@needs_exiftool
def test_dry_run_changes_nothing_and_lists_the_files(tmp_path: Path) -> None:
    jpg = make_photo(tmp_path / "a.jpg")
    raw = tmp_path / "b.CR2"
    raw.write_bytes(b"raw bytes")
    report = write_keywords([(jpg, ["dress"]), (raw, ["dress"])], dry_run=True)
    assert report.would_change == [str(jpg), str(tmp_path / "b.xmp")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "b.CR2"]
    assert "2 files would change" in report.summary()
    write_keywords([(raw, ["dress"])])  # the raw file's sidecar is up to date now
    again = write_keywords([(jpg, ["dress"]), (raw, ["dress"])], dry_run=True)
    assert again.would_change == [str(jpg)] and again.unchanged == [str(tmp_path / "b.xmp")]


def test_raw_and_heic_get_sidecars_in_the_chosen_naming(tmp_path: Path) -> None:
    raw, heic = tmp_path / "IMG_1.CR2", tmp_path / "IMG_2.heic"
    for p in (raw, heic):
        p.write_bytes(b"not read")
    report = write_keywords([(raw, ["dress"]), (heic, ["Black"])], naming="appended", groups=GROUPS)
    assert sorted(Path(p).name for p in report.sidecars) == ["IMG_1.CR2.xmp", "IMG_2.heic.xmp"]
    assert raw.read_bytes() == b"not read"
    assert b"colour|Black" in (tmp_path / "IMG_2.heic.xmp").read_bytes()
    adobe = write_keywords([(raw, ["dress"])], naming="adobe")
    assert [Path(p).name for p in adobe.sidecars] == ["IMG_1.xmp"]


def test_sidecars_for_every_photo_when_asked(tmp_path: Path) -> None:
    jpg = make_photo(tmp_path / "a.jpg")
    before = jpg.read_bytes()
    report = write_keywords([(jpg, ["dress"])], into="sidecars")
    assert [Path(p).name for p in report.sidecars] == ["a.xmp"] and jpg.read_bytes() == before


@needs_exiftool
def test_a_photo_without_our_keywords_or_tags_is_not_touched(tmp_path: Path) -> None:
    photo = _photo(tmp_path, "jpg")
    _exiftool(photo, "-IPTC:Keywords=denim")
    before = photo.read_bytes()
    report = write_keywords([(photo, [])])
    assert report.unchanged == [str(photo)] and photo.read_bytes() == before


@needs_exiftool
def test_a_keyword_with_a_line_break_cannot_smuggle_an_exiftool_option(tmp_path: Path) -> None:
    photo = _photo(tmp_path, "jpg")
    write_keywords([(photo, ["dress\n-Artist=x"])])
    tags = _read(photo)
    assert tags["XMP-dc:Subject"] == ["dress-Artist=x"] and "IFD0:Artist" not in tags


def test_rejects_an_unknown_target(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="photos"):
        write_keywords([], into="elsewhere")


def test_os_replace_failure_leaves_the_photo_and_no_temp_folder(tmp_path: Path, monkeypatch) -> None:
    if shutil.which("exiftool") is None:
        pytest.skip("ExifTool not installed")
    photo = make_photo(tmp_path / "a.jpg")
    before = photo.read_bytes()

    def refuse(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    report = write_keywords([(photo, ["dress"])])
    assert "cannot replace it" in report.skipped[0][1] and photo.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg"]


@needs_exiftool
def test_cancelling_stops_between_photos_and_says_so(tmp_path: Path) -> None:
    photos = [make_photo(tmp_path / f"{i}.jpg") for i in range(3)]
    asked = []

    def cancel() -> bool:
        asked.append(1)
        return len(asked) > 1  # the first photo goes through, then the person cancels

    report = write_keywords([(p, ["dress"]) for p in photos], cancel=cancel)
    assert report.cancelled and report.written == [str(photos[0])]
    assert "cancelled" in report.summary()


@needs_exiftool
def test_a_keyword_longer_than_iptc_holds_is_cut_there_and_still_ours(tmp_path: Path) -> None:
    photo = _photo(tmp_path, "jpg")
    long = "a very long keyword " * 4  # 80 bytes: IPTC keeps 64
    write_keywords([(photo, [long])])
    first = photo.read_bytes()
    assert write_keywords([(photo, [long])]).unchanged == [str(photo)] and photo.read_bytes() == first
    write_keywords([(photo, ["dress"])])
    tags = _read(photo)
    assert tags["XMP-dc:Subject"] == ["dress"] and tags["IPTC:Keywords"] == ["dress"]


def test_the_catalog_follows_a_keyword_write_only_from_the_state_it_knew(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "a.jpg")
    catalog = Catalog(tmp_path / "lib.fcat")
    list(sync_folder(catalog, tmp_path))
    rec = catalog.image_by_path(str(photo))
    assert not catalog.record_metadata_write(
        rec.id, rec.size + 1, rec.mtime, 10, 2.0, "h"
    )  # a scan saw a change
    assert catalog.image_by_path(str(photo)).size == rec.size
    assert catalog.record_metadata_write(rec.id, rec.size, rec.mtime, 10, 2.0, "h")
    after = catalog.image_by_path(str(photo))
    assert (after.size, after.mtime, after.content_hash, after.width) == (10, 2.0, "h", rec.width)
    catalog.close()


def test_in_a_raw_and_jpeg_pair_the_raw_file_keeps_the_adobe_sidecar_name(tmp_path: Path) -> None:
    raw, jpg = tmp_path / "IMG_1.CR2", make_photo(tmp_path / "IMG_1.jpg")
    raw.write_bytes(b"raw bytes")
    report = write_keywords([(raw, ["dress"]), (jpg, ["Black"])], into="sidecars")
    assert sorted(Path(p).name for p in report.sidecars) == ["IMG_1.jpg.xmp", "IMG_1.xmp"]
    assert b"dress" in (tmp_path / "IMG_1.xmp").read_bytes()  # Lightroom reads the raw file's here
    assert b"Black" in (tmp_path / "IMG_1.jpg.xmp").read_bytes()
    twins = tmp_path / "twins"
    for name in ("IMG_2.CR2", "IMG_2.NEF"):
        (twins / name).parent.mkdir(exist_ok=True)
        (twins / name).write_bytes(b"raw")
    both = write_keywords([(twins / "IMG_2.CR2", ["dress"]), (twins / "IMG_2.NEF", ["dress"])])
    assert sorted(Path(p).name for p in both.sidecars) == ["IMG_2.CR2.xmp", "IMG_2.NEF.xmp"]


@needs_exiftool
@pytest.mark.skipif(not hasattr(os, "setxattr"), reason="no extended attributes here")
def test_the_photos_permissions_and_extended_attributes_stay(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "a.jpg")
    photo.chmod(0o640)
    try:
        os.setxattr(photo, "user.label", b"red")
    except OSError:
        pytest.skip("this file system keeps no user attributes")
    assert write_keywords([(photo, ["dress"])]).written == [str(photo)]
    assert stat.S_IMODE(photo.stat().st_mode) == 0o640 and os.getxattr(photo, "user.label") == b"red"
