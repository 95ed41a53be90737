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
