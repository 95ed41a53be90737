"""Adapter benchmark: fit time for 1,000 and 10,000 reviewed photos, re-scoring 100,000 and 1,000,000 stored embeddings.

Generated data with the default model's 66 labels and groups: embeddings from 40 looks (1,280 pooled features
encoded to the stored 256 int8 codes, as the tagging child stores them), model scores from a random head,
and a person's decisions that move one look's colour. Baselines in the same run:
- fit: the same cross-validated fit the plain way (numpy's BLAS on every core, each fold from zero);
- re-scoring: running the default model's network over photos (what re-tagging costs), timed on 64
  generated photos and scaled per photo.

    python benchmarks/bench_adapter.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fashion_desktop.core import adapter as adapter_mod  # noqa: E402
from fashion_desktop.core.adapter import Examples, fit_adapter  # noqa: E402
from fashion_desktop.core.adapter_library import LibraryData  # noqa: E402
from fashion_desktop.core.embeddings import decode, decode_codes, encode  # noqa: E402
from fashion_desktop.model.groups import exclusive_columns, group_softmax  # noqa: E402

WIDTH, LOOKS, KEY = 1280, 40, "bench-adapter"


def default_labels():
    from fashion_desktop.model.bundle import load_bundle
    from fashion_desktop.model.resources import default_model_path

    b = load_bundle(default_model_path())
    return b, tuple(b.labels), dict(b.groups), tuple(b.exclusive_groups)


def library(n: int, labels, groups, exclusive, seed: int = 0):
    """Blobs, model scores, looks and decisions (every label decided: reviewed photos) of ``n`` photos."""
    rng = np.random.RandomState(seed)
    centres = np.abs(rng.normal(0, 1, (LOOKS, WIDTH))).astype(np.float32)
    head = rng.normal(0, 0.08, (WIDTH, len(labels))).astype(np.float32)
    excl = exclusive_columns(labels, groups, exclusive)
    blobs, scores, looks = [], [], []
    for start in range(0, n, 20_000):
        m = min(20_000, n - start)
        look = rng.randint(0, LOOKS, m)
        feats = np.abs(centres[look] + rng.normal(0, 0.3, (m, WIDTH))).astype(np.float32)
        logits = feats @ head - 2.0
        scores.append(group_softmax(logits, 1 / (1 + np.exp(-logits)), excl).astype(np.float32))
        blobs += encode(feats, KEY)
        looks.append(look)
    return blobs, np.concatenate(scores), np.concatenate(looks), excl


def decisions(scores, looks, labels, groups, excl):
    """Reviewed photos: the model's top value of each one-value group, except look 0's colour (the next one)."""
    dec = np.zeros(scores.shape, np.int8)
    colour = next(c for c in excl if groups[labels[c[0]]] == "colour")
    for cols in excl:
        top = cols[scores[:, cols].argmax(1)]
        if cols is colour:
            nxt = cols[(scores[:, cols].argmax(1) + 1) % len(cols)]
            top = np.where(looks == 0, nxt, top)
        dec[np.arange(len(dec)), top] = 1
    others = np.setdiff1d(np.arange(len(labels)), np.concatenate(excl))
    dec[:, others] = (scores[:, others] > 0.5).astype(np.int8)
    return dec


def plain_fit(labels, groups, exclusive, ex):
    """The baseline: the same maths the plain way: BLAS on every core, every fold started from zero, every
    reviewed photo in the cross-validation."""
    saved = adapter_mod._theta, adapter_mod.threadpool_limits, adapter_mod.CV_MAX

    class _AllThreads:
        def __init__(self, *_a) -> None: ...
        def __enter__(self): ...
        def __exit__(self, *_a) -> None: ...

    adapter_mod._theta = lambda init, size: np.zeros(size)
    adapter_mod.threadpool_limits = _AllThreads
    adapter_mod.CV_MAX = 10**9
    try:
        return fit_adapter(KEY, labels, groups, exclusive, ex)
    finally:
        adapter_mod._theta, adapter_mod.threadpool_limits, adapter_mod.CV_MAX = saved


def network_s_per_photo(bundle, photos: int = 64) -> float:
    """Seconds a photo the default model's network takes here (decode + forward), from ``photos`` generated ones."""
    import tempfile

    from PIL import Image

    from fashion_desktop.model.scoring import ModelRunner, ScoreOptions, score_paths

    rng = np.random.RandomState(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(photos):
            p = Path(tmp) / f"p{i}.jpg"
            Image.fromarray(rng.randint(0, 255, (400, 300, 3), np.uint8)).save(p, quality=90)
            paths.append(str(p))
        runner = ModelRunner(bundle, ScoreOptions())
        list(score_paths(paths[:16], runner))  # warm-up: model load and first batches
        t = time.perf_counter()
        list(score_paths(paths, runner))
        return (time.perf_counter() - t) / photos


def rescore_from_catalog(data, scores, labels, groups, exclusive, fitted, excl) -> float:
    """Seconds re-scoring takes with the model's scores read from a real catalog, as the window's refit does."""
    import tempfile

    from fashion_desktop.core.catalog import Catalog

    with tempfile.TemporaryDirectory() as tmp:
        cat = Catalog(Path(tmp) / "bench.ffcat")
        folder = Path(tmp) / "photos"
        cat.add_folder(folder)
        ids = cat.ensure_images([folder / f"p{i:07d}.jpg" for i in range(len(scores))])
        order = [ids[str(folder / f"p{i:07d}.jpg")] for i in range(len(scores))]
        cat.register_model(KEY, labels, "bench", None, groups, None, exclusive)
        for start in range(0, len(order), 20_000):
            cat.add_predictions(
                KEY, zip(order[start : start + 20_000], scores[start : start + 20_000], strict=True)
            )
        data = LibraryData(np.asarray(order, np.int64), data.codes, data.scales)
        t = time.perf_counter()
        data.rescore(lambda chunk: cat.scores(KEY, chunk), fitted, excl)
        secs = time.perf_counter() - t
        cat.close()
    return secs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: check that it runs")
    ap.add_argument("--fit-only", action="store_true", help="time the fits only")
    args = ap.parse_args(argv)
    fit_sizes = (200, 1000) if args.quick else (1_000, 10_000)
    score_sizes = (20_000,) if args.quick else (100_000, 1_000_000)
    bundle, labels, groups, exclusive = default_labels()
    for n in fit_sizes:
        blobs, scores, looks, excl = library(n, labels, groups, exclusive, seed=n)
        dec = decisions(scores, looks, labels, groups, excl)
        ex = Examples(decode(blobs), scores, dec, np.zeros((n, 0), np.int8))
        t = time.perf_counter()
        a = fit_adapter(KEY, labels, groups, exclusive, ex)
        ours = time.perf_counter() - t
        t = time.perf_counter()
        plain_fit(labels, groups, exclusive, ex)
        plain = time.perf_counter() - t
        colour = next(c for c in a.corrections if c.group == "colour")
        print(f"fit {n:,} reviewed photos (5-fold cross-validated on {min(n, adapter_mod.CV_MAX):,}, {len(a.corrections)} groups): {ours:.2f}s; "
              f"plain way {plain:.2f}s (ratio {plain / ours:.2f}x); colour {colour.summary()}", flush=True)  # fmt: skip
    if args.fit_only:
        return 0
    fit_blobs, fit_scores, fit_looks, excl = library(1000, labels, groups, exclusive, seed=7)
    fitted = fit_adapter(KEY, labels, groups, exclusive, Examples(
        decode(fit_blobs), fit_scores, decisions(fit_scores, fit_looks, labels, groups, excl),
        np.zeros((1000, 0), np.int8)))  # fmt: skip
    for c in fitted.corrections:
        c.used = True  # time the re-scoring with every group's correction applied, used or not
    per_photo = network_s_per_photo(bundle)
    for n in score_sizes:
        blobs, scores, _looks, excl = library(n, labels, groups, exclusive, seed=1)
        codes, scales = decode_codes(blobs)
        data = LibraryData(np.arange(1, n + 1, dtype=np.int64), np.ascontiguousarray(codes), scales)
        del blobs
        held = data.codes.nbytes + data.scales.nbytes + data.ids.nbytes
        t = time.perf_counter()
        out = data.rescore(lambda ids, s=scores: {i: s[i - 1] for i in ids}, fitted, excl)
        secs = time.perf_counter() - t
        line = (
            f"re-score {n:,} stored embeddings: {secs:.2f}s ({n / secs:,.0f} photos/s; the adapter's inputs held "
            f"{held / 1e6:.0f} MB, the model's scores given from memory)"
        )
        if n <= 100_000:
            secs_db = rescore_from_catalog(data, scores, labels, groups, exclusive, fitted, excl)
            line += f"; read from a real catalog {secs_db:.2f}s"
        print(f"{line}; the network would take {per_photo * n:,.0f}s ({per_photo * 1000:.1f} ms a photo): "
              f"{per_photo * n / secs:,.0f}x", flush=True)  # fmt: skip
        del scores, data, out
    return 0


if __name__ == "__main__":
    sys.exit(main())
