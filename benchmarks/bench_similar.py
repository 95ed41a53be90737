"""Similar-photo search at 100,000 and 1,000,000 photos: the shipped index against a float32 numpy brute force.

Run: ``python benchmarks/bench_similar.py [--sizes 100000 1000000] [--queries 25] [--libraries] [--quick]``.
For each size it generates embeddings correlated like real ones (photos drawn around a few hundred
looks of non-negative pooled features, width 1280, encoded by ``core.embeddings.encode`` as tagging
stores them), with a resized copy (the same features, slightly perturbed) of some photos. It loads
them into ``SimilarityIndex`` and, as the faithful naive baseline, into the float32 matrix of unit rows
a plain numpy search would hold, then times the 10 nearest of stored photos with both, interleaved
query by query so a busy machine slows both alike (median and 95th percentile). It prints the memory
each holds (arrays, and the process's resident growth while building it), the ratios, the recall@10 of
the index against the baseline's answer, and whether each resized copy came first after its photo.
``--libraries`` adds, where installed, the nearest-neighbour libraries weighed against numpy: usearch's
exact search on the int8 codes, faiss's flat float32 and 8-bit scalar-quantised indexes, and usearch's
HNSW graph (only up to ``--graph-max`` photos: its build took 12 minutes at 1,000,000 on one core).
The last line is ``similar-bench: ...``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# One thread for every search (override with the variables): the shipped index's blocks are too small for
# BLAS threads, and two thread pools (OpenBLAS's, faiss's OpenMP) spinning on a 2-core machine made the
# float32 search 60 times slower right after a faiss query.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fashion_desktop.core.embeddings import decode_codes, encode  # noqa: E402
from fashion_desktop.core.similar import SimilarityIndex  # noqa: E402

K = 10
WIDTH = 1280  # the default model's pooled feature width
LOOKS = 300
THREADS = int(os.environ["OMP_NUM_THREADS"])  # usearch's own pool follows the same setting
COPIES = 20  # photos given a resized copy, each placed at a random row

Search = Callable[[int], np.ndarray]  # a stored photo's row -> rows of its K nearest others, best first


def rss_mb() -> float:
    """The process's resident memory in MB (0 where /proc is not there)."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(ln.split()[1]) / 1024 for ln in fh if ln.startswith("VmRSS"))
    except (OSError, StopIteration):
        return 0.0


def generated_codes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """int8 codes [n, 256] as tagging stores them, and [COPIES, 2] rows (photo, its resized copy)."""
    rng = np.random.default_rng(seed)
    looks = np.maximum(rng.normal(0.3, 1.0, (LOOKS, WIDTH)), 0).astype(np.float32)
    codes = np.empty((n, 256), np.int8)
    for start in range(0, n, 20_000):
        m = min(20_000, n - start)
        noise = rng.normal(0, 0.8, (m, WIDTH)).astype(np.float32)
        feats = np.maximum(looks[rng.integers(0, LOOKS, m)] + noise, 0)
        codes[start : start + m] = decode_codes(encode(feats, "bench-model"))[0]
    pairs = rng.choice(n, (min(COPIES, n // 2), 2), replace=False)
    for photo, copy in pairs:
        # a resized copy: the same photo's features, a little perturbed (recomputed from its codes)
        feats = codes[photo].astype(np.float32) * (1 + rng.normal(0, 0.03, 256).astype(np.float32))
        codes[copy] = np.clip(np.rint(feats * 127 / np.abs(feats).max()), -127, 127)
    return codes, pairs


def _top(sims: np.ndarray, row: int) -> np.ndarray:
    sims[row] = -np.inf
    top = np.argpartition(-sims, K - 1)[:K]
    return top[np.argsort(-sims[top], kind="stable")]


def shipped(codes: np.ndarray) -> tuple[Search, int]:
    index = SimilarityIndex(np.arange(len(codes), dtype=np.int64), codes)
    return (lambda row: index.similar_to(row, K)[0][1:]), index.nbytes


def baseline(codes: np.ndarray) -> tuple[Search, int]:
    unit = codes.astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    return (lambda row: _top(unit @ unit[row], row)), unit.nbytes + 8 * len(codes)


def _without(row: int, found: np.ndarray) -> np.ndarray:
    return np.array([r for r in found.tolist() if r != row][:K])


def usearch_exact(codes: np.ndarray) -> tuple[Search, int]:
    from usearch.index import MetricKind, search

    def find(row: int) -> np.ndarray:
        return _without(
            row, search(codes, codes[row], K + 1, MetricKind.Cos, exact=True, threads=THREADS).keys
        )

    return find, codes.nbytes


def usearch_graph(codes: np.ndarray) -> tuple[Search, int]:
    from usearch.index import Index, MetricKind

    index = Index(ndim=codes.shape[1], metric=MetricKind.Cos, dtype="i8")
    index.add(np.arange(len(codes)), codes, threads=THREADS)
    return (
        lambda row: _without(row, index.search(codes[row], K + 1, threads=THREADS).keys)
    ), index.memory_usage


def _faiss(codes: np.ndarray, quantised: bool) -> tuple[Search, int]:
    import faiss

    unit = codes.astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    if quantised:
        index = faiss.IndexScalarQuantizer(
            unit.shape[1], faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        index.train(unit[:100_000])
    else:
        index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)  # faiss keeps its own copy; each query reads its photo's row from the int8 codes
    size = index.sa_code_size() * len(unit)
    del unit
    return (
        lambda row: _without(row, index.search(codes[row : row + 1].astype(np.float32), K + 1)[1][0])
    ), size


CANDIDATES: dict[str, Callable[[np.ndarray], tuple[Search, int]]] = {
    "usearch exact int8": usearch_exact,
    "faiss flat float32": lambda codes: _faiss(codes, quantised=False),
    "faiss 8-bit quantised": lambda codes: _faiss(codes, quantised=True),
    "usearch HNSW int8": usearch_graph,
}


def _built(name: str, make: Callable[[np.ndarray], tuple[Search, int]], codes: np.ndarray) -> dict | None:
    before, t0 = rss_mb(), time.perf_counter()
    try:
        search, nbytes = make(codes)
    except ImportError as exc:
        print(f"  {name}: not installed ({exc.name})")
        return None
    took = time.perf_counter() - t0
    return {
        "name": name,
        "search": search,
        "mb": nbytes / 2**20,
        "rss_mb": rss_mb() - before,
        "build_s": took,
    }


def bench_size(n: int, queries: int, libraries: bool, graph_max: int) -> list[dict]:
    """The shipped index, the baseline (and the libraries) on ``n`` generated photos, timed interleaved."""
    codes, pairs = generated_codes(n)
    makers = {"shipped int8 index": shipped, "float32 numpy baseline": baseline}
    if libraries:
        makers.update({k: v for k, v in CANDIDATES.items() if "HNSW" not in k or n <= graph_max})
    runs = [r for r in (_built(name, make, codes) for name, make in makers.items()) if r is not None]
    rows = np.concatenate(
        [pairs[:, 0], np.random.default_rng(1).integers(0, n, max(0, queries - len(pairs)))]
    )
    for run in runs:
        run.update(times=[], found=[])
        run["search"](int(rows[0]))  # the first call pays one-off costs
    for row in rows.tolist():
        for run in runs:
            t0 = time.perf_counter()
            found = run["search"](row)
            run["times"].append(time.perf_counter() - t0)
            run["found"].append(np.asarray(found).tolist())
    truth = runs[1]["found"]
    copy_of = dict(pairs.tolist())
    for run in runs:
        ms = np.array(run["times"]) * 1000
        run.update(median_ms=statistics.median(ms), p95_ms=float(np.percentile(ms, 95)))
        run["recall"] = float(
            np.mean([len(set(a) & set(b)) / K for a, b in zip(run["found"], truth, strict=True)])
        )
        firsts = [
            f[0] == copy_of[r] for r, f in zip(rows.tolist(), run["found"], strict=True) if r in copy_of
        ]
        run["copies_first"] = f"{sum(firsts)}/{len(firsts)}"
    return runs


def report(n: int, runs: list[dict]) -> None:
    ship, base = runs[0], runs[1]
    print(f"{n:,} photos ({len(ship['times'])} queries, the {K} nearest of a stored photo):")
    for r in runs:
        print(
            f"  {r['name']:<24} {r['median_ms']:7.1f} ms median, {r['p95_ms']:7.1f} ms p95 | {r['mb']:7.1f} MB held "
            f"(resident +{r['rss_mb']:.0f} MB) | build {r['build_s']:6.1f} s | recall@{K} {r['recall']:.3f} | "
            f"resized copy first {r['copies_first']}"
        )
    print(
        f"  ratios: memory float32/int8 {base['mb'] / ship['mb']:.2f}x, "
        f"time int8/float32 {ship['median_ms'] / base['median_ms']:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--queries", type=int, default=25)
    p.add_argument("--libraries", action="store_true", help="also time usearch and faiss where installed")
    p.add_argument(
        "--graph-max", type=int, default=100_000, help="largest size usearch's HNSW graph is built at"
    )
    p.add_argument("--quick", action="store_true", help="one tiny size, to see that it runs")
    args = p.parse_args(argv)
    sizes, queries = ([5_000], 10) if args.quick else (sorted(args.sizes), args.queries)
    results = []
    for n in sizes:
        runs = bench_size(n, queries, args.libraries, args.graph_max)
        report(n, runs)
        results.append((n, runs[0], runs[1]))
    n, ship, base = results[-1]
    print(
        f"similar-bench: sizes={','.join(str(r[0]) for r in results)} int8_ms={ship['median_ms']:.1f} "
        f"int8_p95_ms={ship['p95_ms']:.1f} float32_ms={base['median_ms']:.1f} int8_mb={ship['mb']:.1f} "
        f"float32_mb={base['mb']:.1f} recall={ship['recall']:.3f} copies_first={ship['copies_first']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
