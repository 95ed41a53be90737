"""The grid's right-click menu: folder, system viewer, paths, review marks, one-value groups, similar, remove."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, QPoint, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMenu, QMessageBox

from fashion_desktop.core.catalog import CatalogError
from fashion_desktop.core.photo_removal import remove_photos
from fashion_desktop.gui.about import APP_NAME
from fashion_desktop.gui.controllers.library import LibraryController
from fashion_desktop.gui.controllers.messages import Messages
from fashion_desktop.gui.controllers.review import ReviewController
from fashion_desktop.gui.tag import commands

NO_MODEL = (
    "Tag the photos with a model first: the values of its one-value groups (colour, gender…) are set here"
)
NO_GROUP = "The model in use has no group that holds one value per photo"


def _photos(n: int) -> str:
    return "1 photo" if n == 1 else f"{n:,} photos"


class ThumbnailMenu(QObject):
    """Builds the menu for the photo right-clicked in the grid (``menu_for``, callable from tests) and acts
    on the selection it is in: a photo outside the selection is selected alone first, as file managers do.
    ``find_similar`` is the window's own action; ``photos_removed(n)`` follows photos leaving the library."""

    photos_removed = Signal(int)

    def __init__(
        self,
        library_ctl: LibraryController,
        review_ctl: ReviewController,
        find_similar: QAction,
        messages: Messages,
    ) -> None:
        super().__init__(messages.window)
        self.library_ctl = library_ctl
        self.review_ctl = review_ctl
        self.find_similar = find_similar
        self.messages = messages
        self.grid = review_ctl.grid
        self.menu: QMenu | None = None
        self.remove_box: QMessageBox | None = None
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._requested)

    @Slot(QPoint)
    def _requested(self, pos: QPoint) -> None:
        index = self.grid.indexAt(pos)
        if index.isValid():
            self.menu_for(index).popup(self.grid.viewport().mapToGlobal(pos))

    def menu_for(self, index: QModelIndex) -> QMenu:
        """The menu for the grid's photo at ``index`` (a view index), which becomes the current photo."""
        sm = self.grid.selectionModel()
        flag = QItemSelectionModel.SelectionFlag
        sm.setCurrentIndex(index, flag.NoUpdate if sm.isSelected(index) else flag.ClearAndSelect)
        ids = self.review_ctl.selected_ids()
        m = self.library_ctl.library
        if self.menu is not None:
            self.menu.deleteLater()
        menu = QMenu(self.grid)
        menu.setToolTipsVisible(True)  # a disabled entry says why
        self.menu = menu
        path = m.path_of(ids[0]) if m is not None and ids else None
        shown = path is not None and Path(path).is_file()
        why = "" if shown else f"{path} is not found (moved or deleted?)"
        self._add(menu, "Show in Folder", lambda: self._open(str(Path(path).parent)), shown, why)
        self._add(menu, "Open with the System Viewer", lambda: self._open(path), shown, why)
        copy = "Copy Path" if len(ids) == 1 else f"Copy {len(ids):,} Paths"
        self._add(menu, copy, lambda: self.copy_paths(ids), bool(ids))
        menu.addSeparator()
        reviewed = sum(m.is_reviewed(i) for i in ids) if m is not None else 0
        self._add(
            menu,
            "Mark Reviewed",
            lambda: self._mark(ids, True),
            reviewed < len(ids),
            "Every one is reviewed already",
        )
        self._add(
            menu,
            "Mark Not Reviewed",
            lambda: self._mark(ids, False),
            reviewed > 0,
            "None of them is reviewed yet",
        )
        self._add_groups(menu, ids)
        menu.addSeparator()
        menu.addAction(self.find_similar)
        menu.addSeparator()
        self._add(menu, "Remove from Library…", lambda: self.ask_to_remove(ids), bool(ids))
        return menu

    @staticmethod
    def _add(menu: QMenu, text: str, slot, enabled: bool, why: str = "") -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda _checked=False: slot())
        action.setEnabled(enabled)
        if not enabled and why:
            action.setToolTip(why)
        return action

    def _add_groups(self, menu: QMenu, ids: list[int]) -> None:
        """One "Set <group>" submenu per one-value group of the model in use, the value all photos share
        ticked; without such a group, one disabled entry says why."""
        m = self.library_ctl.library
        groups = m.label_groups() if m is not None else {}
        exclusive = [
            g for g in (m.exclusive if m is not None and m.model_key else ()) if g in groups.values()
        ]
        if not exclusive:
            why = NO_MODEL if m is None or not m.model_key else NO_GROUP
            self._add(menu, "Set a Value", lambda: None, False, why)
            return
        tags = [set(m.tags_of(i)) for i in ids]
        for group in exclusive:
            sub = menu.addMenu(f"Set {group}")
            for label in (lab for lab, g in groups.items() if g == group):
                action = self._add(sub, label, lambda lab=label: self._set_value(ids, lab), bool(ids))
                action.setCheckable(True)
                action.setChecked(bool(tags) and all(label in t for t in tags))

    # -- what the entries do ------------------------------------------------------------------------
    def _open(self, path: str) -> bool:
        opened = QDesktopServices.openUrl(QUrl.fromLocalFile(path))
        if not opened:
            self.messages.say(f"No program could open {path}", 8000)
        return opened

    def copy_paths(self, ids: list[int]) -> None:
        """The photos' paths on the clipboard, one a line."""
        m = self.library_ctl.library
        paths = [p for p in (m.path_of(i) for i in ids) if p] if m is not None else []
        QGuiApplication.clipboard().setText("\n".join(paths))
        self.messages.say("Copied the path" if len(paths) == 1 else f"Copied {len(paths):,} paths", 4000)

    def _mark(self, ids: list[int], value: bool) -> None:
        m = self.library_ctl.library
        if m is not None and ids:
            text = f"Mark {_photos(len(ids))} {'reviewed' if value else 'not reviewed'}"
            self.review_ctl.push(commands.ReviewedCommand(m, ids, value, text))

    def _set_value(self, ids: list[int], label: str) -> None:
        m = self.library_ctl.library
        if m is not None and ids:
            self.review_ctl.push(commands.set_label(m, ids, label, True))

    # -- removing photos from the library -----------------------------------------------------------
    def ask_to_remove(self, ids: list[int]) -> QMessageBox | None:
        """Ask (window-modal) before taking the photos out of the library; remove them once confirmed."""
        session = self.library_ctl.session
        if session is None or not ids:
            return None
        if session.scanning() or session.tag_worker is not None or session.relink_worker is not None:
            self.messages.warn("A scan or a tagging run is going on: remove photos once it has finished.")
            return None
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            APP_NAME,
            f"Remove {_photos(len(ids))} from the library?",
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
            self.messages.window,
        )
        box.setInformativeText(
            "The files stay on the disk. Their tags, your decisions and review marks in this library are "
            "lost, and this cannot be undone. Rescanning their folder adds them back as new, untagged photos."
        )
        box.button(QMessageBox.StandardButton.Ok).setText("Remove")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.accepted.connect(lambda: self.remove(ids))
        self.remove_box = box
        box.open()
        return box

    def remove(self, ids: list[int]) -> int:
        """Take the photos out of the library (the person confirmed); returns how many went."""
        session = self.library_ctl.session
        if session is None:
            return 0
        try:
            removed = remove_photos(session.catalog, ids)
        except CatalogError as exc:
            self.messages.warn(f"{session.path}: photos not removed: {exc}")
            return 0
        # Edits on the undo stack name photos that no longer exist.
        self.review_ctl.undo_stack.clear()
        session.library.reload()
        self.library_ctl.counts_changed.emit()
        self.messages.say(f"Removed {_photos(removed)} from the library (the files are still on the disk)")
        self.photos_removed.emit(removed)
        return removed
