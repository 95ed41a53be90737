"""GUI test fixtures: no leaked worker threads, an idle thread pool, settings kept in tmp."""

from __future__ import annotations

import threading

import pytest


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
