"""Duplicates search: ``core.duplicates.near_duplicate_pairs`` (64-code prefilter) against plain tiles of all codes.

Run: ``python benchmarks/bench_duplicates.py [--sizes 10000 20000] [--extrapolate 100000 1000000]``.
For each size it generates int8 embeddings as tagging stores them (256 codes a photo) around a few hundred
centres, with a resized-copy-like twin (cosine about 0.99) for 1 % of the photos, then times the search
the Duplicates view runs and, as the naive baseline in the same run, the same tiles of float32 products
over all 256 codes without the prefilter, checks both find the same pairs, and prints the ratio. Both
compare every pair, so time grows as N^2: the last sizes are extrapolated from the largest one measured.
The last line is ``duplicates-bench: ...``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fashion_desktop.core.duplicates import NEAR_DUPLICATE, TILE, near_duplicate_pairs  # noqa: E402
from fashion_desktop.core.embeddings import encode  # noqa: E402


def embeddings(n: int, seed: int = 0) -> np.ndarray:
    """int8 codes [n, 256] of photos around 300 centres, 1 % of them with a near-identical twin."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(300, 1280))
    feats = centres[rng.integers(0, 300, n)] + 1.2 * rng.normal(size=(n, 1280))
    twins = rng.choice(n, n // 100, replace=False)
    feats[twins[: len(twins) // 2]] = feats[twins[len(twins) // 2 :]] + 0.1 * rng.normal(
        size=(len(twins) // 2, 1280)
    )
    blobs = encode(feats.astype(np.float32), "bench-model")
    return np.frombuffer(b"".join(b[4:] for b in blobs), np.int8).reshape(n, -1)


def baseline(codes: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    """Every pair at or above ``threshold``: tiles of float32 unit rows over all codes, no prefilter."""
    unit = codes.astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    found = set()
    for start in range(0, len(unit), TILE):
        for other in range(start, len(unit), TILE):
            ii, jj = np.nonzero(unit[start : start + TILE] @ unit[other : other + TILE].T >= threshold)
            found |= {
                (a, b) for a, b in zip((ii + start).tolist(), (jj + other).tolist(), strict=True) if a < b
            }
    return found


def bench_size(n: int) -> dict[str, float]:
    codes = embeddings(n)
    t0 = time.perf_counter()
    ours = set()
    for a, b, _done in near_duplicate_pairs(codes, NEAR_DUPLICATE):
        ours |= set(zip(a.tolist(), b.tolist(), strict=True))
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = baseline(codes, NEAR_DUPLICATE)
    naive_s = time.perf_counter() - t0
    return {"n": n, "ours_s": ours_s, "naive_s": naive_s, "pairs": len(ours), "agree": float(ours == naive)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000])
    parser.add_argument("--extrapolate", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args(argv)
    rows = []
    for n in args.sizes:
        r = bench_size(n)
        rows.append(r)
        print(
            f"{n:>9,} photos: prefiltered {r['ours_s']:7.2f} s   all codes {r['naive_s']:7.2f} s   "
            f"ratio {r['naive_s'] / r['ours_s']:.2f}x   {r['pairs']:,} pairs   same pairs: {bool(r['agree'])}"
        )
    last = rows[-1]
    for n in args.extrapolate:
        scale = (n / last["n"]) ** 2
        print(f"{n:>9,} photos: about {last['ours_s'] * scale:,.0f} s (prefiltered, N^2 from {last['n']:,})")
    summary = " ".join(f"{r['n']}:{r['ours_s']:.2f}s/{r['naive_s']:.2f}s" for r in rows)
    print(f"duplicates-bench: {summary} agree={all(r['agree'] for r in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
