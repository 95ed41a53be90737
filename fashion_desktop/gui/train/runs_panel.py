"""Log | Runs | Compare under the Train tab's plots: past runs' curves, overlays, comparing a run's model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QPlainTextEdit, QTabWidget, QWidget

from fashion_desktop.gui import settings
from fashion_desktop.gui.train.model_compare import ModelCompare
from fashion_desktop.gui.train.run_curves import RunOverlay, draw_record
from fashion_desktop.gui.train.runs_history import RunsHistory
from fashion_desktop.gui.train.train_plots import TrainPlots
from fashion_desktop.gui.worker import Worker
from fashion_desktop.model.protocol import TrainEvent
from fashion_desktop.model.run_folder import BUNDLE, RunRecord, read_run


class RunsPanel(QTabWidget):
    """The trainer's log, the runs history and the model comparison, as tabs.

    A past run's curves are drawn in ``plots`` (never while ``busy()``, a run is training); the history
    lists the runs in the output folder's parent (``out_folder()``) and the folders runs went to or were
    opened. Signals: ``status_changed(text)`` for the tab's status line, ``run_shown(path)``, and the
    requests ``resume_requested(path)``, ``use_model_requested(bundle)``, ``retag_requested(bundle)``.
    """

    status_changed = Signal(str)
    run_shown = Signal(str)
    resume_requested = Signal(str)
    use_model_requested = Signal(str)
    retag_requested = Signal(str)

    def __init__(
        self,
        log_view: QPlainTextEdit,
        plots: TrainPlots,
        busy: Callable[[], bool],
        out_folder: Callable[[], str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setDocumentMode(True)
        self.plots = plots
        self.busy = busy
        self.out_folder = out_folder
        self.history = RunsHistory()
        self.compare = ModelCompare()
        self.overlay = RunOverlay(plots)
        self.shown_run: str | None = None  # the run whose curves the plots show
        self._run_loader: Worker | None = None
        self.addTab(log_view, "&Log")
        self.addTab(self.history, "R&uns")
        self.addTab(self.compare, "Com&pare")
        self.currentChanged.connect(self._tab_changed)
        self.history.show_requested.connect(self.show_run)
        self.history.overlay_requested.connect(self.overlay_run)
        self.history.compare_requested.connect(self.compare_run)
        self.history.resume_requested.connect(self.resume_requested)
        self.history.folder_opened.connect(self.open_runs_folder)
        self.compare.use_requested.connect(self.use_model_requested)
        self.compare.retag_requested.connect(self.retag_requested)

    def runs_folders(self) -> list[str]:
        """Where the history looks: the output folder's parent, then folders runs went to or were opened."""
        out = self.out_folder()
        here = [str(Path(out).parent)] if out else []
        return list(dict.fromkeys(here + settings.recent(settings.TRAIN_RUN_FOLDERS)))

    def refresh_history(self) -> None:
        self.history.set_folders(self.runs_folders())

    @Slot(str)
    def open_runs_folder(self, folder: str) -> None:
        """List the runs of ``folder`` (or the run it is) in the history, from now on."""
        settings.push_recent(settings.TRAIN_RUN_FOLDERS, str(Path(folder)))
        self.setCurrentWidget(self.history)
        self.refresh_history()

    @Slot(int)
    def _tab_changed(self, index: int) -> None:
        if self.widget(index) is self.history:
            self.refresh_history()
        elif self.widget(index) is self.compare:
            self.compare.refresh()

    def run_state(self, state: str, run_out: str | None, result: TrainEvent | None) -> None:
        """The run control's ``state``: a running run's curves replace the shown run's; a finished run's
        model is compared with the Tag tab's before anyone switches to it."""
        running = state in ("running", "stopping")
        self.history.set_busy(running)
        if state == "running" and run_out:
            self.overlay.clear()
            self.shown_run = self.history.shown_path = str(Path(run_out))
            settings.push_recent(settings.TRAIN_RUN_FOLDERS, str(Path(run_out).parent))
        if running:
            return
        self.refresh_history()
        bundle = result.get("bundle") if state == "finished" and result is not None else None
        if run_out and isinstance(bundle, str):
            self.compare.set_run(run_out, bundle if Path(bundle).is_file() else None)
            if self.compare.problem() is None:
                self.compare.start()  # before switching models: how the new one does on held-out photos
            self.setCurrentWidget(self.compare)

    def _read_run_then(self, path: str, then: Callable[[RunRecord], None]) -> None:
        """Read run ``path`` (its events may be long) off the GUI thread, then call ``then`` with it."""
        if self._run_loader is not None:
            self._run_loader.cancel()

        def job(_cancel):
            return read_run(path)
            yield  # a generator: the worker sends what it returns with ``finished``

        worker = Worker(job, "read-run", self)

        def done(record: Any) -> None:
            if self._run_loader is worker:
                self._run_loader = None
                if isinstance(record, RunRecord) and not self.busy():
                    then(record)

        def failed(message: str) -> None:
            if self._run_loader is worker:
                self._run_loader = None
                self.status_changed.emit(f"{path}: cannot be read ({message})")

        worker.wired(lambda _x: None, done, failed)
        self._run_loader = worker
        worker.start()

    @Slot(str)
    def show_run(self, path: str) -> None:
        """Draw past run ``path``'s curves in the plots (not while a run is training)."""
        if self.busy():
            return

        def draw(record: RunRecord) -> None:
            self.overlay.clear()
            draw_record(self.plots, record)
            self.shown_run = self.history.shown_path = str(Path(path))
            self.history.update_buttons()
            info = record.info
            self.status_changed.emit(
                f"Showing run {info.name}: {info.state}, {info.epochs_done} epoch{'s' * (info.epochs_done != 1)}"
            )
            self.run_shown.emit(path)

        self._read_run_then(path, draw)

    @Slot(str)
    def overlay_run(self, path: str) -> None:
        """Draw run ``path``'s curves over the shown run's (dashed, other colours, legends name the runs)."""
        shown = self.shown_run
        if self.busy() or shown is None or Path(path) == Path(shown):
            return

        def draw(record: RunRecord) -> None:
            self.overlay.show(record, record.info.name, Path(shown).name)
            self.status_changed.emit(f"Run {Path(shown).name} (solid) with run {record.info.name} (dashed)")
            self.run_shown.emit(path)

        self._read_run_then(path, draw)

    @Slot(str)
    def compare_run(self, path: str) -> None:
        """Show run ``path``'s model on the Compare page and start comparing it with the Tag tab's."""
        bundle = Path(path) / BUNDLE
        self.compare.set_run(path, str(bundle) if bundle.is_file() else None)
        self.setCurrentWidget(self.compare)
        if self.compare.problem() is None:
            self.compare.start()
        else:
            self.compare.note.setText(self.compare.problem() or "")

    def stop(self) -> None:
        """Stop reading and comparing (closing the window)."""
        self.compare.stop()
        self.history.stop()
