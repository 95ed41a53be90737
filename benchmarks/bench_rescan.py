"""Re-scan of an unchanged folder (stat only, nothing hashed) and what fingerprinting a photo costs.

Run: ``python benchmarks/bench_rescan.py [--files 10000] [--rounds 25] [--code DIR]``. It makes a folder of
``--files`` small files in sub-folders of 500, scans it into a new catalog once, then times ``rounds``
re-scans (``core.scan.sync_folder``, as the app runs it) in CPU seconds of this process, which a busy
machine disturbs less than wall time; it prints the median and the fastest. ``--code DIR`` imports the app
from another checkout (e.g. the main branch) so both are measured alike, on the same machine and load.
Where the checkout has ``core.fingerprint`` it also times the fingerprint and the older hash of a
12-megapixel JPEG, a PNG and a TIFF (warm page cache). The last line is ``rescan-bench: ...``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _photos(root: Path) -> dict[str, Path]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:3000, 0:4000]
    base = np.stack([x * 255 // 4000, y * 255 // 3000, (x + y) * 127 // 7000], -1)
    big = Image.fromarray(np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8))
    out = {"jpeg": root / "big.jpg", "png": root / "mid.png", "tiff": root / "mid.tif"}
    big.save(out["jpeg"], quality=90)
    mid = big.resize((2000, 1500))
    mid.save(out["png"])
    mid.save(out["tiff"])
    return out


def _fingerprints(root: Path) -> str:
    try:
        from fashion_desktop.core.fingerprint import fingerprint, legacy_hash
    except ImportError:
        return ""
    fields = []
    for kind, path in _photos(root).items():
        size = path.stat().st_size
        for name, fn in (("fingerprint", fingerprint), ("old_hash", legacy_hash)):
            times = []
            for _ in range(7):
                with path.open("rb") as fh:
                    start = time.perf_counter()
                    fn(fh, size)
                    times.append(time.perf_counter() - start)
            fields.append(f"{kind}_{name}_ms={min(times) * 1000:.2f}")
        fields.append(f"{kind}_mb={size / 1e6:.1f}")
    return " " + " ".join(fields)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--quick", action="store_true", help="2,000 files, 5 rounds")
    args = parser.parse_args()
    if args.quick:
        args.files, args.rounds = 2000, 5
    sys.path.insert(0, str(args.code.resolve()))
    from fashion_desktop.core.catalog import Catalog
    from fashion_desktop.core.scan import sync_folder

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "photos"
        body = bytes(range(256)) * 40
        for i in range(args.files):
            sub = folder / f"d{i // 500:03d}"
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"IMG_{i:06d}.jpg").write_bytes(body)
        with Catalog(root / "lib.ffcat") as cat:
            list(sync_folder(cat, folder, describe=False))
            times = []
            for _ in range(args.rounds):
                start = time.process_time()
                list(sync_folder(cat, folder, describe=False))
                times.append(time.process_time() - start)
        extra = _fingerprints(root)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"rescan-bench: files={args.files} rounds={args.rounds} median_ms={statistics.median(times) * 1000:.1f}"
        f" min_ms={min(times) * 1000:.1f} load={load:.2f} code={args.code}{extra}"
    )


if __name__ == "__main__":
    main()
