"""The adapter's scores file is read a block at a time, exactly, and never held whole."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from fashion_desktop.core.adapted_file import AdaptedFile


def _write(folder, n: int, labels: int, person: int):
    rng = np.random.default_rng(1)
    ids = np.arange(10, 10 + n, dtype=np.int64)
    scores = rng.random((n, labels), dtype=np.float32)
    mine = rng.random((n, person), dtype=np.float32)
    folder.mkdir()
    with (folder / "scores.npz").open("wb") as f:  # as core.adapter_library.refit_to_file writes it
        np.savez(f, ids=ids, scores=scores, person=mine)
    return ids, scores, mine


def test_blocks_read_in_order_give_back_every_row_and_close_removes_the_folder(tmp_path):
    folder = tmp_path / "adapt"
    ids, scores, mine = _write(folder, 12_345, 66, 2)
    f = AdaptedFile(folder)
    got = [f.block(start, start + 5000) for start in range(0, len(f), 5000)]
    assert np.array_equal(np.concatenate([g[0] for g in got]), ids)
    assert np.array_equal(np.concatenate([g[1] for g in got]), scores)
    assert np.array_equal(np.concatenate([g[2] for g in got]), mine)
    with pytest.raises(ValueError, match="in order"):
        f.block(0, 10)
    f.close()
    assert not folder.exists()


def test_a_million_photos_scores_are_not_held_whole(tmp_path):
    folder = tmp_path / "adapt"
    _ids, scores, _mine = _write(folder, 200_000, 66, 0)  # 53 MB of scores
    tracemalloc.start()
    try:
        f = AdaptedFile(folder)
        for start in range(0, len(f), 5000):
            f.block(start, start + 5000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    f.close()
    assert peak < 0.1 * scores.nbytes  # the ids (1.6 MB) and a block (1.3 MB), not the scores


def test_a_file_that_is_not_the_adapters_names_the_file(tmp_path):
    folder = tmp_path / "adapt"
    folder.mkdir()
    (folder / "scores.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="scores.npz: not the adapter's scores"):
        AdaptedFile(folder)
    assert not folder.exists()
