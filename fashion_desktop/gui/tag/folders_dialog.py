"""The Remove Folder dialog: pick one of the library's folders, see what removing it keeps, confirm."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


def removal_text(folder: str, photos: int, decided: int) -> str:
    """What removing ``folder`` does, said before the person confirms."""
    kept = (
        f"Your tags and reviews on {decided:,} of them stay in the library: adding the folder again "
        "brings them back."
        if decided
        else "None of them has a tag or review of yours."
    )
    return (
        f"{folder}\n\n{photos:,} photo{'' if photos == 1 else 's'} will leave the grid. {kept}\n"
        "No file on disk is touched."
    )


class RemoveFolderDialog(QDialog):
    """Lists the folders; ``remove_requested(folder)`` once the person pressed Remove."""

    remove_requested = Signal(str)

    def __init__(
        self,
        folders: Sequence[str],
        summary: Callable[[str], tuple[int, int]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Remove a folder from the library")
        self._summary = summary
        self.folder_list = QListWidget()
        self.folder_list.addItems(list(folders))
        self.details = QLabel("Choose a folder.")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.remove_button: QPushButton = buttons.addButton(
            "Remove from library", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.remove_button.setEnabled(False)
        buttons.accepted.connect(self._confirmed)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Folders in this library:"))
        lay.addWidget(self.folder_list, 1)
        lay.addWidget(self.details)
        lay.addWidget(buttons)
        self.folder_list.currentTextChanged.connect(self._chosen)
        self.resize(560, 360)

    def chosen(self) -> str | None:
        item = self.folder_list.currentItem()
        return item.text() if item is not None else None

    @Slot(str)
    def _chosen(self, folder: str) -> None:
        self.remove_button.setEnabled(bool(folder))
        if folder:
            self.details.setText(removal_text(folder, *self._summary(folder)))

    @Slot()
    def _confirmed(self) -> None:
        folder = self.chosen()
        if folder:
            self.accept()
            self.remove_requested.emit(folder)
