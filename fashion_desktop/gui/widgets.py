"""Small widgets the tabs share: labels that never widen their window, fields the mouse wheel scrolls past."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QWidget,
)

MIN_CHARS = 16  # a label's minimum width in average characters, however long its text
HINT_CHARS = 60  # an elided label asks for no more, so a long line leaves room for its neighbours


def _min_width(label: QLabel) -> int:
    return label.fontMetrics().averageCharWidth() * MIN_CHARS


class ElidedLabel(QLabel):
    """One line of plain text that never widens its window: a text longer than the label ends in "…"
    (``mode``: where the dots go), and then the whole text is the label's tooltip. ``text()`` is the
    whole text."""

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
    ) -> None:
        super().__init__(parent)
        self._mode = mode
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._update_tip()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(min(hint.width(), self.fontMetrics().averageCharWidth() * HINT_CHARS), hint.height())

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), _min_width(self)), hint.height())

    def elided(self) -> bool:
        """Whether the label shows less than its whole text."""
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()

    def _update_tip(self) -> None:
        self.setToolTip(self.text() if self.elided() else "")

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_tip()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        self.drawFrame(painter)
        rect = self.contentsRect().adjusted(self.margin(), self.margin(), -self.margin(), -self.margin())
        shown = self.fontMetrics().elidedText(self.text(), self._mode, rect.width())
        flags, role = _flags(self.alignment()), self.foregroundRole()
        self.style().drawItemText(painter, rect, flags, self.palette(), self.isEnabled(), shown, role)
        painter.end()  # now, not when Python frees it (a frame kept alive elsewhere kept the paint open)


def _flags(alignment: Qt.AlignmentFlag) -> int:
    return alignment.value if hasattr(alignment, "value") else int(alignment)


class WrapLabel(QLabel):
    """Plain text that wraps at spaces and never widens its window: a word wider than the label (a long
    path) is cut at its edge, and then the whole text is the label's tooltip."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self.setText(text)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._update_tip()

    def minimumSizeHint(self) -> QSize:
        # QLabel's own minimum is its longest word: one path would set the window's width.
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), _min_width(self)), hint.height())

    def _update_tip(self) -> None:
        fm, width = self.fontMetrics(), self.contentsRect().width()
        cut = any(fm.horizontalAdvance(word) > width for word in self.text().split())
        self.setToolTip(self.text() if cut else "")

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_tip()


class WheelGuard(QObject):
    """Event filter for the fields of a scrolling form: the wheel over a field that has no focus scrolls
    the form instead of changing the field (scrolling a form must not change its settings)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) or watched.hasFocus():
            return super().eventFilter(watched, event)
        area = _scroll_area_around(watched)
        if area is None:
            event.ignore()  # a real wheel event goes on to the field's parents
            return True
        QApplication.sendEvent(area.viewport(), event)
        event.accept()
        return True


def _scroll_area_around(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return parent
        parent = parent.parentWidget()
    return None


def guard_wheel(form: QWidget) -> WheelGuard:
    """Let the wheel scroll ``form`` over its combo and spin boxes: they take focus by click or Tab only
    (not by the wheel), and change with the wheel only once focused. Returns the guard (owned by ``form``)."""
    guard = WheelGuard(form)
    for field in form.findChildren(QWidget):
        if isinstance(field, (QComboBox, QAbstractSpinBox)):
            field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            field.installEventFilter(guard)
    return guard
