"""The review keys of the Tag tab (label keys, Space, J/K, /, undo/redo), wherever focus is on it but text fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QKeySequenceEdit,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from fashion_desktop.gui.tag.grid import digit_row, shifted_key_text


@dataclass(frozen=True)
class FixedKey:
    """A review key that does not depend on the model: its key text, action and what it does."""

    key: str  # QKeySequence's portable text ("Space", "J", "/")
    action: str  # "reviewed", "next", "previous", "palette"
    what: str


# The one key map of the review keys besides the labels' own keys: dispatch and Help read it.
FIXED_KEYS = (
    FixedKey(
        "Space",
        "reviewed",
        "Mark the selected photos reviewed and show the next one (on a reviewed photo: not reviewed)",
    ),
    FixedKey("J", "next", "Next photo that is not reviewed yet"),
    FixedKey("K", "previous", "Previous photo that is not reviewed yet"),
    FixedKey("/", "palette", "Find a label by typing a few letters; Enter toggles it on the selection"),
)
_PLAIN = {Qt.Key.Key_Space: "reviewed", Qt.Key.Key_J: "next", Qt.Key.Key_K: "previous"}


def is_text_field(widget: QObject | None) -> bool:
    """Whether ``widget`` takes typed text (there, keys type instead of reviewing)."""
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return isinstance(widget, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit, QKeySequenceEdit))


def review_action(event: QKeyEvent, label_keys: Mapping[str, str]) -> tuple[str, str] | None:
    """What a key press asks for: ("label", label), ("reviewed"|"next"|"previous"|"palette", ""),
    ("undo"|"redo", ""), or None when it is not a review key.

    ``label_keys`` maps key texts ("1", "a", "Shift+1", "Shift+A") to labels, as the grid shows them.
    """
    if event.matches(QKeySequence.StandardKey.Undo):
        return ("undo", "")
    redo = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo) + [QKeySequence("Ctrl+Shift+Z")]
    pressed = QKeySequence(event.keyCombination())
    if event.matches(QKeySequence.StandardKey.Redo) or any(pressed == k for k in redo):
        return ("redo", "")
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    if event.text() == "/" and not mods & ~Qt.KeyboardModifier.ShiftModifier:
        return ("palette", "")  # "/" is Shift+7 or Shift+. on some layouts: matched by the text typed
    if mods == Qt.KeyboardModifier.NoModifier:
        action = _PLAIN.get(Qt.Key(event.key()))
        if action is not None:
            return (action, "")
        text = digit_row(event) or event.text().lower()
        if text and text in label_keys:
            return ("label", label_keys[text])
    elif mods == Qt.KeyboardModifier.ShiftModifier:
        label = label_keys.get(shifted_key_text(event))
        if label is not None:
            return ("label", label)
    return None


class ReviewKeys(QObject):
    """Application event filter: review keys pressed anywhere on ``page`` act, unless a text field has focus.

    ``label_keys`` returns the current key text -> label map; ``act(action, label)`` does the work.
    Undo and redo are taken here too (before the menu's shortcuts), so they work whenever the label
    keys do, whichever widget of the page has focus. Keys pressed in another window (a dialog, the
    palette, a menu) or on another tab pass through untouched.
    """

    def __init__(
        self,
        page: QWidget,
        label_keys: Callable[[], Mapping[str, str]],
        act: Callable[[str, str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._page = page
        self._label_keys = label_keys
        self._act = act

    def applies_to(self, widget: QObject) -> bool:
        """Whether a key event delivered to ``widget`` is the review's to take."""
        if not isinstance(widget, QWidget) or not self._page.isVisible():
            return False
        if is_text_field(widget) or is_text_field(QApplication.focusWidget()):
            return False
        window = self._page.window()
        if widget.window() is not window or QApplication.activePopupWidget() is not None:
            return False
        modal = QApplication.activeModalWidget()
        if modal is not None and modal is not window:
            return False
        # The page, or the window around it (its tab bar, status bar) while the page is the one shown.
        return not _inside_other_tab(widget, self._page)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) or not isinstance(
            event, QKeyEvent
        ):
            return False
        if not self.applies_to(obj):
            return False
        found = review_action(event, self._label_keys())
        if found is None:
            return False
        if kind == QEvent.Type.ShortcutOverride:
            # Claimed, so no menu shortcut fires; the key press that follows is handled below.
            event.accept()
            return True
        self._act(*found)
        return True


def _inside_other_tab(widget: QWidget, page: QWidget) -> bool:
    """Whether ``widget`` sits on a page of a tab widget other than ``page``'s (the Models tab...)."""
    stack = page.parentWidget()  # the QStackedWidget holding the tab pages
    w: QWidget | None = widget
    while w is not None:
        if w.parentWidget() is stack and w is not page:
            return True
        w = w.parentWidget()
    return False
