"""Similar-photo search: the int8 index of ``core.similar`` against a float32 matrix, and catalog growth.

Run: ``python benchmarks/bench_similar.py [--sizes 100000 1000000] [--dims 256] [--budget-s 60]``.
For each size it generates int8 embeddings (what tagging stores: 256 codes a photo; the timing does not
depend on their values), loads them into ``SimilarityIndex`` and, as the naive baseline in the same run,
into the float32 matrix of unit rows a plain numpy search would hold; it prints the memory each holds
and the median latency of 20 queries (the 10 nearest of a stored photo), with the ratios, and checks
both find the same nearest photos. A size whose run is expected to take longer than ``--budget-s``
(extrapolated from the previous size) is skipped and said so. Last, the catalog's growth per photo
with embeddings against without, measured in a real SQLite file (``--growth-photos``), and the time
the first search pays to load that file's embeddings.
The last line is ``similar-bench: ...``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fashion_desktop.core.catalog import Catalog  # noqa: E402
from fashion_desktop.core.embeddings import encode  # noqa: E402
from fashion_desktop.core.similar import SimilarityIndex  # noqa: E402

QUERIES = 20
K = 10


def _median_ms(search, rows: np.ndarray) -> float:
    times = []
    for row in rows:
        t0 = time.perf_counter()
        search(int(row))
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def bench_size(n: int, dims: int, seed: int = 0) -> dict[str, float]:
    """Memory and median query latency of the int8 index and the float32 baseline for ``n`` photos."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(-127, 128, (n, dims), dtype=np.int8)
    index = SimilarityIndex(np.arange(n, dtype=np.int64), codes)
    unit = codes.astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)

    def baseline(row: int) -> np.ndarray:
        sims = unit @ unit[row]
        sims[row] = -np.inf
        top = np.argpartition(-sims, K - 1)[:K]
        return top[np.argsort(-sims[top])]

    rows = rng.integers(0, n, QUERIES)
    agree = all(np.array_equal(index.similar_to(int(r), K)[0][1:], baseline(int(r))) for r in rows[:3])
    int8_ms = _median_ms(lambda r: index.similar_to(r, K), rows)
    float_ms = _median_ms(baseline, rows)
    return {
        "n": n,
        "int8_mb": index.nbytes / 2**20,
        "float32_mb": (unit.nbytes + index.ids.nbytes) / 2**20,
        "int8_ms": int8_ms,
        "float32_ms": float_ms,
        "agree": float(agree),
    }


def catalog_growth(photos: int, width: int = 1280) -> tuple[float, float]:
    """Bytes a photo adds to a catalog file with its embedding (a ``width``-wide model), against none, and
    the seconds ``SimilarityIndex.load`` takes to read that catalog's embeddings (what the first search pays)."""
    features = np.random.default_rng(1).normal(size=(photos, width)).astype(np.float32)
    blobs = encode(features, "bench-model")
    sizes = []
    with tempfile.TemporaryDirectory() as tmp:
        for with_embeddings in (False, True):
            db = Path(tmp) / f"lib-{with_embeddings}.ffcat"
            with Catalog(db) as cat:
                ids = cat.ensure_images([f"/photos/p{i}.jpg" for i in range(photos)])
                cat.register_model("bench-model", ["a", "b", "c"])
                scores = [(ids[f"/photos/p{i}.jpg"], np.zeros(3, np.float32)) for i in range(photos)]
                for start in range(0, photos, 1000):
                    part = slice(start, start + 1000)
                    cat.add_predictions("bench-model", scores[part], blobs[part] if with_embeddings else None)
                cat.query("PRAGMA wal_checkpoint(TRUNCATE)")
            sizes.append(db.stat().st_size)
        with Catalog(db, read_only=True) as cat:
            t0 = time.perf_counter()
            index = SimilarityIndex.load(cat, "bench-model")
            load_s = time.perf_counter() - t0
        assert len(index) == photos
    return (sizes[1] - sizes[0]) / photos, load_s


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--dims", type=int, default=256)
    p.add_argument("--budget-s", type=float, default=60.0, help="skip a size expected to take longer")
    p.add_argument("--growth-photos", type=int, default=100_000)
    args = p.parse_args(argv)
    results = []
    last: tuple[int, float] | None = None
    for n in sorted(args.sizes):
        if last is not None and last[1] * n / last[0] > args.budget_s:
            print(f"{n:>9,} photos: skipped (expected {last[1] * n / last[0]:.0f} s > {args.budget_s:.0f} s)")
            continue
        t0 = time.perf_counter()
        r = bench_size(n, args.dims)
        last = (n, time.perf_counter() - t0)
        results.append(r)
        print(
            f"{n:>9,} photos: int8 index {r['int8_mb']:7.1f} MB, {r['int8_ms']:7.1f} ms a query | "
            f"float32 {r['float32_mb']:7.1f} MB, {r['float32_ms']:7.1f} ms | memory ratio "
            f"{r['float32_mb'] / r['int8_mb']:.2f}x, time ratio (int8/float32) {r['int8_ms'] / r['float32_ms']:.2f}"
            f" | same nearest: {'yes' if r['agree'] else 'NO'} | run {last[1]:.1f} s"
        )
    growth, load_s = catalog_growth(args.growth_photos)
    print(
        f"catalog growth: {growth:.1f} bytes a photo with its embedding ({args.growth_photos:,} photos); "
        f"loading them for search: {load_s:.2f} s"
    )
    ran = ",".join(str(int(r["n"])) for r in results)
    big = results[-1]
    print(
        f"similar-bench: sizes={ran} int8_ms={big['int8_ms']:.1f} float32_ms={big['float32_ms']:.1f} "
        f"int8_mb={big['int8_mb']:.1f} float32_mb={big['float32_mb']:.1f} bytes_per_photo={growth:.1f} "
        f"load_s={load_s:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
