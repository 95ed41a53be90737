"""Core benchmark: the per-label counts after a batch of 100 new scores, a full recount against the delta.

Fills a library's columns in memory (no catalog rows, no Qt) with N scored photos of L labels, 1% of them
with decisions, then times what the window's count update cost per batch of scores before (the tag rule
over every photo) and now (``LibraryColumns.apply_scores`` keeps the counts; ``counts()`` reads them), and
what a scan chunk of 100 new photos costs the columns.

    python benchmarks/bench_counts.py --n 1000000 --labels 66
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.catalog_reader import ImageColumns
from fashion_desktop.core.library_columns import LibraryColumns
from fashion_desktop.core.tags import YES, apply_decisions


def fill(cols: LibraryColumns, n: int, nl: int, rng: np.random.Generator) -> np.ndarray:
    """N photos scored by a model of ``nl`` labels in groups of 11 (every other one exclusive)."""
    ids = np.arange(1, n + 1, dtype=np.int64)
    paths = [f"/p/{i}.jpg" for i in range(n)]
    cols.append(ImageColumns(ids, paths, np.zeros(n), np.zeros(n, np.int64), np.zeros(n, bool), {}, paths))
    labels = [f"l{j}" for j in range(nl)]
    groups = {lab: f"g{j // 11}" for j, lab in enumerate(labels)}
    cols.set_active_model("m", labels, groups, None, sorted(set(groups.values()))[::2], ())
    for a in range(0, n, 100_000):
        cols.apply_scores(ids[a : a + 100_000], rng.random((min(100_000, n - a), nl), dtype=np.float32))
    picked = rng.choice(ids, n // 100, replace=False)
    for j, i in enumerate(picked.tolist()):  # decisions straight into the columns (no catalog write)
        cols._set_decided(cols._slot_of[i], labels[j % nl], bool(j % 3))
    cols._counts_stale()
    return ids


def ms(seconds: list[float]) -> str:
    return f"{1000 * statistics.median(seconds):.2f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="photos (default 1,000,000)")
    ap.add_argument("--labels", type=int, default=66, help="the model's labels (default 66)")
    ap.add_argument("--repeat", type=int, default=7, help="batches timed (median reported)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        cat = Catalog(Path(tmp) / "bench.ffcat")
        cols = LibraryColumns(cat)
        ids = fill(cols, args.n, args.labels, rng)
        cols.counts()  # the one full count a library's opening pays
        full, delta, batch = [], [], []
        for _ in range(args.repeat):
            scores = rng.random((100, args.labels), dtype=np.float32)
            chosen = ids[rng.integers(0, args.n - 100) :][:100]
            t = time.perf_counter()
            cols.apply_scores(chosen, scores)
            batch.append(time.perf_counter() - t)
            t = time.perf_counter()
            kept = cols.counts()
            delta.append(time.perf_counter() - t)
            t = time.perf_counter()  # what counts() did before: the tag rule over every photo
            on = apply_decisions(cols._pred, cols._dec, cols._exclusive).sum(axis=0)
            yes = (cols._dec == YES).sum(axis=0)
            full.append(time.perf_counter() - t)
            assert kept == (
                dict(zip(cols.labels, on.tolist(), strict=True)),
                dict(zip(cols.labels, yes.tolist(), strict=True)),
            )
        appended = []
        for k in range(args.repeat):  # a scan's chunks of 100 new photos (the first makes room at the end)
            new = np.arange(args.n + 1 + 100 * k, args.n + 101 + 100 * k, dtype=np.int64)
            paths = [f"/q/{i}.jpg" for i in new.tolist()]
            chunk = ImageColumns(
                new, paths, np.zeros(100), np.zeros(100, np.int64), np.zeros(100, bool), {}, paths
            )
            t = time.perf_counter()
            cols.append(chunk)
            cols.counts()
            appended.append(time.perf_counter() - t)
        cat.close()
    print(f"{args.n:,} photos x {args.labels} labels, a batch of 100 new scores (median of {args.repeat}):")
    print(f"  counts by full recount (before): {ms(full)}")
    print(f"  counts kept by delta (now):      {ms(delta)}  (apply_scores with the delta: {ms(batch)})")
    print(
        f"  a scan chunk of 100 photos appended, counts read: {ms(appended)} (first, making room: {ms(appended[:1])})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
