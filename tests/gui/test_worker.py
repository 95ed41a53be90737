"""The worker runs a generator off the GUI thread, reports progress, cancels and reports failures."""

from __future__ import annotations

import threading
import time

from fashion_desktop.gui.worker import Worker, active_workers


def test_worker_reports_every_item_then_the_return_value(qtbot):
    seen_threads = []

    def job(cancel):
        for i in range(5):
            seen_threads.append(threading.get_ident())
            yield i
        return "done"

    w = Worker(job)
    items = []
    w.progressed.connect(items.append)
    with qtbot.waitSignal(w.finished, timeout=5000) as blocker:
        w.start()
    assert blocker.args == ["done"]
    qtbot.waitUntil(lambda: items == [0, 1, 2, 3, 4])
    assert threading.get_ident() not in seen_threads
    assert w.wait(1000)
    qtbot.waitUntil(lambda: active_workers() == 0)


def test_cancel_stops_the_job_and_keeps_what_was_done(qtbot):
    def job(cancel):
        n = 0
        while not cancel.is_set():
            n += 1
            yield n
            time.sleep(0.005)
        return n

    w = Worker(job)
    got = []
    w.progressed.connect(got.append)
    with qtbot.waitSignal(w.progressed, timeout=5000):
        w.start()
    with qtbot.waitSignal(w.finished, timeout=5000) as blocker:
        w.cancel()
    assert w.cancelled
    assert blocker.args[0] >= 1


def test_an_exception_becomes_failed_with_a_message(qtbot):
    def job(cancel):
        yield 1
        raise ValueError("bad folder /x")

    w = Worker(job)
    finished = []
    w.finished.connect(finished.append)
    with qtbot.waitSignal(w.failed, timeout=5000) as blocker:
        w.start()
    assert "bad folder /x" in blocker.args[0]
    w.wait(1000)
    qtbot.wait(20)
    assert finished == []


def test_qt_calls_cannot_use_up_none():
    # PySide6 6.12 on Python < 3.12 drops a reference to None on every void Qt call, and a long session
    # (100,000 cells painted) crashes the interpreter; pyproject.toml keeps such installs below 6.12.
    import sys

    from PySide6.QtWidgets import QWidget

    w = QWidget()
    before = sys.getrefcount(None)
    for _ in range(200_000):
        w.hide()
    assert before - sys.getrefcount(None) < 10
