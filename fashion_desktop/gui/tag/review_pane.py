"""Review pane: a large zoomable preview and every label as a checkbox with its probability and shortcut key."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QEvent, QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QPalette, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.core.catalog import CatalogError
from fashion_desktop.gui.appearance import pick
from fashion_desktop.gui.tag.library_model import LibraryModel
from fashion_desktop.gui.tag.thumbnails import Thumbnailer
from fashion_desktop.gui.widgets import WrapLabel

PREVIEW_SIZE = 1024
SELECTION_CHECKED = 2000  # selected photos whose row changes refresh the pane (the current one always)
# Keys for labels, in order; J and K move between unreviewed photos, so they are never label keys
# (nor Shift+J / Shift+K). The 34 plain keys come first, then the same keys with Shift, so a 46-label
# taxonomy still gets a key per label. Key texts are QKeySequence's portable form ("Shift+A").
PLAIN_KEYS = [c for c in "1234567890" + string.ascii_lowercase if c not in "jk"]
SHIFT = "Shift+"
LABEL_KEYS = PLAIN_KEYS + [SHIFT + c.upper() for c in PLAIN_KEYS]


def assign_keys(labels: Sequence[str], earlier: Mapping[str, str] | None = None) -> dict[str, str]:
    """label -> key text, for as many labels as there are keys (68), in label order.

    ``earlier`` (label -> key, what the keys were for another model or before a new tag): a label keeps its
    key where no label before it took that key, so a person's learned keys survive a change of model; the
    other labels get the free keys in order."""
    earlier = earlier or {}
    kept: dict[str, str] = {}
    for lab in labels:
        key = earlier.get(lab)
        if key in LABEL_KEYS and key not in kept.values():
            kept[lab] = key
    taken = set(kept.values())
    free = iter([k for k in LABEL_KEYS if k not in taken])
    keys: dict[str, str] = {}
    for lab in labels:
        key = kept.get(lab) or next(free, None)
        if key is not None:
            keys[lab] = key
    return keys


def key_hint(key: str) -> str:
    """A key text as shown next to its label: "1", "a", "⇧1", "⇧A"."""
    return "⇧" + key.removeprefix(SHIFT) if key.startswith(SHIFT) else key


class ZoomPreview(QScrollArea):
    """The photo at fit-to-pane size; Ctrl+wheel or +/- zoom, 0 fits again."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._label = QLabel()
        self._label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setWidget(self._label)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWidgetResizable(False)
        self.setMinimumHeight(240)
        self._pixmap: QPixmap | None = None
        self.zoom: float | None = None  # None: fit to the pane

    def set_pixmap(self, pm: QPixmap | None, message: str = "") -> None:
        self._pixmap = pm
        if pm is None:
            self._label.setPixmap(QPixmap())
            self._label.setText(message)
        self._relayout()

    def set_zoom(self, zoom: float | None) -> None:
        self.zoom = None if zoom is None else max(0.05, min(8.0, zoom))
        self._relayout()

    def fit_scale(self) -> float:
        """The scale at which the photo fits the pane."""
        if self._pixmap is None or self._pixmap.isNull():
            return 1.0
        vp = self.viewport().size()
        return min(vp.width() / max(1, self._pixmap.width()), vp.height() / max(1, self._pixmap.height()))

    def zoom_by(self, factor: float) -> None:
        """Zoom from the scale shown now (fitted or not) by ``factor``."""
        self.set_zoom((self.fit_scale() if self.zoom is None else self.zoom) * factor)

    def _relayout(self) -> None:
        if self._pixmap is None or self._pixmap.isNull():
            self._label.resize(self.viewport().size())
            return
        scale = self.fit_scale() if self.zoom is None else self.zoom
        w, h = max(1, int(self._pixmap.width() * scale)), max(1, int(self._pixmap.height() * scale))
        self._label.setPixmap(
            self._pixmap.scaled(
                w, h, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )
        self._label.resize(max(w, self.viewport().width()), max(h, self.viewport().height()))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.zoom is None:
            self._relayout()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            current = self.fit_scale() if self.zoom is None else self.zoom
            self.set_zoom(current * (1.25 if event.angleDelta().y() > 0 else 0.8))
            event.accept()
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event) -> None:
        current = self.fit_scale() if self.zoom is None else self.zoom
        if event.text() in ("+", "="):
            self.set_zoom(current * 1.25)
        elif event.text() == "-":
            self.set_zoom(current * 0.8)
        elif event.text() == "0":
            self.set_zoom(None)
        else:
            super().keyPressEvent(event)


# "rejected": a person said the label does not apply; green would read as the opposite.
SOURCE_TEXT = {"person": "✔ you", "rejected": "✘ you", "model": "model", "mixed": "mixed"}
SOURCE_COLOUR = {
    "person": "#2e7d32",
    "rejected": "#c62828",
    "model": "#2f62a8",
    "mixed": "#7a5f00",
    "": "#6b6b6b",
}
# The same meanings on a dark window (each 4.5:1 or more against the dark palette's window).
SOURCE_COLOUR_DARK = {
    "person": "#7bd88f",
    "rejected": "#ff8a80",
    "model": "#8ab4f8",
    "mixed": "#e0c050",
    "": "#a8a8a8",
}


def _set_text_colour(label: QLabel, kind: str) -> None:
    """Text colour of a source ``kind`` ("" for a key hint) through the palette, in the scheme shown: a style
    sheet per label costs a parse and a re-polish each time."""
    pal = label.palette()
    colour = pick(
        SOURCE_COLOUR.get(kind, SOURCE_COLOUR[""]), SOURCE_COLOUR_DARK.get(kind, SOURCE_COLOUR_DARK[""])
    )
    pal.setColor(QPalette.ColorRole.WindowText, colour)
    label.setPalette(pal)


class LabelRow:
    """One label: checkbox (final tag), key hint, probability, and who decided (model or person)."""

    def __init__(
        self, label: str, key: str | None, grid: QGridLayout, row: int, one_value: bool = False
    ) -> None:
        self.label = label
        self.key = key
        # A value of a one-value group (colour, gender, ...) is a choice among the group's values: a
        # round button; picking another replaces it (``commands.exclusive_changes``).
        self.box: QCheckBox | QRadioButton = QRadioButton(label) if one_value else QCheckBox(label)
        self.box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        if isinstance(self.box, QRadioButton):
            self.box.setAutoExclusive(False)  # the library decides what is chosen, not the buttons
        else:
            self.box.setTristate(False)
        self.grid = grid
        self.key_label = QLabel(f"[{key_hint(key)}]" if key else "")
        if key:
            self.key_label.setToolTip(f"{key} in the grid toggles “{label}”")
        _set_text_colour(self.key_label, "")
        self.score_label = QLabel("")
        self.score_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.source_label = QLabel("")
        grid.addWidget(self.key_label, row, 0)
        grid.addWidget(self.box, row, 1)
        grid.addWidget(self.score_label, row, 2)
        grid.addWidget(self.source_label, row, 3)
        self.source: str | None = None  # "person", "model", "mixed" or ""; None until first shown
        self._kind: str | None = None  # the source, or "rejected" for a person's "no"

    def place(self, row: int) -> None:
        """Move the row to grid row ``row`` (a one-value group is ordered by the photo's scores)."""
        for col, w in enumerate((self.key_label, self.box, self.score_label, self.source_label)):
            self.grid.addWidget(w, row, col)

    def show(self, state: Qt.CheckState, score: float | None, source: str) -> None:
        self.box.blockSignals(True)
        if isinstance(self.box, QCheckBox):
            self.box.setTristate(state == Qt.CheckState.PartiallyChecked)
            self.box.setCheckState(state)
        else:
            self.box.setChecked(state == Qt.CheckState.Checked)
        self.box.blockSignals(False)
        self.score_label.setText("" if score is None else f"{score:.2f}")
        # A person's "no" is a decision too; "✔ you" beside an empty box read as the opposite.
        kind = "rejected" if source == "person" and state == Qt.CheckState.Unchecked else source
        text = SOURCE_TEXT.get(kind, "")
        if text != self.source_label.text():
            self.source_label.setText(text)
        self.source = source
        if kind == self._kind:
            return  # font and colour already say who decided (a style change re-polishes the row)
        self._kind = kind
        font = self.box.font()
        font.setBold(source == "person")
        font.setItalic(source == "model")
        self.box.setFont(font)
        _set_text_colour(self.source_label, kind)

    def recolour(self) -> None:
        """The key hint's and the source's colours again, for the scheme shown now."""
        _set_text_colour(self.key_label, "")
        _set_text_colour(self.source_label, self._kind or "")


class ReviewPane(QWidget):
    """Shows the current photo (and how many are selected); edits are requested through signals."""

    label_toggle_requested = Signal(str)
    reviewed_toggle_requested = Signal()
    accept_requested = Signal()
    new_tag_requested = Signal()

    def __init__(self, thumbs: Thumbnailer, parent=None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        self.preview = ZoomPreview()
        self.title = WrapLabel("No photo selected")  # a long path must not widen the window
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state_label = WrapLabel("")  # "failed: <the reason, naming the file>"
        self.reviewed_button = QPushButton("Mark reviewed (Space)")
        self.accept_button = QPushButton("Accept predictions")
        # A label the model does not have (the palette offers the same from the keyboard).
        self.new_tag_button = QPushButton("+ New tag…")
        self.new_tag_button.setToolTip("Add a tag the model does not have to the selected photos")
        self.new_tag_button.setEnabled(False)
        for b in (self.reviewed_button, self.accept_button, self.new_tag_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.reviewed_button.clicked.connect(self.reviewed_toggle_requested)
        self.accept_button.clicked.connect(self.accept_requested)
        self.new_tag_button.clicked.connect(self.new_tag_requested)
        self._labels_host = QWidget()
        self._labels_layout = QVBoxLayout(self._labels_host)
        self._labels_layout.setContentsMargins(2, 2, 2, 2)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._labels_host)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        lower = QWidget()
        lay = QVBoxLayout(lower)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addWidget(self.state_label)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reviewed_button)
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.new_tag_button)
        lay.addLayout(buttons)
        lay.addWidget(scroll, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.preview)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([560, 320])
        self.splitter = split
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split)
        self.rows: dict[str, LabelRow] = {}
        self.one_value_groups: dict[str, list[str]] = {}  # exclusive group -> its labels
        self.keys: dict[str, str] = {}
        # Every label's last key in this library (kept across models, and in the library across restarts).
        self._keys_before: dict[str, str] = {}
        self._model: LibraryModel | None = None
        self._ids: list[int] = []
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        thumbs.thumbnail_ready.connect(self._thumb_ready)

    def set_library(self, model: LibraryModel | None) -> None:
        if self._model is not None:
            self._model.dataChanged.disconnect(self._rows_changed)
        self._model = model
        self._ids = []
        self._keys_before = model.catalog.label_keys() if model is not None else {}
        if model is not None:
            model.dataChanged.connect(self._rows_changed)
        self.rebuild_labels()

    @Slot(QModelIndex, QModelIndex)
    def _rows_changed(self, top: QModelIndex, bottom: QModelIndex, _roles=()) -> None:
        """Scores or tags of a shown photo changed (a tagging run reached it, an edit): show them."""
        m = self._model
        if m is None or not self._ids or self._refresh_timer.isActive():
            return
        first, last = top.row(), bottom.row()
        # The current photo, and the rest of a selection up to a bound (its counts are shown too).
        if any(first <= m.row_of_id(i) <= last for i in self._ids[:SELECTION_CHECKED]):
            self._refresh_timer.start()  # a tagging run's batch emits several ranges: refresh once

    def rebuild_labels(self) -> None:
        """One checkbox per label of the active model (and labels people added), grouped like the bundle."""
        while self._labels_layout.count():
            item = self._labels_layout.takeAt(0)
            if item.widget():
                item.widget().hide()  # deleteLater waits for the event loop; never paint stale rows
                item.widget().deleteLater()
        self.rows = {}
        self.one_value_groups = {}
        labels = self._model.all_labels() if self._model else []
        groups = self._model.label_groups() if self._model else {}
        exclusive = set(self._model.exclusive) if self._model else set()
        self.keys = assign_keys(labels, self._keys_before)
        if {**self._keys_before, **self.keys} != self._keys_before:
            self._keys_before.update(self.keys)
            self._save_keys()
        by_group: dict[str, list[str]] = {}
        for lab in labels:
            by_group.setdefault(groups.get(lab, "") or "labels", []).append(lab)
        for group, labs in by_group.items():
            one_value = group in exclusive
            box = QGroupBox(f"{group} (one)" if one_value else group)
            if one_value:
                box.setToolTip(
                    f"A photo has one {group}: choosing another replaces it; its key again removes yours"
                )
                self.one_value_groups[group] = labs
            grid = QGridLayout(box)
            grid.setContentsMargins(4, 4, 4, 4)
            grid.setColumnStretch(1, 1)
            for r, lab in enumerate(labs):
                row = LabelRow(lab, self.keys.get(lab), grid, r, one_value)
                row.box.clicked.connect(lambda _c=False, lab=lab: self._clicked(lab))
                self.rows[lab] = row
            self._labels_layout.addWidget(box)
        self._labels_layout.addStretch(1)
        self.refresh()

    def _save_keys(self) -> None:
        """Keep the keys with the library, so that they are the same when it is opened again."""
        try:
            self._model.catalog.set_label_keys(self._keys_before)
        except CatalogError:
            pass  # a read-only library: the keys still hold while it is open, nothing to tell

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            for row in self.rows.values():
                row.recolour()  # light or dark: the colours that say who decided follow
        super().changeEvent(event)

    def _clicked(self, label: str) -> None:
        self.label_toggle_requested.emit(label)
        self.refresh()  # the box shows what is saved, not what the click did

    def show_images(self, image_ids: Sequence[int]) -> None:
        """The selection; the first id is the current photo (the one previewed)."""
        self._ids = list(image_ids)
        self.refresh(preview=True)

    @Slot()
    def refresh(self, preview: bool = False) -> None:
        m = self._model
        ids = [i for i in self._ids if m is not None and m.path_of(i) is not None]
        for row in self.rows.values():
            row.box.setEnabled(bool(ids))
        self.new_tag_button.setEnabled(bool(ids))
        if m is None or not ids:
            self.title.setText("No photo selected")
            self.state_label.setText("")
            self.preview.set_pixmap(None, "")
            for row in self.rows.values():
                row.show(Qt.CheckState.Unchecked, None, "")
            return
        current = ids[0]
        path = m.path_of(current) or ""
        self.title.setText(path if len(ids) == 1 else f"{len(ids)} photos selected — showing {path}")
        reviewed = m.is_reviewed(current)
        err = m.error_of(current)
        state = "Reviewed" if reviewed else "Not reviewed"
        if m.is_to_confirm(current):
            state = (
                "To confirm: the photo changed after its tags were chosen; check them, then mark it reviewed"
            )
        self.state_label.setText(state + (f" — failed: {err}" if err else ""))
        self.reviewed_button.setText("Mark not reviewed (Space)" if reviewed else "Mark reviewed (Space)")
        tags = {i: set(m.tags_of(i)) for i in ids}
        scores = m.scores_of(current) if len(ids) == 1 else {}
        for lab, row in self.rows.items():
            have = sum(lab in t for t in tags.values())
            state = (
                Qt.CheckState.Checked
                if have == len(ids)
                else Qt.CheckState.Unchecked
                if have == 0
                else Qt.CheckState.PartiallyChecked
            )
            decided = [m.decision(i, lab) is not None for i in ids]
            source = "person" if all(decided) else ("mixed" if any(decided) else ("model" if have else ""))
            row.show(state, scores.get(lab), source)
        self._order_one_value_groups(tags[current], scores)
        if preview:
            self._load_preview()

    def _order_one_value_groups(self, shown: set[str], scores: dict[str, float]) -> None:
        """A one-value group lists the value the photo has first, then the model's next best values, so
        the likely fix of a wrong colour is near the top (keys stay with their labels)."""
        for labs in self.one_value_groups.values():
            order = sorted(labs, key=lambda lab: (lab not in shown, -scores.get(lab, -1.0), labs.index(lab)))
            for r, lab in enumerate(order):
                self.rows[lab].place(r)

    def one_value_order(self, group: str) -> list[str]:
        """The labels of a one-value group as the pane lists them now (top to bottom)."""
        labs = self.one_value_groups.get(group, [])
        if not labs:
            return []
        grid = self.rows[labs[0]].grid
        return sorted(labs, key=lambda lab: grid.getItemPosition(grid.indexOf(self.rows[lab].box))[0])

    def _load_preview(self) -> None:
        m = self._model
        if m is None or not self._ids:
            return
        key = m.thumb_key(self._ids[0])
        if key is None:
            return
        pm = self.thumbs.get(key, PREVIEW_SIZE)
        if pm is not None:
            self.preview.set_pixmap(pm)
        else:
            reason = self.thumbs.failure(key)
            self.preview.set_pixmap(None, f"Cannot show this photo: {reason}" if reason else "Loading…")

    @Slot(object)
    def _thumb_ready(self, key) -> None:
        m = self._model
        if m is not None and self._ids and m.thumb_key(self._ids[0]) == key:
            self._load_preview()
