"""Add-tag and Remove-tag dialogs for a selection: nothing is chosen for the person, a choice must be made."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.model.bundle_format import label_problem

TAG_ROLE = Qt.ItemDataRole.UserRole + 1


def present_tags(tags_per_photo: Iterable[Sequence[str]], order: Sequence[str] = ()) -> list[tuple[str, int]]:
    """(tag, photos that have it) for every tag present on at least one photo: most common first,
    then in ``order`` (the model's label order), then by name."""
    counts = Counter(t for tags in tags_per_photo for t in set(tags))
    rank = {lab: i for i, lab in enumerate(order)}
    return sorted(counts.items(), key=lambda kv: (-kv[1], rank.get(kv[0], len(rank)), kv[0]))


class RemoveTagDialog(QDialog):
    """The tags present on the selection, with counts ("dress (12 of 15)"); none is preselected, so a
    quick Enter removes nothing; ``tag_chosen`` carries the tag picked."""

    tag_chosen = Signal(str)

    def __init__(
        self, present: Sequence[tuple[str, int]], photos: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Remove tag")
        self.list = QListWidget()
        for tag, n in present:
            item = QListWidgetItem(f"{tag} ({n:,} of {photos:,})")
            item.setData(TAG_ROLE, tag)
            self.list.addItem(item)
        self.list.setCurrentRow(-1)
        self.list.clearSelection()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Remove")
        self.ok_button.setEnabled(False)
        self.ok_button.setDefault(False)
        self.ok_button.setAutoDefault(False)
        lay = QVBoxLayout(self)
        lay.addWidget(
            QLabel(f"Remove which tag from the {'photo' if photos == 1 else f'{photos:,} photos'}?")
        )
        lay.addWidget(self.list, 1)
        lay.addWidget(self.buttons)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.list.itemSelectionChanged.connect(
            lambda: self.ok_button.setEnabled(bool(self.list.selectedItems()))
        )
        self.list.itemDoubleClicked.connect(lambda _item: self._accept())

    def offered(self) -> list[str]:
        """The item texts, as the person reads them."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def choose(self, tag: str) -> None:
        """Select ``tag`` in the list (what a click does)."""
        for i in range(self.list.count()):
            if self.list.item(i).data(TAG_ROLE) == tag:
                self.list.setCurrentRow(i)

    @Slot()
    def _accept(self) -> None:
        chosen = self.list.selectedItems()
        if not chosen:
            return  # Enter with nothing picked removes nothing
        self.accept()
        self.tag_chosen.emit(chosen[0].data(TAG_ROLE))


class AddTagDialog(QDialog):
    """Every label to pick from, or a new one typed; the field starts empty (nothing added unasked)."""

    tag_chosen = Signal(str)

    def __init__(self, labels: Sequence[str], photos: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add tag")
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.addItems(list(labels))
        self.combo.setCurrentIndex(-1)
        self.combo.setEditText("")
        self.combo.lineEdit().setPlaceholderText("Pick a label or type a new one")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(f"Add which tag to the {'photo' if photos == 1 else f'{photos:,} photos'}?"))
        lay.addWidget(self.combo)
        self.problem = QLabel("")  # why a typed name cannot be a tag; the dialog stays open
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: palette(bright-text); background: #b3261e; padding: 2px;")
        self.problem.hide()
        lay.addWidget(self.problem)
        lay.addWidget(buttons)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)

    @Slot()
    def _accept(self) -> None:
        text = self.combo.currentText().strip()
        if not text:
            return
        problem = label_problem(text)
        if problem is not None:
            self.problem.setText(f"Not a usable tag name: {problem}. Tags are joined with '|' in exports.")
            self.problem.show()
            return
        self.accept()
        self.tag_chosen.emit(text)
