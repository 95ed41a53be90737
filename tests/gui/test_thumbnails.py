"""Thumbnails: decoded in the pool, cached on disk by path + size + mtime, bounded in memory."""

from __future__ import annotations

import os

from fashion_desktop.gui.tag.thumbnails import Thumbnailer, cache_file
from tests.conftest import make_photo


def key_of(path):
    st = os.stat(path)
    return (str(path), st.st_size, st.st_mtime)


def test_thumbnails_come_from_the_pool_then_the_disk_cache(qtbot, tmp_path):
    photos = [make_photo(tmp_path / f"p{i}.jpg", (300, 200)) for i in range(5)]
    thumbs = Thumbnailer(max_bytes=3 * 64 * 43 * 4)
    keys = [key_of(p) for p in photos]
    assert thumbs.get(keys[0], 64) is None  # not ready: queued, the GUI thread does not decode
    for k in keys[1:]:
        thumbs.get(k, 64)
    qtbot.waitUntil(lambda: thumbs.pending() == 0, timeout=10_000)
    assert thumbs.decoded == 5
    assert len(thumbs._cache) == 3 and thumbs.memory_bytes() <= thumbs.max_bytes  # the LRU stays bounded
    held = [pm for pm in (thumbs.get(k, 64) for k in keys) if pm is not None]
    assert len(held) == 3 and all(max(pm.width(), pm.height()) == 64 for pm in held)
    assert cache_file(thumbs.disk_root, keys[0], 64).is_file()
    # A changed file gets a new key, so a stale thumbnail is never shown.
    make_photo(photos[0], (320, 200), "blue")
    assert key_of(photos[0]) != keys[0]


def test_a_broken_file_gets_a_reason_not_a_crash(qtbot, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    thumbs = Thumbnailer()
    with qtbot.waitSignal(thumbs.thumbnail_ready, timeout=10_000):
        thumbs.get(key_of(bad), 64)
    assert "not an image" in thumbs.failure(key_of(bad))


def test_disk_cache_is_trimmed_oldest_first(tmp_path):
    from fashion_desktop.gui.tag.thumbnails import prune_disk_cache

    root = tmp_path / "thumbs"
    for i in range(10):
        f = root / f"{i:02x}" / f"{i}.jpg"
        f.parent.mkdir(parents=True)
        f.write_bytes(b"x" * 1000)
        os.utime(f, (1000 + i, 1000 + i))
    assert prune_disk_cache(root, 20_000) == 0
    assert prune_disk_cache(root, 5_000) == 6  # down to 80% of the limit, oldest first
    left = sorted(p.name for p in root.rglob("*.jpg"))
    assert left == ["6.jpg", "7.jpg", "8.jpg", "9.jpg"]


def test_grid_decodes_only_what_is_visible(qtbot, tmp_path):
    from fashion_desktop.gui.main_window import MainWindow

    src = make_photo(tmp_path / "src.jpg", (120, 160))
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(3000):
        os.link(src, folder / f"p{i:04d}.jpg")
    w = MainWindow(tmp_path / "lib.ffcat")
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    with qtbot.waitSignal(w.scan_finished, timeout=30_000):
        w.library_ctl.add_folder(folder)
    assert w.library.rowCount() == 3000
    qtbot.waitUntil(lambda: w.thumbs.decoded > 0 and w.thumbs.pending() == 0, timeout=20_000)
    qtbot.wait(300)
    first_screen = w.thumbs.decoded
    assert first_screen < 200  # a screenful, not 3,000
    bar = w.grid.verticalScrollBar()
    bar.setValue(bar.maximum())
    qtbot.waitUntil(lambda: w.thumbs.decoded > first_screen and w.thumbs.pending() == 0, timeout=20_000)
    last = w.grid.indexAt(w.grid.viewport().rect().center())
    assert last.row() > 2500  # the end of the grid is painted, with its thumbnails
    assert w.thumbs.decoded < 2 * first_screen + 100
    w.close()
