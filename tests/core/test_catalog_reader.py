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
