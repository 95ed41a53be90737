"""The Train tab's runs history: every run folder found, with its state, date, settings, final metrics and model."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.gui.window_words import for_window
from fashion_desktop.gui.worker import Worker
from fashion_desktop.model.run_folder import RunInfo, find_runs, score_text

HEADERS = ("Run", "Status", "Started", "Settings", "Val F1 macro", "Final per group", "Model")
STATES = {
    "finished": "finished",
    "stopped": "stopped (resumable)",
    "failed": "failed",
    "running": "running",
    "unknown": "ended without a word (killed?)",
}


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return "–"
    return f"{value:.2f}"


def settings_summary(info: RunInfo) -> str:
    """``cnn, 32 px, 2/2 epochs, batch 8, lr 0.001, bce, from random weights`` from the run's config."""
    c: Mapping[str, Any] = info.config
    parts = [info.arch or "?"]
    if isinstance(c.get("image_size"), int):
        parts.append(f"{c['image_size']} px")
    planned = f"/{info.epochs_planned}" if info.epochs_planned else ""
    parts.append(f"{info.epochs_done}{planned} epochs")
    for key, label in (("batch_size", "batch"), ("lr", "lr")):
        if c.get(key) is not None:
            parts.append(f"{label} {c[key]:g}" if isinstance(c[key], (int, float)) else f"{label} {c[key]}")
    if c.get("loss"):
        parts.append(str(c["loss"]))
    if info.init_from:
        parts.append(f"from {os.path.basename(info.init_from)}")
    elif c.get("pretrained") is not None:
        parts.append("from ImageNet weights" if c.get("pretrained") else "from random weights")
    data = c.get("data")
    if isinstance(data, list) and data:
        parts.append(f"{len(data)} data source{'s' * (len(data) != 1)}")
    return ", ".join(parts)


def groups_summary(final_groups: Mapping[str, Any]) -> str:
    """``colour: top-1 0.91, F1 0.85 · category: ...`` of the test split (else validation)."""
    split = "test" if final_groups.get("test") else "val"
    groups = final_groups.get(split) or {}
    parts = []
    for group, m in groups.items():
        if isinstance(m, Mapping):
            parts.append(f"{group}: top-1 {_fmt(m.get('top1_accuracy'))}, F1 {_fmt(m.get('f1_macro'))}")
    return (f"({split}) " if parts else "") + " · ".join(parts)


def run_row(info: RunInfo) -> list[Any]:
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.started)) if info.started else "–"
    return [
        info.name,
        STATES.get(info.state, info.state),
        started,
        settings_summary(info),
        score_text(info.best_f1_macro),  # the model's epoch, as the finished line and the F1 plot give it
        groups_summary(info.final_groups),
        info.bundle.name if info.bundle is not None else "–",
    ]


class RunsModel(QAbstractTableModel):
    """The runs as table rows (``run_row``); the tooltips give the folder, the end message and the model's
    path; ``RUN_ROLE`` gives the RunInfo."""

    RUN_ROLE = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runs: list[RunInfo] = []
        self._rows: list[list[Any]] = []

    def set_runs(self, runs: Sequence[RunInfo]) -> None:
        self.beginResetModel()
        self.runs = list(runs)
        self._rows = [run_row(r) for r in self.runs]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section] if 0 <= section < len(HEADERS) else None
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        info, value = self.runs[index.row()], self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{value:.3f}" if isinstance(value, float) else str(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            if index.column() == 1 and info.message:
                return for_window(info.message)
            if index.column() == 6 and info.bundle is not None:
                return str(info.bundle)
            if index.column() in (3, 5) and value:
                return str(value)  # long: the whole text on hovering
            return str(info.path) if index.column() == 0 else None
        if role == self.RUN_ROLE:
            return info
        return None


class RunsHistory(QWidget):
    """Runs found in ``folders()`` (read in the background) with what can be done with the selected one.

    Signals carry the run folder's path: ``show_requested`` (its curves in the plots), ``overlay_requested``
    (drawn over the shown run), ``compare_requested`` (its model beside the Tag tab's), ``resume_requested``.
    ``refreshed`` follows each (re)load of the list.
    """

    show_requested = Signal(str)
    overlay_requested = Signal(str)
    compare_requested = Signal(str)
    resume_requested = Signal(str)
    folder_opened = Signal(str)
    refreshed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folders: list[str] = []
        self.runs: list[RunInfo] = []
        self._loader: Worker | None = None
        self._again = False
        self.busy = False  # a run is training: its curves own the plots
        self.model = RunsModel(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().setVisible(False)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.note = QLabel("No runs found yet.")
        self.note.setWordWrap(True)
        self.show_button = QPushButton("Show &curves")
        self.show_button.setToolTip("Draw the selected run's curves in the plots")
        self.overlay_button = QPushButton("&Overlay on the shown run")
        self.overlay_button.setToolTip("Draw the selected run's curves over the shown run's, dashed")
        self.compare_button = QPushButton("Compare && &use its model…")
        self.compare_button.setToolTip(
            "Score its model beside the Tag tab's model on reviewed photos it did not train on"
        )
        self.resume_history_button = QPushButton("Resu&me it")
        self.refresh_button = QPushButton("Refresh")
        self.open_button = QPushButton("Open folder…")
        self.open_button.setToolTip("List the runs of another folder (or one run folder)")
        row = QHBoxLayout()
        for b in (self.show_button, self.overlay_button, self.compare_button, self.resume_history_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.refresh_button)
        row.addWidget(self.open_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.note)
        lay.addWidget(self.view, 1)
        lay.addLayout(row)
        self.show_button.clicked.connect(lambda: self._emit(self.show_requested))
        self.overlay_button.clicked.connect(lambda: self._emit(self.overlay_requested))
        self.compare_button.clicked.connect(lambda: self._emit(self.compare_requested))
        self.resume_history_button.clicked.connect(lambda: self._emit(self.resume_requested))
        self.view.doubleClicked.connect(lambda _i: self._emit(self.show_requested))
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button.clicked.connect(self._open_clicked)
        self.view.selectionModel().selectionChanged.connect(self.update_buttons)
        self.shown_path: str | None = None  # the run whose curves the plots show
        self.update_buttons()

    # -- the list -----------------------------------------------------------------------------
    def set_folders(self, folders: Sequence[str]) -> None:
        """Look for runs in ``folders`` (each a folder of runs, or one run folder) and reload the list."""
        self.folders = list(dict.fromkeys(os.path.normpath(f) for f in folders if f))
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Read the folders again in the background; ``refreshed`` follows."""
        if self._loader is not None:
            self._again = True
            return
        folders = list(self.folders)

        def job(cancel):
            found: dict[str, RunInfo] = {}
            for folder in folders:
                if cancel.is_set():
                    break
                for info in find_runs(folder):
                    found.setdefault(os.path.normpath(str(info.path)), info)
            return sorted(found.values(), key=lambda r: r.started or 0.0, reverse=True)
            yield  # a generator: the worker sends what it returns with ``finished``

        self._loader = Worker(job, "runs-history", self).wired(lambda _x: None, self._loaded, self._failed)
        self._loader.start()

    def _loaded(self, runs: list[RunInfo] | None) -> None:
        worker, self._loader = self._loader, None
        if worker is not None and worker.cancelled:
            return
        self.set_runs(runs or [])
        if self._again:
            self._again = False
            self.refresh()

    def _failed(self, message: str) -> None:
        self._loader = None
        self.note.setText(f"The runs could not be listed: {message}")

    def set_runs(self, runs: Sequence[RunInfo]) -> None:
        selected = self.selected()
        self.runs = list(runs)
        self.model.set_runs(self.runs)
        where = ", ".join(self.folders) or "no folder"
        self.note.setText(
            f"{len(self.runs)} run{'s' * (len(self.runs) != 1)} in {where}."
            if self.runs
            else f"No runs found in {where}."
        )
        if selected is not None:
            self.select(str(selected.path))
        self.update_buttons()
        self.refreshed.emit()

    def stop(self) -> None:
        if self._loader is not None:
            self._loader.cancel()
            self._loader.wait(10_000)
            self._loader = None

    # -- selection and actions ----------------------------------------------------------------
    def selected(self) -> RunInfo | None:
        rows = self.view.selectionModel().selectedRows() if self.view.selectionModel() else []
        return self.runs[rows[0].row()] if rows and rows[0].row() < len(self.runs) else None

    def select(self, path: str) -> bool:
        """Select the run in folder ``path``; False when it is not listed."""
        for i, r in enumerate(self.runs):
            if os.path.normpath(str(r.path)) == os.path.normpath(path):
                self.view.selectRow(i)
                return True
        return False

    def names(self) -> list[str]:
        return [r.name for r in self.runs]

    def _emit(self, signal) -> None:
        info = self.selected()
        if info is not None:
            signal.emit(str(info.path))

    def _open_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of training runs (or one run folder)")
        if folder:
            self.folder_opened.emit(folder)

    def update_buttons(self, *_args: object) -> None:
        info = self.selected()
        has = info is not None
        self.show_button.setEnabled(has and not self.busy)
        self.overlay_button.setEnabled(
            has and not self.busy and self.shown_path is not None and str(info.path) != self.shown_path
        )
        self.compare_button.setEnabled(has and info.bundle is not None)
        self.resume_history_button.setEnabled(
            has and not self.busy and info.state in ("stopped", "unknown", "failed", "finished")
        )

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.update_buttons()
