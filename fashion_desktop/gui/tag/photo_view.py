"""The larger look: one photo over the grid's place, fitted or at 100 %, with arrows to walk the grid's order."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from fashion_desktop.gui.tag.review_pane import ZoomPreview
from fashion_desktop.gui.widgets import ElidedLabel

LARGE_SIZE = 2048  # the longest side decoded for the larger look (its "100 %")
ACTUAL_KEY = QKeySequence("Ctrl+1")  # digits and letters are review keys: zoom keys carry Ctrl
FIT_KEY = QKeySequence("Ctrl+0")
# What the shortcut help lists for the larger look (its keys besides the review keys, which work there too).
VIEW_KEYS = (
    ("Enter, double-click", "In the grid: show the photo large"),
    ("← →", "The previous or next photo of the grid's order"),
    (ACTUAL_KEY.toString(QKeySequence.SequenceFormat.NativeText), "The photo at 100 %"),
    (FIT_KEY.toString(QKeySequence.SequenceFormat.NativeText), "The photo fitted to the window"),
    ("Esc", "Back to the grid"),
)
STEPS = {Qt.Key.Key_Right: 1, Qt.Key.Key_PageDown: 1, Qt.Key.Key_Left: -1, Qt.Key.Key_PageUp: -1}


class LargePreview(ZoomPreview):
    """The review pane's zoomable preview, without keys of its own: the larger look takes them."""

    def has_photo(self) -> bool:
        return self._pixmap is not None and not self._pixmap.isNull()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        event.ignore()


class PhotoView(QWidget):
    """A photo shown large in the Tag tab's middle. Emits ``step_requested(±1)`` for the arrows and
    ``close_requested`` for Escape or the back button; review keys are the Tag tab's (``ReviewKeys``)."""

    step_requested = Signal(int)
    close_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.title = ElidedLabel("", mode=Qt.TextElideMode.ElideMiddle)
        self.actual_button = QPushButton("100 %")
        self.actual_button.setCheckable(True)
        self.actual_button.setToolTip("The photo at 100 % (Ctrl+1); again: fit to the window (Ctrl+0)")
        self.back_button = QPushButton("Back to the Grid")
        self.back_button.setToolTip("Esc; ← and → show the previous and next photo; review keys work here")
        for button in (self.actual_button, self.back_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the view
        self.preview = LargePreview()
        self.preview.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        bar.addWidget(self.actual_button)
        bar.addWidget(self.back_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.preview, 1)
        self.actual_button.toggled.connect(lambda on: self.preview.set_zoom(1.0 if on else None))
        self.back_button.clicked.connect(self.close_requested)

    def show_photo(self, pixmap: QPixmap | None, title: str, message: str = "") -> None:
        """Show ``pixmap`` (None: ``message`` instead, e.g. "Loading…") under ``title``, at the zoom chosen."""
        self.title.setText(title)
        self.preview.set_pixmap(pixmap, message)

    def set_actual_size(self, on: bool) -> None:
        self.actual_button.setChecked(on)

    def event(self, event: QEvent) -> bool:
        # The zoom keys are the window's preview shortcuts too (Ctrl+0): here they are the view's.
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            pressed = QKeySequence(event.keyCombination())
            if pressed in (ACTUAL_KEY, FIT_KEY):
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        pressed = QKeySequence(event.keyCombination())
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if pressed in (ACTUAL_KEY, FIT_KEY):
            self.set_actual_size(pressed == ACTUAL_KEY)
        elif event.key() == Qt.Key.Key_Escape:
            self.close_requested.emit()
        elif mods == Qt.KeyboardModifier.NoModifier and event.key() in STEPS:
            self.step_requested.emit(STEPS[Qt.Key(event.key())])
        else:
            super().keyPressEvent(event)
