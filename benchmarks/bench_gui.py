"""GUI benchmark (offscreen): open a huge folder in the real window, scan it, scroll the grid end to end.

Prints time to the first screen of thumbnails, time until the scan is complete, peak RSS and the
longest event-loop stall (a 10 ms timer records the largest gap), plus one baseline ratio: opening
the library through the column reader vs a naive per-record load.

With ``--train`` it then scrolls the grid back and forth for ``--train-seconds`` twice, first alone and
then while the Train tab runs the real trainer (arch cnn, 32 px, generated photos) sending a progress
event for every batch (its maximum rate), and once more with the Train tab's live plots on screen;
it prints both figures side by side, with RSS at the start and end of each phase, and the last line's
``max_stall_ms`` is the longest stall while training streamed.

    python benchmarks/bench_gui.py --n 100000 [--tag] [--train] [--adapt SECONDS]

With ``--adapt SECONDS`` a person reviews for that long while the library's adapter refits and re-scores
every photo (``benchmarks/gui_adapt_phase.py``); ``gui-bench-adapter: ... max_stall_ms`` is the longest stall.

With ``--queue`` the default model's labels are scored for every photo, then a person chooses Needs attention,
types a search over tags a key at a time and clears it (``benchmarks/gui_queue_phase.py``);
``gui-bench-queue: ... max_stall_ms p99_stall_ms`` are that phase's longest and 99th-percentile stalls.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import threading
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


BETWEEN = "between phases"  # the meter's phase while the bench itself works (writing scores, making a model)


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
        self.gaps: list[float] | None = None  # every gap, while a phase wants its percentiles
        # Every stall over 40 ms of the whole run with what each thread ran meanwhile (sampled every 5 ms
        # by a thread of its own): (gap_s, phase, at_s, samples)
        self.witnessed: list[tuple[float, str, float, list[str]]] = []
        self._samples: list[str] = []
        self.rss_peak: dict[str, float] = {}  # phase -> the most RSS sampled in it (every 50 ms), MB
        threading.Thread(target=self._witness, name="stall-witness", daemon=True).start()

    def start(self, phase: str) -> None:
        self.phase = phase
        self.last = self.phase_t0 = time.perf_counter()
        self.timer.start()

    def _witness(self) -> None:
        names = {}
        rss_at = 0.0
        while True:
            time.sleep(0.005)
            if time.perf_counter() - rss_at >= 0.05:
                rss_at, phase = time.perf_counter(), self.phase or "start"
                self.rss_peak[phase] = max(self.rss_peak.get(phase, 0.0), rss_mb())
            try:
                if not self.timer.isActive() or time.perf_counter() - self.last < 0.045:
                    continue
            except RuntimeError:  # the timer is gone: the bench is ending
                return
            names.update((t.ident, t.name) for t in threading.enumerate())
            frames = sys._current_frames()
            for ident, frame in frames.items():
                if ident != threading.get_ident():
                    self._samples.append(f"{names.get(ident, ident)}: {_where(frame)}")
            # No frame of another thread outlives this step: a paint handler's frame held here kept its
            # QPainter alive past the paint ("endPaint() called with active painter")
            del frames, frame

    def worst(self, count: int = 5) -> str:
        """The ``count`` longest stalls with what the threads ran most often during each."""
        from collections import Counter

        out = []
        timed = [w for w in self.witnessed if w[1] != BETWEEN]  # not the bench's own set-up between phases
        for gap, phase, at, samples in sorted(timed, key=lambda w: -w[0])[:count]:
            top = "; ".join(f"{k} x{v}" for k, v in Counter(samples).most_common(4))
            out.append(f"{gap * 1000:.0f} ms ({phase} {at:.2f}s): {top or 'not sampled'}")
        return " | ".join(out)

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = now - self.last - 0.010
        if self.gaps is not None:
            self.gaps.append(gap)
        if gap > 0.040:
            self.over.append((self.phase, self.last - self.phase_t0, gap))
            self.witnessed.append((gap, self.phase, self.last - self.phase_t0, self._samples))
        self._samples = []
        if gap > self.max_gap:
            self.max_gap = gap
            self.where = self.phase
            self.at_s = self.last - self.phase_t0
        self.last = now


def _where(frame) -> str:
    """The innermost frame of this repository's code (or the innermost frame) of a thread's stack."""
    inner = frame
    while frame is not None:
        if str(ROOT) in frame.f_code.co_filename and "bench_gui" not in frame.f_code.co_filename:
            return f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back
    return f"{Path(inner.f_code.co_filename).name}:{inner.f_lineno} {inner.f_code.co_name}"


def wait_until(app, cond, timeout: float, step_s: float = 0.005) -> bool:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        app.processEvents()
        if cond():
            return True
        time.sleep(step_s)
    return cond()


def first_screen_done(window) -> bool:
    """Whether the thumbnails of the grid's first screen are decoded."""
    m, grid = window.library, window.grid
    if m is None or m.rowCount() == 0:
        return False
    cell = grid.gridSize()
    vp = grid.viewport().size()
    visible = max(1, vp.width() // max(1, cell.width())) * max(1, vp.height() // max(1, cell.height()) + 1)
    return window.thumbs.decoded >= min(visible, m.rowCount())


def p99_of(meter) -> float:
    """The 99th-percentile gap the meter kept since its ``gaps`` list was set (seconds); stops keeping them."""
    import numpy as np

    gaps = np.maximum(np.asarray(meter.gaps or [0.0]), 0.0)
    meter.gaps = None
    return float(np.percentile(gaps, 99))


def make_training_photos(root: Path, per_class: int = 48) -> Path:
    """``root/{train,val}/<colour>/*.jpg``: small generated photos, one colour per class (noise makes each
    file differ), for a real trainer run."""
    import numpy as np
    from PIL import Image

    colours = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 30)}
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("val", per_class // 4)):
        for name, rgb in colours.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                noise = rng.integers(-40, 40, (48, 48, 3))
                arr = np.clip(np.array(rgb)[None, None, :] + noise, 0, 255).astype(np.uint8)
                Image.fromarray(arr).save(folder / f"{name}_{i}.jpg", quality=90)
    return root


def scroll_for(app, grid, seconds: float, sweep: int = 600) -> int:
    """Scroll the grid top to bottom and back (``sweep`` positions each way) for ``seconds``; positions."""
    bar = grid.verticalScrollBar()
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end:
        pos = i % (2 * sweep)
        frac = pos / sweep if pos <= sweep else 2 - pos / sweep
        bar.setValue(round(bar.maximum() * frac))
        wait_until(app, lambda: False, timeout=0.004, step_s=0.001)
        i += 1
    return i


class Phase:
    """The stall meter's figures and RSS over one phase (start, end and highest of samples every second)."""

    def __init__(self, meter: StallMeter, name: str) -> None:
        self.meter, self.name = meter, name
        meter.max_gap, meter.over = 0.0, []
        meter.start(name)
        self.rss_start = self.rss_max = rss_mb()
        self._t0, self._cpu0 = time.perf_counter(), time.process_time()
        self._next_sample = self._t0 + 1.0

    def sample(self) -> None:
        if time.perf_counter() >= self._next_sample:
            self.rss_max = max(self.rss_max, rss_mb())
            self._next_sample += 1.0

    def end(self) -> str:
        self.max_gap = self.meter.max_gap
        self.over_50 = sum(gap > 0.050 for _p, _t, gap in self.meter.over)
        self.rss_end = rss_mb()
        self.rss_max = max(self.rss_max, self.rss_end)
        # CPU seconds the app used per second (all its threads): unlike stalls, hardly moved by other
        # processes on a shared machine
        self.cpu = (time.process_time() - self._cpu0) / max(time.perf_counter() - self._t0, 1e-9)
        return (
            f"max stall {self.max_gap * 1000:.0f} ms, {self.over_50} over 50 ms; app CPU {self.cpu:.2f} s/s; "
            f"RSS {self.rss_start:.0f} -> {self.rss_end:.0f} MB (highest {self.rss_max:.0f})"
        )


def timed_scroll(app, grid, seconds: float, phase: Phase) -> int:
    done = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        done += scroll_for(app, grid, min(1.0, end - time.perf_counter()))
        phase.sample()
    return done


def train_phases(app, window, meter: StallMeter, tmp: Path, seconds: float) -> tuple[str, float, dict]:
    """Scroll alone, then while the real trainer streams events at its maximum rate, then show the Train
    tab's plots; returns the side-by-side line, the longest stall while training, and key figures."""
    from fashion_desktop.gui.train import train_form
    from fashion_desktop.model.protocol import PROGRESS, TrainEvent

    grid = window.grid
    data = make_training_photos(tmp / "train-data")
    alone = Phase(meter, "scroll alone")
    positions_alone = timed_scroll(app, grid, seconds, alone)
    line_alone = alone.end()

    tab = window.train_tab
    train_form.PROGRESS_PER_S = 0  # no rate limit: the trainer sends a progress event for every batch
    tab.sources.clear()
    tab.add_source(str(data))
    tab.set_values(
        {"arch": "cnn", "start": "random", "image_size": 32, "epochs": 1000, "batch_size": 2, "lr": 1e-3,
         "freeze": False, "early_stopping": 0, "time_limit_min": 0.0, "device": "cpu", "workers": 0,
         "out": str(tmp / "run"), "scheduler": "none"}
    )  # fmt: skip
    assert tab.problem() is None, tab.problem()
    counts = {"events": 0, "progress": 0}

    def count(event) -> None:
        counts["events"] += 1
        counts["progress"] += isinstance(event, TrainEvent) and event.name == PROGRESS

    # One torch thread: on a shared 2-core machine two OpenMP threads spin against the other processes and
    # the trainer ran 15 times slower (2 steps a second instead of 37), far from its maximum event rate.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t_launch = time.perf_counter()
    assert tab.start(), tab.status_label.text()
    tab.worker.progressed.connect(count)
    wait_until(app, lambda: counts["progress"] > 20 or not tab.busy(), timeout=300)
    if not tab.busy():
        raise SystemExit(f"the trainer ended early: {tab.status_label.text()} {tab.banner.text()}")
    print(f"trainer streaming after {time.perf_counter() - t_launch:.1f}s", flush=True)

    with_train = Phase(meter, "scroll + training")
    before = dict(counts)
    t0 = time.perf_counter()
    positions_train = timed_scroll(app, grid, seconds, with_train)
    streamed_s = time.perf_counter() - t0
    line_train = with_train.end()
    rate = (counts["progress"] - before["progress"]) / streamed_s

    t_switch = time.perf_counter()
    window.tabs.setCurrentWidget(tab)  # the live plots on screen, redrawn as events come
    app.processEvents()  # the tab's first layout and paint: a one-off, reported on its own
    switch_ms = (time.perf_counter() - t_switch) * 1000
    wait_until(app, lambda: False, timeout=0.5, step_s=0.001)
    shown = Phase(meter, "train tab shown")
    end = time.perf_counter() + seconds / 2
    while time.perf_counter() < end:
        wait_until(app, lambda: False, timeout=0.25, step_s=0.001)
        shown.sample()
    line_shown = shown.end()
    points = len(tab.plots.curve_data("batch_raw")[0])
    epochs = tab.epoch
    tab.stop()
    wait_until(app, lambda: not tab.busy(), timeout=120)
    window.tabs.setCurrentWidget(window.tag_page)
    line = (
        f"scrolling {seconds:.0f}s alone: {positions_alone} positions, {line_alone}\n"
        f"scrolling {seconds:.0f}s while training streams ({rate:.0f} progress events/s, "
        f"{counts['events']:,} events in all, epoch {epochs}): {positions_train} positions, {line_train}\n"
        f"train tab on screen {seconds / 2:.0f}s (its first show took {switch_ms:.0f} ms): {line_shown}; "
        f"step-loss plot holds {points} points; trainer ended: {tab.state}"
    )
    figures = {
        "stall_alone_ms": alone.max_gap * 1000,
        "events_per_s": rate,
        "rss_start_mb": with_train.rss_start,
        "rss_end_mb": shown.rss_end,
        "stall_shown_ms": shown.max_gap * 1000,
    }
    return line, max(with_train.max_gap, shown.max_gap), figures


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
    from fashion_desktop.gui.tag.library_model import LibraryModel

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
    ap.add_argument(
        "--train",
        action="store_true",
        help="also scroll while the Train tab runs the real trainer at its maximum event rate",
    )
    ap.add_argument("--train-seconds", type=float, default=60.0, help="length of each --train phase")
    ap.add_argument(
        "--adapt",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also review for SECONDS while the library's adapter refits and re-scores every photo",
    )
    ap.add_argument(
        "--queue",
        action="store_true",
        help="also choose Needs attention and type a search over tags in a scored library (stalls)",
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
        from fashion_desktop.gui.app import settle_startup_objects, small_pages_for_big_arrays

        small_pages_for_big_arrays()  # as main() does
        from fashion_desktop.gui.main_window import MainWindow

        window = MainWindow(tmp / "bench.ffcat")
        settle_startup_objects()  # as the app's main() does
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
        meter.gaps = []
        meter.start("scan")
        window.library_ctl.add_folder(tmp / "photos")

        wait_until(app, lambda: first_screen_done(window), timeout=600)
        first_thumbs_s = time.perf_counter() - t0
        print(f"first screen of thumbnails after {first_thumbs_s:.2f}s", flush=True)
        wait_until(app, lambda: scanned["t"] is not None, timeout=3600)
        scanned_s = scanned["t"] - t0
        rows = window.library.rowCount()
        print(f"scan complete after {scanned_s:.1f}s: {rows:,} photos in the grid", flush=True)
        stall_scan = meter.max_gap
        phases = {"scan": (stall_scan, p99_of(meter))}  # phase -> (longest stall, 99th percentile)
        meter.gaps = []
        scroll_max0 = meter.max_gap
        meter.max_gap = 0.0

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
        phases["scroll"] = (meter.max_gap, p99_of(meter))
        meter.max_gap = max(meter.max_gap, scroll_max0)
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
            meter.gaps = []
            meter.start("tagging")
            finished: list = []
            window.tagging_finished.connect(finished.append)
            t_tag = time.perf_counter()
            window.tagging_ctl.start_tagging(str(bundle))
            wait_until(app, lambda: bool(finished), timeout=7200)
            tag_s = time.perf_counter() - t_tag
            phases["tagging"] = (meter.max_gap, p99_of(meter))
            summary = finished[0]
            tag_line = (
                f"tagging: {summary.tagged:,} photos in {tag_s:.1f}s ({summary.tagged / max(tag_s, 1e-9):.0f} img/s"
                f" incl. model load, in a child process); longest stall while tagging {meter.max_gap * 1000:.0f} ms;"
                f" torch loaded in the app: {'torch' in sys.modules}"
            )
            print(tag_line, flush=True)
            if gap_before > meter.max_gap:
                meter.max_gap, meter.where, meter.at_s = gap_before, "scan/scroll", at_before
            from gui_view_phase import view_phase

            longest = (meter.max_gap, meter.where, meter.at_s, list(meter.over))
            view_line, view_max, view_p99, slowest = view_phase(app, window, meter, wait_until)
            print(view_line, flush=True)
            phases["filter/sort"] = (view_max, view_p99)
            meter.max_gap, meter.where, meter.at_s, meter.over = longest
            if view_max > meter.max_gap:
                meter.max_gap, meter.where, meter.at_s = view_max, "filter/sort", 0.0
        if args.adapt:
            from gui_adapt_phase import adapt_phase

            meter.phase = BETWEEN

            longest = (meter.max_gap, meter.where, meter.at_s, list(meter.over))
            meter.gaps = []
            adapt_line = adapt_phase(app, window, meter, args.adapt, wait_until)
            print(adapt_line, flush=True)
            phases["adapter refit"] = (meter.max_gap, p99_of(meter))
            print(f"gui-bench-adapter: photos={rows} max_stall_ms={meter.max_gap * 1000:.0f}", flush=True)
            meter.max_gap, meter.where, meter.at_s, meter.over = longest
        if args.queue:
            from gui_queue_phase import queue_phase

            longest = (meter.max_gap, meter.where, meter.at_s, list(meter.over))
            queue_line, queue_max, queue_p99 = queue_phase(app, window, meter, wait_until)
            print(queue_line, flush=True)
            print(
                f"gui-bench-queue: photos={rows} max_stall_ms={queue_max * 1000:.0f} "
                f"p99_stall_ms={queue_p99 * 1000:.0f}",
                flush=True,
            )
            meter.max_gap, meter.where, meter.at_s, meter.over = longest
        train_line, train_stall, train = "", 0.0, {}
        if args.train:
            longest = (meter.max_gap, meter.where, meter.at_s, list(meter.over))
            train_line, train_stall, train = train_phases(app, window, meter, tmp, args.train_seconds)
            print(train_line, flush=True)
            meter.max_gap, meter.where, meter.at_s, meter.over = longest
        if args.tag:  # the library opened again in a new window, as a person does the next day
            from gui_view_phase import open_phase

            longest = (meter.max_gap, meter.where, meter.at_s, list(meter.over))
            open_line, open_max, open_p99, open_s, window = open_phase(
                app, window, meter, wait_until, tmp / "bench.ffcat", first_screen_done, rss_mb
            )
            print(open_line, flush=True)
            phases["open"] = (open_max, open_p99)
            meter.max_gap, meter.where, meter.at_s, meter.over = longest
            if open_max > meter.max_gap:
                meter.max_gap, meter.where, meter.at_s = open_max, "open", 0.0
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
        if args.train:
            print(
                f"gui-bench: photos={rows} train_events_per_s={train['events_per_s']:.0f} "
                f"max_stall_no_train_ms={train['stall_alone_ms']:.0f} "
                f"rss_start_mb={train['rss_start_mb']:.0f} rss_end_mb={train['rss_end_mb']:.0f} "
                f"max_stall_ms={train_stall * 1000:.0f}"
            )
            return 0
        print(f"the longest stalls, what each thread ran (sampled every 5 ms): {meter.worst()}")
        print(
            "phases (longest stall / 99th percentile): "
            + ", ".join(f"{k} {a * 1000:.0f}/{b * 1000:.0f} ms" for k, (a, b) in phases.items())
        )
        print(
            "most RSS in each phase (sampled every 50 ms; in order): "
            + ", ".join(f"{k} {v:,.0f} MB" for k, v in meter.rss_peak.items())
        )
        print(
            f"gui-bench: photos={rows} first_thumbnails_s={first_thumbs_s:.2f} scanned_s={scanned_s:.1f} "
            f"peak_rss_mb={peak_rss_mb():.0f} max_stall_ms={meter.max_gap * 1000:.0f}"
            + (f" open_s={open_s:.2f}" if args.tag else "")
        )
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
