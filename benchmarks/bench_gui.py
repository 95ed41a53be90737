"""GUI benchmark (offscreen): open a huge folder in the real window, scan it, scroll the grid end to end.

Prints time to the first screen of thumbnails, time until the scan is complete, peak RSS and the
longest event-loop stall (a 10 ms timer records the largest gap), plus one baseline ratio: opening
the library through the column reader vs a naive per-record load.

    python benchmarks/bench_gui.py --n 100000
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "fashion-products" / "images"


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 1024


def make_folder(root: Path, n: int, per_folder: int = 1000) -> str:
    """``n`` photos as hard links to a few real ones (or generated ones) in sub-folders of ``per_folder``."""
    src_dir = root / "_sources"
    src_dir.mkdir(parents=True)
    sources: list[Path] = []
    if SHARED.is_dir():
        for p in sorted(SHARED.glob("*.jpg"))[:24]:
            sources.append(Path(shutil.copy2(p, src_dir / p.name)))
        origin = "hard links to 24 photos of ../shared/data"
    if not sources:
        from PIL import Image

        for i in range(24):
            img = Image.new("RGB", (224, 224), ((i * 40) % 256, (i * 90) % 256, (i * 150) % 256))
            img.save(src_dir / f"g{i}.jpg", quality=90)
            sources.append(src_dir / f"g{i}.jpg")
        origin = "hard links to 24 generated photos"
    photos = root / "photos"
    for i in range(n):
        sub = photos / f"set{i // per_folder:04d}"
        if i % per_folder == 0:
            sub.mkdir(parents=True)
        target = sub / f"img{i:07d}.jpg"
        try:
            os.link(sources[i % len(sources)], target)
        except OSError:
            shutil.copyfile(sources[i % len(sources)], target)
    return origin


class StallMeter:
    """Largest gap between ticks of a 10 ms timer: how long the GUI thread was busy at a stretch."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.max_gap = 0.0
        self.where = ""
        self.phase = ""
        self.phase_t0 = self.last
        self.at_s = 0.0  # when the longest stall began, in seconds after its phase started
        self.over: list[tuple[str, float, float]] = []  # (phase, at_s, gap_s) of every stall over 40 ms

    def start(self, phase: str) -> None:
        self.phase = phase
        self.last = self.phase_t0 = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = now - self.last - 0.010
        if gap > 0.040:
            self.over.append((self.phase, self.last - self.phase_t0, gap))
        if gap > self.max_gap:
            self.max_gap = gap
            self.where = self.phase
            self.at_s = self.last - self.phase_t0
        self.last = now


def wait_until(app, cond, timeout: float, step_s: float = 0.005) -> bool:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        app.processEvents()
        if cond():
            return True
        time.sleep(step_s)
    return cond()


def make_demo_bundle(root: Path) -> Path:
    """A tiny ``cnn`` bundle (labels red/green/blue read from the colours), like the test fixture.

    Made in a child process, so torch is first imported by the tagging run itself, as in the app."""
    import subprocess

    out = root / "demo.fmodel"
    code = (
        "import sys; from fashion_desktop.core.demo import save_colour_bundle; "
        "save_colour_bundle(sys.argv[1], model_id='bench-demo', name='demo')"
    )
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, cwd=ROOT)
    return out


def baseline_open(catalog_path: Path) -> tuple[float, float]:
    """Seconds to load the library naively (ImageRecord per photo + decisions) vs the model's reload."""
    from fashion_desktop.core.catalog import Catalog
    from fashion_desktop.gui.library_model import LibraryModel

    cat = Catalog(catalog_path)
    t = time.perf_counter()
    recs = cat.images()
    cat.all_decisions()
    names = sorted((os.path.basename(r.path), r.id) for r in recs)
    naive = time.perf_counter() - t
    del recs, names
    model = LibraryModel(cat)
    t = time.perf_counter()
    model.reload()
    ours = time.perf_counter() - t
    model.reader.close()
    cat.close()
    return naive, ours


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="photos in the folder (default 100,000)")
    ap.add_argument("--scroll-steps", type=int, default=1500, help="scroll positions from top to bottom")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument(
        "--tag",
        action="store_true",
        help="also tag every photo with a tiny demo model and measure stalls while results stream in",
    )
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="ff-gui-bench-"))
    os.environ["FASHION_FINDER_HOME"] = str(tmp / "home")  # settings and caches stay out of the real profile
    try:
        t = time.perf_counter()
        origin = make_folder(tmp, args.n)
        print(f"made {args.n:,} photos ({origin}) in {time.perf_counter() - t:.1f}s", flush=True)

        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([])
        t_import = time.perf_counter()
        from fashion_desktop.gui.main_window import MainWindow

        window = MainWindow(tmp / "bench.ffcat")
        window.resize(1400, 900)
        window.show()
        app.processEvents()
        window_s = time.perf_counter() - t_import
        print(f"window shown in {window_s:.2f}s (torch loaded: {'torch' in sys.modules})", flush=True)

        meter = StallMeter()
        # The noise floor: the same meter over an idle second (other processes share the CPUs).
        meter.start("idle")
        wait_until(app, lambda: False, timeout=1.0, step_s=0.001)
        idle_stall = meter.max_gap
        meter.max_gap = 0.0
        scanned = {"t": None}
        window.scan_finished.connect(lambda: scanned.__setitem__("t", time.perf_counter()))
        grid = window.grid
        t0 = time.perf_counter()
        meter.start("scan")
        window.add_folder(tmp / "photos")

        def first_screen_done() -> bool:
            m = window.library
            if m is None or m.rowCount() == 0:
                return False
            cell = grid.gridSize()
            vp = grid.viewport().size()
            visible = max(1, vp.width() // max(1, cell.width())) * max(
                1, vp.height() // max(1, cell.height()) + 1
            )
            return window.thumbs.decoded >= min(visible, m.rowCount())

        wait_until(app, first_screen_done, timeout=600)
        first_thumbs_s = time.perf_counter() - t0
        print(f"first screen of thumbnails after {first_thumbs_s:.2f}s", flush=True)
        wait_until(app, lambda: scanned["t"] is not None, timeout=3600)
        scanned_s = scanned["t"] - t0
        rows = window.library.rowCount()
        print(f"scan complete after {scanned_s:.1f}s: {rows:,} photos in the grid", flush=True)
        stall_scan = meter.max_gap

        meter.phase, meter.phase_t0 = "scroll", time.perf_counter()
        bar = grid.verticalScrollBar()
        rss_before = rss_mb()
        t_scroll = time.perf_counter()
        steps = max(2, args.scroll_steps)
        for i in range(steps + 1):
            bar.setValue(round(bar.maximum() * i / steps))
            wait_until(app, lambda: False, timeout=0.004, step_s=0.001)
        wait_until(app, lambda: window.thumbs.pending() == 0, timeout=60)
        scroll_s = time.perf_counter() - t_scroll
        rss_after = rss_mb()
        last_visible = grid.indexAt(
            grid.viewport().rect().bottomLeft() + grid.viewport().rect().topLeft() / 2
        )
        print(
            f"scrolled {steps} positions to row {last_visible.row():,} in {scroll_s:.1f}s; "
            f"RSS {rss_before:.0f} -> {rss_after:.0f} MB; {window.thumbs.decoded:,} thumbnails decoded, "
            f"{len(window.thumbs._cache)} held",
            flush=True,
        )
        tag_line = ""
        if args.tag:
            meter.timer.stop()
            bundle = make_demo_bundle(tmp)
            gap_before, at_before, meter.max_gap = meter.max_gap, meter.at_s, 0.0
            meter.start("tagging")
            finished: list = []
            window.tagging_finished.connect(finished.append)
            t_tag = time.perf_counter()
            window.start_tagging(str(bundle))
            wait_until(app, lambda: bool(finished), timeout=7200)
            tag_s = time.perf_counter() - t_tag
            summary = finished[0]
            tag_line = (
                f"tagging: {summary.tagged:,} photos in {tag_s:.1f}s ({summary.tagged / max(tag_s, 1e-9):.0f} img/s"
                f" incl. model load, in a child process); longest stall while tagging {meter.max_gap * 1000:.0f} ms;"
                f" torch loaded in the app: {'torch' in sys.modules}"
            )
            print(tag_line, flush=True)
            if gap_before > meter.max_gap:
                meter.max_gap, meter.where, meter.at_s = gap_before, "scan/scroll", at_before
        meter.timer.stop()
        window.close()
        app.processEvents()

        naive, ours = baseline_open(tmp / "bench.ffcat")
        print(
            f"open library: naive per-record load {naive:.3f}s vs column reader + model {ours:.3f}s (ratio {naive / max(ours, 1e-9):.2f}x)"
        )
        print(
            f"longest stall: {meter.max_gap * 1000:.0f} ms during {meter.where}, {meter.at_s:.2f}s into it "
            f"({len(meter.over)} stalls over 40 ms: "
            + ", ".join(f"{p} {t:.2f}s {g * 1000:.0f} ms" for p, t, g in meter.over[:8])
            + f"; scan phase max "
            f"{stall_scan * 1000:.0f} ms; idle event loop on this machine: {idle_stall * 1000:.0f} ms)"
        )
        print(
            f"gui-bench: photos={rows} first_thumbnails_s={first_thumbs_s:.2f} scanned_s={scanned_s:.1f} "
            f"peak_rss_mb={peak_rss_mb():.0f} max_stall_ms={meter.max_gap * 1000:.0f}"
        )
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
