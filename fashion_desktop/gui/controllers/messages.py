"""Where controllers tell the person something: a status-bar line, or a warning that does not block."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox, QStatusBar, QWidget

from fashion_desktop.gui.about import APP_NAME


class Messages(QObject):
    """``say`` writes a status-bar line for a while; ``warn`` opens a warning box (the last one is kept)."""

    def __init__(self, status_bar: QStatusBar, window: QWidget) -> None:
        super().__init__(window)
        self.status_bar = status_bar
        self.window = window
        self.last_warning: QMessageBox | None = None

    def say(self, text: str, msecs: int = 8000) -> None:
        self.status_bar.showMessage(text, msecs)

    def warn(self, text: str) -> QMessageBox:
        """Show a problem without blocking: the event loop (and any running job) carries on."""
        self.status_bar.showMessage(text.splitlines()[0], 15_000)
        box = QMessageBox(
            QMessageBox.Icon.Warning, APP_NAME, text, QMessageBox.StandardButton.Ok, self.window
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_warning = box
        return box
