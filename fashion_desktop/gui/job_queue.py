"""Tagging and training take turns on the CPU: a job asked for while the other kind runs waits its turn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QPushButton, QStatusBar

from fashion_desktop.gui.widgets import ElidedLabel

REFRESH_MS = 500  # the status line follows the running job's progress at this pace


class RunningJob(Protocol):
    """What quitting would stop: a tab or controller that runs jobs answers this."""

    def running_job(self) -> str:
        """ "Training is running (epoch 2 of 10)", or "" when nothing runs."""
        ...


@dataclass
class _Kind:
    title: str  # "Tagging"
    busy: Callable[[], bool]
    progress: Callable[[], str]  # "1,234/5,000", or "" when there is nothing to say
    start: Callable[[], object] | None = None  # the job waiting its turn, if any


class JobQueue(QObject):
    """Jobs of a few kinds (tagging, training) that take turns.

    ``submit(kind, start)`` calls ``start()`` at once when no other kind is busy; otherwise the job waits
    (one per kind: a later submit replaces it) and starts when the others have ended. The owners of the
    jobs call ``update()`` when one ends (the window wires their finished signals to it). With
    ``take_turns`` off every job starts at once; ``run_now()`` starts the waiting jobs anyway.

    Signals: ``changed(text)`` with the status-bar line whenever it changes ("Training epoch 2 of 10 ·
    Tagging waits"; "" when nothing runs or waits), ``started_waiting(kind)`` when a waiting job is
    started by the queue.
    """

    changed = Signal(str)
    started_waiting = Signal(str)

    def __init__(self, take_turns: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._kinds: dict[str, _Kind] = {}
        self._order: list[str] = []  # waiting kinds, first come first
        self._take_turns = take_turns
        self._text = ""
        self._advance_timer = QTimer(self)  # starts a waiting job from the event loop, not inside the
        self._advance_timer.setSingleShot(True)  # finished handler of the job that just ended
        self._advance_timer.setInterval(0)
        self._advance_timer.timeout.connect(self._advance)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)

    def add_kind(
        self, kind: str, title: str, busy: Callable[[], bool], progress: Callable[[], str] = lambda: ""
    ) -> None:
        """A kind of job: its title in the status line, whether one runs, and how far it is."""
        self._kinds[kind] = _Kind(title, busy, progress)

    # -- asking ----------------------------------------------------------------------------
    @property
    def take_turns(self) -> bool:
        return self._take_turns

    def set_take_turns(self, on: bool) -> None:
        """Turning turns off starts whatever waits."""
        self._take_turns = bool(on)
        self.update()

    def submit(self, kind: str, start: Callable[[], object]) -> bool:
        """Run ``start()`` now (True) or keep it until no other kind is busy (False: it waits)."""
        k = self._kinds[kind]
        if not self.blocked_by(kind):
            self.withdraw(kind)
            start()
            self.refresh()
            return True
        k.start = start
        if kind not in self._order:
            self._order.append(kind)
        self.refresh()
        return False

    def blocked_by(self, kind: str) -> list[str]:
        """Titles of the other kinds running now that a ``kind`` job would wait for ([] with turns off)."""
        if not self._take_turns:
            return []
        return [k.title for name, k in self._kinds.items() if name != kind and k.busy()]

    def waiting(self) -> list[str]:
        """The kinds whose job waits, first come first."""
        return list(self._order)

    def withdraw(self, kind: str) -> bool:
        """Forget ``kind``'s waiting job (it never starts); True if one waited."""
        k = self._kinds[kind]
        had = kind in self._order
        k.start = None
        if had:
            self._order.remove(kind)
            self.refresh()
        return had

    def run_now(self, kind: str | None = None) -> list[str]:
        """Start ``kind``'s waiting job (default: every waiting one) now, busy or not; returns the kinds."""
        kinds = [kind] if kind is not None else list(self._order)
        started = [k for k in kinds if k in self._order]
        for k in started:
            self._start(k)
        self.refresh()
        return started

    # -- turns -------------------------------------------------------------------------------
    @Slot()
    def update(self) -> None:
        """A job started or ended: refresh the line and, from the event loop, start a waiting job whose
        turn it is."""
        self.refresh()
        if self._order:
            self._advance_timer.start()

    @Slot()
    def _advance(self) -> None:
        for kind in list(self._order):
            if not self.blocked_by(kind):
                self._start(kind)
                if self._kinds[kind].busy():
                    break  # the others wait for this one
        self.refresh()

    def _start(self, kind: str) -> None:
        k = self._kinds[kind]
        start, k.start = k.start, None
        self._order.remove(kind)
        if start is not None:
            start()
            self.started_waiting.emit(kind)

    # -- the status line ------------------------------------------------------------------------
    def text(self) -> str:
        """ "Tagging 1,234/5,000 · Training waits": what runs (with its progress) and what waits."""
        parts = []
        for name, k in self._kinds.items():
            if k.busy() and name not in self._order:
                how = k.progress()
                parts.append(f"{k.title} {how}" if how else f"{k.title} running")
        parts += [f"{self._kinds[name].title} waits" for name in self._order]
        return " · ".join(parts)

    @Slot()
    def refresh(self) -> None:
        text = self.text()
        active = bool(text)
        if active and not self._refresh_timer.isActive():
            self._refresh_timer.start()
        elif not active:
            self._refresh_timer.stop()
        if text != self._text:
            self._text = text
            self.changed.emit(text)


class JobStatus(QObject):
    """The status bar's job line ("Training epoch 2 of 10 · Tagging waits") and its *Run now anyway*."""

    def __init__(self, jobs: JobQueue, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.label = ElidedLabel("")
        self.run_now_button = QPushButton("Run now anyway")
        self.run_now_button.setFlat(True)
        self.run_now_button.setToolTip("Start the waiting job now, beside the running one (both go slower)")
        self.run_now_button.setVisible(False)
        self.run_now_button.clicked.connect(lambda: self.jobs.run_now())
        jobs.changed.connect(self._changed)

    def place(self, status_bar: QStatusBar) -> None:
        """Put the line and the button at the right of ``status_bar``."""
        status_bar.addPermanentWidget(self.label)
        status_bar.addPermanentWidget(self.run_now_button)

    @Slot(str)
    def _changed(self, text: str) -> None:
        self.label.setText(text)
        self.run_now_button.setVisible(bool(self.jobs.waiting()))

    @Slot(bool)
    def set_take_turns(self, on: bool) -> None:
        """On: tagging and training wait for each other (the default); off: both run at once. Remembered."""
        from fashion_desktop.gui import settings

        settings.set_value(settings.JOBS_TAKE_TURNS, 1 if on else 0)
        self.jobs.set_take_turns(on)
