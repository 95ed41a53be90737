"""Python's cyclic garbage collected on the GUI thread only.

With automatic collection on, a collection runs on whichever thread happens to allocate past the threshold:
often a worker (the scan, a spreadsheet import, a view job). A collection finalizes whatever garbage it finds,
and Qt objects whose Python side was garbage (a closed window's widgets, a Train tab's plot items) were then
deleted off the GUI thread: test runs crashed in Qt's event processing, and one deadlocked (the GUI thread, in
a QObject destructor, waited for a Qt lock a worker held while that worker waited for the interpreter lock).

So, as calibre does: automatic collection is switched off and a timer on the GUI thread collects the
generations that are due by the same thresholds Python would use. Reference counting still frees everything
that is not in a cycle at once; only cycles wait for the timer (a second at most while the event loop runs).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 1000

_installed: GuiThreadCollector | None = None


class GuiThreadCollector(QObject):
    """Collects due generations every ``interval_ms`` on the thread it lives on (the GUI thread)."""

    def __init__(self, interval_ms: int = INTERVAL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()

    def collect_due(self) -> int:
        return collect_due(self.threshold)


def collect_due(threshold: tuple[int, ...] | None = None) -> int:
    """Collect the oldest generation whose count passed its threshold (as Python's own collector decides);
    returns the objects found unreachable, 0 when no generation was due. Call it on the GUI thread."""
    threshold = threshold or gc.get_threshold()
    counts = gc.get_count()
    due = [gen for gen in range(3) if threshold[gen] and counts[gen] > threshold[gen]]
    return gc.collect(due[-1]) if due else 0


def install(interval_ms: int = INTERVAL_MS) -> GuiThreadCollector | None:
    """Switch to GUI-thread collection (call on the GUI thread, with the application made). Returns the new
    collector, or None when one is already installed (the caller then leaves it to whoever installed it)."""
    global _installed
    if _installed is not None:
        return None
    _installed = GuiThreadCollector(interval_ms)
    _installed.start()
    return _installed


def uninstall(collector: GuiThreadCollector | None) -> None:
    """Back to automatic collection, if ``collector`` is the one :func:`install` made."""
    global _installed
    if collector is None or collector is not _installed:
        return
    collector.stop()
    collector.deleteLater()
    _installed = None


def installed() -> GuiThreadCollector | None:
    return _installed
