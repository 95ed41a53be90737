"""Opens the larger look on the grid's current photo and keeps it on that photo as the grid moves."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, Slot

from fashion_desktop.gui.controllers.library import LibraryController
from fashion_desktop.gui.controllers.review import ReviewController
from fashion_desktop.gui.tag.library_model import Roles
from fashion_desktop.gui.tag.photo_view import LARGE_SIZE, PhotoView
from fashion_desktop.gui.tag.tag_page import TagPage
from fashion_desktop.gui.tag.thumbnails import Thumbnailer


class LargeViewController(QObject):
    """Double-click or Enter on a thumbnail shows it large in the grid's place; the arrows move the grid's
    current photo, and review keys (Space moving on included) act through the review controller, so the
    large view always shows the grid's current photo. Escape goes back to the grid."""

    def __init__(
        self, library_ctl: LibraryController, review_ctl: ReviewController, page: TagPage, thumbs: Thumbnailer
    ) -> None:
        super().__init__(review_ctl)
        self.review_ctl = review_ctl
        self.page = page
        self.view: PhotoView = page.photo_view
        self.grid = review_ctl.grid
        self.thumbs = thumbs
        self.grid.open_requested.connect(self.open)
        self.view.step_requested.connect(self.step)
        self.view.close_requested.connect(self.close)
        thumbs.thumbnail_ready.connect(self._thumb_ready)
        library_ctl.session_changed.connect(self._new_session)

    def is_open(self) -> bool:
        return self.page.middle.currentWidget() is self.view

    @Slot(object)
    def _new_session(self, _session) -> None:
        self.close()
        # Connected after the review controller gave the grid its new model (and selection model).
        self.grid.selectionModel().currentChanged.connect(self._current_changed)

    @Slot()
    def open(self) -> None:
        if not self.grid.currentIndex().isValid():
            return
        self.page.middle.setCurrentWidget(self.view)
        self.page.left.hide()  # the filters make room for the photo; the review pane stays for its keys
        self.view.setFocus()
        self._show()

    @Slot()
    def close(self) -> None:
        if not self.is_open():
            return
        self.page.middle.setCurrentWidget(self.page.grid)
        self.page.left.show()
        self.grid.setFocus()
        self.grid.scrollTo(self.grid.currentIndex())

    @Slot(int)
    def step(self, by: int) -> None:
        """The previous or next photo of the grid's order (the first and the last stay)."""
        target = self.grid.model().index(self.grid.currentIndex().row() + by, 0)
        if target.isValid():
            self.grid.selectionModel().setCurrentIndex(
                target, QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
            self.grid.scrollTo(target)

    @Slot(QModelIndex, QModelIndex)
    def _current_changed(self, *_args) -> None:
        if self.is_open():
            self._show()

    def _show(self) -> None:
        index = self.grid.currentIndex()
        if not index.isValid():
            self.close()
            return
        name = Path(index.data(Roles.Path) or "").name
        title = f"{name}   ({index.row() + 1:,} of {self.grid.model().rowCount():,})"
        key = index.data(Roles.ThumbKey)
        pixmap = self.thumbs.get(key, LARGE_SIZE) if key else None
        reason = self.thumbs.failure(key) if key else None
        message = f"Cannot show this photo: {reason}" if reason else "Loading…"
        self.view.show_photo(pixmap, title, message)

    @Slot(object)
    def _thumb_ready(self, key) -> None:
        if self.is_open() and self.grid.currentIndex().data(Roles.ThumbKey) == key:
            self._show()
