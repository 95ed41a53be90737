"""Filter and sort controls for the grid; emits a ViewSpec whenever the user changes one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QToolButton,
    QWidget,
)

from fashion_desktop.gui.tag.library_model import REVIEW_FILTER_TEXT, REVIEW_FILTERS, ViewSpec
from fashion_desktop.gui.tag.tag_search_box import TagSearchBox

SORTS = (("Name", "name"), ("Date", "date"), ("Confidence", "confidence"), ("Uncertain first", "uncertain"))


class _StayOpenMenu(QMenu):
    """A menu of check boxes that stays open while several are ticked (Escape or a click outside closes it).

    A release ticks only after a press on the menu: the release of the click that opened it is not a tick."""

    pressed = False

    def showEvent(self, event) -> None:
        self.pressed = False
        super().showEvent(event)

    def mousePressEvent(self, event) -> None:
        self.pressed = self.rect().contains(event.position().toPoint())
        super().mousePressEvent(event)

    @staticmethod
    def _toggle(action: QAction | None) -> bool:
        if action is None or not action.isCheckable() or not action.isEnabled():
            return False
        action.trigger()
        return True

    def mouseReleaseEvent(self, event) -> None:
        pressed, self.pressed = self.pressed, False
        if pressed and self._toggle(self.actionAt(event.position().toPoint())):
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:
        keys = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space)
        if event.key() in keys and self._toggle(self.activeAction()):
            event.accept()
            return
        super().keyPressEvent(event)


ATTENTION_TIP = (
    "Photos a person should look at, most likely wrong first: those whose decisions wait to be confirmed "
    "(the picture changed), then those with two values in a one-value group, then the unreviewed photos "
    "marked “?”. The order replaces Sort meanwhile. A photo you review stays in view until you choose "
    "the filter again; J and K go to the next and previous photo that still needs attention."
)
SCORE_TIP = (
    "Shows photos whose score lies in this range: the highest score among the labels chosen under Tags, "
    "or among all labels when none is chosen. Photos the model has not tagged are hidden while it is set."
)


class FilterBar(QWidget):
    spec_changed = Signal(object)  # ViewSpec

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.sort_combo = QComboBox()
        for text, value in SORTS:
            self.sort_combo.addItem(text, value)
        self.descending = QCheckBox("Descending")
        self.review_combo = QComboBox()
        for value in REVIEW_FILTERS:
            self.review_combo.addItem(REVIEW_FILTER_TEXT.get(value, value.capitalize()), value)
        self.review_combo.setItemData(
            self.review_combo.findData("attention"), ATTENTION_TIP, Qt.ItemDataRole.ToolTipRole
        )
        self.tags_button = QToolButton()
        self.tags_button.setText("Tags: any")
        # Opened by the click (not the press), beside the button: a menu opened over the pointer took the
        # release of that click as a tick.
        self.tags_button.setArrowType(Qt.ArrowType.DownArrow)
        self.tags_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.tags_menu = _StayOpenMenu(self)
        self.tags_button.clicked.connect(self.show_tags_menu)
        self.tag_mode = QComboBox()
        for mode in ("any", "all", "none"):
            self.tag_mode.addItem(f"has {mode} of", mode)
        self.score_min = QDoubleSpinBox()
        self.score_max = QDoubleSpinBox()
        for box, value in ((self.score_min, 0.0), (self.score_max, 1.0)):
            box.setRange(0.0, 1.0)
            box.setSingleStep(0.05)
            box.setDecimals(2)
            box.setValue(value)
        self.search = QLineEdit()
        self.search.setPlaceholderText("File name contains…")
        self.search.setClearButtonEnabled(True)
        self.tag_search = TagSearchBox()
        self.clear_button = QPushButton("Clear filters")
        self.clear_button.setToolTip(
            "Show every photo again: tags, score, review state, file name and the search over tags"
        )
        self.clear_button.setEnabled(False)
        self.clear_button.clicked.connect(self.clear_filters)
        # Find similar: the photos it found, best first, until "Show all" (or Clear filters)
        self._similar: tuple[int, ...] = ()
        self.similar_label = QLabel("")
        self.similar_label.setWordWrap(True)
        self.show_all_button = QPushButton("Show all")
        self.show_all_button.setToolTip("Leave these photos and show every photo again")
        self.show_all_button.clicked.connect(self.clear_similar)
        self.score_label = QLabel("Top score")
        for w in (self.score_label, self.score_min, self.score_max):
            w.setToolTip(SCORE_TIP)
        self._lay_out()
        self.similar_label.setVisible(False)
        self.show_all_button.setVisible(False)
        self._tag_actions: dict[str, QAction] = {}
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self._emit)
        for combo in (self.sort_combo, self.review_combo, self.tag_mode):
            combo.currentIndexChanged.connect(self._emit)
        self.descending.toggled.connect(self._emit)
        self.score_min.valueChanged.connect(self._debounce.start)
        self.score_max.valueChanged.connect(self._debounce.start)
        self.search.textChanged.connect(self._debounce.start)
        self.tag_search.textChanged.connect(self._debounce.start)

    def _lay_out(self) -> None:
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.addWidget(QLabel("Sort"), 0, 0)
        grid.addWidget(self.sort_combo, 0, 1)
        grid.addWidget(self.descending, 0, 2)
        grid.addWidget(QLabel("Show"), 1, 0)
        grid.addWidget(self.review_combo, 1, 1, 1, 2)
        grid.addWidget(QLabel("Tags"), 2, 0)
        grid.addWidget(self.tag_mode, 2, 1)
        grid.addWidget(self.tags_button, 2, 2)
        grid.addWidget(self.score_label, 3, 0)
        grid.addWidget(self.score_min, 3, 1)
        grid.addWidget(self.score_max, 3, 2)
        grid.addWidget(self.tag_search, 4, 0, 1, 3)
        grid.addWidget(self.search, 5, 0, 1, 2)
        grid.addWidget(self.clear_button, 5, 2)
        grid.addWidget(self.similar_label, 6, 0, 1, 2)
        grid.addWidget(self.show_all_button, 6, 2)

    def set_labels(self, labels: Sequence[str], groups: Mapping[str, str] | None = None) -> None:
        self.tag_search.set_labels(labels, groups or {})
        chosen = set(self.selected_tags())
        self.tags_menu.clear()
        self._tag_actions = {}
        for lab in labels:
            act = self.tags_menu.addAction(lab)
            act.setCheckable(True)
            act.setChecked(lab in chosen)
            act.toggled.connect(self._emit)
            self._tag_actions[lab] = act
        self._update_tags_text()

    @Slot()
    def show_tags_menu(self) -> None:
        """Open the list of tags below the Tags button (above it when it does not fit there; beside it when it
        fits neither): never over the button, where the pointer is."""
        button, menu = self.tags_button, self.tags_menu
        top = button.mapToGlobal(QPoint(0, 0))
        bottom = button.mapToGlobal(QPoint(0, button.height()))
        screen = button.screen().availableGeometry()
        size = menu.sizeHint()
        right_room = screen.right() + 1 - (top.x() + button.width())
        if bottom.y() + size.height() <= screen.bottom() + 1:
            at = bottom
        elif top.y() - size.height() >= screen.top():
            at = QPoint(top.x(), top.y() - size.height())
        elif right_room >= size.width() or right_room >= top.x() - screen.left():
            at = QPoint(top.x() + button.width(), screen.top())
        else:
            at = QPoint(top.x() - size.width(), screen.top())
        menu.popup(at)

    def selected_tags(self) -> list[str]:
        return [lab for lab, act in self._tag_actions.items() if act.isChecked()]

    def set_tags(self, tags: Sequence[str], mode: str = "any") -> None:
        for lab, act in self._tag_actions.items():
            act.blockSignals(True)
            act.setChecked(lab in tags)
            act.blockSignals(False)
        self.tag_mode.setCurrentIndex(max(0, self.tag_mode.findData(mode)))
        self._emit()

    def set_review(self, value: str) -> None:
        self.review_combo.setCurrentIndex(max(0, self.review_combo.findData(value)))

    def set_tag_search(self, text: str) -> None:
        """Put ``text`` in the search box over tags and apply it at once (a library opened again)."""
        self.tag_search.blockSignals(True)
        self.tag_search.setText(text)
        self.tag_search.blockSignals(False)
        self._debounce.stop()
        self._emit()

    def _update_tags_text(self) -> None:
        tags = self.selected_tags()
        self.tags_button.setText(", ".join(tags) if tags else "(choose)")
        # Say what the score range applies to: the chosen tags' best score, else the photo's top score.
        self.score_label.setText("Score of tags" if tags else "Top score")

    def is_filtering(self) -> bool:
        """Whether any filter hides photos (the sort order is not a filter)."""
        spec = self.spec()
        return bool(
            spec.similar
            or spec.tags
            or spec.text
            or spec.search
            or spec.review != "all"
            or spec.score_min > 0.0
            or spec.score_max < 1.0
        )

    def set_similar(self, image_ids: Sequence[int], text: str) -> None:
        """Show only ``image_ids``, in their order (Find similar's photos, best first), with ``text`` above
        the grid ("Similar to p03.jpg…"). An empty list shows every photo again."""
        self._similar = tuple(int(i) for i in image_ids)
        self.similar_label.setText(text)
        self.similar_label.setVisible(bool(self._similar))
        self.show_all_button.setVisible(bool(self._similar))
        self._emit()

    @Slot()
    def clear_similar(self) -> None:
        """Leave Find similar's photos: the other filters stay."""
        self.set_similar((), "")

    @Slot()
    def clear_filters(self) -> None:
        """Every filter back to "show all" (the sort stays), applied at once as one change."""
        self._similar = ()
        self.similar_label.setVisible(False)
        self.show_all_button.setVisible(False)
        widgets = (
            self.review_combo,
            self.tag_mode,
            self.score_min,
            self.score_max,
            self.search,
            self.tag_search,
        )
        for w in (*widgets, *self._tag_actions.values()):
            w.blockSignals(True)
        try:
            for act in self._tag_actions.values():
                act.setChecked(False)
            self.review_combo.setCurrentIndex(0)
            self.tag_mode.setCurrentIndex(0)
            self.score_min.setValue(0.0)
            self.score_max.setValue(1.0)
            self.search.clear()
            self.tag_search.clear()
        finally:
            for w in (*widgets, *self._tag_actions.values()):
                w.blockSignals(False)
        self._debounce.stop()
        self._emit()

    def spec(self) -> ViewSpec:
        return ViewSpec(
            tags=tuple(self.selected_tags()),
            tag_mode=str(self.tag_mode.currentData()),
            score_min=self.score_min.value(),
            score_max=self.score_max.value(),
            review=str(self.review_combo.currentData()),
            sort=str(self.sort_combo.currentData()),
            descending=self.descending.isChecked(),
            text=self.search.text().strip(),
            search=self.tag_search.text().strip(),
            similar=self._similar,
        )

    @Slot()
    def _emit(self, *_args) -> None:
        self._update_tags_text()
        queue = self.review_combo.currentData() == "attention"  # the queue's order replaces the sort's
        self.sort_combo.setEnabled(not queue)
        self.descending.setEnabled(not queue)
        self.clear_button.setEnabled(self.is_filtering())
        self.spec_changed.emit(self.spec())
