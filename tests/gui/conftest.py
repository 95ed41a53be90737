"""GUI test fixtures: no leaked worker threads, an idle thread pool, settings kept in tmp."""

from __future__ import annotations

import gc
import threading

import pytest
from PySide6.QtCore import QCoreApplication, QEvent


def _python_threads() -> int:
    # QThreads that ran Python code show up as dummy threads that never leave threading's table;
    # the worker registry counts those, this counts threads started with ``threading``.
    return sum(not isinstance(t, threading._DummyThread) for t in threading.enumerate())


@pytest.fixture(autouse=True)
def _no_leaked_threads(qapp):
    from PySide6.QtCore import QThreadPool

    from fashion_desktop.gui import worker

    before = _python_threads()
    yield
    assert worker.wait_for_all(20_000), "a worker thread did not stop"
    pool = QThreadPool.globalInstance()
    pool.clear()
    assert pool.waitForDone(20_000), "thumbnail pool still busy"
    qapp.processEvents()
    assert worker.active_workers() == 0
    assert _python_threads() <= before, "a Python thread outlived its test"


@pytest.fixture
def window_library(tmp_path):
    """The library file the ``window`` fixture opens; a test module overrides it to open its own."""
    return tmp_path / "lib.ffcat"


@pytest.fixture
def window(qtbot, window_library):
    """The real main window, shown, on ``window_library``; closed (nothing left running) after the test."""
    from fashion_desktop.gui.main_window import MainWindow

    # Not qtbot.addWidget: it closes the window before this teardown, mid-run, and the window's "stop and
    # quit?" question would stay open over the next tests.
    w = MainWindow(window_library)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.train_tab.shutdown(15_000)
    w.close()
    assert not w.isVisible() and w.quit_box is None
    w.deleteLater()


@pytest.fixture(autouse=True)
def _last_test_widgets_deleted(qapp):
    """The widgets an earlier test dropped are deleted now, by Qt, then collected: left to the garbage
    collector at some point inside a test, a Train tab's plots (pyqtgraph items) got their last events after
    their Python side was cleared, and crashed the run."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    qapp.processEvents()
