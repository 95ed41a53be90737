"""Main window: composes the Tag, Models and Train tabs, the menus and the status bar; controllers do the work."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QTabWidget, QWidget

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.gui import settings
from fashion_desktop.gui.about import APP_NAME, about_text
from fashion_desktop.gui.appearance import Appearance
from fashion_desktop.gui.controllers.actions import Actions
from fashion_desktop.gui.controllers.adapter import AdapterController
from fashion_desktop.gui.controllers.context_menu import ThumbnailMenu
from fashion_desktop.gui.controllers.large_view import LargeViewController
from fashion_desktop.gui.controllers.library import LibraryController
from fashion_desktop.gui.controllers.messages import Messages
from fashion_desktop.gui.controllers.review import ReviewController
from fashion_desktop.gui.controllers.similar import SimilarController
from fashion_desktop.gui.controllers.tagging import TaggingController
from fashion_desktop.gui.controllers.transfer import TransferController
from fashion_desktop.gui.controllers.view_state import ThresholdViewState
from fashion_desktop.gui.job_queue import JobQueue, JobStatus, RunningJob
from fashion_desktop.gui.library_session import LibrarySession
from fashion_desktop.gui.tag.first_launch import dropped_folders
from fashion_desktop.gui.tag.library_model import LibraryModel
from fashion_desktop.gui.tag.tag_page import TagPage
from fashion_desktop.gui.tag.thumbnails import Thumbnailer
from fashion_desktop.gui.widgets import ElidedLabel
from fashion_desktop.gui.worker import ProcessWorker, Worker

log = logging.getLogger(__name__)


def _threshold_panel() -> QWidget:
    from fashion_desktop.gui.tag.thresholds_panel import ThresholdPanel

    return ThresholdPanel()


class MainWindow(QMainWindow):
    """The app window: tabs, menus (from the actions table) and the status bar, wired to the controllers
    that act: ``library_ctl`` (libraries, folders, scans), ``review_ctl`` (selection and undoable edits),
    ``tagging_ctl`` (tagging runs and models), ``view_state`` (thresholds, filters, counts) and
    ``transfer_ctl`` (import and export)."""

    library_opened = Signal(str)
    scan_finished = Signal()
    relinked = Signal(object)  # core.relink.RelinkReport, after the grid shows the new place
    tagging_finished = Signal(object)  # the engine's Summary, or None when the run failed

    def __init__(self, library_path: str | os.PathLike | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.appearance = Appearance(self)  # light or dark, as the system is or as chosen: before any widget
        self.thumbs = Thumbnailer(self)
        # Worker threads run Python too; a short switch interval lets the GUI thread take the GIL back
        # within a fraction of a millisecond instead of 5 ms each time a Qt callback needs it.
        sys.setswitchinterval(0.0005)
        self._build_tabs()
        self._build_controllers()
        self._build_status_bar()
        self.actions = Actions(self, self, self.menuBar())
        for name, made in self.actions.by_name.items():
            setattr(self, name, made)  # self.tag_action, self.recent_folders_menu, ...
        self.take_turns_action.setChecked(self.jobs.take_turns)
        self.space_advances_action.setChecked(self.review_ctl.space_advances)
        self.appearance.fill_menu(self.appearance_menu)
        self.library_ctl.set_recent_menus(self.recent_libraries_menu, self.recent_folders_menu)
        self._wire()
        self.quit_box: QMessageBox | None = None
        self._quit_confirmed = False
        self._restore_settings()
        path = library_path or settings.get_str(settings.LAST_LIBRARY) or settings.default_library_path()
        if not self.library_ctl.open_library(path) and Path(path) != settings.default_library_path():
            self.library_ctl.open_library(settings.default_library_path())
        self.view_state.update_first_launch()
        self._show_model_on_first_launch()

    # -- composition --------------------------------------------------------------------------------
    def _build_tabs(self) -> None:
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
        from fashion_desktop.gui.models.models_tab import ModelsTab
        from fashion_desktop.gui.train.train_tab import TrainTab

        self.models_tab = ModelsTab()
        self.add_tab(self.models_tab, "&Models")
        self.train_tab = TrainTab()
        self.train_tab.current_model = self.tag_panel.current_bundle
        self.add_tab(self.train_tab, "T&rain")
        self.setCentralWidget(self.tabs)

    def _build_controllers(self) -> None:
        self.messages = Messages(self.statusBar(), self)
        # One line each: a long folder name ends in "…" instead of widening the window.
        self.status_label = ElidedLabel("")
        self.scan_label = ElidedLabel("", mode=Qt.TextElideMode.ElideMiddle)
        page = self.tag_page
        self.library_ctl = LibraryController(
            self.messages, page.first_launch, page.first_launch_shown, self.scan_label
        )
        self.review_ctl = ReviewController(self.library_ctl, page, self.messages)
        self.large_view = LargeViewController(self.library_ctl, self.review_ctl, page, self.thumbs)
        self.photo_view = page.photo_view
        self.view_state = ThresholdViewState(self.library_ctl, page, self.messages, self.status_label)
        self.similar_ctl = SimilarController(self.library_ctl, self.review_ctl, page.filters, self.messages)
        # Tagging and training compete for the CPU: by default one waits for the other, and the status
        # bar says which runs and which waits, with a button that starts the waiting one anyway.
        self.jobs = JobQueue(settings.get_int(settings.JOBS_TAKE_TURNS, 1) != 0, self)
        self.tagging_ctl = TaggingController(self.library_ctl, self.tag_panel, self.jobs, self.messages)
        self.adapter_ctl = AdapterController(
            self.library_ctl, self.tag_panel, self.messages, self.threshold_panel
        )
        self.transfer_ctl = TransferController(
            self.library_ctl, self.review_ctl, self.threshold_panel.policy, self.messages
        )
        tab = self.train_tab
        self.jobs.add_kind(
            "training",
            "Training",
            lambda: tab.worker is not None,
            tab.run.progress_text,  # what the Train tab's bar shows, as the quit question says it
        )
        tab.jobs = self.jobs
        # What quitting would stop: each answers running_job() with a line, or "".
        self.job_sources: list[RunningJob] = [self.tagging_ctl, self.train_tab]

    def _build_status_bar(self) -> None:
        self.job_status = JobStatus(self.jobs, self)
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.scan_label)
        self.job_status.place(self.statusBar())

    def _wire(self) -> None:
        lib, tagging = self.library_ctl, self.tagging_ctl
        lib.session_changed.connect(self._show_session)
        lib.library_opened.connect(self.library_opened)
        lib.scan_finished.connect(self.scan_finished)
        lib.relinked.connect(self.relinked)
        lib.scan_problems.connect(self.tag_panel.add_failures)
        tagging.finished.connect(self.tagging_finished)
        tagging.finished.connect(self.similar_ctl.forget)  # new embeddings: the index loads again
        tagging.finished.connect(self.adapter_ctl.scores_changed)  # new scores: the adapter's follow
        tagging.finished.connect(self.view_state.embeddings_changed)
        # The grid's right-click menu acts on the photo under the pointer (or the selection it is in).
        self.thumbnail_menu = ThumbnailMenu(lib, self.review_ctl, self.find_similar_action, self.messages)
        self.thumbnail_menu.photos_removed.connect(self.similar_ctl.forget)  # their embeddings went too
        tagging.counts_changed.connect(self.view_state.update_counts)
        tagging.bundles_listed.connect(self.models_tab.set_bundle_paths)
        tagging.bundle_added.connect(self.models_tab.add_bundle)
        tagging.model_used.connect(self.train_tab.model_used)
        tagging.tag_tab_wanted.connect(self.show_tag_tab)
        self.review_ctl.tag_tab_wanted.connect(self.show_tag_tab)
        self.view_state.policy_applied.connect(self.models_tab.set_policy)
        self.view_state.photos_available.connect(lambda _on: self.actions.update_enabled())
        self.models_tab.model_activated.connect(tagging.show_model)
        self.models_tab.bundle_paths_changed.connect(tagging.bundles_changed)
        self.train_tab.use_model_requested.connect(tagging.use_trained_model)
        self.train_tab.retag_requested.connect(tagging.retag_library)
        self.train_tab.state_changed.connect(lambda _state: self.jobs.update())
        # The job line follows each bar as it moves (not half a second later), from the same numbers.
        self.train_tab.run.status_changed.connect(lambda _text: self.jobs.refresh())
        self.tag_panel.progress_shown.connect(self.jobs.refresh)
        self.tag_panel.model_combo.currentIndexChanged.connect(self._show_model_on_first_launch)
        self.first_launch.add_folder_requested.connect(lib.add_folder_dialog)
        self.first_launch.folders_dropped.connect(lib.add_folders)
        self.tag_page.grid.slider.valueChanged.connect(lambda v: settings.set_value(settings.THUMB_SIZE, v))

    def add_tab(self, widget: QWidget, title: str) -> int:
        """Tabs are the extension point: the Train tab is one more call to this."""
        return self.tabs.addTab(widget, title)

    @Slot()
    def show_tag_tab(self) -> None:
        self.tabs.setCurrentWidget(self.tag_page)

    @Slot(object)
    def _show_session(self, session: LibrarySession) -> None:
        self.train_tab.set_catalog_path(session.path)
        self.setWindowTitle(f"{session.path.stem} — {APP_NAME}")
        self.review_ctl.show_first_photo()

    # -- what the open library is (read by tests, the self-test and the benchmarks) ------------------
    @property
    def session(self) -> LibrarySession | None:
        return self.library_ctl.session

    @property
    def catalog(self) -> Catalog | None:
        return self.library_ctl.catalog

    @property
    def library(self) -> LibraryModel | None:
        return self.library_ctl.library

    @property
    def scan_worker(self) -> Worker | None:
        return self.session.scan_worker if self.session is not None else None

    @property
    def tag_worker(self) -> ProcessWorker | None:
        return self.session.tag_worker if self.session is not None else None

    @property
    def last_warning(self) -> QMessageBox | None:
        return self.messages.last_warning

    def has_photos(self) -> bool:
        """Whether the library has a photo (the actions that need one are enabled)."""
        return self.library is not None and self.library.image_count() > 0

    @Slot()
    def _show_model_on_first_launch(self, *_args) -> None:
        combo = self.tag_panel.model_combo
        self.first_launch.set_model(combo.currentText() if combo.currentIndex() >= 0 else None)

    # -- drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_folders(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.library_ctl.add_folders(dropped_folders(event))
        event.acceptProposedAction()

    # -- help --------------------------------------------------------------------------------------
    @Slot()
    def show_shortcuts(self) -> QWidget:
        """Help → Keyboard shortcuts, generated from the key map in use now and the actions table."""
        from fashion_desktop.gui.key_help import ShortcutsDialog, shortcuts_html

        m = self.library
        name = ""
        if m is not None and m.model_key and self.catalog is not None:
            rec = self.catalog.model(m.model_key)
            name = (rec.name if rec is not None and rec.name else "") or m.model_key
        groups = m.label_groups() if m is not None else {}
        text = shortcuts_html(dict(self.review.keys), groups, self.actions.shortcut_rows(), name)
        dlg = ShortcutsDialog(text, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.shortcuts_window = dlg
        dlg.show()
        return dlg

    def about_text(self) -> str:
        catalog = self.catalog
        return about_text(self.tag_panel.devices, self.tag_panel.current_bundle(), catalog and catalog.path)

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

    @Slot()
    def open_log_folder(self) -> bool:
        """Show the folder of the session logs in the file manager; False when none could be opened."""
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(settings.log_dir())))

    # -- settings and quitting -------------------------------------------------------------------
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
        slider = self.tag_page.grid.slider
        slider.setValue(settings.get_int(settings.THUMB_SIZE, slider.value()))
        self.tag_panel.batch_spin.setValue(settings.get_int(settings.BATCH_SIZE, 0))
        self.tag_panel.set_device(settings.get_str(settings.DEVICE, "auto"))

    def running_jobs(self) -> list[str]:
        """What is running that quitting would stop ("Tagging is running (242 of 300 done)")."""
        return [text for text in (source.running_job() for source in self.job_sources) if text]

    def _ask_before_quitting(self, jobs: list[str]) -> None:
        """Ask (without blocking: the job goes on meanwhile) whether to stop the jobs and quit."""
        if self.quit_box is not None:
            self.quit_box.raise_()
            return
        them = "it" if len(jobs) == 1 else "them"
        text = "\n".join(j + "." for j in jobs) + f"\n\nStop {them} and quit? What is done is kept."
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
        self.review_ctl.close()
        self.view_state.save()
        settings.set_value(settings.GEOMETRY, self.saveGeometry())
        settings.set_value(settings.STATE, self.saveState())
        settings.set_value(settings.SPLITTER, self.tag_page.splitter.saveState())
        settings.sync()
        # Decisions are already committed; stopping jobs keeps whatever batches they finished.
        self.adapter_ctl.stop()
        self.library_ctl.close()
        self.tag_panel.stop()
        self.train_tab.shutdown()
        self.thumbs.close()
        super().closeEvent(event)
