"""Review edits on the Tag tab: the selection, the undo stack, toggles, accept, tag dialogs, keys, palette, jumps."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QApplication, QWidget

from fashion_desktop.core.tags import new_label_problem
from fashion_desktop.gui import settings
from fashion_desktop.gui.controllers.library import LibraryController
from fashion_desktop.gui.controllers.messages import Messages
from fashion_desktop.gui.library_session import LibrarySession
from fashion_desktop.gui.tag import commands
from fashion_desktop.gui.tag.label_palette import LabelPalette, palette_entries
from fashion_desktop.gui.tag.library_model import LibraryModel
from fashion_desktop.gui.tag.review_keys import ReviewKeys
from fashion_desktop.gui.tag.review_pane import key_hint
from fashion_desktop.gui.tag.tag_dialogs import AddTagDialog, NewTagDialog, RemoveTagDialog, present_tags
from fashion_desktop.gui.tag.tag_page import TagPage


class MovingReviewCommand(QUndoCommand):
    """A review mark that moves the grid on (Space): redo marks the photos and shows ``after``; undo takes
    the mark away and shows the photos it was on again, so Ctrl+Z goes back to the photo."""

    def __init__(
        self, mark: QUndoCommand, show: Callable[[Sequence[int]], None], marked: list[int], after: list[int]
    ) -> None:
        super().__init__(mark.text())
        self._mark = mark
        self._show = show
        self._marked = marked
        self._after = after

    def redo(self) -> None:
        self._mark.redo()
        self._show(self._after)

    def undo(self) -> None:
        self._mark.undo()
        self._show(self._marked)


class ReviewController(QObject):
    """Every review edit goes through one undo stack, on the photos the grid selects. ``tag_tab_wanted``
    asks the window to show the Tag tab (the palette opens there)."""

    tag_tab_wanted = Signal()

    def __init__(self, library_ctl: LibraryController, page: TagPage, messages: Messages) -> None:
        super().__init__(messages.window)
        self.library_ctl = library_ctl
        self.page = page
        self.grid = page.grid.view
        self.pane = page.review
        self.messages = messages
        self.undo_stack = QUndoStack(self)
        self.view_model: QSortFilterProxyModel | None = None
        self.label_palette: LabelPalette | None = None
        self.tag_dialog: QWidget | None = None
        self.space_advances = settings.get_int(settings.SPACE_ADVANCES, 1) != 0
        self.grid.reviewed_toggle_requested.connect(self.review_and_advance)
        self.grid.label_toggle_requested.connect(self.toggle_label)
        self.grid.jump_requested.connect(self.jump_unreviewed)
        self.pane.label_toggle_requested.connect(self.toggle_label)
        self.pane.new_tag_requested.connect(lambda: self.new_tag_dialog())
        self.pane.reviewed_toggle_requested.connect(self.toggle_reviewed)
        self.pane.accept_requested.connect(self.accept_predictions)
        # The pane's own slot (not a lambda): Qt drops the connection when the pane goes, before the
        # stack's destructor clears it.
        self.undo_stack.indexChanged.connect(self.pane.refresh)
        library_ctl.session_changed.connect(self._show_session)
        # Review keys act wherever focus is on the Tag tab (the threshold table, a button...), not only
        # in the grid; text fields keep their keys. Undo/redo go the same way, so they work whenever
        # the label keys do.
        self.review_keys = ReviewKeys(page, lambda: self.grid.label_keys, self._review_key, self)
        QApplication.instance().installEventFilter(self.review_keys)

    @property
    def library(self) -> LibraryModel | None:
        return self.library_ctl.library

    @Slot(object)
    def _show_session(self, session: LibrarySession) -> None:
        self.undo_stack.clear()
        # The view reaches the Python model through a plain (C++) QSortFilterProxyModel that neither
        # sorts nor filters: QListView lays out by asking index()/rowCount() once per row, and from
        # Python that is 100,000 GIL round trips per layout (seconds while a scan thread runs).
        if self.view_model is not None:
            self.view_model.deleteLater()
        self.view_model = QSortFilterProxyModel(self)
        self.view_model.setDynamicSortFilter(False)
        self.view_model.setSourceModel(session.library)
        self.grid.setModel(self.view_model)
        self.grid.selectionModel().currentChanged.connect(self._selection_changed)
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        self.pane.set_library(session.library)

    def show_first_photo(self) -> None:
        if self.library is not None and self.library.rowCount():
            self.grid.setCurrentIndex(self.view_model.index(0, 0))

    def close(self) -> None:
        QApplication.instance().removeEventFilter(self.review_keys)

    # -- the selection --------------------------------------------------------------------------
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

    @Slot()
    def _selection_changed(self, *_args) -> None:
        self.pane.show_images(self.selected_ids())

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

    def show_photos(self, image_ids: Sequence[int]) -> None:
        """Select the photos shown of ``image_ids`` (the first one current) and scroll to it."""
        rows = sorted({idx.row() for idx in map(self.view_index, image_ids) if idx.isValid()})
        if not rows:
            return
        selection = QItemSelection()
        start = prev = rows[0]
        for row in [*rows[1:], -2]:  # contiguous runs: a big batch is a few ranges, not one per photo
            if row != prev + 1:
                selection.select(self.view_model.index(start, 0), self.view_model.index(prev, 0))
                start = row
            prev = row
        sm = self.grid.selectionModel()
        sm.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        current = self.view_index(image_ids[0])
        sm.setCurrentIndex(
            current if current.isValid() else self.view_model.index(rows[0], 0), sm.SelectionFlag.NoUpdate
        )
        self.grid.scrollTo(self.grid.currentIndex())

    @Slot(bool)
    def set_space_advances(self, on: bool) -> None:
        """Whether Space, having marked photos reviewed, shows the next photo of the view (remembered)."""
        self.space_advances = on
        settings.set_value(settings.SPACE_ADVANCES, int(on))

    @Slot()
    def review_and_advance(self) -> None:
        """Space: mark the selection reviewed and show the photo after it in the grid's order (unless
        turned off); on a photo already reviewed, Space takes the mark away and stays."""
        m = self.library
        ids = self.selected_ids()
        if m is None or not ids:
            return
        command = commands.toggle_reviewed(m, ids)
        if not self.space_advances or all(m.is_reviewed(i) for i in ids):
            self.undo_stack.push(command)
            return
        sm = self.grid.selectionModel()
        last = max([r.bottom() for r in sm.selection()] + [self.grid.currentIndex().row()])
        following = self.view_model.index(last + 1, 0)
        after = [m.id_at(self.view_model.mapToSource(following).row())] if following.isValid() else []
        self.undo_stack.push(MovingReviewCommand(command, self.show_photos, ids, after))
        if not after:
            self._say_end_of_view()

    def _say_end_of_view(self) -> None:
        m = self.library
        left = m.unreviewed_shown() if m is not None else 0
        if left:
            self.messages.say(f"Last photo of this view; {left:,} not reviewed yet — J jumps to the next")
        else:
            self.messages.say(f"All {self.view_model.rowCount():,} photos in this view are reviewed")

    # -- edits ----------------------------------------------------------------------------------
    def _push(self, make) -> None:
        ids = self.selected_ids()
        if ids and self.library is not None:
            self.undo_stack.push(make(self.library, ids))

    @Slot(str)
    def toggle_label(self, label: str) -> None:
        self._push(lambda m, ids: commands.toggle_label(m, ids, label))

    @Slot()
    def toggle_reviewed(self) -> None:
        self._push(commands.toggle_reviewed)

    @Slot()
    def accept_predictions(self) -> None:
        self._push(commands.accept_predictions)

    def set_tag_on_selection(self, label: str, value: bool) -> None:
        self._set_tag_on(self.selected_ids(), label, value)

    def _set_tag_on(self, ids: list[int], label: str, value: bool) -> None:
        if ids and self.library is not None and label:
            self.undo_stack.push(commands.set_label(self.library, ids, label, value))

    def push(self, command) -> None:
        """An undoable edit made elsewhere (an import)."""
        self.undo_stack.push(command)

    # -- dialogs --------------------------------------------------------------------------------
    def tag_selection_dialog(self, value: bool) -> QWidget | None:
        """Add-tag (every label, or a new one typed) or Remove-tag (only the tags the selection has, with
        counts) for the selection; nothing is preselected. Returns the (window-modal) dialog, or None."""
        m = self.library
        ids = self.selected_ids()
        if m is None or not ids:
            self.messages.say("Select photos first", 5000)
            return None
        parent = self.messages.window
        if value:
            dlg: AddTagDialog | RemoveTagDialog = AddTagDialog(m.all_labels(), len(ids), parent)
        else:
            present = present_tags((m.tags_of(i) for i in ids), m.all_labels())
            if not present:
                self.messages.say("The selected photos have no tags to remove", 5000)
                return None
            dlg = RemoveTagDialog(present, len(ids), parent)
        dlg.tag_chosen.connect(lambda label: self._set_tag_on(ids, label, value))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.tag_dialog = dlg
        dlg.open()
        return dlg

    def new_tag_dialog(self, name: str = "") -> QWidget | None:
        """Ask a new tag's name (``name`` typed already, e.g. in the palette) and group, then add it to the
        selection as the person's decision (one undo step). Returns the (window-modal) dialog, or None."""
        m = self.library
        ids = self.selected_ids()
        if m is None or not ids:
            self.messages.say("Select photos first", 5000)
            return None
        groups = m.label_groups()
        shown = list(dict.fromkeys(groups.get(lab, "") for lab in m.all_labels()))
        dlg = NewTagDialog(m.all_labels(), [g for g in shown if g], len(ids), name, self.messages.window)
        dlg.tag_created.connect(lambda label, group: self._create_tag(ids, label, group))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.tag_dialog = dlg
        dlg.open()
        dlg.name.setFocus()
        return dlg

    def _create_tag(self, ids: list[int], label: str, group: str) -> None:
        m, catalog = self.library, self.library_ctl.catalog
        if m is None or catalog is None:
            return
        # Checked again before the command runs: a command that fails inside the undo stack stays on it.
        problem = new_label_problem(label, [*m.all_labels(), *catalog.person_labels()])
        if problem is not None:
            self.messages.warn(f"{catalog.path}: tag not created: {problem}")
            return
        self.undo_stack.push(commands.NewLabelCommand(m, ids, label, group))
        key = self.pane.keys.get(label)
        how = f"key {key_hint(key)}" if key else "Ctrl+K to find it"
        self.messages.say(f"New tag “{label}” in “{group}” ({how})")

    # -- review keys and the label palette ------------------------------------------------------
    def _review_key(self, action: str, label: str) -> None:
        """A review key pressed somewhere on the Tag tab (see ReviewKeys)."""
        if action == "label":
            self.toggle_label(label)
        elif action == "reviewed":
            self.review_and_advance()
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
        self.tag_tab_wanted.emit()
        if self.label_palette is not None:  # one palette at a time, listing the selection of now
            self.label_palette.close()
            self.label_palette.deleteLater()
            self.label_palette = None
        ids = self.selected_ids()
        states: dict[str, str] = {}
        for lab, n in present_tags(m.tags_of(i) for i in ids) if ids else ():
            states[lab] = "all" if n == len(ids) else "some"
        target = (
            "" if not ids else ("the current photo" if len(ids) == 1 else f"{len(ids):,} selected photos")
        )
        entries = palette_entries(m.all_labels(), m.label_groups(), self.pane.keys, states)
        palette = LabelPalette(entries, target, self.messages.window)
        palette.label_chosen.connect(self.toggle_label)
        palette.create_requested.connect(lambda name: self.new_tag_dialog(name))
        grid = self.page.grid
        corner = grid.mapToGlobal(grid.rect().topLeft())
        palette.move(corner.x() + max(0, (grid.width() - palette.width()) // 2), corner.y() + 40)
        self.label_palette = palette
        palette.show()
        palette.raise_()
        palette.activateWindow()
        palette.search.setFocus()
        return palette
