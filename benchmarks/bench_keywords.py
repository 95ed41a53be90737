"""Keywords written into small JPEGs by one ExifTool process: the first write, then a second pass (nothing to do).

    python benchmarks/bench_keywords.py [--photos 200] [--quick]

The last line is ``bench_keywords: photos=N write_s=... per_photo_ms=... unchanged_s=...``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fashion_desktop.core.photo_keywords import write_keywords  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20 photos")
    args = parser.parse_args()
    n = 20 if args.quick else args.photos
    groups = {"dress": "category", "Black": "colour", "Women": "gender"}
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        paths = []
        for i in range(n):
            path = Path(tmp) / f"photo_{i:05d}.jpg"
            Image.fromarray(rng.integers(0, 255, (96, 128, 3), np.uint8)).save(path, quality=90)
            paths.append(path)
        rows = [(p, ["dress", "Black", "Women"]) for p in paths]
        start = time.perf_counter()
        first = write_keywords(rows, groups=groups)
        write_s = time.perf_counter() - start
        start = time.perf_counter()
        second = write_keywords(rows, groups=groups)
        unchanged_s = time.perf_counter() - start
    if len(first.written) != n or len(second.unchanged) != n:
        print(f"unexpected: {first.summary()}\n{second.summary()}", file=sys.stderr)
        return 1
    print(
        f"bench_keywords: photos={n} write_s={write_s:.2f} per_photo_ms={1000 * write_s / n:.1f} "
        f"unchanged_s={unchanged_s:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
