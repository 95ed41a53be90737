"""Removing photos from a library: rows, scores, embeddings and decisions go; files and other photos stay."""

from __future__ import annotations

import numpy as np

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.photo_removal import remove_photos
from tests.conftest import make_photo


def test_remove_photos_deletes_their_rows_scores_and_decisions_only(tmp_path):
    paths = [tmp_path / "photos" / f"p{i}.jpg" for i in range(3)]
    for p in paths:
        make_photo(p)
    cat = Catalog(tmp_path / "lib.ffcat")
    cat.add_folder(str(tmp_path / "photos"))
    ids = cat.ensure_images([str(p) for p in paths])
    cat.register_model("m", ["a", "b"], "model", None, {"a": "g", "b": "g"}, thresholds=[0.5, 0.5])
    cat.add_predictions(
        "m", [(i, np.array([0.9, 0.1], np.float32)) for i in ids.values()], [b"\x00" * 8] * len(ids)
    )
    gone, kept = ids[str(paths[0])], ids[str(paths[1])]
    cat.set_decision([gone, kept], "a", True)
    assert remove_photos(cat, [gone, gone, 999_999]) == 1
    assert {r.path for r in cat.images()} == {str(paths[1]), str(paths[2])}
    assert cat.decisions(gone) == {} and cat.decisions(kept) == {"a": True}
    assert set(cat.scores("m")) == {kept, ids[str(paths[2])]}
    assert sorted(cat.embeddings("m")[0].tolist()) == sorted([kept, ids[str(paths[2])]])
    assert all(p.is_file() for p in paths)
    cat.close()
