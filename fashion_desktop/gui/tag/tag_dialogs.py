"""Add-tag and Remove-tag dialogs for a selection: nothing is chosen for the person, a choice must be made."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.core.tags import new_label_problem
from fashion_desktop.model.bundle_format import label_problem

TAG_ROLE = Qt.ItemDataRole.UserRole + 1


def present_tags(tags_per_photo: Iterable[Sequence[str]], order: Sequence[str] = ()) -> list[tuple[str, int]]:
    """(tag, photos that have it) for every tag present on at least one photo: most common first,
    then in ``order`` (the model's label order), then by name."""
    counts = Counter(t for tags in tags_per_photo for t in set(tags))
    rank = {lab: i for i, lab in enumerate(order)}
    return sorted(counts.items(), key=lambda kv: (-kv[1], rank.get(kv[0], len(rank)), kv[0]))


def _problem_label() -> QLabel:
    """A hidden, red, wrapping line for why a typed tag name is refused."""
    label = QLabel("")
    label.setWordWrap(True)
    # White on this red reads at 6.5:1 in either scheme (the palette's bright text is pale red when dark).
    label.setStyleSheet("color: white; background: #b3261e; padding: 2px;")
    label.hide()
    return label


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
        self.problem = _problem_label()  # why a name cannot be a tag; the dialog stays open
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


OWN_GROUP = "A group of its own…"
DEFAULT_NEW_GROUP = "tags"


class NewTagDialog(QDialog):
    """A label the model does not have: its name (typed once) and its group (one of the groups labels
    have, or a group of its own, named here; "tags" unless changed). A refused name is explained and the
    dialog stays open; ``tag_created`` carries (name, group)."""

    tag_created = Signal(str, str)

    def __init__(
        self,
        existing: Sequence[str],
        groups: Sequence[str],
        photos: int,
        name: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New tag")
        self._existing = list(existing)
        self.name = QLineEdit(name)
        self.name.setPlaceholderText("The new tag's name, e.g. denim")
        self.group = QComboBox()
        names = list(dict.fromkeys([DEFAULT_NEW_GROUP, *(g for g in groups if g)]))
        self.group.addItems([*names, OWN_GROUP])
        self.group.setCurrentIndex(0)
        self.own_group = QLineEdit()
        self.own_group.setPlaceholderText("Name of the new group")
        self.own_group.hide()
        self.group.currentTextChanged.connect(self._group_picked)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Create")
        form = QFormLayout()
        form.addRow("Name:", self.name)
        form.addRow("Group:", self.group)
        form.addRow("", self.own_group)
        lay = QVBoxLayout(self)
        target = "the photo" if photos == 1 else f"the {photos:,} selected photos"
        lay.addWidget(QLabel(f"A tag the model does not have yet, added to {target}."))
        lay.addLayout(form)
        self.problem = _problem_label()  # why a name cannot be a tag; the dialog stays open
        lay.addWidget(self.problem)
        lay.addWidget(buttons)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        # An explanation about text since changed would read as a verdict on the new text.
        for edit in (self.name, self.own_group):
            edit.textEdited.connect(self.problem.hide)
        self.group.currentIndexChanged.connect(self.problem.hide)

    @Slot(str)
    def _group_picked(self, text: str) -> None:
        own = text == OWN_GROUP
        self.own_group.setVisible(own)
        if own:
            self.own_group.setFocus()

    def chosen_group(self) -> str:
        text = self.group.currentText()
        return self.own_group.text().strip() if text == OWN_GROUP else text

    def _refuse(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.show()

    @Slot()
    def _accept(self) -> None:
        name = self.name.text().strip()
        problem = new_label_problem(name, self._existing)
        if problem is not None:
            why = " Tags are joined with '|' in exports." if label_problem(name) is not None else ""
            self._refuse(f"Not a usable tag name: {problem}.{why}")
            return
        group = self.chosen_group()
        problem = label_problem(group)
        if problem is not None:
            self._refuse(f"Not a usable group name: {problem}.")
            return
        self.accept()
        self.tag_created.emit(name, group)
