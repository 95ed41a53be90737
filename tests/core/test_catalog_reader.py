"""The catalog reader's counts: how many present photos a model has scored (the Model box asks it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.catalog_reader import CatalogReader
from fashion_desktop.core.scan import sync_folder
from tests.conftest import make_photo


def test_scored_count_counts_a_models_present_photos(tmp_path: Path) -> None:
    keep, drop = tmp_path / "keep", tmp_path / "drop"
    make_photo(keep / "k.jpg")
    make_photo(drop / "d.jpg")
    with Catalog(tmp_path / "cat.db") as cat:
        for folder in (keep, drop):
            for _ in sync_folder(cat, folder):
                pass
        ids = [r.id for r in cat.images()]
        cat.register_model("m", ["red"])
        cat.register_model("unused", ["red"])
        cat.add_predictions("m", [(i, np.array([0.7])) for i in ids])
        reader = CatalogReader(cat.path)
        try:
            assert reader.scored_count("m") == 2
            assert reader.scored_count("unused") == 0 and reader.scored_count("unknown") == 0
            cat.remove_folder(drop)  # its photo is no longer in the library
            assert reader.scored_count("m") == 1
        finally:
            reader.close()


def test_scores_read_a_chunk_at_a_time_are_the_scores_read_at_once(tmp_path: Path) -> None:
    with Catalog(tmp_path / "cat.db") as cat:
        fid = cat.add_folder("/p")
        from fashion_desktop.core.catalog import FileInfo

        cat.record_scan_batch(fid, [FileInfo(f"/p/{i}.jpg", 10, 1.0) for i in range(7)], 1.0)
        ids = [r.id for r in cat.images()]
        cat.register_model("m", ["red", "blue"])
        rng = np.random.default_rng(0)
        scores = {i: rng.random(2).astype(np.float32) for i in ids}
        cat.add_predictions("m", list(scores.items()))
        reader = CatalogReader(cat.path)
        try:
            chunks = list(reader.score_chunks("m", chunk=3))
            assert [len(c[0]) for c in chunks] == [3, 3, 1]
            got = {int(i): row for c in chunks for i, row in zip(c[0], c[1], strict=True)}
            assert set(got) == set(ids)
            assert all(np.array_equal(got[i], scores[i]) for i in ids)
            assert got.keys() == cat.scores("m").keys()  # every score the catalog holds, read at once
            newest = max(c[2] for c in chunks)
            assert not list(reader.score_chunks("m", since=newest))  # nothing written since
            assert not list(reader.score_chunks("unknown"))
        finally:
            reader.close()


def test_opening_a_big_library_reads_its_photos_a_chunk_at_a_time(tmp_path: Path) -> None:
    import tracemalloc

    from fashion_desktop.core.catalog import FileInfo
    from fashion_desktop.core.library_columns import LibraryColumns

    n = 200_000
    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/photos")
    files = [FileInfo(f"/photos/set{i % 97:02d}/IMG_{i:07d}.jpg", 1000 + i, 1e6 + i) for i in range(n)]
    cat.record_scan_batch(fid, files, 1.0)
    chunks = list(CatalogReader(cat.path).image_chunks(chunk=30_000))
    assert [len(c) for c in chunks] == [30_000] * 6 + [20_000]
    whole = CatalogReader(cat.path).images()
    assert np.array_equal(np.concatenate([c.ids for c in chunks]), whole.ids)
    assert [p for c in chunks for p in c.paths] == whole.paths
    del chunks, whole
    reader = CatalogReader(cat.path)
    tracemalloc.start()
    try:
        reader.images()  # every row at once, for comparison
        at_once = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        cols = LibraryColumns(cat)
        before = tracemalloc.get_traced_memory()[0]
        cols.reload()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(cols) == n and cols.slots.paths[n - 1] == files[-1].path
    assert cols.slots.names[cols.slots.rank.argmin()] == "IMG_0000000.jpg"  # the name order is there
    # What opening holds for a moment beside the columns it keeps (their room included) stays under what
    # reading every row at once held (53 MB here): it was 73 MB, now 45 (of which 35 the name order)
    assert peak - kept < at_once - before
    cat.close()


def test_photos_to_describe_come_a_page_at_a_time_and_every_one_once(tmp_path: Path) -> None:
    from fashion_desktop.core.catalog import FileInfo

    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/photos")
    cat.record_scan_batch(fid, [FileInfo(f"/photos/{i:05d}.jpg", 100, 1.0) for i in range(2_500)], 1.0)
    pages = cat._images.undescribed(fid, page=1_000)
    first = [next(pages) for _ in range(1_000)]
    # The first page described while the rest is read (as the describe job does): nothing lost or read twice
    with cat._lock, cat._db:
        cat._db.executemany("UPDATE images SET content_hash='h' WHERE id=?", [(r[0],) for r in first])
    rest = list(pages)
    ids = [r[0] for r in first + rest]
    assert len(ids) == 2_500 and len(set(ids)) == 2_500 and ids == sorted(ids)
    cat.close()
