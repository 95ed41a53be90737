"""GUI benchmark (offscreen): File > Import Tags… on an N-row table; the longest stall of the window.

Builds a catalog of N photo records (no image files: the import matches by path) and an ``image, tags``
CSV with ``dress, red`` cells (split at the comma), opens the real window, then measures the longest
event-loop stall (a 10 ms timer, ``bench_gui.StallMeter``) while the table is read and previewed (in a
worker) and while the confirmed import is recorded (in a worker when large, then one undo step).

    python benchmarks/bench_import.py --n 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gui import StallMeter, wait_until  # noqa: E402


def make_library(root: Path, n: int) -> tuple[Path, Path]:
    from fashion_desktop.core.catalog import Catalog

    folder = root / "photos"
    paths = [str(folder / f"{i // 1000:03d}" / f"p{i:06d}.jpg") for i in range(n)]
    db = root / "lib.ffcat"
    with Catalog(db) as cat:
        cat.add_folder(str(folder))
        cat.ensure_images(paths)
        cat.register_model("m", ["dress", "red", "shoe", "blue"], "model", None, {})
    sheet = root / "tags.csv"
    rows = "".join(f'{Path(p).name},"{"dress, red" if i % 2 else "shoe"}"\n' for i, p in enumerate(paths))
    sheet.write_text("image,tags\n" + rows, encoding="utf-8")
    return db, sheet


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from fashion_desktop.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        db, sheet = make_library(Path(tmp), args.n)
        w = MainWindow(db)
        w.show()
        ctl = w.transfer_ctl
        meter = StallMeter()
        meter.start("settle")
        wait_until(app, lambda: False, 3)  # the window's own start (grid, thumbnails of missing files)
        idle_stall, meter.max_gap = meter.max_gap, 0.0
        meter.start("read and preview")
        t0 = time.perf_counter()
        ctl.import_tags_dialog(sheet)
        assert wait_until(app, lambda: ctl.import_box is not None and ctl.import_box.isVisible(), 600)
        read_s = time.perf_counter() - t0
        wait_until(app, lambda: False, 0.3)  # the timer's tick after a stall comes in a later turn
        read_stall = meter.max_gap
        meter.max_gap = 0.0
        meter.start("record")
        t0 = time.perf_counter()
        ctl.import_button.click()
        # Recorded in a worker (20,000 decisions or more), then pushed as the undo step the grid follows.
        wait_until(app, lambda: w.review_ctl.undo_stack.count() > 0, 600)
        record_s = time.perf_counter() - t0
        wait_until(app, lambda: False, 0.3)
        print(
            f"import-bench n={args.n}: idle longest stall {idle_stall * 1000:.0f} ms; read+preview {read_s:.2f} s (longest stall {read_stall * 1000:.0f} ms); "
            f"record {record_s:.2f} s (longest stall {meter.max_gap * 1000:.0f} ms)"
        )
        w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
