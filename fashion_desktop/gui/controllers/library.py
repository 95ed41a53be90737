"""The open library: open/new/recent, folders, scanning, relinking, dropped folders; it swaps the session."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLabel, QMenu, QWidget

from fashion_desktop.core.catalog import Catalog, CatalogError
from fashion_desktop.gui import settings
from fashion_desktop.gui.controllers.messages import Messages
from fashion_desktop.gui.library_session import LibrarySession
from fashion_desktop.gui.tag.first_launch import FirstLaunchPage, folder_problem, no_photos_text
from fashion_desktop.gui.tag.library_model import LibraryModel


class LibraryController(QObject):
    """Owns the ``LibrarySession`` of the open library. ``leaving`` comes before another library replaces
    it (save what belongs to the old one), ``session_changed(session)`` once the new one is in place;
    ``counts_changed`` when folders were added, removed or relinked."""

    leaving = Signal()
    session_changed = Signal(object)
    library_opened = Signal(str)
    scan_finished = Signal()
    scan_problems = Signal(list)  # [(path, reason)] of files a scan could not read
    relinked = Signal(object)  # core.relink.RelinkReport, after the grid shows the new place
    counts_changed = Signal()

    def __init__(
        self, messages: Messages, first_launch: FirstLaunchPage, first_launch_shown, scan_label: QLabel
    ) -> None:
        super().__init__(messages.window)
        self.messages = messages
        self.first_launch = first_launch
        self._first_launch_shown = first_launch_shown
        self.scan_label = scan_label
        self.session: LibrarySession | None = None
        self.recent_libraries_menu: QMenu | None = None
        self.recent_folders_menu: QMenu | None = None
        self.remove_folder_window: QWidget | None = None
        self._added_folders: set[str] = set()  # added in this session: a scan finding nothing says so
        self._scanning_folder = ""

    @property
    def catalog(self) -> Catalog | None:
        return self.session.catalog if self.session is not None else None

    @property
    def library(self) -> LibraryModel | None:
        return self.session.library if self.session is not None else None

    @property
    def parent_widget(self) -> QWidget:
        return self.messages.window

    # -- libraries -----------------------------------------------------------------------------
    def open_library(self, path: str | os.PathLike) -> bool:
        """Open (or create) a catalog file and show it; False with a message when it cannot be opened."""
        path = Path(path)
        try:
            catalog = Catalog(path)
        except CatalogError as exc:
            self.messages.warn(str(exc))
            return False
        old = self.session
        if old is not None:
            self.leaving.emit()
            old.stop_jobs()
        session = LibrarySession(catalog, self)
        self.session = session
        session.scan_started.connect(self._scan_started)
        session.scan_progressed.connect(self._scan_progressed)
        session.scan_done.connect(self._scan_done)
        session.scan_failed.connect(self._scan_failed)
        session.scans_idle.connect(self._scans_idle)
        session.relinked.connect(self._relinked)
        session.relink_failed.connect(lambda message: self.messages.warn(f"Relinking stopped: {message}"))
        if old is not None:
            old.close()
            old.deleteLater()
        self.session_changed.emit(session)
        settings.set_value(settings.LAST_LIBRARY, str(path))
        settings.push_recent(settings.RECENT_LIBRARIES, str(path))
        self.fill_recent_menus()
        self.library_opened.emit(str(path))
        return True

    @Slot()
    def new_library_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.parent_widget,
            "New library",
            str(settings.data_dir() / "library.ffcat"),
            "Fashion Finder libraries (*.ffcat)",
        )
        if path:
            self.open_library(path)

    @Slot()
    def open_library_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.parent_widget,
            "Open library",
            str(settings.data_dir()),
            "Fashion Finder libraries (*.ffcat);;All files (*)",
        )
        if path:
            self.open_library(path)

    def set_recent_menus(self, libraries: QMenu, folders: QMenu) -> None:
        self.recent_libraries_menu, self.recent_folders_menu = libraries, folders

    def fill_recent_menus(self) -> None:
        if self.recent_libraries_menu is None or self.recent_folders_menu is None:
            return
        self.recent_libraries_menu.clear()
        for p in settings.recent(settings.RECENT_LIBRARIES):
            self.recent_libraries_menu.addAction(p, lambda p=p: self.open_library(p))
        self.recent_folders_menu.clear()
        for p in settings.recent(settings.RECENT_FOLDERS):
            self.recent_folders_menu.addAction(p, lambda p=p: self.add_folder(p))

    # -- folders --------------------------------------------------------------------------------
    @Slot()
    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.parent_widget, "Add a folder of photos")
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
        self.fill_recent_menus()

    def add_folders(self, folders: list[str]) -> None:
        """Folders dropped on the window or the first-launch page."""
        for folder in folders:
            self.add_folder(folder)

    @Slot()
    def remove_folder_dialog(self) -> QWidget | None:
        """Ask which folder to take out of the library, saying what is kept; remove it once confirmed."""
        session = self.session
        if session is None or not session.catalog.folders():
            self.messages.say("This library has no folder to remove", 5000)
            return None
        if session.scanning():
            self.messages.warn("A scan is running: remove the folder once it has finished.")
            return None
        from fashion_desktop.gui.tag.folders_dialog import RemoveFolderDialog

        dlg = RemoveFolderDialog(
            session.catalog.folders(), session.catalog.folder_summary, self.parent_widget
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.remove_requested.connect(self.remove_folder)
        self.remove_folder_window = dlg
        dlg.open()
        return dlg

    @Slot(str)
    def remove_folder(self, folder: str) -> None:
        """Take ``folder`` out of the library (the person confirmed); its decisions stay in the catalog."""
        if self.session is None:
            return
        try:
            removed = self.session.remove_folder(folder)
        except RuntimeError as exc:
            self.messages.warn(f"{folder}: not removed: {exc}")
            return
        self.counts_changed.emit()
        self.messages.say(
            f"Removed {Path(folder).name} from the library: {removed:,} photos left the grid "
            "(your tags on them are kept)"
        )

    @Slot()
    def relink_folder_dialog(self) -> None:
        """Ask which library folder moved (missing ones first) and where it is now, then relink it."""
        if self.session is None or not self.session.catalog.folders():
            self.messages.say("This library has no folder to relink", 5000)
            return
        folders = sorted(self.session.catalog.folders(), key=lambda f: (Path(f).is_dir(), f))
        shown = [f"{f}   (not found)" if not Path(f).is_dir() else f for f in folders]
        choice, ok = QInputDialog.getItem(
            self.parent_widget, "Relink a moved folder", "Which folder moved?", shown, 0, False
        )
        if not ok:
            return
        old = folders[shown.index(choice)]
        new = QFileDialog.getExistingDirectory(self.parent_widget, f"Where is {Path(old).name} now?")
        if new:
            self.relink_folder(old, new)

    def relink_folder(self, old: str, new: str) -> bool:
        """Relink ``old`` to ``new`` in the background (see ``core.relink``); False if it cannot start now."""
        if self.session is None or self.session.relink_folder(old, new) is None:
            busy = (
                "The library is still opening"
                if self.session is not None and self.session.loading
                else ("A scan or another relink is running")
            )
            self.messages.warn(f"{busy}: relink once it has finished.")
            return False
        self.scan_label.setText(f"Relinking {Path(old).name}…")
        return True

    @Slot(object)
    def _relinked(self, report) -> None:
        self.scan_label.setText("")
        self.counts_changed.emit()
        text = (
            f"Relinked {report.moved:,} photos of {Path(report.old_folder).name} to {report.new_folder} "
            f"({report.by_content:,} by content, {report.by_name:,} by name and size); their tags are kept"
        )
        if report.not_found:
            text += f"\n{len(report.not_found):,} photos were not found there and were left as they were."
            self.messages.warn(text)
        self.messages.say(text.splitlines()[0], 10_000)
        self.relinked.emit(report)

    # -- scanning -------------------------------------------------------------------------------
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
            self.scan_problems.emit([(p.path, p.reason) for p in progress.problems])
        folder, self._scanning_folder = self._scanning_folder, ""
        if folder in self._added_folders:
            self._added_folders.discard(folder)
            self.first_launch.set_notice("")
            if progress is not None and progress.found == 0 and not progress.cancelled:
                self._say_about_folder(no_photos_text(folder, list(progress.problems)))
        if progress is not None:
            c = progress.counts
            self.messages.say(
                f"Scan finished: {progress.found:,} photos ({c.new:,} new, {c.changed:,} changed, "
                f"{c.removed:,} gone, {len(progress.problems)} problems)"
            )

    def _say_about_folder(self, text: str) -> None:
        """A problem with a folder being added: on the first-launch page when it is shown (where the person
        is about to try another), else in a message box."""
        if self._first_launch_shown():
            self.first_launch.set_notice(text, problem=True)
            self.messages.say(text, 15_000)
        else:
            self.messages.warn(text)

    @Slot(str)
    def _scan_failed(self, message: str) -> None:
        self._added_folders.discard(self._scanning_folder)
        self.first_launch.set_notice("")
        self.messages.warn(f"Scanning stopped: {message}")

    @Slot()
    def _scans_idle(self) -> None:
        self.scan_label.setText("")
        self.counts_changed.emit()
        self.scan_finished.emit()

    def close(self) -> None:
        """Quitting: stop the session's jobs (what they finished is kept)."""
        if self.session is not None:
            self.session.close()
            self.session = None
