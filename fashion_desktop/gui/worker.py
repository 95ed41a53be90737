"""One worker type: runs a Qt-free core generator in a QThread with a fixed signal set and a cancel flag."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

log = logging.getLogger(__name__)

# A job takes the cancel flag and returns an iterable; each item is sent with ``progressed`` and the
# generator's return value (``StopIteration.value``) with ``finished``.
Job = Callable[[threading.Event], Iterable[Any]]

_live: set[Worker] = set()
_live_lock = threading.Lock()


def active_workers() -> int:
    """How many workers have been started and not yet finished (tests assert this returns to 0)."""
    with _live_lock:
        return len(_live)


def wait_for_all(msecs: int = 30_000) -> bool:
    """Cancel every live worker and wait for its thread; True when all stopped in time."""
    with _live_lock:
        workers = list(_live)
    for w in workers:
        w.cancel()
    return all(w.wait(msecs) for w in workers)


class _Thread(QThread):
    def __init__(self, owner: Worker) -> None:
        super().__init__()
        self._owner = owner

    def run(self) -> None:
        self._owner._run()


class Worker(QObject):
    """Runs ``job(cancel)`` off the GUI thread.

    Signals are emitted from the worker thread and delivered queued to receivers living in the GUI
    thread, so slots never run on the worker thread and may touch widgets. ``finished`` is emitted
    after a run that ended normally or was cancelled (check ``cancelled``), ``failed`` with a one-line
    message when the job raised. Exactly one of the two ends every started run.
    """

    started = Signal()
    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, job: Job, name: str = "worker", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = job
        self._cancel = threading.Event()
        self._thread = _Thread(self)
        self._thread.setObjectName(name)
        self._thread.finished.connect(self._on_thread_finished)
        self.name = name

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def start(self) -> None:
        with _live_lock:
            _live.add(self)
        self._thread.start()

    @Slot()
    def cancel(self) -> None:
        """Ask the job to stop at its next check; what it has done so far is kept."""
        self._cancel.set()

    def wait(self, msecs: int = -1) -> bool:
        """Block until the thread ends (``-1``: forever); True when it has ended."""
        if not self._thread.isRunning():
            return True
        ok = self._thread.wait() if msecs < 0 else self._thread.wait(msecs)
        if ok:
            self._forget()
        return ok

    def _run(self) -> None:
        self.started.emit()
        try:
            it = iter(self._job(self._cancel))
            while True:
                try:
                    item = next(it)
                except StopIteration as stop:
                    result = stop.value
                    break
                self.progressed.emit(item)
        except Exception as exc:
            log.error("%s failed:\n%s", self.name, traceback.format_exc())
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.finished.emit(result)

    def _forget(self) -> None:
        with _live_lock:
            _live.discard(self)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._forget()
