"""Catalog growth per photo: a catalog scored by a default-sized model, without and with the stored embeddings.

Run: ``python benchmarks/bench_catalog_growth.py [--photos 20000] [--quick]``.
It builds two catalogs (``core.catalog.Catalog``, real SQLite files) of ``--photos`` registered photos,
each scored by a model with the default model's label count (read from its bundle's header through the
model layer; 60 when there is none), once without embeddings and once with the embeddings tagging stores
(``core.embeddings.encode`` of non-negative random pooled features of the default model's width, 1280),
VACUUMs both and prints the bytes a photo takes in each and what the embeddings add a photo (the issue's
target: at most ~1 KB). Last, the time ``SimilarityIndex.load`` takes to read the embeddings back (what
the first Find similar pays). The last line is ``catalog-growth: ...``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fashion_desktop.core.catalog import Catalog  # noqa: E402
from fashion_desktop.core.embeddings import encode  # noqa: E402
from fashion_desktop.core.similar import SimilarityIndex  # noqa: E402
from fashion_desktop.model.bundle_file import read_header  # noqa: E402
from fashion_desktop.model.bundle_format import BundleError  # noqa: E402
from fashion_desktop.model.resources import default_model_path  # noqa: E402

WIDTH = 1280  # the default model's (efficientnet_lite0) pooled feature width
MODEL = "bench-model"
CHUNK = 1000  # photos a write, as tagging writes them in batches


def default_label_count() -> int:
    """The shipped default model's number of labels (60 when it is not there or cannot be read)."""
    path = default_model_path()
    try:
        return len(read_header(path)[0].labels) if path is not None else 60
    except BundleError:
        return 60


def build(db: Path, photos: int, labels: int, with_embeddings: bool) -> int:
    """Bytes of catalog ``db`` once ``photos`` photos are registered and scored (and embedded), VACUUMed."""
    rng = np.random.default_rng(0)
    with Catalog(db) as cat:
        paths = [f"/photos/supplier-{i // 500:04d}/p{i:07d}.jpg" for i in range(photos)]
        ids = cat.ensure_images(paths)
        cat.register_model(MODEL, [f"label{j}" for j in range(labels)])
        for start in range(0, photos, CHUNK):
            part = paths[start : start + CHUNK]
            scores = rng.random((len(part), labels), dtype=np.float32)
            blobs = encode(np.maximum(rng.normal(0.3, 1.0, (len(part), WIDTH)), 0), MODEL)
            results = [(ids[p], s) for p, s in zip(part, scores, strict=True)]
            cat.add_predictions(MODEL, results, blobs if with_embeddings else None)
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    wal = db.with_name(db.name + "-wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=int, default=20_000)
    p.add_argument("--quick", action="store_true", help="1,000 photos, to see that it runs")
    args = p.parse_args(argv)
    photos = 1_000 if args.quick else args.photos
    labels = default_label_count()
    with tempfile.TemporaryDirectory() as tmp:
        plain = build(Path(tmp) / "plain.ffcat", photos, labels, with_embeddings=False)
        embedded_db = Path(tmp) / "embedded.ffcat"
        embedded = build(embedded_db, photos, labels, with_embeddings=True)
        with Catalog(embedded_db, read_only=True) as cat:
            t0 = time.perf_counter()
            index = SimilarityIndex.load(cat, MODEL)
            load_s = time.perf_counter() - t0
    if len(index) != photos:
        raise SystemExit(f"{len(index):,} embeddings read back, {photos:,} written")
    growth = (embedded - plain) / photos
    print(f"{photos:,} photos scored by a model of {labels} labels (VACUUMed SQLite catalogs):")
    print(f"  without embeddings {plain / photos:8.1f} bytes a photo ({plain / 2**20:.1f} MB)")
    print(f"  with embeddings    {embedded / photos:8.1f} bytes a photo ({embedded / 2**20:.1f} MB)")
    print(
        f"  embeddings add     {growth:8.1f} bytes a photo (target: at most ~1,024): "
        f"{growth * 1e6 / 2**20:.0f} MB at 1,000,000 photos"
    )
    print(f"  loading the {photos:,} embeddings for the first search: {load_s:.2f} s")
    print(
        f"catalog-growth: photos={photos} labels={labels} plain_bytes_per_photo={plain / photos:.1f} "
        f"embedded_bytes_per_photo={embedded / photos:.1f} growth_bytes_per_photo={growth:.1f} load_s={load_s:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
