"""Thumbnails: decoded in the pool, cached on disk by path + size + mtime, bounded in memory."""

from __future__ import annotations

import os

from fashion_desktop.gui.thumbnails import Thumbnailer, cache_file
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
    from fashion_desktop.gui.thumbnails import prune_disk_cache

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
