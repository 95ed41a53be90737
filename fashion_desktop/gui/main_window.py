"""Main window: library (catalog) + folders, Tag and Models tabs, menus, scanning and tagging runs."""

from __future__ import annotations

import logging
import os
import platform
import sys
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSortFilterProxyModel, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.core.catalog import Catalog, CatalogError
from fashion_desktop.core.tags import new_label_problem
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.gui import settings
from fashion_desktop.gui.job_queue import JobQueue
from fashion_desktop.gui.library_session import LibrarySession
from fashion_desktop.gui.tag import commands
from fashion_desktop.gui.tag.filter_bar import FilterBar
from fashion_desktop.gui.tag.first_launch import (
    NO_PHOTOS_TIP,
    FirstLaunchPage,
    dropped_folders,
    folder_problem,
    no_photos_text,
)
from fashion_desktop.gui.tag.grid import GridPanel
from fashion_desktop.gui.tag.label_palette import LabelPalette, palette_entries
from fashion_desktop.gui.tag.library_model import LibraryModel
from fashion_desktop.gui.tag.review_keys import ReviewKeys
from fashion_desktop.gui.tag.review_pane import ReviewPane, key_hint
from fashion_desktop.gui.tag.tag_dialogs import AddTagDialog, NewTagDialog, RemoveTagDialog, present_tags
from fashion_desktop.gui.tag.tag_panel import TagPanel
from fashion_desktop.gui.tag.thumbnails import Thumbnailer
from fashion_desktop.gui.worker import ProcessWorker, Worker
from fashion_desktop.model.protocol import (
    Devices,
    ImageError,
    ModelInfo,
    Notice,
    Progress,
    Summary,
)
from fashion_desktop.model.resources import default_model_path

log = logging.getLogger(__name__)
APP_NAME = "Fashion Finder"


class TagPage(QWidget):
    """Filters, tagging controls and thresholds | grid (the first-launch page while there are no photos)
    | review pane."""

    def __init__(self, thumbs: Thumbnailer, threshold_panel: QWidget, parent=None) -> None:
        super().__init__(parent)
        self.filters = FilterBar()
        self.tag_panel = TagPanel()
        self.thresholds = threshold_panel
        column = QWidget()
        lay = QVBoxLayout(column)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.filters)
        lay.addWidget(self.tag_panel)
        lay.addWidget(self.thresholds, 1)
        column.setMinimumHeight(720)  # below that the column scrolls rather than squashing the table
        left = QScrollArea()
        left.setWidgetResizable(True)
        left.setWidget(column)
        left.setFrameShape(QFrame.Shape.NoFrame)
        left.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.grid = GridPanel(thumbs)
        self.first_launch = FirstLaunchPage()
        self.middle = QStackedWidget()
        self.middle.addWidget(self.first_launch)
        self.middle.addWidget(self.grid)
        self.review = ReviewPane(thumbs)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.middle)
        self.splitter.addWidget(self.review)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setSizes([390, 760, 400])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.splitter)

    def show_first_launch(self, shown: bool) -> None:
        """The first-launch page (no photos yet) or the grid in the middle."""
        self.middle.setCurrentWidget(self.first_launch if shown else self.grid)


def _threshold_panel() -> QWidget:
    from fashion_desktop.gui.tag.thresholds_panel import ThresholdPanel

    return ThresholdPanel()


def _model_line(path: str) -> str:
    """A bundle's name and model id for About, read from its header (no torch), or why not."""
    from fashion_desktop.model.bundle_file import read_bundle_file

    try:
        bundle = read_bundle_file(path)
    except Exception as exc:  # About must open whatever the file is
        return f"{path} (cannot be read: {exc})"
    name = bundle.description.provenance.get("name") or Path(path).name
    return f"{name} (id {bundle.model_id}) — {path}"


class MainWindow(QMainWindow):
    """The app window. ``open_library`` / ``add_folder`` / ``start_tagging`` are what menus and tests drive."""

    library_opened = Signal(str)
    scan_finished = Signal()
    relinked = Signal(object)  # core.relink.RelinkReport, after the grid shows the new place
    tagging_finished = Signal(object)  # the engine's Summary, or None when the run failed

    def __init__(self, library_path: str | os.PathLike | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.session: LibrarySession | None = None
        self.view_model: QSortFilterProxyModel | None = None
        self.thumbs = Thumbnailer(self)
        self.undo_stack = QUndoStack(self)
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(300)
        self._counts_timer.timeout.connect(self._update_counts)
        self._panel_model: tuple | None = None
        # The threshold view is saved in the catalog, per model, a moment after it stops changing
        # (a slider drag emits many policies); leaving the library or quitting saves at once.
        self._view_state_for: tuple[str, str] | None = None  # (catalog path, model key) the panel shows
        self._view_state_timer = QTimer(self)
        self._view_state_timer.setSingleShot(True)
        self._view_state_timer.setInterval(400)
        self._view_state_timer.timeout.connect(self.save_view_state)
        self.last_warning: QMessageBox | None = None
        self._added_folders: set[str] = set()  # added in this session: a scan finding nothing says so
        self._scanning_folder = ""
        # Worker threads run Python too; a short switch interval lets the GUI thread take the GIL back
        # within a fraction of a millisecond instead of 5 ms each time a Qt callback needs it.
        sys.setswitchinterval(0.0005)

        self.tag_page = TagPage(self.thumbs, _threshold_panel())
        self.grid = self.tag_page.grid.view
        self.review = self.tag_page.review
        self.tag_panel = self.tag_page.tag_panel
        self.threshold_panel = self.tag_page.thresholds
        self.filters = self.tag_page.filters
        self.first_launch = self.tag_page.first_launch
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.add_tab(self.tag_page, "&Tag")
        self.models_tab = self._make_models_tab()
        self.add_tab(self.models_tab, "&Models")
        from fashion_desktop.gui.train.train_tab import TrainTab

        self.train_tab = TrainTab()
        self.train_tab.current_model = self.tag_panel.current_bundle
        self.add_tab(self.train_tab, "T&rain")
        self.setCentralWidget(self.tabs)

        self.status_label = QLabel("")
        self.scan_label = QLabel("")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.scan_label)
        self._build_job_queue()
        self._build_menus()
        self._wire()
        self._wire_train_tab()
        # Review keys act wherever focus is on the Tag tab (the threshold table, a button...), not only
        # in the grid; text fields keep their keys. Undo/redo go the same way, so they work whenever
        # the label keys do.
        self.review_keys = ReviewKeys(self.tag_page, lambda: self.grid.label_keys, self._review_key, self)
        QApplication.instance().installEventFilter(self.review_keys)
        self.label_palette: LabelPalette | None = None
        self.tag_dialog: QWidget | None = None
        self.quit_box: QMessageBox | None = None
        self._quit_confirmed = False
        self._restore_settings()
        path = library_path or settings.get_str(settings.LAST_LIBRARY) or settings.default_library_path()
        if not self.open_library(path) and Path(path) != settings.default_library_path():
            self.open_library(settings.default_library_path())
        self._update_first_launch()
        self._show_model_on_first_launch()

    @property
    def catalog(self) -> Catalog | None:
        return self.session.catalog if self.session is not None else None

    @property
    def library(self) -> LibraryModel | None:
        return self.session.library if self.session is not None else None

    @property
    def scan_worker(self) -> Worker | None:
        return self.session.scan_worker if self.session is not None else None

    @property
    def tag_worker(self) -> ProcessWorker | None:
        return self.session.tag_worker if self.session is not None else None

    # -- construction ---------------------------------------------------------------------
    def _build_job_queue(self) -> None:
        """Tagging and training compete for the CPU: by default one waits for the other, and the status
        bar says which runs and which waits, with a button that starts the waiting one anyway."""
        take_turns = settings.get_int(settings.JOBS_TAKE_TURNS, 1) != 0
        self.jobs = JobQueue(take_turns, self)
        self.jobs.add_kind("tagging", "Tagging", lambda: self.tag_worker is not None, self._tagging_progress)
        tab = self.train_tab
        self.jobs.add_kind(
            "training",
            "Training",
            lambda: tab.worker is not None,
            lambda: f"epoch {tab.epoch} of {tab.epochs}" if tab.epoch and tab.epochs else "starting",
        )
        tab.jobs = self.jobs
        tab.state_changed.connect(lambda _state: self.jobs.update())
        self.jobs_label = QLabel("")
        self.run_now_button = QPushButton("Run now anyway")
        self.run_now_button.setFlat(True)
        self.run_now_button.setToolTip("Start the waiting job now, beside the running one (both go slower)")
        self.run_now_button.setVisible(False)
        self.run_now_button.clicked.connect(lambda: self.jobs.run_now())
        self.statusBar().addPermanentWidget(self.jobs_label)
        self.statusBar().addPermanentWidget(self.run_now_button)
        self.jobs.changed.connect(self._jobs_changed)
        self.jobs.started_waiting.connect(self._waiting_job_started)

    def _tagging_progress(self) -> str:
        last = self.tag_panel.last_progress
        return f"{last[0]:,}/{last[1]:,}" if last else "starting"

    @Slot(str)
    def _jobs_changed(self, text: str) -> None:
        self.jobs_label.setText(text)
        self.run_now_button.setVisible(bool(self.jobs.waiting()))

    @Slot(str)
    def _waiting_job_started(self, kind: str) -> None:
        if kind == "tagging" and self.tag_worker is not None:
            self.tag_panel.rate_label.setText("Loading the model…")

    @Slot(bool)
    def set_jobs_take_turns(self, on: bool) -> None:
        """On: tagging and training wait for each other (the default); off: both run at once."""
        settings.set_value(settings.JOBS_TAKE_TURNS, 1 if on else 0)
        self.take_turns_action.setChecked(on)
        self.jobs.set_take_turns(on)

    def add_tab(self, widget: QWidget, title: str) -> int:
        """Tabs are the extension point: the Train tab is one more call to this."""
        return self.tabs.addTab(widget, title)

    def _make_models_tab(self) -> QWidget:
        from fashion_desktop.gui.models.models_tab import ModelsTab

        tab = ModelsTab()
        tab.model_activated.connect(self._model_activated)
        tab.bundle_paths_changed.connect(self._bundles_changed)
        return tab

    def _action(self, menu: QMenu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action(f, "&New Library…", self.new_library_dialog, QKeySequence.StandardKey.New)
        self._action(f, "&Open Library…", self.open_library_dialog, QKeySequence.StandardKey.Open)
        self.recent_libraries_menu = f.addMenu("Recent &Libraries")
        f.addSeparator()
        self._action(
            f, "&Add Folder…", self.add_folder_dialog, "Ctrl+Shift+O", "Add a folder of photos to the library"
        )
        self.recent_folders_menu = f.addMenu("Recent &Folders")
        self.rescan_action = self._action(f, "&Rescan Folders", self.rescan, QKeySequence.StandardKey.Refresh)
        self._action(
            f,
            "Re&move Folder…",
            self.remove_folder_dialog,
            None,
            "Take a folder out of the library (your tags stay)",
        )
        self._action(
            f,
            "Re&link Moved Folder…",
            self.relink_folder_dialog,
            None,
            "A folder was moved or renamed: find its photos at the new place, keeping every tag",
        )
        f.addSeparator()
        self.export_action = self._action(f, "&Export Tags…", self.export_dialog, "Ctrl+E")
        self.import_action = self._action(
            f,
            "&Import Tags…",
            self.import_tags_dialog,
            "Ctrl+Shift+I",
            "Record tags from a spreadsheet (an edited export, the seed layout, or image + tags) as yours",
        )
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        e = mb.addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        redo_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
        if QKeySequence("Ctrl+Shift+Z") not in redo_keys:  # the platform's Redo may be Ctrl+Y only
            redo_keys.insert(0, QKeySequence("Ctrl+Shift+Z"))
        self.redo_action.setShortcuts(redo_keys)
        self.undo_action.setProperty("help_text", "Undo the last edit")
        self.redo_action.setProperty("help_text", "Redo")
        e.addAction(self.undo_action)
        e.addAction(self.redo_action)
        e.addSeparator()
        self._action(e, "Select &All", self.grid.selectAll, QKeySequence.StandardKey.SelectAll)
        settles = "the tags shown become your decisions; thresholds and models no longer change them"
        self._action(
            e, "Mark Selection &Reviewed", self.toggle_reviewed, None, f"Space in the grid: {settles}"
        )
        self._action(
            e,
            "&Accept Predictions for Selection",
            self.accept_predictions,
            "Ctrl+Return",
            f"Mark the selection reviewed: {settles}",
        )
        self._action(e, "Add &Tag to Selection…", lambda: self.tag_selection_dialog(True), "Ctrl+T")
        self._action(
            e, "Re&move Tag from Selection…", lambda: self.tag_selection_dialog(False), "Ctrl+Shift+T"
        )
        self.new_tag_action = self._action(
            e,
            "&New Tag for Selection…",
            lambda: self.new_tag_dialog(),
            None,
            "A tag the model does not have, in a group you pick (also the review pane's + New tag…)",
        )
        self.palette_action = self._action(
            e,
            "&Find Label and Toggle It…",
            self.open_label_palette,
            "Ctrl+K",
            "Type a few letters of any label; Enter toggles it on the selection (also /)",
        )

        v = mb.addMenu("&View")
        self._action(v, "&Next Unreviewed", lambda: self.jump_unreviewed(1), None, "J in the grid")
        self._action(v, "&Previous Unreviewed", lambda: self.jump_unreviewed(-1), None, "K in the grid")
        self._action(v, "Zoom &In", lambda: self._zoom(1.25), QKeySequence.StandardKey.ZoomIn)
        self._action(v, "Zoom &Out", lambda: self._zoom(0.8), QKeySequence.StandardKey.ZoomOut)
        self._action(v, "&Fit Preview", lambda: self.review.preview.set_zoom(None), "Ctrl+0")

        t = mb.addMenu("&Tagging")
        self.tag_action = self._action(t, "&Tag Photos", self.tag_panel._run_clicked, "Ctrl+R")
        self._action(t, "&Cancel", self.cancel_jobs, "Ctrl+.")
        t.addSeparator()
        self.take_turns_action = self._action(
            t,
            "Tagging and Training Take T&urns",
            self.set_jobs_take_turns,
            None,
            "Both need the CPU: one waits while the other runs (off: both run at once, each slower)",
        )
        self.take_turns_action.setCheckable(True)
        self.take_turns_action.setChecked(settings.get_int(settings.JOBS_TAKE_TURNS, 1) != 0)

        h = mb.addMenu("&Help")
        self.shortcuts_action = self._action(h, "&Keyboard Shortcuts", self.show_shortcuts)
        self._action(
            h,
            "Open &Log Folder",
            self.open_log_folder,
            None,
            "Each session's log: send it when something went wrong",
        )
        self._action(h, "&About Fashion Finder", self.about, QKeySequence.StandardKey.HelpContents)

    def _wire(self) -> None:
        self.grid.reviewed_toggle_requested.connect(self.toggle_reviewed)
        self.grid.label_toggle_requested.connect(self.toggle_label)
        self.grid.jump_requested.connect(self.jump_unreviewed)
        self.review.label_toggle_requested.connect(self.toggle_label)
        self.review.new_tag_requested.connect(lambda: self.new_tag_dialog())
        self.review.reviewed_toggle_requested.connect(self.toggle_reviewed)
        self.review.accept_requested.connect(self.accept_predictions)
        self.tag_panel.run_requested.connect(self.start_tagging)
        self.tag_panel.cancel_requested.connect(self.cancel_tagging)
        self.filters.spec_changed.connect(self._spec_changed)
        self.threshold_panel.policy_changed.connect(self._policy_changed)
        if hasattr(self.threshold_panel, "label_filter_requested"):
            # Only the panel's explicit "filter by this label" action asks this; a plain click selects.
            self.threshold_panel.label_filter_requested.connect(lambda lab: self.filters.set_tags([lab]))
        self.tag_panel.resume_requested.connect(self.tag_panel._run_clicked)
        self.tag_panel.model_combo.currentIndexChanged.connect(self._show_model_on_first_launch)
        self.first_launch.add_folder_requested.connect(self.add_folder_dialog)
        self.first_launch.folders_dropped.connect(lambda folders: [self.add_folder(f) for f in folders])
        self.undo_stack.indexChanged.connect(lambda _i: self.review.refresh())
        self.tag_page.grid.slider.valueChanged.connect(lambda v: settings.set_value(settings.THUMB_SIZE, v))

    # -- library ----------------------------------------------------------------------------
    def open_library(self, path: str | os.PathLike) -> bool:
        """Open (or create) a catalog file and show it; False with a message when it cannot be opened."""
        path = Path(path)
        try:
            catalog = Catalog(path)
        except CatalogError as exc:
            self.warn(str(exc))
            return False
        old = self.session
        if self.jobs.withdraw("tagging"):  # it was for the library being left
            self.tag_panel.show_finished("Not started: another library was opened")
        if old is not None:
            self.save_view_state()
            old.stop_jobs()
        self._view_state_for = None
        self.undo_stack.clear()
        session = LibrarySession(catalog, self)
        self.session = session
        self.train_tab.set_catalog_path(path)
        session.library.counts_changed.connect(self._counts_timer.start)
        # The grid replaces the first-launch page as soon as a photo is in (not a counts tick later).
        session.library.rowsInserted.connect(self._update_first_launch)
        session.library.modelReset.connect(self._update_first_launch)
        session.library.labels_changed.connect(self._labels_changed)
        session.scan_started.connect(self._scan_started)
        session.scan_progressed.connect(self._scan_progressed)
        session.scan_done.connect(self._scan_done)
        session.scan_failed.connect(self._scan_failed)
        session.scans_idle.connect(self._scans_idle)
        session.tag_event.connect(self._tag_progressed)
        session.tag_done.connect(self._tag_done)
        session.tag_failed.connect(self._tag_failed)
        session.relinked.connect(self._relinked)
        session.relink_failed.connect(lambda message: self.warn(f"Relinking stopped: {message}"))
        session.library.set_spec(self.filters.spec())
        # The view reaches the Python model through a plain (C++) QSortFilterProxyModel that neither
        # sorts nor filters: QListView lays out by asking index()/rowCount() once per row, and from
        # Python that is 100,000 GIL round trips per layout (seconds while a scan thread runs).
        if self.view_model is not None:
            self.view_model.deleteLater()
        self.view_model = QSortFilterProxyModel(self)
        self.view_model.setDynamicSortFilter(False)
        self.view_model.setSourceModel(session.library)
        self.grid.setModel(self.view_model)
        self.grid.selectionModel().currentChanged.connect(self._current_changed)
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        if old is not None:
            old.close()
            old.deleteLater()
            self.jobs.update()  # the old library's tagging ended with it: a waiting job may start
        self.review.set_library(session.library)
        self._labels_changed()
        settings.set_value(settings.LAST_LIBRARY, str(path))
        settings.push_recent(settings.RECENT_LIBRARIES, str(path))
        self._fill_recent_menus()
        self.setWindowTitle(f"{path.stem} — {APP_NAME}")
        self._update_counts()
        self.library_opened.emit(str(path))
        if session.library.rowCount():
            self.grid.setCurrentIndex(self.view_model.index(0, 0))
        return True

    @Slot()
    def new_library_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "New library",
            str(settings.data_dir() / "library.ffcat"),
            "Fashion Finder libraries (*.ffcat)",
        )
        if path:
            self.open_library(path)

    @Slot()
    def open_library_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open library",
            str(settings.data_dir()),
            "Fashion Finder libraries (*.ffcat);;All files (*)",
        )
        if path:
            self.open_library(path)

    def _fill_recent_menus(self) -> None:
        self.recent_libraries_menu.clear()
        for p in settings.recent(settings.RECENT_LIBRARIES):
            self.recent_libraries_menu.addAction(p, lambda p=p: self.open_library(p))
        self.recent_folders_menu.clear()
        for p in settings.recent(settings.RECENT_FOLDERS):
            self.recent_folders_menu.addAction(p, lambda p=p: self.add_folder(p))
        bundles = [p for p in settings.recent(settings.RECENT_BUNDLES) if Path(p).is_file()]
        default = default_model_path()
        active = self.session.active_bundle if self.session is not None else None
        # The default model is chosen only when no other was: this library's model, else the last used.
        self.tag_panel.set_bundles(
            bundles, str(default) if default else None, active if active and Path(active).is_file() else None
        )
        self._show_model_on_first_launch()
        self.models_tab.set_bundle_paths(([str(default)] if default else []) + bundles)

    # -- folders and scanning -----------------------------------------------------------------
    @Slot()
    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str | os.PathLike) -> None:
        """Add a folder to the library and scan it in the background (a folder that cannot be read is
        refused with a message saying why)."""
        problem = folder_problem(Path(folder).resolve())
        if problem is not None:
            self._say_about_folder(problem)
            return
        assert self.session is not None
        added = self.session.add_folder(folder)
        self._added_folders.add(added)
        settings.push_recent(settings.RECENT_FOLDERS, added)
        self._fill_recent_menus()

    @Slot()
    def remove_folder_dialog(self) -> QWidget | None:
        """Ask which folder to take out of the library, saying what is kept; remove it once confirmed."""
        session = self.session
        if session is None or not self.catalog.folders():
            self.statusBar().showMessage("This library has no folder to remove", 5000)
            return None
        if session.scanning():
            self.warn("A scan is running: remove the folder once it has finished.")
            return None
        from fashion_desktop.gui.tag.folders_dialog import RemoveFolderDialog

        dlg = RemoveFolderDialog(self.catalog.folders(), self.catalog.folder_summary, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.remove_requested.connect(self.remove_folder)
        self.remove_folder_window = dlg
        dlg.open()
        return dlg

    @Slot()
    def relink_folder_dialog(self) -> None:
        """Ask which library folder moved (missing ones first) and where it is now, then relink it."""
        if self.session is None or not self.catalog.folders():
            self.statusBar().showMessage("This library has no folder to relink", 5000)
            return
        folders = sorted(self.catalog.folders(), key=lambda f: (Path(f).is_dir(), f))
        shown = [f"{f}   (not found)" if not Path(f).is_dir() else f for f in folders]
        choice, ok = QInputDialog.getItem(
            self, "Relink a moved folder", "Which folder moved?", shown, 0, False
        )
        if not ok:
            return
        old = folders[shown.index(choice)]
        new = QFileDialog.getExistingDirectory(self, f"Where is {Path(old).name} now?")
        if new:
            self.relink_folder(old, new)

    def relink_folder(self, old: str, new: str) -> bool:
        """Relink ``old`` to ``new`` in the background (see ``core.relink``); False if it cannot start now."""
        if self.session is None or self.session.relink_folder(old, new) is None:
            self.warn("A scan or another relink is running: relink once it has finished.")
            return False
        self.scan_label.setText(f"Relinking {Path(old).name}…")
        return True

    @Slot(object)
    def _relinked(self, report) -> None:
        self.scan_label.setText("")
        self._update_counts()
        text = (
            f"Relinked {report.moved:,} photos of {Path(report.old_folder).name} to {report.new_folder} "
            f"({report.by_content:,} by content, {report.by_name:,} by name and size); their tags are kept"
        )
        if report.not_found:
            text += f"\n{len(report.not_found):,} photos were not found there and were left as they were."
            self.warn(text)
        self.statusBar().showMessage(text.splitlines()[0], 10_000)
        self.relinked.emit(report)

    @Slot(str)
    def remove_folder(self, folder: str) -> None:
        """Take ``folder`` out of the library (the person confirmed); its decisions stay in the catalog."""
        if self.session is None:
            return
        try:
            removed = self.session.remove_folder(folder)
        except RuntimeError as exc:
            self.warn(f"{folder}: not removed: {exc}")
            return
        self._update_counts()
        self.statusBar().showMessage(
            f"Removed {Path(folder).name} from the library: {removed:,} photos left the grid "
            "(your tags on them are kept)",
            8000,
        )

    @Slot()
    def rescan(self) -> None:
        """Scan every folder of the library again: new, changed and removed files are found."""
        if self.session is not None:
            self.session.rescan()

    @Slot(str)
    def _scan_started(self, folder: str) -> None:
        self._scanning_folder = folder
        self.scan_label.setText(f"Scanning {Path(folder).name}…")
        if folder in self._added_folders:
            self.first_launch.set_notice(f"Looking for photos in {folder}…")

    @Slot(int)
    def _scan_progressed(self, found: int) -> None:
        self.scan_label.setText(f"Scanning: {found:,} photos found")

    @Slot(object)
    def _scan_done(self, progress) -> None:
        if progress is not None and progress.problems:
            self.tag_panel.add_failures([(p.path, p.reason) for p in progress.problems])
        folder, self._scanning_folder = self._scanning_folder, ""
        if folder in self._added_folders:
            self._added_folders.discard(folder)
            self.first_launch.set_notice("")
            if progress is not None and progress.found == 0 and not progress.cancelled:
                self._say_about_folder(no_photos_text(folder, list(progress.problems)))
        if progress is not None:
            c = progress.counts
            self.statusBar().showMessage(
                f"Scan finished: {progress.found:,} photos ({c.new:,} new, {c.changed:,} changed, "
                f"{c.removed:,} gone, {len(progress.problems)} problems)",
                8000,
            )

    def _say_about_folder(self, text: str) -> None:
        """A problem with a folder being added: on the first-launch page when it is shown (where the person
        is about to try another), else in a message box."""
        if self.tag_page.middle.currentWidget() is self.first_launch:
            self.first_launch.set_notice(text, problem=True)
            self.statusBar().showMessage(text, 15_000)
        else:
            self.warn(text)

    @Slot(str)
    def _scan_failed(self, message: str) -> None:
        self._added_folders.discard(self._scanning_folder)
        self.first_launch.set_notice("")
        self.warn(f"Scanning stopped: {message}")

    @Slot()
    def _scans_idle(self) -> None:
        self.scan_label.setText("")
        self._update_counts()
        self.scan_finished.emit()

    # -- tagging -------------------------------------------------------------------------------
    @Slot(str, str, int, bool)
    def start_tagging(
        self, bundle_path: str, device: str = "auto", batch_size: int = 0, force: bool = False
    ) -> None:
        """Tag every photo of the library with the bundle (skipping those it already tagged unless ``force``)."""
        if self.session is None or self.session.tag_worker is not None:
            return
        if not self.session.library.image_count():
            self.statusBar().showMessage("No photos to tag: add a folder first", 5000)
            return
        settings.push_recent(settings.RECENT_BUNDLES, bundle_path)
        settings.set_value(settings.DEVICE, device)
        settings.set_value(settings.BATCH_SIZE, batch_size)
        if "tagging" in self.jobs.waiting():
            return
        self.tag_panel.set_running(True)
        session = self.session

        def start() -> None:
            if self.session is session and session.tag_worker is None:
                session.start_tagging(bundle_path, device, batch_size, force)

        if not self.jobs.submit("tagging", start):
            waits = " and ".join(self.jobs.blocked_by("tagging")).lower()
            self.tag_panel.rate_label.setText(f"Waiting for {waits} to finish (Run now anyway: status bar)…")

    @Slot(object)
    def _tag_progressed(self, event) -> None:
        if isinstance(event, ModelInfo):
            self.tag_panel.rate_label.setText("Tagging…")
        elif isinstance(event, Devices):
            self.tag_panel.set_devices(event)
        elif isinstance(event, Progress):
            self.tag_panel.show_progress(event.done, event.total, event.img_per_s, event.eta_s)
        elif isinstance(event, ImageError):
            self.tag_panel.add_failures([(str(event.path), event.reason)])
        elif isinstance(event, Notice):
            self.statusBar().showMessage(event.message, 8000)

    @Slot(object, float)
    def _tag_done(self, summary, seconds: float) -> None:
        if isinstance(summary, Summary):
            what = "Cancelled" if summary.cancelled else "Done"
            text = f"{what}: {summary.tagged:,} tagged, {summary.skipped:,} already tagged, {len(summary.failed)} failed"
            text += f" in {seconds:.1f}s"
        else:
            text = "Cancelled"
        self.tag_panel.show_finished(text)
        self.statusBar().showMessage(text, 8000)
        self._update_counts()
        self._fill_recent_menus()
        self.jobs.update()
        self.tagging_finished.emit(summary)

    @Slot(str)
    def _tag_failed(self, message: str) -> None:
        self.tag_panel.show_finished(f"Tagging stopped: {message}")
        self.warn(f"Tagging stopped: {message}\nEverything tagged so far is kept.")
        self.jobs.update()
        self.tagging_finished.emit(None)

    @Slot()
    def cancel_tagging(self) -> None:
        if self.jobs.withdraw("tagging"):
            self.tag_panel.show_finished("Not started: cancelled while it waited")
        elif self.session is not None and self.session.cancel_tagging():
            self.tag_panel.rate_label.setText("Cancelling… (what is done is kept)")

    @Slot()
    def cancel_jobs(self) -> None:
        self.cancel_tagging()
        if self.session is not None:
            self.session.cancel_jobs()

    @Slot(list)
    def _bundles_changed(self, paths: list) -> None:
        """Bundles added or removed on the Models tab become the recent bundles of the Tag tab."""
        default = default_model_path()
        settings.set_value(
            settings.RECENT_BUNDLES, [str(p) for p in paths if not default or str(p) != str(default)]
        )
        bundles = [p for p in settings.recent(settings.RECENT_BUNDLES) if Path(p).is_file()]
        self.tag_panel.set_bundles(bundles, str(default) if default else None)

    # -- a trained model becomes the library's ------------------------------------------------------
    def _wire_train_tab(self) -> None:
        self.train_tab.use_model_requested.connect(self.use_trained_model)
        self.train_tab.retag_requested.connect(self.retag_library)

    @Slot(str)
    def use_trained_model(self, bundle_path: str) -> bool:
        """Register ``bundle_path`` in the library, list it on the Models tab (with its metrics) and make
        it the Tag tab's model; the Train tab then offers to tag the library with it. False (with a
        message naming the file) when the bundle cannot be read or the library refuses it."""
        from fashion_desktop.model.bundle_file import read_bundle_file
        from fashion_desktop.model.bundle_format import BundleError

        if self.catalog is None:
            return False
        try:
            bundle = read_bundle_file(bundle_path)
            d = bundle.description
            name = str(d.provenance.get("name") or Path(bundle_path).parent.name)
            self.catalog.register_model(
                bundle.model_id, d.labels, name, str(bundle_path), dict(d.groups), thresholds=d.thresholds
            )
        except (BundleError, OSError, CatalogError) as exc:
            self.warn(f"{bundle_path}: cannot be used: {exc}")
            return False
        settings.push_recent(settings.RECENT_BUNDLES, str(bundle_path))
        self.models_tab.add_bundle(str(bundle_path))
        self.tag_panel.select_bundle(str(bundle_path))
        photos = self.library.image_count() if self.library is not None else 0
        self.train_tab.model_used(str(bundle_path), photos)
        self.statusBar().showMessage(f"{name} is now the Tag tab's model", 8000)
        return True

    @Slot(str)
    def retag_library(self, bundle_path: str) -> None:
        """Tag the library with ``bundle_path`` (the Tag tab shows the run)."""
        self.tag_panel.select_bundle(bundle_path)
        self.tabs.setCurrentWidget(self.tag_page)
        self.start_tagging(bundle_path, self.tag_panel.device(), self.tag_panel.batch_spin.value(), False)

    @Slot(str)
    def _model_activated(self, bundle_path: str) -> None:
        self.tag_panel.select_bundle(bundle_path)
        self.tabs.setCurrentWidget(self.tag_page)

    # -- review and edits ------------------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        """Selected photos, the current one first (so the review pane previews it)."""
        if self.library is None or self.grid.selectionModel() is None:
            return []
        sm = self.grid.selectionModel()
        rows = sorted(self.view_model.mapToSource(i).row() for i in sm.selectedIndexes())
        current = self.view_model.mapToSource(self.grid.currentIndex())
        if current.isValid() and current.row() in rows:
            rows.remove(current.row())
            rows.insert(0, current.row())
        elif not rows and current.isValid():
            rows = [current.row()]
        return self.library.ids_at(rows)

    def view_index(self, image_id: int) -> QModelIndex:
        """The grid's index of a photo (invalid when filtered out)."""
        if self.library is None:
            return QModelIndex()
        row = self.library.row_of_id(image_id)
        return self.view_model.mapFromSource(self.library.index(row)) if row >= 0 else QModelIndex()

    def filtered_ids(self) -> list[int]:
        m = self.library
        return [] if m is None else m.ids_at(range(m.rowCount()))

    @Slot(str)
    def toggle_label(self, label: str) -> None:
        ids = self.selected_ids()
        if ids and self.library is not None:
            self.undo_stack.push(commands.toggle_label(self.library, ids, label))

    @Slot()
    def toggle_reviewed(self) -> None:
        ids = self.selected_ids()
        if ids and self.library is not None:
            self.undo_stack.push(commands.toggle_reviewed(self.library, ids))

    @Slot()
    def accept_predictions(self) -> None:
        ids = self.selected_ids()
        if ids and self.library is not None:
            self.undo_stack.push(commands.accept_predictions(self.library, ids))

    def set_tag_on_selection(self, label: str, value: bool) -> None:
        ids = self.selected_ids()
        if ids and self.library is not None and label:
            self.undo_stack.push(commands.set_label(self.library, ids, label, value))

    def tag_selection_dialog(self, value: bool) -> QWidget | None:
        """Add-tag (every label, or a new one typed) or Remove-tag (only the tags the selection has, with
        counts) for the selection; nothing is preselected. Returns the (window-modal) dialog, or None."""
        m = self.library
        ids = self.selected_ids()
        if m is None or not ids:
            self.statusBar().showMessage("Select photos first", 5000)
            return None
        if value:
            dlg: AddTagDialog | RemoveTagDialog = AddTagDialog(m.all_labels(), len(ids), self)
        else:
            present = present_tags((m.tags_of(i) for i in ids), m.all_labels())
            if not present:
                self.statusBar().showMessage("The selected photos have no tags to remove", 5000)
                return None
            dlg = RemoveTagDialog(present, len(ids), self)
        dlg.tag_chosen.connect(lambda label: self._set_tag_on(ids, label, value))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.tag_dialog = dlg
        dlg.open()
        return dlg

    def _set_tag_on(self, ids: list[int], label: str, value: bool) -> None:
        if ids and self.library is not None and label:
            self.undo_stack.push(commands.set_label(self.library, ids, label, value))

    def new_tag_dialog(self, name: str = "") -> QWidget | None:
        """Ask a new tag's name (``name`` typed already, e.g. in the palette) and group, then add it to the
        selection as the person's decision (one undo step). Returns the (window-modal) dialog, or None."""
        m = self.library
        ids = self.selected_ids()
        if m is None or not ids:
            self.statusBar().showMessage("Select photos first", 5000)
            return None
        groups = m.label_groups()
        shown = list(dict.fromkeys(groups.get(lab, "") for lab in m.all_labels()))
        dlg = NewTagDialog(m.all_labels(), [g for g in shown if g], len(ids), name, self)
        dlg.tag_created.connect(lambda label, group: self._create_tag(ids, label, group))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.tag_dialog = dlg
        dlg.open()
        dlg.name.setFocus()
        return dlg

    def _create_tag(self, ids: list[int], label: str, group: str) -> None:
        m = self.library
        if m is None or self.catalog is None:
            return
        # Checked again before the command runs: a command that fails inside the undo stack stays on it.
        problem = new_label_problem(label, [*m.all_labels(), *self.catalog.person_labels()])
        if problem is not None:
            self.warn(f"{self.catalog.path}: tag not created: {problem}")
            return
        self.undo_stack.push(commands.NewLabelCommand(m, ids, label, group))
        key = self.review.keys.get(label)
        how = f"key {key_hint(key)}" if key else "Ctrl+K to find it"
        self.statusBar().showMessage(f"New tag “{label}” in “{group}” ({how})", 8000)

    # -- review keys and the label palette ------------------------------------------------------
    def _review_key(self, action: str, label: str) -> None:
        """A review key pressed somewhere on the Tag tab (see ReviewKeys)."""
        if action == "label":
            self.toggle_label(label)
        elif action == "reviewed":
            self.toggle_reviewed()
        elif action in ("next", "previous"):
            self.jump_unreviewed(1 if action == "next" else -1)
        elif action == "palette":
            self.open_label_palette()
        elif action == "undo":
            self.undo_stack.undo()
        elif action == "redo":
            self.undo_stack.redo()

    @Slot()
    def open_label_palette(self) -> LabelPalette | None:
        """Type-to-find over every label (the model's and those people added); Enter toggles one on the
        selection through the same undoable command as its key. Returns the palette, or None."""
        m = self.library
        if m is None:
            return None
        self.tabs.setCurrentWidget(self.tag_page)
        if self.label_palette is not None:  # one palette at a time, listing the selection of now
            self.label_palette.close()
            self.label_palette.deleteLater()
            self.label_palette = None
        ids = self.selected_ids()
        labels = m.all_labels()
        states: dict[str, str] = {}
        if ids:
            for lab, n in present_tags(m.tags_of(i) for i in ids):
                states[lab] = "all" if n == len(ids) else "some"
        target = (
            "" if not ids else ("the current photo" if len(ids) == 1 else f"{len(ids):,} selected photos")
        )
        palette = LabelPalette(
            palette_entries(labels, m.label_groups(), self.review.keys, states), target, self
        )
        palette.label_chosen.connect(self.toggle_label)
        palette.create_requested.connect(lambda name: self.new_tag_dialog(name))
        grid = self.tag_page.grid
        corner = grid.mapToGlobal(grid.rect().topLeft())
        palette.move(corner.x() + max(0, (grid.width() - palette.width()) // 2), corner.y() + 40)
        self.label_palette = palette
        palette.show()
        palette.raise_()
        palette.activateWindow()
        palette.search.setFocus()
        return palette

    @Slot()
    def show_shortcuts(self) -> QWidget:
        """Help → Keyboard shortcuts, generated from the key map in use now."""
        from fashion_desktop.gui.key_help import ShortcutsDialog, menu_shortcuts, shortcuts_html

        m = self.library
        keys = dict(self.review.keys)
        menus = [a.menu() for a in self.menuBar().actions() if a.menu() is not None]
        name = ""
        if m is not None and m.model_key and self.catalog is not None:
            rec = self.catalog.model(m.model_key)
            name = (rec.name if rec is not None and rec.name else "") or m.model_key
        text = shortcuts_html(keys, m.label_groups() if m is not None else {}, menu_shortcuts(menus), name)
        dlg = ShortcutsDialog(text, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.shortcuts_window = dlg
        dlg.show()
        return dlg

    @Slot(int)
    def jump_unreviewed(self, step: int) -> None:
        m = self.library
        if m is None or not m.rowCount():
            return
        start = self.view_model.mapToSource(self.grid.currentIndex()).row()
        row = m.next_unreviewed(start, step)
        if row >= 0:
            idx = self.view_model.mapFromSource(m.index(row))
            self.grid.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.grid.scrollTo(idx)

    def _zoom(self, factor: float) -> None:
        p = self.review.preview
        current = p._fit_scale() if p.zoom is None else p.zoom
        p.set_zoom(current * factor)

    @Slot(QModelIndex, QModelIndex)
    def _current_changed(self, _cur, _prev) -> None:
        self.review.show_images(self.selected_ids())

    @Slot()
    def _selection_changed(self, *_args) -> None:
        self.review.show_images(self.selected_ids())

    # -- thresholds, filters, counts ----------------------------------------------------------------
    @Slot()
    def save_view_state(self) -> None:
        """Store the threshold view the panel shows in the catalog, for the model it belongs to."""
        self._view_state_timer.stop()
        if self.catalog is None or self._view_state_for is None:
            return
        path, key = self._view_state_for
        if path != str(self.catalog.path):
            return
        try:
            self.catalog.set_view_state(key, self.threshold_panel.policy())
        except CatalogError as exc:  # a read-only or vanished file: say so, the view still works
            self.statusBar().showMessage(str(exc), 8000)

    def _restore_view_state(self) -> None:
        """Show the threshold view last saved for the active model of this library (else defaults)."""
        m = self.library
        if m is None or self.catalog is None or not m.model_key:
            return
        key = (str(self.catalog.path), m.model_key)
        if key == self._view_state_for:
            return
        self._view_state_for = key
        self.threshold_panel.set_policy(self.catalog.view_state(m.model_key) or ThresholdPolicy())

    @Slot(object)
    def _policy_changed(self, policy: ThresholdPolicy) -> None:
        if self._view_state_for is not None:
            self._view_state_timer.start()
        if self.library is not None:
            self.library.set_policy(policy)
        self.review.refresh()
        if hasattr(self.models_tab, "set_policy"):
            self.models_tab.set_policy(policy)

    @Slot(object)
    def _spec_changed(self, spec) -> None:
        if self.library is not None:
            self.library.set_spec(spec)
            self._update_counts()

    @Slot()
    def _labels_changed(self) -> None:
        m = self.library
        if m is None:
            return
        self.filters.set_labels(m.all_labels())
        self.review.rebuild_labels()
        self.grid.label_keys = {key: lab for lab, key in self.review.keys.items()}
        if self._view_state_for is not None and self._view_state_for[1] != m.model_key:
            self.save_view_state()  # another model: keep the old one's view with it, before the panel moves
        shown = (
            m.labels, tuple(float(x) for x in m.defaults), tuple(sorted(m.groups.items())), m.exclusive
        )  # fmt: skip
        if m.labels and shown != self._panel_model:
            # Only a new model resets the threshold panel; a person adding a new tag must not.
            self._panel_model = shown
            self.threshold_panel.set_model(list(m.labels), list(shown[1]), dict(m.groups), m.exclusive)
        self._restore_view_state()
        if m.labels:
            m.set_policy(self.threshold_panel.policy())

    @Slot()
    def _update_counts(self) -> None:
        m = self.library
        if m is None:
            return
        predicted, confirmed = m.counts()
        if predicted:
            self.threshold_panel.set_counts(predicted, confirmed)
        self.tag_page.grid.count_label.setText(f"{m.rowCount():,} of {m.image_count():,} photos shown")
        folders = self.session.folder_count() if self.session is not None else 0
        self.status_label.setText(
            f"{m.image_count():,} photos in {folders} folder{'' if folders == 1 else 's'}"
        )
        self._update_first_launch()
        self._show_untagged()

    @Slot()
    def _update_first_launch(self, *_args) -> None:
        """The first-launch page and a disabled *Tag photos* while the library has no photo; the grid and
        tagging once it has one (and again the page when its last folder is removed)."""
        empty = self.library is None or self.library.image_count() == 0
        self.tag_page.show_first_launch(empty)
        self.tag_panel.set_unavailable(NO_PHOTOS_TIP if empty else "")
        self.tag_action.setEnabled(not empty)

    @Slot()
    def _show_model_on_first_launch(self, *_args) -> None:
        combo = self.tag_panel.model_combo
        self.first_launch.set_model(combo.currentText() if combo.currentIndex() >= 0 else None)

    def _show_untagged(self) -> None:
        """The notice of photos the active model has not tagged yet (none while a run or scan goes on)."""
        m, session = self.library, self.session
        if m is None or session is None or session.tag_worker is not None or session.scan_worker is not None:
            self.tag_panel.show_untagged(0)
            return
        name = ""
        if m.model_key and self.catalog is not None:
            rec = self.catalog.model(m.model_key)
            name = rec.name if rec is not None and rec.name else ""
        self.tag_panel.show_untagged(m.untagged_count(), name)

    # -- export ----------------------------------------------------------------------------------
    @Slot()
    def export_dialog(self) -> QWidget | None:
        """Open the export dialog for the library, the photos the grid shows and the selection."""
        if self.library is None or self.catalog is None:
            return None
        from fashion_desktop.gui.tag.export_dialog import ExportDialog

        m = self.library
        dlg = ExportDialog(
            self.catalog,
            m.model_key,
            self.threshold_panel.policy(),
            self.filtered_ids(),
            self.selected_ids(),
            self,
            defaults=[float(x) for x in m.defaults] if m.model_key else None,
        )
        dlg.exported.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.export_window = dlg
        dlg.open()
        return dlg

    # -- import ----------------------------------------------------------------------------------
    @Slot()
    def import_tags_dialog(self, path: str | os.PathLike | None = None) -> QMessageBox | None:
        """Preview what importing a spreadsheet would change; the person confirms before anything is
        recorded. The import is one undo step."""
        if self.library is None or self.catalog is None:
            return None
        if not path:
            path, _ = QFileDialog.getOpenFileName(
                self, "Import tags", str(Path.home()), "Spreadsheets (*.csv *.xlsx *.xlsm *.txt)"
            )
            if not path:
                return None
        from fashion_desktop.core.label_import import import_spreadsheet
        from fashion_desktop.core.spreadsheet import ExportError

        m = self.library
        try:
            report = import_spreadsheet(self.catalog, path, model_labels=m.labels, dry_run=True)
        except ExportError as exc:
            return self.warn(str(exc))
        photos = len(report.matched_ids)
        own = sorted(report.labels_seen.difference(m.labels)) if m.labels else []
        lines = [
            f"Photos matched: {photos:,} ({report.newly_reviewed:,} not reviewed yet)",
            f"Decisions: {report.added:,} added, {report.changed:,} changed"
            f" ({report.decisions - report.added - report.changed:,} already so)",
            f"Rows matching no photo: {len(report.unmatched):,}",
            f"Rows matching several photos (skipped): {len(report.ambiguous):,}",
            f"Unknown labels (skipped): {len(report.unknown_labels):,}",
        ]
        if own:
            lines.append(f"Labels the model does not have (kept as your own): {', '.join(own[:8])}")
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Import tags")
        box.setText(f"Import tags from {Path(path).name}?")
        box.setInformativeText(
            "\n".join(lines) + "\n\nThe matched photos are marked reviewed with these tags as your "
            "decisions. Undo takes the import back."
        )
        box.setDetailedText(report.summary())
        self.import_button = box.addButton("Import", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(self.import_button)
        self.import_box = box
        self.import_preview = report
        self.import_button.setEnabled(bool(report.changes) or report.newly_reviewed > 0)

        def done() -> None:
            if box.clickedButton() is self.import_button and self.library is m:
                self._apply_import(report)

        box.finished.connect(done)
        box.open()
        return box

    def _apply_import(self, report) -> None:
        m = self.library
        if m is None or self.catalog is None:
            return
        photos = len(report.matched_ids)
        self.undo_stack.push(
            commands.ImportCommand(
                m, report.changes, report.matched_ids, f"Import tags on {photos} photo{'s' * (photos != 1)}"
            )
        )
        if report.splits:
            self.catalog.set_splits(report.splits)  # dataset splits are not shown here: no undo needed
        self.review.refresh()
        self.statusBar().showMessage(
            f"Imported {report.decisions:,} decisions on {photos:,} photos from {report.path.name}", 8000
        )

    # -- drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_folders(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for folder in dropped_folders(event):
            self.add_folder(folder)
        event.acceptProposedAction()

    def warn(self, text: str) -> QMessageBox:
        """Show a problem without blocking: the event loop (and any running job) carries on."""
        self.statusBar().showMessage(text.splitlines()[0], 15_000)
        box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_warning = box
        return box

    # -- about, settings, closing ------------------------------------------------------------------
    def about_text(self) -> str:
        """Versions, and the devices torch sees (asked in a child process: torch never loads in the app)."""
        import PySide6

        from fashion_desktop import __version__ as app_version

        lines = [
            f"<b>{APP_NAME}</b> {app_version}",
            f"Python {sys.version.split()[0]} on {platform.platform()}",
            f"PySide6 {PySide6.__version__}",
        ]
        found = self.tag_panel.devices
        if found is not None:
            lines.append(f"PyTorch {found.torch}")
            devs = ["CPU"] + [f"CUDA: {n}" for n in found.cuda_names] + (["Apple MPS"] if found.mps else [])
            lines.append("Devices: " + ", ".join(devs))
        else:
            lines.append("PyTorch and devices: checking…")
        model = self.tag_panel.current_bundle()
        if model:
            lines.append(f"Model: {_model_line(model)}")
        if self.catalog is not None:
            lines.append(f"Library: {self.catalog.path}")
        lines.append(f"Logs: {settings.log_dir()}")
        return "<br>".join(lines)

    @Slot()
    def open_log_folder(self) -> bool:
        """Show the folder of the session logs in the file manager; False when none could be opened."""
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(settings.log_dir())))

    @Slot()
    def about(self) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Information, f"About {APP_NAME}", self.about_text(), parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if self.tag_panel.devices is None:

            def update(_found) -> None:
                try:
                    box.setText(self.about_text())
                except RuntimeError:  # the box was closed first
                    pass

            self.tag_panel.devices_found.connect(update)
            self.tag_panel.probe()
        box.open()
        return box

    def _restore_settings(self) -> None:
        geo = settings.get_bytes(settings.GEOMETRY)
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1400, 880)
        state = settings.get_bytes(settings.STATE)
        if state is not None:
            self.restoreState(state)
        split = settings.get_bytes(settings.SPLITTER)
        if split is not None:
            self.tag_page.splitter.restoreState(split)
        self.tag_page.grid.slider.setValue(
            settings.get_int(settings.THUMB_SIZE, self.tag_page.grid.slider.value())
        )
        self.tag_panel.batch_spin.setValue(settings.get_int(settings.BATCH_SIZE, 0))
        self.tag_panel.set_device(settings.get_str(settings.DEVICE, "auto"))

    def running_jobs(self) -> list[str]:
        """What is running that quitting would stop ("Tagging is running (242 of 300 done)").

        Tabs take part by having a ``running_job()`` method that returns such a line or "" (the Train tab).
        """
        jobs = []
        if self.session is not None and self.session.tag_worker is not None:
            jobs.append(f"Tagging is running ({self.tag_panel.progress_text()})")
        for i in range(self.tabs.count()):
            busy = getattr(self.tabs.widget(i), "running_job", None)
            text = busy() if callable(busy) else ""
            if text:
                jobs.append(text)
        return jobs

    def _ask_before_quitting(self, jobs: list[str]) -> None:
        """Ask (without blocking: the job goes on meanwhile) whether to stop the jobs and quit."""
        if self.quit_box is not None:
            self.quit_box.raise_()
            return
        text = (
            "\n".join(j + "." for j in jobs)
            + "\n\nStop "
            + ("it" if len(jobs) == 1 else "them")
            + " and quit? What is done is kept."
        )
        box = QMessageBox(
            QMessageBox.Icon.Question, APP_NAME, text, QMessageBox.StandardButton.NoButton, self
        )
        self.stop_quit_button = box.addButton("Stop && quit", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(button) -> None:
            self.quit_box = None
            if button is self.stop_quit_button:
                self._quit_confirmed = True
                self.close()

        box.buttonClicked.connect(answered)
        box.rejected.connect(lambda: setattr(self, "quit_box", None))
        self.quit_box = box
        box.open()

    def closeEvent(self, event: QCloseEvent) -> None:
        jobs = [] if self._quit_confirmed else self.running_jobs()
        if jobs:
            event.ignore()
            self._ask_before_quitting(jobs)
            return
        QApplication.instance().removeEventFilter(self.review_keys)
        self.save_view_state()
        settings.set_value(settings.GEOMETRY, self.saveGeometry())
        settings.set_value(settings.STATE, self.saveState())
        settings.set_value(settings.SPLITTER, self.tag_page.splitter.saveState())
        settings.sync()
        # Decisions are already committed; stopping jobs keeps whatever batches they finished.
        if self.session is not None:
            self.session.close()
            self.session = None
        self.tag_panel.stop()
        self.train_tab.shutdown()
        self.thumbs.close()
        super().closeEvent(event)
