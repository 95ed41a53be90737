"""The adapter's table, from the command line: top-1 per group on the unreviewed photos of a library, model vs adapted.

Each library (``benchmarks/adapt_libraries.py`` tagged it with the default model) is copied per draw; ``n``
photos drawn at random get their true labels as a reviewed import (``fashion import --reviewed``), then
``fashion adapt`` fits the library's adapter and ``fashion export --scores`` writes the adapted scores next to
``fashion export --scores --no-adapter`` (the model's own). Top-1 of each group is measured on the photos
that were not reviewed, against their true labels; a row is the mean of the draws.

    python benchmarks/adapt_libraries.py --out ../adapt-libs            # once: tag the libraries
    python benchmarks/adapt_table.py --libs ../adapt-libs [--split test] [--sizes 25 50 100 200] [--draws 5]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fashion_desktop.core.catalog import Catalog  # noqa: E402
from fashion_desktop.model.bundle_format import TAG_SEPARATOR  # noqa: E402


def fashion(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "fashion_desktop", *args], capture_output=True, text=True)
    if done.returncode not in (0, 3):
        raise SystemExit(f"fashion {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def truth_of(
    libs: Path, name: str, model_labels: tuple[str, ...]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each photo's true tags (the model's label names) and the truth's groups."""
    t = np.load(libs / f"{name}.truth.npz")
    labels = [str(x) for x in t["labels"]]
    groups = json.loads(str(t["groups"]))
    known = set(model_labels)
    tags = {}
    for path, row in zip(t["paths"], t["targets"], strict=True):
        tags[str(path)] = [
            lab for lab, v in zip(labels, row.tolist(), strict=True) if v == 1 and lab in known
        ]
    return tags, groups


def top1(df: pd.DataFrame, truth: dict[str, list[str]], groups: dict[str, list[str]]) -> dict[str, float]:
    """Top-1 per group over rows whose truth has exactly one label of the group."""
    out = {}
    for g, labs in groups.items():
        cols = [f"score:{lab}" for lab in labs]
        hits, n = 0, 0
        for path, scores in zip(df["path"], df[cols].to_numpy(np.float32), strict=True):
            yes = [lab for lab in truth.get(path, []) if lab in labs]
            if len(yes) != 1:
                continue
            n += 1
            hits += labs[int(np.argmax(scores))] == yes[0]
        if n >= 20:
            out[g] = hits / n
    return out


def one_draw(db: Path, truth: dict[str, list[str]], paths: list[str], n: int, seed: int, work: Path,
             groups: dict[str, list[str]]) -> tuple[dict, dict, float, str]:  # fmt: skip
    lib = work / f"lib-{n}-{seed}.ffcat"
    shutil.copy(db, lib)
    pick = [paths[i] for i in np.random.RandomState(seed).choice(len(paths), n, replace=False)]
    table = work / f"reviewed-{n}-{seed}.csv"
    with table.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "tags"])
        for p in pick:
            w.writerow([p, TAG_SEPARATOR.join(truth[p])])
    fashion("import", str(table), "--catalog", str(lib), "--reviewed")
    t = time.perf_counter()
    report = fashion("adapt", "--catalog", str(lib))
    fit_s = time.perf_counter() - t
    fashion("export", "--catalog", str(lib), "--out", str(work / "adapted.csv"), "--scores")
    fashion("export", "--catalog", str(lib), "--out", str(work / "base.csv"), "--scores", "--no-adapter")
    reviewed = set(pick)
    rest = {p: truth[p] for p in truth if p not in reviewed}
    base = top1(pd.read_csv(work / "base.csv", comment="#"), rest, groups)
    adapted = top1(pd.read_csv(work / "adapted.csv", comment="#"), rest, groups)
    lib.unlink()
    return base, adapted, fit_s, report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--libs", required=True, help="the folder adapt_libraries.py wrote")
    ap.add_argument("--split", default="test")
    ap.add_argument("--sizes", type=int, nargs="+", default=[25, 50, 100, 200])
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--sources", nargs="+", default=["clothing-small", "fashion-products"])
    args = ap.parse_args(argv)
    libs = Path(args.libs).resolve()
    for source in args.sources:
        name = f"{source}-{args.split}"
        db = libs / f"{name}.db"
        with Catalog(db, read_only=True) as cat:
            model = cat.models()[-1]
            paths = sorted(r[0] for r in cat.query("SELECT path FROM images WHERE present=1"))
        truth, _ = truth_of(libs, name, model.labels)
        groups: dict[str, list[str]] = {}
        for lab in model.labels:
            groups.setdefault(model.groups.get(lab, ""), []).append(lab)
        paths = [p for p in paths if p in truth]
        print(f"== {name}: {len(paths)} photos; model {model.name!r} (id {model.key})", flush=True)
        with tempfile.TemporaryDirectory(prefix="adapt-table-") as tmp:
            for n in args.sizes:
                rows = [one_draw(db, truth, paths, n, 1000 + d, Path(tmp), groups) for d in range(args.draws)]
                gs = [g for g in rows[0][0] if all(g in r[0] and g in r[1] for r in rows)]
                cells = []
                for g in gs:
                    b = np.mean([r[0][g] for r in rows])
                    a = np.mean([r[1][g] for r in rows])
                    cells.append(f"{g} {b:.3f} -> {a:.3f} ({a - b:+.3f})")
                used = sum("will be used" in r[3] for r in rows)
                fit = np.mean([r[2] for r in rows])
                print(f"{name} n={n}: " + "; ".join(cells) + f"; adapter used in {used}/{len(rows)} draws; "
                      f"fashion adapt {fit:.1f}s", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
