"""Type-to-find label palette: a few letters find any label (those without a key too); Enter toggles it;
a name no label has can be created from here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from fashion_desktop.gui.tag.review_pane import key_hint

LABEL_ROLE = Qt.ItemDataRole.UserRole + 1
CREATE_ROLE = Qt.ItemDataRole.UserRole + 2  # the typed name, on the "Create tag" item


@dataclass(frozen=True)
class PaletteEntry:
    """One label as the palette lists it."""

    label: str
    group: str = ""
    key: str | None = None  # its direct key ("a", "Shift+1"), if it has one
    state: str = ""  # "all": every selected photo has it, "some": some do, "": none


def match_score(query: str, label: str, group: str = "") -> float | None:
    """How well ``query`` finds ``label`` (higher is better); None when it does not match at all.

    A prefix of the label beats a word start, which beats a substring, which beats the letters in order
    ("tsh" finds "t-shirt"); the group ("season spring") counts too, a little less.
    """
    q = " ".join(query.lower().split())
    if not q:
        return 0.0
    name = label.lower()
    if name.startswith(q):
        return 400.0 - len(name) / 100
    words = name.replace(",", " ").replace("-", " ").replace("_", " ").split()
    if any(w.startswith(q) for w in words):
        return 300.0 - len(name) / 100
    if q in name:
        return 200.0 - name.index(q) / 100
    both = f"{group.lower()} {name}"
    if group and (q in both or all(part in both for part in q.split())):
        return 150.0 - len(name) / 100
    letters = q.replace(" ", "")
    pos, gaps = 0, 0
    for ch in letters:
        found = name.find(ch, pos)
        if found < 0:
            return None
        gaps += found - pos
        pos = found + 1
    return 100.0 - gaps - len(name) / 100


def find_labels(query: str, entries: Sequence[PaletteEntry]) -> list[PaletteEntry]:
    """The entries ``query`` matches, best first (ties keep the model's order)."""
    scored = [
        (s, i, e) for i, e in enumerate(entries) if (s := match_score(query, e.label, e.group)) is not None
    ]
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [e for _s, _i, e in scored]


STATE_MARK = {"all": "✔", "some": "–", "": ""}


class LabelPalette(QDialog):
    """A search field over a list of every label; Enter (or a double-click) emits ``label_chosen``.

    Up/Down move in the list while typing; Esc closes. It lists whatever labels it is given, so it
    serves 100 labels as well as 3, and labels a person added as well as the model's.
    """

    label_chosen = Signal(str)
    create_requested = Signal(str)  # a name no label has: the person wants it as a new tag

    def __init__(
        self, entries: Sequence[PaletteEntry], target: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Toggle a label")
        # A dialog rather than a popup: a popup's keyboard grab can fail (seen under X without a window
        # manager), and the letters typed then went to the grid instead of the search field.
        self._entries = list(entries)
        self.heading = QLabel(f"Toggle a label on {target}" if target else "Toggle a label")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Type a few letters of a label or group…")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # typing always goes to the search field
        self.list.setUniformItemSizes(True)
        self.hint = QLabel("Enter toggles · ↑↓ choose · Esc closes")
        self.hint.setEnabled(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addWidget(self.heading)
        lay.addWidget(self.search)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.hint)
        self.resize(380, 420)
        self.search.textChanged.connect(self._refilter)
        self.search.installEventFilter(self)
        self.list.itemActivated.connect(self._choose_item)
        self.list.itemDoubleClicked.connect(self._choose_item)
        self._refilter("")

    def shown_labels(self) -> list[str]:
        """The labels the list shows now, in order."""
        items = (self.list.item(i) for i in range(self.list.count()))
        return [item.data(LABEL_ROLE) for item in items if item.data(CREATE_ROLE) is None]

    def create_offer(self) -> str | None:
        """The text of the "Create tag" item when the list offers one."""
        for i in range(self.list.count()):
            if self.list.item(i).data(CREATE_ROLE) is not None:
                return self.list.item(i).text()
        return None

    def current_label(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else item.data(LABEL_ROLE)

    @Slot(str)
    def _refilter(self, text: str) -> None:
        self.list.clear()
        for e in find_labels(text, self._entries):
            mark = STATE_MARK.get(e.state, "")
            key = f"   [{key_hint(e.key)}]" if e.key else ""
            group = f"   — {e.group}" if e.group else ""
            item = QListWidgetItem(f"{mark or ' '}  {e.label}{group}{key}")
            item.setData(LABEL_ROLE, e.label)
            tip = {"all": "on every selected photo", "some": "on some selected photos"}.get(e.state)
            item.setToolTip(f"{e.label} ({tip}); Enter removes it" if tip else f"{e.label}; Enter adds it")
            self.list.addItem(item)
        matched = self.list.count()
        name = text.strip()
        # Offered last, so Enter still toggles the best match; alone (nothing matches) Enter creates it.
        if name and not any(e.label.casefold() == name.casefold() for e in self._entries):
            item = QListWidgetItem(f"+  Create tag “{name}”…")
            item.setData(CREATE_ROLE, name)
            item.setToolTip(f"A new tag “{name}” the model does not have: pick its group next")
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        self.hint.setText(
            "Enter toggles · ↑↓ choose · Esc closes"
            if matched
            else f"No label matches “{text}” · Enter creates it"
            if name
            else "No labels"
        )

    def _move(self, step: int) -> None:
        n = self.list.count()
        if n:
            self.list.setCurrentRow(max(0, min(n - 1, self.list.currentRow() + step)))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.search and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            key = event.key()
            steps = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 10, Qt.Key.Key_PageUp: -10}
            if key in steps:
                self._move(steps[key])
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                item = self.list.currentItem()
                if item is not None:
                    self._choose_item(item)  # nothing listed: Enter does nothing unasked
                return True
        return super().eventFilter(obj, event)

    @Slot(QListWidgetItem)
    def _choose_item(self, item: QListWidgetItem) -> None:
        name = item.data(CREATE_ROLE)
        if name is not None:
            self.accept()
            self.create_requested.emit(name)
            return
        self._choose(item.data(LABEL_ROLE))

    def _choose(self, label: str | None) -> None:
        if not label:
            return  # nothing matches: Enter does nothing rather than toggling something unasked
        self.accept()
        self.label_chosen.emit(label)


def palette_entries(
    labels: Sequence[str], groups: Mapping[str, str], keys: Mapping[str, str], states: Mapping[str, str]
) -> list[PaletteEntry]:
    """Entries for every label, with its group, direct key and state on the selection."""
    return [PaletteEntry(lab, groups.get(lab, ""), keys.get(lab), states.get(lab, "")) for lab in labels]
