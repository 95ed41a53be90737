"""The photo grid: a virtualised list view in icon layout whose delegate paints photo, tag chips and state badge."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QIdentityProxyModel,
    QItemSelection,
    QItemSelectionModel,
    QMetaObject,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QKeyEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QSlider,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.gui.appearance import is_dark
from fashion_desktop.gui.tag.library_model import Roles
from fashion_desktop.gui.tag.thumbnails import Thumbnailer

# Every fill below carries its text at a contrast of 4.5 or more (WCAG AA), in the light and dark schemes.
BADGE_COLOURS = {
    "reviewed": QColor(27, 110, 45),
    "predicted": QColor(40, 90, 180),
    "untagged": QColor(110, 110, 110),
    "failed": QColor(190, 30, 30),
}
BADGE_TEXT = {"reviewed": "✓", "predicted": "P", "untagged": "–", "failed": "!"}
CONFIRMED_CHIP = QColor(27, 110, 45)
PREDICTED_CHIP = QColor(70, 110, 170)
MORE_CHIP = QColor(215, 215, 215)  # "+N": tags that did not fit (the tooltip lists them all)
UNCERTAIN_BADGE = QColor(240, 160, 30)


@dataclass(frozen=True)
class CellColours:
    """What a cell is painted with in one colour scheme (``cell_colours`` picks the scheme's)."""

    badge_text: QColor  # on BADGE_COLOURS
    uncertain_text: QColor  # on UNCERTAIN_BADGE
    chip_text: QColor  # on CONFIRMED_CHIP and PREDICTED_CHIP
    more_chip: QColor
    more_text: QColor
    placeholder: QColor  # where the thumbnail is not there yet
    failure_text: QColor  # "cannot open", on the placeholder


LIGHT_CELL = CellColours(
    QColor(255, 255, 255),
    QColor(30, 30, 30),
    QColor(255, 255, 255),
    MORE_CHIP,
    QColor(40, 40, 40),
    QColor(235, 235, 235),
    QColor(180, 40, 40),
)
DARK_CELL = CellColours(
    QColor(255, 255, 255),
    QColor(30, 30, 30),
    QColor(255, 255, 255),
    QColor(80, 80, 84),
    QColor(235, 235, 235),
    QColor(58, 58, 62),
    QColor(255, 138, 128),
)


def cell_colours(palette: QPalette) -> CellColours:
    """The cell colours of ``palette``'s scheme."""
    return DARK_CELL if is_dark(palette) else LIGHT_CELL


MIN_THUMB, MAX_THUMB, DEFAULT_THUMB = 64, 384, 160
CHIP_ROWS = 2


# What Shift+digit reports as its key on a US layout ("!" for Shift+1); the digit is the key pressed.
_US_SHIFTED_DIGITS = {
    Qt.Key.Key_Exclam: "1",
    Qt.Key.Key_At: "2",
    Qt.Key.Key_NumberSign: "3",
    Qt.Key.Key_Dollar: "4",
    Qt.Key.Key_Percent: "5",
    Qt.Key.Key_AsciiCircum: "6",
    Qt.Key.Key_Ampersand: "7",
    Qt.Key.Key_Asterisk: "8",
    Qt.Key.Key_ParenLeft: "9",
    Qt.Key.Key_ParenRight: "0",
}


# X11/Wayland keycodes (evdev + 8) and macOS virtual keys of the digit row, 1..9 then 0.
_X11_DIGIT_ROW = {10 + i: d for i, d in enumerate("1234567890")}
_MAC_DIGIT_ROW = dict(zip((18, 19, 20, 21, 23, 22, 26, 28, 25, 29), "1234567890", strict=True))


def digit_row(event: QKeyEvent) -> str:
    """The digit printed on the physical key of the main digit row ("" for any other key).

    Layouts differ in what that row types (UK Shift+2 is '"', German Shift+7 '/', AZERTY types
    '&', 'é'... without Shift), so label keys 1-0 follow the physical key.
    """
    if sys.platform == "win32" and 0x30 <= event.nativeVirtualKey() <= 0x39:
        return chr(event.nativeVirtualKey())
    if sys.platform.startswith("linux"):
        return _X11_DIGIT_ROW.get(event.nativeScanCode(), "")
    if sys.platform == "darwin":
        return _MAC_DIGIT_ROW.get(event.nativeVirtualKey(), "")
    return ""


def shifted_key_text(event: QKeyEvent) -> str:
    """The key text ("Shift+A", "Shift+1") of a key pressed with Shift, matched by key, not text."""
    key = event.key()
    if Qt.Key.Key_A <= key <= Qt.Key.Key_Z or Qt.Key.Key_0 <= key <= Qt.Key.Key_9:
        return "Shift+" + chr(key)
    digit = digit_row(event) or _US_SHIFTED_DIGITS.get(key)  # the latter when no native code (tests)
    return "Shift+" + digit if digit else ""


class GridDelegate(QStyledItemDelegate):
    """Paints a cell; fetches thumbnails lazily, so only painted (visible) cells cost a decode."""

    def __init__(self, thumbs: Thumbnailer, parent=None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        self.thumb_size = DEFAULT_THUMB
        self.cell_width = 0  # the view's cell width when it spreads columns over its whole width
        self._font = QFont()
        self._font.setPointSizeF(max(7.0, self._font.pointSizeF() * 0.85))
        self._fm = QFontMetrics(self._font)

    def cell_size(self) -> QSize:
        chip_h = self._fm.height() + 4
        return QSize(
            self.thumb_size + 12, self.thumb_size + 12 + CHIP_ROWS * (chip_h + 2) + self._fm.height()
        )

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        cell = self.cell_size()
        return QSize(max(cell.width(), self.cell_width), cell.height())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        painter.save()
        r = option.rect.adjusted(3, 3, -3, -3)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        pal = option.palette
        if selected:
            painter.fillRect(r, pal.color(QPalette.ColorRole.Highlight).lighter(130))
        if option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(pal.color(QPalette.ColorRole.Highlight))
            painter.drawRect(r.adjusted(0, 0, -1, -1))
        colours = cell_colours(pal)
        size = self.thumb_size
        photo = QRect(r.left() + (r.width() - size) // 2, r.top() + 3, size, size)
        key = index.data(Roles.ThumbKey)
        pm = self.thumbs.get(key, size) if key else None
        if pm is not None:
            pw, ph = pm.width(), pm.height()
            target = QRect(photo.left() + (size - pw) // 2, photo.top() + (size - ph) // 2, pw, ph)
            painter.drawPixmap(target, pm)
        else:
            painter.fillRect(photo, colours.placeholder)
            if key and self.thumbs.failure(key):
                painter.setPen(colours.failure_text)
                painter.drawText(
                    photo, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, "cannot open"
                )
        painter.setFont(self._font)
        state = index.data(Roles.State) or "untagged"
        self._badge(painter, photo, state, colours)
        if index.data(Roles.Uncertain):
            self._uncertain_badge(painter, photo, colours)
        y = photo.bottom() + 4
        name = self._fm.elidedText(
            index.data(Qt.ItemDataRole.DisplayRole) or "", Qt.TextElideMode.ElideMiddle, r.width()
        )
        painter.setPen(pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        # No clipping: at small sizes an underscore is drawn just below the font's line box.
        painter.drawText(
            QRect(r.left(), y, r.width(), self._fm.height()),
            Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextDontClip,
            name,
        )
        y += self._fm.height() + 2
        self._chips(painter, QRect(r.left() + 2, y, r.width() - 4, r.bottom() - y), index, colours)
        painter.restore()

    def _badge(self, painter: QPainter, photo: QRect, state: str, colours: CellColours) -> None:
        d = max(14, self._fm.height() + 2)
        rect = QRect(photo.right() - d - 2, photo.top() + 2, d, d)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BADGE_COLOURS.get(state, BADGE_COLOURS["untagged"]))
        painter.drawEllipse(rect)
        painter.setPen(colours.badge_text)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, BADGE_TEXT.get(state, "?"))

    def uncertain_badge_rect(self, photo: QRect) -> QRect:
        d = max(14, self._fm.height() + 2)
        return QRect(photo.left() + 2, photo.top() + 2, d, d)

    def _uncertain_badge(self, painter: QPainter, photo: QRect, colours: CellColours) -> None:
        """A "?" at the photo's top-left: among the photos most likely to have a wrong tag (the tooltip
        says where; ``LibraryColumns.uncertain``)."""
        rect = self.uncertain_badge_rect(photo)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(UNCERTAIN_BADGE)
        painter.drawEllipse(rect)
        painter.setPen(colours.uncertain_text)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "?")

    def chip_layout(self, tags: list[str], area: QRect) -> tuple[list[tuple[str, QRect]], QRect | None]:
        """Where each shown chip goes in ``area`` (at most CHIP_ROWS rows), and the "+N" chip for the
        tags that did not fit (None when all fit); N is ``len(tags)`` minus the chips shown."""
        h = self._fm.height() + 2
        placed: list[tuple[str, QRect]] = []
        x, y, rows = area.left(), area.top(), 1
        for tag in tags:
            w = min(self._fm.horizontalAdvance(tag) + 8, area.width())
            if x + w > area.right() + 1 and x > area.left():
                rows += 1
                if rows > CHIP_ROWS:
                    break
                x, y = area.left(), y + h + 2
            placed.append((tag, QRect(x, y, w, h)))
            x += w + 3
        if len(placed) == len(tags):
            return placed, None
        # Make room for the "+N" chip on the last row: drop shown chips from the end until it fits.
        while True:
            hidden = len(tags) - len(placed)
            pw = self._fm.horizontalAdvance(f"+{hidden}") + 8
            if not placed:
                return [], QRect(area.left(), area.top(), pw, h)
            last = placed[-1][1]
            if last.right() + 3 + pw <= area.right() + 1:
                return placed, QRect(last.right() + 4, last.top(), pw, h)
            placed.pop()

    def _chips(self, painter: QPainter, area: QRect, index, colours: CellColours) -> None:
        tags = index.data(Roles.FinalTags) or []
        if not tags:
            return
        confirmed = index.data(Roles.Confirmed) or {}
        placed, more = self.chip_layout(tags, area)
        painter.setPen(Qt.PenStyle.NoPen)
        for tag, chip in placed:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(CONFIRMED_CHIP if confirmed.get(tag) else PREDICTED_CHIP)
            painter.drawRoundedRect(chip, 4, 4)
            painter.setPen(colours.chip_text)
            text = self._fm.elidedText(tag, Qt.TextElideMode.ElideRight, chip.width() - 4)
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)
        if more is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colours.more_chip)
            painter.drawRoundedRect(more, 4, 4)
            painter.setPen(colours.more_text)
            painter.drawText(more, Qt.AlignmentFlag.AlignCenter, f"+{len(tags) - len(placed)}")


FOLLOWERS = 256  # photos after the current / top-left one remembered, to fall back on if it went away


@dataclass
class _Place:
    """Where the person was before a model reset, by image id (rows mean nothing after a reset)."""

    current: list[int]  # the current photo's id, then the ids of the photos after it
    current_row: int
    selected: list[int]
    top: list[int]  # the photo at the top-left of the viewport, then the photos after it
    top_row: int
    top_offset: int  # where that photo's cell began, relative to the viewport's top (<= 0)


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Sorted rows as (first, last) runs of consecutive rows."""
    if not len(rows):
        return []
    rows = np.unique(rows)
    breaks = np.flatnonzero(np.diff(rows) > 1)
    starts = np.concatenate([rows[:1], rows[breaks + 1]])
    ends = np.concatenate([rows[breaks], rows[-1:]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


class GridView(QListView):
    """Virtualised grid; keys for review actions become signals (the window decides what they do)."""

    reviewed_toggle_requested = Signal()
    label_toggle_requested = Signal(str)
    jump_requested = Signal(int)  # +1: next unreviewed, -1: previous
    open_requested = Signal()  # double-click or Enter: the current photo, large

    def __init__(self, thumbs: Thumbnailer, parent=None) -> None:
        super().__init__(parent)
        self.delegate = GridDelegate(thumbs, self)
        self.setItemDelegate(self.delegate)
        # List mode with left-to-right wrapping lays out like icon mode but in O(1) per row with
        # uniform sizes; icon mode keeps per-item geometry and becomes slow at 100,000 photos.
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        # Laid out a batch of rows per event-loop turn: at a million photos one pass over every row (after
        # a new view or a scan chunk) is 60-100 ms, a visible stall; 50,000 rows take a few ms.
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(50_000)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSpacing(2)
        self.setMouseTracking(False)
        self.label_keys: dict[str, str] = {}  # key text ("1", "a", "Shift+1", "Shift+A") -> label
        self.setGridSize(self.delegate.cell_size())
        thumbs.thumbnail_ready.connect(self._thumb_ready)
        self._repaint_pending = False
        self._model_connections: list[QMetaObject.Connection] = []
        self._place: _Place | None = None
        self.doubleClicked.connect(lambda _index: self.open_requested.emit())

    def setModel(self, model: QAbstractItemModel | None) -> None:
        for c in self._model_connections:
            QObject.disconnect(c)
        self._model_connections = []
        self._place = None
        super().setModel(model)
        if model is not None:
            # Connected after the view's own handlers, so the place is put back after Qt cleared it.
            self._model_connections = [
                model.modelAboutToBeReset.connect(self._remember_place),
                model.modelReset.connect(self._restore_place),
            ]

    def dataChanged(self, top_left: QModelIndex, bottom_right: QModelIndex, roles=()) -> None:  # noqa: N802
        """Repaint the photos whose data changed, without QListView's own step, which lays out every row
        again (cells here are all one size, so a change of data never moves one): at a million photos that
        was 70-120 ms of work after every batch of scores, every review and every adapter block."""
        QAbstractItemView.dataChanged(self, top_left, bottom_right, list(roles))

    # -- keeping the person's place across a model reset (a re-scan that removed files, a filter) ---
    def _source(self) -> tuple[QAbstractItemModel | None, QAbstractProxyModel | None]:
        m = self.model()
        return (m.sourceModel(), m) if isinstance(m, QAbstractProxyModel) else (m, None)

    @staticmethod
    def _keeps_order(proxy: QAbstractProxyModel) -> bool:
        if isinstance(proxy, QIdentityProxyModel):
            return True
        return isinstance(proxy, QSortFilterProxyModel) and proxy.sortColumn() < 0

    def _source_runs(self, first: int, last: int) -> list[tuple[int, int]]:
        """Source rows of the view rows first..last, as runs (one run when the proxy keeps order)."""
        src, proxy = self._source()
        if proxy is None:
            return [(first, last)]
        a = proxy.mapToSource(proxy.index(first, 0)).row()
        b = proxy.mapToSource(proxy.index(last, 0)).row()
        if self._keeps_order(proxy) and a >= 0 and b - a == last - first:
            return [(a, b)]
        rows = [proxy.mapToSource(proxy.index(r, 0)).row() for r in range(first, last + 1)]
        return _runs(np.asarray([r for r in rows if r >= 0], np.int64))

    def _view_selection(self, source_runs: list[tuple[int, int]]) -> QItemSelection:
        src, proxy = self._source()
        sel = QItemSelection()
        for a, b in source_runs:
            if proxy is None:
                sel.select(src.index(a, 0), src.index(b, 0))
                continue
            pa = proxy.mapFromSource(src.index(a, 0))
            pb = proxy.mapFromSource(src.index(b, 0))
            if self._keeps_order(proxy) and pa.isValid() and pb.row() - pa.row() == b - a:
                sel.select(pa, pb)
                continue
            for r in range(a, b + 1):
                p = proxy.mapFromSource(src.index(r, 0))
                if p.isValid():
                    sel.select(p, p)
        return sel

    def _ids_from(self, row: int) -> list[int]:
        m = self.model()
        return [int(m.index(r, 0).data(Roles.Id)) for r in range(row, min(m.rowCount(), row + FOLLOWERS))]

    def _view_index_of(self, image_id: int) -> QModelIndex:
        src, proxy = self._source()
        row = src.row_of_id(image_id)
        if row < 0:
            return QModelIndex()
        return src.index(row, 0) if proxy is None else proxy.mapFromSource(src.index(row, 0))

    def _first_shown(self, ids: list[int], row: int) -> QModelIndex:
        """The first of ``ids`` still shown, else the photo now at ``row`` (or the last one)."""
        for image_id in ids:
            idx = self._view_index_of(image_id)
            if idx.isValid():
                return idx
        m = self.model()
        return m.index(min(row, m.rowCount() - 1), 0) if m.rowCount() else QModelIndex()

    def _source_rows_of(self, ids: list[int]) -> np.ndarray:
        """Source rows of the photos ``ids`` that are shown (per id, or one pass when that is most photos)."""
        src, _proxy = self._source()
        n = src.rowCount()
        if len(ids) > n // 4:  # most of the photos (Select All): one pass over the shown ids is cheaper
            shown = np.asarray(src.ids_at(range(n)), np.int64)
            return np.flatnonzero(np.isin(shown, np.asarray(ids, np.int64)))
        rows = np.fromiter((src.row_of_id(i) for i in ids), np.int64, len(ids))
        return rows[rows >= 0]

    def _top_left_index(self) -> QModelIndex:
        for point in (QPoint(1, 1), QPoint(1, self.gridSize().height() // 2)):
            idx = self.indexAt(point)
            if idx.isValid():
                return idx
        return QModelIndex()

    @Slot()
    def _remember_place(self) -> None:
        """Before a reset: the current photo, the selection and the top-left photo, by image id.

        Costs a few hundred rows plus the selected rows (read in runs), never a pass over all rows.
        """
        self._place = None
        src, _proxy = self._source()
        if src is None or not hasattr(src, "row_of_id") or not self.model().rowCount():
            return
        current = self.currentIndex()
        selected: list[int] = []
        for rng in self.selectionModel().selection():
            for a, b in self._source_runs(rng.top(), rng.bottom()):
                selected += src.ids_at(range(a, b + 1))
        top = self._top_left_index()
        self._place = _Place(
            current=self._ids_from(current.row()) if current.isValid() else [],
            current_row=current.row(),
            selected=selected,
            top=self._ids_from(top.row()) if top.isValid() else [],
            top_row=top.row(),
            top_offset=self.visualRect(top).top() if top.isValid() else 0,
        )

    @Slot()
    def _restore_place(self) -> None:
        """After a reset: the same current photo, selection and top-left photo where they are still shown.

        A current photo that went away gives way to the next one still shown (selected, unless some of
        the selection is left); a top-left photo that went away, to the next one still shown.
        """
        place, self._place = self._place, None
        if place is None or not self.model().rowCount():
            return
        sm = self.selectionModel()
        selection = self._view_selection(_runs(self._source_rows_of(place.selected)))
        if not selection.isEmpty():
            sm.select(selection, QItemSelectionModel.SelectionFlag.Select)
        if place.current:
            current = self._first_shown(place.current, place.current_row)
            kept = self._view_index_of(place.current[0]).isValid() or not selection.isEmpty()
            flag = QItemSelectionModel.SelectionFlag
            sm.setCurrentIndex(current, flag.NoUpdate if kept else flag.ClearAndSelect)
        if place.top:
            self.executeDelayedItemsLayout()  # the rows' geometry, now rather than at the next paint
            top = self._first_shown(place.top, place.top_row)
            bar = self.verticalScrollBar()
            bar.setValue(bar.value() + self.visualRect(top).top() - place.top_offset)

    def set_thumb_size(self, size: int) -> None:
        self.delegate.thumb_size = size
        self._fit_columns()
        self.scheduleDelayedItemsLayout()
        self.viewport().update()

    def _fit_columns(self) -> None:
        """Cells as wide as the viewport divided by the columns that fit, so no strip is left blank."""
        self.delegate.cell_width = 0
        cell = self.delegate.cell_size()
        # The width QListView lays rows out in: the viewport without scroll bars, less a vertical
        # scroll bar's width when it may appear, and a cell must end before the last pixel.
        width = self.maximumViewportSize().width() - 1
        if self.verticalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAsNeeded:
            width -= self.style().pixelMetric(
                QStyle.PixelMetric.PM_ScrollBarExtent, None, self.verticalScrollBar()
            )
        columns = max(1, width // max(1, cell.width()))
        size = QSize(max(cell.width(), width // columns), cell.height())
        self.delegate.cell_width = size.width()  # the photo and its chips centred in the wider cell
        if size != self.gridSize():
            self.setGridSize(size)

    def resizeEvent(self, event) -> None:
        self._fit_columns()
        super().resizeEvent(event)

    @Slot(object)
    def _thumb_ready(self, _key) -> None:
        # Many thumbnails arrive in bursts; one repaint of the viewport covers them all.
        if not self._repaint_pending:
            self._repaint_pending = True
            QTimer.singleShot(30, self._repaint)

    def _repaint(self) -> None:
        self._repaint_pending = False
        self.viewport().update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if mods == Qt.KeyboardModifier.NoModifier:
            key = event.key()
            if key == Qt.Key.Key_Space:
                self.reviewed_toggle_requested.emit()
                return
            if key == Qt.Key.Key_J:
                self.jump_requested.emit(1)
                return
            if key == Qt.Key.Key_K:
                self.jump_requested.emit(-1)
                return
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.open_requested.emit()
                return
            text = digit_row(event) or event.text().lower()
            if text and text in self.label_keys:
                self.label_toggle_requested.emit(self.label_keys[text])
                return
        elif mods == Qt.KeyboardModifier.ShiftModifier:
            label = self.label_keys.get(shifted_key_text(event))
            if label is not None:
                self.label_toggle_requested.emit(label)
                return
        super().keyPressEvent(event)


class GridPanel(QWidget):
    """The grid with a thumbnail size slider and a count line."""

    def __init__(self, thumbs: Thumbnailer, parent=None) -> None:
        super().__init__(parent)
        self.view = GridView(thumbs, self)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(MIN_THUMB, MAX_THUMB)
        self.slider.setValue(DEFAULT_THUMB)
        self.slider.setToolTip("Thumbnail size")
        self.slider.setMaximumWidth(220)
        self.count_label = QLabel("")
        bar = QHBoxLayout()
        bar.addWidget(self.count_label, 1)
        bar.addWidget(QLabel("Size"))
        bar.addWidget(self.slider)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view, 1)
        lay.addLayout(bar)
        self.slider.valueChanged.connect(self.view.set_thumb_size)
