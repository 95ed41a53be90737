"""Help → Keyboard shortcuts: built from the real key map (review keys, the model's label keys, menu actions)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from fashion_desktop.gui.tag.photo_view import VIEW_KEYS
from fashion_desktop.gui.tag.review_keys import FIXED_KEYS
from fashion_desktop.gui.tag.review_pane import key_hint

# Keys of special keyboards (Qt lists Key_Redo among Redo's bindings): not keys a person types.
_MEDIA_KEYS = (Qt.Key.Key_Undo, Qt.Key.Key_Redo)


def _native(key: str) -> str:
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText) or key


def action_row(menu: str, act: QAction) -> tuple[str, str, str] | None:
    """(menu, action text, shortcuts) for a visible action with a shortcut, else None."""
    keys = [
        k.toString(QKeySequence.SequenceFormat.NativeText)
        for k in act.shortcuts()
        if not k.isEmpty() and k[0].key() not in _MEDIA_KEYS
    ]
    if not keys or not act.isVisible():
        return None
    # The undo/redo actions' texts name the last edit; "help_text" says what they do.
    text = act.property("help_text") or act.text().replace("&", "").rstrip("…. ")
    return (menu, text, " or ".join(keys))


def shortcuts_html(
    label_keys: Mapping[str, str], groups: Mapping[str, str], menu_rows, model_name: str = ""
) -> str:
    """The shortcut tables as HTML: review keys, each label's key (by group), then the menus' shortcuts."""

    def table(rows: Iterable[tuple[str, ...]]) -> str:
        body = "".join(
            "<tr>" + "".join(f"<td style='padding:1px 10px 1px 0'>{html.escape(c)}</td>" for c in r) + "</tr>"
            for r in rows
        )
        return f"<table>{body}</table>"

    parts = ["<h3>Reviewing (anywhere on the Tag tab, except while typing in a field)</h3>"]
    review = [(f"<b>{_native(k.key)}</b>", k.what) for k in FIXED_KEYS]
    parts.append(
        "<table>"
        + "".join(
            f"<tr><td style='padding:1px 10px 1px 0'>{k}</td><td>{html.escape(w)}</td></tr>"
            for k, w in review
        )
        + "</table>"
    )
    parts.append("<h3>The photo large (the review keys work there too)</h3>")
    parts.append(table(VIEW_KEYS))
    title = f"Label keys of {model_name}" if model_name else "Label keys"
    parts.append(f"<h3>{html.escape(title)} (toggle the label on the selected photos)</h3>")
    if label_keys:
        rows = [(key_hint(key), label, groups.get(label, "")) for label, key in label_keys.items()]
        parts.append(table(rows))
    else:
        parts.append("<p>No model yet: tag photos with a model and its labels get keys 1–0, A–Z, ⇧1…</p>")
    parts.append("<p>Labels without a key: press / and type a few letters.</p>")
    parts.append("<h3>Menus</h3>")
    parts.append(table(menu_rows))
    return "".join(parts)


class ShortcutsDialog(QDialog):
    """A read-only page of every shortcut, generated when opened (the label keys follow the model)."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.browser = QTextBrowser()
        self.browser.setHtml(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser, 1)
        lay.addWidget(buttons)
        self.resize(560, 640)

    def text(self) -> str:
        return self.browser.toPlainText()
