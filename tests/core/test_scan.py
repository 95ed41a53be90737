"""Scanning: lazy recursive walk, hidden files, symlink loops, unreadable/vanishing folders, catalog sync."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from PIL import Image

from fashion_desktop.core import scan as scan_mod
from fashion_desktop.core.catalog import Catalog, FileInfo
from fashion_desktop.core.scan import scan, sync_folder
from fashion_desktop.model.images import EXTENSIONS
from fashion_desktop.model.problems import PathProblem
from tests.conftest import make_photo
from tests.heic_raw_files import bayer_halves, halves, make_dng, make_heic


def _files(items) -> set[str]:
    return {Path(i.path).name for i in items if isinstance(i, FileInfo)}


def _problems(items) -> list[PathProblem]:
    return [i for i in items if isinstance(i, PathProblem)]


def test_finds_photos_recursively_with_absolute_paths_and_size(photo_folder: Path) -> None:
    items = list(scan(photo_folder))
    files = [i for i in items if isinstance(i, FileInfo)]
    assert len(files) == 9
    assert not _problems(items)
    for f in files:
        assert os.path.isabs(f.path)
        assert f.size == os.path.getsize(f.path) > 0
        assert f.mtime == pytest.approx(os.path.getmtime(f.path))
    assert any("/sub/" in f.path.replace(os.sep, "/") for f in files)


def test_yields_before_listing_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first photo arrives while the big folder is still being listed, and later folders are
    listed only when reached (a file added to one of them after the first yield is still found)."""
    big = tmp_path / "root" / "a_big"
    big.mkdir(parents=True)
    for i in range(600):
        (big / f"{i:05d}.jpg").write_bytes(b"x")
    (tmp_path / "root" / "z_later").mkdir()

    consumed = {"entries": 0}
    real_scandir = os.scandir

    class CountingScandir:
        def __init__(self, path):
            self._it = real_scandir(path)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._it.close()

        def __iter__(self):
            for entry in self._it:
                consumed["entries"] += 1
                yield entry

    monkeypatch.setattr(scan_mod.os, "scandir", CountingScandir)
    gen = scan(tmp_path / "root")
    first = next(gen)
    assert isinstance(first, FileInfo)
    assert consumed["entries"] < 100, "the scan listed the whole folder before yielding"
    (tmp_path / "root" / "z_later" / "added.jpg").write_bytes(b"x")
    rest = list(gen)
    assert len(_files([first, *rest])) == 601
    assert "added.jpg" in _files(rest)


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    make_photo(tmp_path / "visible.jpg")
    make_photo(tmp_path / ".hidden.jpg")
    make_photo(tmp_path / ".thumbs" / "cached.jpg")
    make_photo(tmp_path / "sub" / ".git" / "x.jpg")
    assert _files(scan(tmp_path)) == {"visible.jpg"}


def test_extension_filter_is_case_insensitive_and_configurable(tmp_path: Path) -> None:
    photos = {"a.JPG", "b.jpeg", "c.Png", "d.webp", "e.bmp", "f.TIF", "g.tiff", "h.gif"}
    for name in photos | {"i.txt", "j.jpg.bak"}:
        (tmp_path / name).write_bytes(b"x")
    assert _files(scan(tmp_path)) == photos
    assert _files(scan(tmp_path, extensions=[".PNG", "gif"])) == {"c.Png", "h.gif"}


def test_symlink_loop_is_survived_and_each_photo_found_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_photo(root / "a.jpg")
    make_photo(root / "sub" / "b.jpg")
    os.symlink(root, root / "sub" / "loop_to_root")
    os.symlink(root / "sub", root / "sub" / "self")
    items = list(scan(root))
    files = [i for i in items if isinstance(i, FileInfo)]
    assert sorted(Path(f.path).name for f in files) == ["a.jpg", "b.jpg"]
    loops = _problems(items)
    assert {Path(p.path).name for p in loops} == {"loop_to_root", "self"}
    assert all("already scanned" in p.reason for p in loops)


def test_symlinked_folder_elsewhere_is_followed(tmp_path: Path) -> None:
    make_photo(tmp_path / "elsewhere" / "far.jpg")
    make_photo(tmp_path / "root" / "near.jpg")
    os.symlink(tmp_path / "elsewhere", tmp_path / "root" / "linked")
    assert _files(scan(tmp_path / "root")) == {"near.jpg", "far.jpg"}


def test_broken_link_is_reported(tmp_path: Path) -> None:
    make_photo(tmp_path / "ok.jpg")
    os.symlink(tmp_path / "gone.jpg", tmp_path / "dangling.jpg")
    items = list(scan(tmp_path))
    assert _files(items) == {"ok.jpg"}
    (problem,) = _problems(items)
    assert problem.path.name == "dangling.jpg" and "broken link" in problem.reason


def test_unreadable_folder_is_reported_and_the_scan_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests may run as root, for whom chmod 000 does not block listing: the refusal is simulated
    # by making os.scandir raise PermissionError for that one folder, as the OS would.
    make_photo(tmp_path / "a_locked" / "secret.jpg")
    make_photo(tmp_path / "b_open" / "fine.jpg")
    make_photo(tmp_path / "top.jpg")
    locked = os.path.realpath(tmp_path / "a_locked")
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(scan_mod.os, "scandir", scandir)
    items = list(scan(tmp_path))
    assert _files(items) == {"fine.jpg", "top.jpg"}
    (problem,) = _problems(items)
    assert problem.path == Path(locked)
    assert "permission denied" in problem.reason


def test_folder_removed_mid_scan_is_reported(tmp_path: Path) -> None:
    make_photo(tmp_path / "a" / "first.jpg")
    make_photo(tmp_path / "b" / "vanishes.jpg")
    make_photo(tmp_path / "c" / "last.jpg")
    gen = scan(tmp_path)
    first = next(gen)
    assert Path(first.path).name == "first.jpg"
    shutil.rmtree(tmp_path / "b")
    rest = list(gen)
    assert _files(rest) == {"last.jpg"}
    (problem,) = _problems(rest)
    assert problem.path.name == "b" and "disappeared" in problem.reason


def test_missing_root_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    items = list(scan([tmp_path / "nope", tmp_path]))
    (problem,) = _problems(items)
    assert "not found" in problem.reason and problem.path.name == "nope"


def test_non_ascii_names(tmp_path: Path) -> None:
    make_photo(tmp_path / "robes d'été" / "robe été — 女装.jpg")
    (info,) = list(scan(tmp_path))
    assert isinstance(info, FileInfo) and info.path.endswith("robe été — 女装.jpg")
    assert os.path.exists(info.path)


@pytest.mark.skipif(os.name == "nt", reason="Windows names are always Unicode")
def test_name_with_undecodable_bytes_is_reported_not_fatal(tmp_path: Path) -> None:
    make_photo(tmp_path / "ok.jpg")
    bad = os.fsencode(tmp_path) + b"/caf\xe9.jpg"  # Latin-1 bytes from an old archive
    with open(bad, "wb") as fh:
        fh.write(b"x")
    os.mkdir(os.fsencode(tmp_path) + b"/dossier \xe9t\xe9")
    items = list(scan(tmp_path))
    assert _files(items) == {"ok.jpg"}
    problems = _problems(items)
    assert len(problems) == 2 and all("not valid text" in p.reason for p in problems)
    for p in problems:
        str(p.path).encode("utf-8")  # the message itself can be shown and stored
    with Catalog(tmp_path / "cat.db") as cat:
        assert list(sync_folder(cat, tmp_path))[-1].found == 1


def test_cancel_stops_the_walk(tmp_path: Path) -> None:
    for d in range(5):
        make_photo(tmp_path / f"d{d}" / "p.jpg")
    stop = threading.Event()
    found = []
    for item in scan(tmp_path, cancel=stop):
        found.append(item)
        stop.set()
    assert len(found) == 1


# -- sync_folder ------------------------------------------------------------------------------


def _many(folder: Path, n: int, per_dir: int = 4) -> None:
    for i in range(n):
        (folder / f"d{i // per_dir:02d}").mkdir(parents=True, exist_ok=True)
        (folder / f"d{i // per_dir:02d}" / f"p{i:03d}.jpg").write_bytes(b"x" * (i + 1))


def test_sync_reports_progress_every_batch(tmp_path: Path) -> None:
    _many(tmp_path / "photos", 10)
    with Catalog(tmp_path / "cat.db") as cat:
        steps = list(sync_folder(cat, tmp_path / "photos", batch_size=3))
        assert [s.found for s in steps] == [3, 6, 9, 10]
        assert [s.done for s in steps] == [False, False, False, True]
        assert steps[-1].counts.new == 10 and not steps[-1].cancelled
        # counts are snapshots: a consumer on another thread must not see them change later
        assert steps[0].counts.new == 3
        assert cat.count() == 10


def test_cancelled_sync_does_not_mark_unseen_files_missing(tmp_path: Path) -> None:
    _many(tmp_path / "photos", 12)
    with Catalog(tmp_path / "cat.db") as cat:
        list(sync_folder(cat, tmp_path / "photos"))
        assert cat.count() == 12
        stop = threading.Event()
        steps = []
        for step in sync_folder(cat, tmp_path / "photos", cancel=stop, batch_size=2):
            steps.append(step)
            stop.set()
        assert steps[-1].done and steps[-1].cancelled
        assert steps[-1].found < 12
        assert cat.count() == 12, "a cancelled scan marked photos it never reached as missing"


def test_sync_of_unplugged_folder_keeps_the_catalog(tmp_path: Path) -> None:
    _many(tmp_path / "photos", 5)
    with Catalog(tmp_path / "cat.db") as cat:
        list(sync_folder(cat, tmp_path / "photos"))
        shutil.move(tmp_path / "photos", tmp_path / "elsewhere")
        last = list(sync_folder(cat, tmp_path / "photos"))[-1]
        assert last.done and "not found" in last.problems[0].reason
        assert cat.count() == 5


def test_sync_collects_problems(tmp_path: Path) -> None:
    make_photo(tmp_path / "photos" / "ok.jpg")
    os.symlink(tmp_path / "photos" / "gone.jpg", tmp_path / "photos" / "dangling.jpg")
    with Catalog(tmp_path / "cat.db") as cat:
        last = list(sync_folder(cat, tmp_path / "photos"))[-1]
        assert last.found == 1
        assert [Path(p.path).name for p in last.problems] == ["dangling.jpg"]


def test_sync_records_size_and_content_hash_and_rehashes_only_changed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = tmp_path / "photos"
    make_photo(photos / "a.jpg", size=(40, 30))
    make_photo(photos / "b.png", size=(20, 50), fmt="PNG")
    rotated = Image.new("RGB", (60, 20), "blue")
    exif = rotated.getexif()
    exif[0x0112] = 6  # shown turned by 90 degrees: 20 wide, 60 high
    rotated.save(photos / "turned.jpg", exif=exif)
    (photos / "notes.jpg").write_bytes(b"not a photo")
    shutil.copy(photos / "a.jpg", photos / "copy of a.jpg")
    with Catalog(tmp_path / "cat.db") as cat:
        list(sync_folder(cat, photos))
        recs = {Path(r.path).name: r for r in cat.images()}
        sizes = {name: (r.width, r.height) for name, r in recs.items()}
        assert sizes == {
            "a.jpg": (40, 30),
            "copy of a.jpg": (40, 30),
            "b.png": (20, 50),
            "turned.jpg": (20, 60),
            "notes.jpg": (None, None),
        }
        # A fingerprint of the picture data (issue 23, case 2): kind prefix, 32 hex digits.
        assert all(
            len(r.content_hash or "") == 35 and r.content_hash.startswith("v2:") for r in recs.values()
        )
        assert recs["a.jpg"].content_hash == recs["copy of a.jpg"].content_hash  # what relinking matches on
        assert len({r.content_hash for r in recs.values()}) == 4

        hashed: list[str] = []
        real_hash = scan_mod.content_hash
        monkeypatch.setattr(
            scan_mod, "content_hash", lambda f, size: hashed.append(Path(f.name).name) or real_hash(f, size)
        )
        list(sync_folder(cat, photos))
        assert hashed == []  # nothing changed: nothing re-read

        make_photo(photos / "b.png", size=(30, 10), fmt="PNG")
        os.utime(photos / "b.png", (1_000_000, 1_000_000))
        list(sync_folder(cat, photos))
        assert hashed == ["b.png"]
        b = cat.image_by_path(recs["b.png"].path)
        assert b is not None and (b.width, b.height) == (30, 10)
        assert b.content_hash not in (None, recs["b.png"].content_hash)


def test_rescan_with_an_unreadable_subfolder_keeps_its_photos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulated refusal (tests may run as root): the folder exists but listing it fails this time.
    _many(tmp_path / "photos", 8)
    with Catalog(tmp_path / "cat.db") as cat:
        list(sync_folder(cat, tmp_path / "photos"))
        cat.register_model("m", ["a"])
        cat.add_predictions("m", [(r.id, [0.9]) for r in cat.images()])
        locked = os.path.realpath(tmp_path / "photos" / "d01")
        real_scandir = os.scandir

        def scandir(path):
            if os.fspath(path) == locked:
                raise PermissionError(13, "Permission denied", path)
            return real_scandir(path)

        monkeypatch.setattr(scan_mod.os, "scandir", scandir)
        (tmp_path / "photos" / "d00" / "p000.jpg").unlink()
        last = list(sync_folder(cat, tmp_path / "photos"))[-1]
        assert [Path(p.path).name for p in last.problems] == ["d01"]
        assert last.counts.removed == 1  # the photo really deleted, not the four it could not list
        assert cat.count() == 7 and len(cat.scores("m")) == 8


def test_real_photo_folder_is_scanned_completely(shared_data: Path) -> None:
    folder = shared_data / "clothing-small"
    expected = {
        os.path.realpath(p)
        for p in folder.rglob("*")
        if p.suffix.lower().lstrip(".") in EXTENSIONS and not any(part.startswith(".") for part in p.parts)
    }
    items = list(scan(folder))
    assert not _problems(items)
    assert {i.path for i in items} == expected and len(expected) > 1000


def test_heic_and_raw_photos_are_listed_and_measured_not_refused(tmp_path: Path) -> None:
    """A DNG is measured by LibRaw (its sensor, turned as shown), not by Pillow's view of its TIFF preview;
    a HEIC by libheif, after its irot turn."""
    photos = tmp_path / "photos"
    make_dng(photos / "shot.DNG", bayer_halves((48, 32)), Image.new("RGB", (24, 16), "green"), orientation=6)
    make_dng(photos / "plain.dng", bayer_halves((40, 30)))
    (photos / "IMG_9.CR2").write_bytes(b"no raw at all " * 20)
    names = {"shot.DNG": (32, 48), "plain.dng": (40, 30), "IMG_9.CR2": (None, None)}
    if shutil.which("heif-enc"):
        make_heic(photos / "IMG_1.HEIC", halves((64, 32)), exif_orientation=6, irot=3)
        names["IMG_1.HEIC"] = (32, 64)
    found = list(scan(photos))
    assert not [p for p in found if isinstance(p, PathProblem)]
    assert sorted(Path(f.path).name for f in found) == sorted(names)
    with Catalog(tmp_path / "cat.db") as cat:
        last = list(sync_folder(cat, photos))[-1]
        assert last.found == len(names) and not last.problems
        assert {Path(r.path).name: (r.width, r.height) for r in cat.images()} == names
