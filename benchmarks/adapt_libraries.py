"""Make the libraries the adapter table measures on: held-out photos of the default model's pinned split, tagged.

For each source (fashion-products, clothing-small) and split (val: choosing the adapter's settings; test:
the table), a folder of links to the split's photos is tagged with ``fashion tag --catalog`` (scores and
embeddings, the same command a person runs) and the split's true labels are saved beside it:

    python benchmarks/adapt_libraries.py --out ../adapt-libs [--model default] [--splits val test]

Needs ../shared/data (the recipe's data_root). Writes ``OUT/<source>-<split>/`` (links), ``.db`` (catalog),
``.truth.npz`` (realpaths, labels, groups, targets: 1 yes / 0 no / -1 unknown).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.data import load_dataset  # noqa: E402

RECIPE = ROOT / "resources" / "models" / "default-v2.yaml"


def pinned_table():
    cfg = yaml.safe_load(RECIPE.read_text())
    root = str((RECIPE.parent / cfg["data_root"]).resolve()) if not os.path.isabs(cfg["data_root"]) else None
    root = root if root and Path(root).is_dir() else str((ROOT / cfg["data_root"]).resolve())
    return load_dataset(
        cfg["data"], cfg.get("mapping"), cfg["val_fraction"], cfg["test_fraction"], cfg["seed"],
        cfg.get("min_label_count", 1), 0, False, root,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="default")
    ap.add_argument("--splits", nargs="+", default=["val", "test"])
    args = ap.parse_args(argv)
    table = pinned_table()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for source in dict.fromkeys(table.sources):
        for split in args.splits:
            rows = [i for i, (s, sp) in enumerate(zip(table.sources, table.splits, strict=True))
                    if s == source and sp == split]  # fmt: skip
            name = f"{source}-{split}"
            folder = out / name
            folder.mkdir(exist_ok=True)
            real = []
            for i in rows:
                src = os.path.realpath(table.paths[i])
                link = folder / f"{i:06d}{Path(src).suffix.lower()}"
                if not link.exists():
                    link.symlink_to(src)
                real.append(str(link))
            np.savez(
                out / f"{name}.truth.npz",
                paths=np.array(real),
                labels=np.array(table.labels),
                groups=np.array(json.dumps(table.groups)),
                targets=table.targets[rows],
            )
            cmd = [sys.executable, "-m", "fashion_desktop", "tag", str(folder), "--model", args.model,
                   "--catalog", str(out / f"{name}.db"), "--out", str(out / f"{name}.csv")]  # fmt: skip
            print(f"{name}: {len(rows)} photos; tagging", flush=True)
            subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
