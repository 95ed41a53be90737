"""The per-label counts kept by delta equal a full recount after any sequence of the library's changes."""

from __future__ import annotations

import numpy as np

from fashion_desktop.core.catalog import Catalog, FileInfo
from fashion_desktop.core.library_columns import LibraryColumns
from fashion_desktop.core.tags import YES, apply_decisions
from fashion_desktop.core.thresholds import ThresholdPolicy

LABELS = [f"l{j}" for j in range(8)]
GROUPS = {lab: ("colour" if j < 3 else "kind") for j, lab in enumerate(LABELS)}


def _recount(cols: LibraryColumns) -> tuple[dict[str, int], dict[str, int]]:
    final = apply_decisions(cols._pred, cols._dec, cols._exclusive).sum(axis=0)
    yes = (cols._dec == YES).sum(axis=0)
    return dict(zip(cols.labels, final.tolist(), strict=True)), dict(
        zip(cols.labels, yes.tolist(), strict=True)
    )


def _files(start: int, n: int, size: int = 100) -> list[FileInfo]:
    return [FileInfo(f"/p/f{i:06d}.jpg", size + i, 1000.0 + i) for i in range(start, start + n)]


def test_counts_kept_by_delta_equal_a_full_recount_after_random_changes(tmp_path) -> None:
    rng = np.random.default_rng(7)
    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/p")
    n = 3000
    cat.record_scan_batch(fid, _files(0, n), cat.new_scan_token(fid))
    cat.register_model("m", LABELS, "m", None, GROUPS, None, ["colour"])
    cols = LibraryColumns(cat)
    cols.reload()
    cols.set_active_model("m")
    total = n

    def ids(k: int) -> np.ndarray:
        return rng.choice(cols.slots.ids, k)  # repeats on purpose: a photo named twice in one batch

    def scores() -> None:
        batch = ids(int(rng.integers(1, 300)))
        cols.apply_scores(batch, rng.random((len(batch), len(LABELS)), dtype=np.float32))

    def decisions() -> None:
        values = [True, False, None]
        cols.write_decisions(
            [
                (int(i), str(rng.choice(LABELS)), values[int(rng.integers(3))])
                for i in ids(int(rng.integers(1, 60)))
            ]
        )

    def review() -> None:
        batch = [int(i) for i in ids(20)]
        cols.write_reviewed(batch, bool(rng.integers(2)), cols.review_changes(batch))

    def append() -> None:
        nonlocal total
        cat.record_scan_batch(fid, _files(total, 50), cat.new_scan_token(fid))
        total += 50
        new, again = cols.new_photos(None)
        assert not again
        cols.append(new)

    def policy() -> None:
        cols.set_policy(ThresholdPolicy(global_threshold=float(rng.uniform(0.2, 0.8))))

    def adapted() -> None:
        if rng.integers(3):
            batch = ids(100)
            cols.set_adapted(batch, rng.random((len(batch), len(LABELS)), dtype=np.float32))
        else:
            cols.clear_adapted()

    def tuned() -> None:
        cols.set_tuned_thresholds(rng.uniform(0.1, 0.9, len(LABELS)).astype(np.float32), recompute=False)
        for start in range(0, len(cols), 1000):  # a block at a time, counts read between blocks
            cols.recompute_slots(start, start + 1000)
            assert cols.counts() == _recount(cols)

    def person_label() -> None:
        name = f"mine{int(rng.integers(1000))}"
        batch = [(int(i), name, True) for i in ids(5)] + [(int(ids(1)[0]), LABELS[0], True)]
        cols.create_label(name, "kind", batch)
        if rng.integers(2):
            cols.forget_label(name, [(i, lab, None) for i, lab, _ in batch])

    def saved_scores() -> None:
        batch = ids(40)
        cat.add_predictions("m", [(int(i), rng.random(len(LABELS))) for i in batch])
        cols.refresh_scores()

    def changed_file() -> None:  # a picture changed on disk: its scores are gone
        cat.record_scan_batch(fid, _files(int(rng.integers(total - 10)), 10, size=7), cat.new_scan_token(fid))
        cols.sync(cols.reader.images(), None)

    ops = [
        scores,
        decisions,
        review,
        append,
        policy,
        adapted,
        tuned,
        person_label,
        saved_scores,
        changed_file,
    ]
    assert cols.counts() == _recount(cols)
    for step in range(120):
        op = ops[int(rng.integers(len(ops)))] if step >= len(ops) else ops[step]
        op()
        assert cols.counts() == _recount(cols), f"step {step}: {op.__name__}"
    assert len(cols) == total and any(_recount(cols)[1].values())
    cols.reload()
    assert cols.counts() == _recount(cols)
    cat.close()
