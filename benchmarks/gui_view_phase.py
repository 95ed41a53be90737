"""bench_gui.py's view and opening phases: a person changes the sort, the filters and the searches of a
library, one change at a time; then closes the window and opens the library again.

Each change is timed from the click or the last key to the grid showing its result (the model's spec is the
filter bar's and no view is pending); the stall meter runs throughout and every gap is kept for the
99th percentile.
"""

from __future__ import annotations

import time

from bench_gui import p99_of


def _start(meter, name: str) -> None:
    meter.max_gap, meter.over, meter.gaps = 0.0, [], []
    meter.start(name)


def _settled(window) -> bool:
    m, bar = window.library, window.filters
    pending = getattr(m, "view_pending", lambda: False)()
    return m.spec == bar.spec() and not pending and not bar._debounce.isActive()


def view_phase(app, window, meter, wait_until, pace_s: float = 0.4) -> tuple[str, float, float, float]:
    """The phase's line, its longest stall, its 99th-percentile stall and its slowest result (seconds)."""
    from PySide6.QtTest import QTest

    m, bar = window.library, window.filters
    label = m.labels[0] if m.labels else ""

    def combo(box, value):
        return lambda: box.setCurrentIndex(box.findData(value))

    def typed(box, text):
        def go():
            box.setFocus()
            for i, ch in enumerate(text):
                if i:
                    wait_until(app, lambda: False, timeout=0.05)
                QTest.keyClick(box, ch)
            return time.perf_counter()  # the result counts from the last key

        return go

    steps = [
        ("sort by date", combo(bar.sort_combo, "date")),
        ("descending", lambda: bar.descending.setChecked(True)),
        ("sort by confidence", combo(bar.sort_combo, "confidence")),
        ("uncertain first", combo(bar.sort_combo, "uncertain")),
        ("sort by name", combo(bar.sort_combo, "name")),
        ("ascending", lambda: bar.descending.setChecked(False)),
        ("unreviewed", combo(bar.review_combo, "unreviewed")),
        ("predicted", combo(bar.review_combo, "predicted")),
        ("failed", combo(bar.review_combo, "failed")),
        ("all photos", combo(bar.review_combo, "all")),
        (f"tag {label}", lambda: bar.set_tags([label])),
        ("tags: any", lambda: bar.set_tags([])),
        ("top score >= 0.6", lambda: bar.score_min.setValue(0.6)),
        ("top score any", lambda: bar.score_min.setValue(0.0)),
        ("file name '0042'", typed(bar.search, "0042")),
        ("file name cleared", lambda: bar.search.clear()),
        (f"tag search '{label}'", typed(bar.tag_search, label)),
        ("tag search cleared", lambda: bar.tag_search.clear()),
    ]
    _start(meter, "filter/sort")
    results = []
    for name, act in steps:
        t = time.perf_counter()
        t = act() or t
        wait_until(app, lambda: _settled(window), timeout=120, step_s=0.001)
        results.append((name, time.perf_counter() - t, m.rowCount()))
        wait_until(app, lambda: False, timeout=pace_s)
    p99 = p99_of(meter)
    slowest = max(r[1] for r in results)
    line = (
        f"filter/sort at {m.image_count():,} photos: "
        + ", ".join(f"{n} {s * 1000:.0f} ms ({rows:,})" for n, s, rows in results)
        + f"; slowest result {slowest * 1000:.0f} ms; longest stall {meter.max_gap * 1000:.0f} ms, 99th percentile "
        f"{p99 * 1000:.0f} ms ({len(meter.over)} over 40 ms: "
        + ", ".join(f"{at:.2f}s {g * 1000:.0f} ms" for _p, at, g in meter.over[:8])
        + ")"
    )
    return line, meter.max_gap, p99, slowest


def open_phase(app, window, meter, wait_until, catalog_path, first_screen_done, rss_mb):
    """Close the window, open the library in a new one as the app starts (``main()``): the line, the longest
    stall, its 99th percentile, the seconds until every photo is in the grid and the new window. Stalls are
    counted from the moment the window is shown, as in the bench's first phase (before it there is no window
    to answer a person: that time is the line's "window shown")."""
    from fashion_desktop.gui.app import settle_startup_objects
    from fashion_desktop.gui.main_window import MainWindow

    n = window.library.image_count()
    meter.phase = "closing the window"  # the witness names a stall here as the close's, not the last phase's
    window.close()
    app.processEvents()
    del window
    wait_until(app, lambda: False, timeout=1.0)
    rss0 = rss_mb()
    t = time.perf_counter()
    again = MainWindow(catalog_path)
    settle_startup_objects()
    again.resize(1400, 900)
    again.show()
    shown_s = time.perf_counter() - t
    _start(meter, "open")
    wait_until(
        app, lambda: again.library is not None and again.library.rowCount() == n, timeout=600, step_s=0.001
    )
    loaded_s = time.perf_counter() - t
    wait_until(app, lambda: first_screen_done(again), timeout=600, step_s=0.001)
    thumbs_s = time.perf_counter() - t
    wait_until(app, lambda: False, timeout=1.0)
    p99 = p99_of(meter)
    line = (
        f"open again: window shown {shown_s:.2f}s, all {n:,} photos in the grid {loaded_s:.2f}s, first thumbnails "
        f"{thumbs_s:.2f}s; longest stall {meter.max_gap * 1000:.0f} ms, 99th percentile {p99 * 1000:.0f} ms; "
        f"RSS {rss0:.0f} -> {rss_mb():.0f} MB"
    )
    return line, meter.max_gap, p99, loaded_s, again
