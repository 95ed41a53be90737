"""bench_gui.py's --queue phase: in a library the default model's labels scored, a person chooses Needs
attention, types a search over tags a character at a time, then clears it; the stall meter runs throughout."""

from __future__ import annotations

import time

import numpy as np


def queue_phase(
    app, window, meter, wait_until, term: str = "colour:blue -men", pace_s: float = 0.2
) -> tuple[str, float, float]:
    """The phase's line, its longest stall and its 99th-percentile stall (seconds). Each key comes ``pace_s``
    after the last (slower than the box's 150 ms pause, so every character filters the grid)."""
    from gui_adapt_phase import KEY, Timings, write_model_scores
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from fashion_desktop.model.badge import read_badge
    from fashion_desktop.model.resources import default_model_path

    catalog = window.library_ctl.catalog
    t = time.perf_counter()
    write_model_scores(catalog)
    written_s = time.perf_counter() - t
    m = window.library
    badge = read_badge(default_model_path())  # the default model's calibrated "?" badge, as the app uses it
    m.set_active_model(KEY, badge=badge)
    t = time.perf_counter()
    wait_until(app, m.columns.queue_ready, timeout=600)  # answered a block per event, before the meter starts
    warm_s = time.perf_counter() - t
    wait_until(app, lambda: False, timeout=1.0)
    timings = Timings()  # where a stall comes from: the longest call of each step
    for obj, name in ((m, "set_spec"), (m.columns, "filter_mask"), (m.columns, "queue_order"),
                      (m.columns, "search_mask"), (window.view_state, "update_counts"),
                      (window.filters.tag_search.completer_, "complete")):  # fmt: skip
        timings.wrap(obj, name, name)
    meter.max_gap, meter.over, meter.gaps = 0.0, [], []
    meter.start("queue")
    bar, box = window.filters, window.filters.tag_search
    t = time.perf_counter()
    bar.review_combo.setCurrentIndex(bar.review_combo.findData("attention"))
    choose_s = time.perf_counter() - t
    wait_until(app, lambda: False, timeout=0.5)
    queued = m.rowCount()
    box.setFocus()
    for ch in term:
        QTest.keyClick(box, ch)
        wait_until(app, lambda: False, timeout=pace_s)
    wait_until(app, lambda: m.spec.search == term, timeout=10)
    wait_until(app, lambda: False, timeout=0.3)
    found = m.rowCount()
    for _ in term:
        QTest.keyClick(box, Qt.Key.Key_Backspace)
        wait_until(app, lambda: False, timeout=pace_s)
    wait_until(app, lambda: m.spec.search == "", timeout=10)
    wait_until(app, lambda: False, timeout=0.3)
    gaps = np.maximum(np.asarray(meter.gaps or [0.0]), 0.0)
    meter.gaps = None
    p99 = float(np.percentile(gaps, 99))
    line = (
        f"queue: {m.image_count():,} photos scored in {written_s:.1f}s (default model's labels, its badge: "
        f"{badge is not None}); Needs attention answered between events in {warm_s:.1f}s, chosen in "
        f"{choose_s * 1000:.0f} ms: {queued:,} photos (status bar: '{window.status_label.text()}'); "
        f"'{term}' typed a key every {pace_s:.2f}s: {found:,} photos, then cleared: {m.rowCount():,}; "
        f"longest stall {meter.max_gap * 1000:.0f} ms, 99th percentile {p99 * 1000:.0f} ms "
        f"({len(meter.over)} over 40 ms: "
        + ", ".join(
            f"{at:.2f}s {g * 1000:.0f} ms: {timings.inside(meter.phase_t0 + at, g)}"
            for _p, at, g in meter.over[:6]
        )
        + f"); longest calls: {timings.line()}"
    )
    return line, meter.max_gap, p99
