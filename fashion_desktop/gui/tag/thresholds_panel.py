"""Threshold controls: a global slider, per-label overrides with predicted/confirmed counts, top-k cap."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QFont, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSlider,
    QSpinBox,
    QStyledItemDelegate,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.core.thresholds import ThresholdPolicy

_Index = QModelIndex | QPersistentModelIndex

SORT_ROLE = Qt.ItemDataRole.UserRole + 1

SLIDER_STEPS = 100  # the slider moves in 0.01 steps; the spin box allows finer values


class ThresholdTableModel(QAbstractTableModel):
    """Per-label rows: label, group, bundle default, user override (editable), predicted and confirmed counts.

    An exclusive group (one value per photo, tagged with its top value) is one row, its confidence
    floor: editing it sets the same override for every label of the group.
    """

    # Short headers so the whole table fits the side panel; the tooltips say what each column is.
    COLUMNS = ("Label", "Group", "Default", "Yours", "Pred.", "Conf.")
    TOOLTIPS = (
        "Label of the model",
        "Label group of the bundle (e.g. category, colour)",
        "The bundle's threshold for this label (tuned on validation data when trained by the trainer)",
        "Your override of the threshold (double-click to edit, Delete to clear)",
        "Photos whose final tag includes this label",
        "Photos where a person confirmed this label",
    )
    LABEL, GROUP, DEFAULT, OVERRIDE, PREDICTED, CONFIRMED = range(6)

    overrides_edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels: list[str] = []
        self._defaults: list[float] = []
        self._groups: dict[str, str] = {}
        self._overrides: dict[str, float] = {}
        self._predicted: dict[str, int] = {}
        self._confirmed: dict[str, int] = {}
        self._global: float | None = None
        # One entry per row: (shown name, indices of its labels); a group floor row has several.
        self._rows: list[tuple[str, list[int]]] = []
        self._floor_groups: dict[int, str] = {}  # row -> exclusive group name
        self._tuned: dict[int, float] = {}  # label index -> the library adapter's threshold in its place

    # -- feeding ----------------------------------------------------------------------------
    def set_labels(
        self,
        labels: Sequence[str],
        defaults: Sequence[float],
        groups: Mapping[str, str],
        exclusive: Sequence[str] = (),
    ) -> None:
        if len(labels) != len(defaults):
            raise ValueError(f"{len(labels)} labels but {len(defaults)} default thresholds")
        self.beginResetModel()
        self._labels = list(labels)
        self._defaults = [float(d) for d in defaults]
        self._groups = dict(groups)
        self._overrides = {k: v for k, v in self._overrides.items() if k in set(self._labels)}
        members: dict[str, list[int]] = {}
        for j, lab in enumerate(self._labels):
            g = self._groups.get(lab)
            if g in exclusive:
                members.setdefault(g, []).append(j)
        self._rows, self._floor_groups = [], {}
        for j, lab in enumerate(self._labels):
            g = self._groups.get(lab)
            if g in members and len(members[g]) >= 2:
                if members[g][0] == j:
                    self._floor_groups[len(self._rows)] = g
                    self._rows.append((f"{g}: top value", members[g]))
                continue
            self._rows.append((lab, [j]))
        self.endResetModel()

    def set_tuned(self, tuned: Mapping[str, float]) -> None:
        """Thresholds the library's adapter tuned on the person's reviewed photos, in place of the defaults."""
        index = {lab: j for j, lab in enumerate(self._labels)}
        self._tuned = {index[lab]: float(v) for lab, v in tuned.items() if lab in index}
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, self.columnCount() - 1))

    def _default(self, first: int) -> float:
        return self._tuned.get(first, self._defaults[first])

    def set_counts(self, predicted: Mapping[str, int], confirmed: Mapping[str, int]) -> None:
        self._predicted = dict(predicted)
        self._confirmed = dict(confirmed)
        self._changed_columns(self.PREDICTED, self.CONFIRMED)

    def set_global(self, value: float | None) -> None:
        if value != self._global:
            self._global = value
            self._changed_columns(self.LABEL, len(self.COLUMNS) - 1)

    def set_overrides(self, overrides: Mapping[str, float]) -> None:
        self._overrides = {k: float(v) for k, v in overrides.items() if k in set(self._labels)}
        self._changed_columns(self.DEFAULT, self.OVERRIDE)

    def overrides(self) -> dict[str, float]:
        return dict(self._overrides)

    def labels(self) -> list[str]:
        return list(self._labels)

    def defaults(self) -> list[float]:
        return list(self._defaults)

    def label_at(self, row: int) -> str | None:
        """The label of ``row`` (None for an exclusive group's floor row: it stands for several)."""
        return None if row in self._floor_groups else self._labels[self._rows[row][1][0]]

    def floor_group_at(self, row: int) -> str | None:
        """The exclusive group whose floor ``row`` shows, or None for a label's row."""
        return self._floor_groups.get(row)

    def row_labels(self, row: int) -> list[str]:
        return [self._labels[j] for j in self._rows[row][1]]

    def clear_override(self, row: int) -> None:
        if 0 <= row < len(self._rows) and any(lab in self._overrides for lab in self.row_labels(row)):
            for lab in self.row_labels(row):
                self._overrides.pop(lab, None)
            self._changed_columns(self.DEFAULT, self.OVERRIDE, rows=(row, row))
            self.overrides_edited.emit()

    def _changed_columns(self, first: int, last: int, rows: tuple[int, int] | None = None) -> None:
        if not self._rows:
            return
        top, bottom = rows if rows else (0, len(self._rows) - 1)
        self.dataChanged.emit(self.index(top, first), self.index(bottom, last), [])

    # -- Qt model interface -----------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return self.TOOLTIPS[section] if 0 <= section < len(self.TOOLTIPS) else None
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.COLUMNS):
            return self.COLUMNS[section]
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self._rows):
            return section + 1
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
        if index.column() == self.OVERRIDE:
            base |= Qt.ItemFlag.ItemIsEditable
        return base

    def _in_effect(self, row: int) -> tuple[str, float]:
        label = self._labels[self._rows[row][1][0]]
        if label in self._overrides:
            return "override", self._overrides[label]
        if self._global is not None and row not in self._floor_groups:  # the slider never moves a floor
            return "global", self._global
        first = self._rows[row][1][0]
        return ("adapted" if first in self._tuned else "default"), self._default(first)

    def _count(self, counts: Mapping[str, int], row: int) -> int:
        return sum(counts.get(lab, 0) for lab in self.row_labels(row))

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        row, col = index.row(), index.column()
        first = self._rows[row][1][0]
        label = self._labels[first]
        name = self._rows[row][0]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == self.LABEL:
                return name
            if col == self.GROUP:
                return self._groups.get(label, "")
            if col == self.DEFAULT:
                return f"{self._default(first):.2f}" + ("*" if first in self._tuned else "")
            if col == self.OVERRIDE:
                return f"{self._overrides[label]:.2f}" if label in self._overrides else ""
            if col == self.PREDICTED:
                return str(self._count(self._predicted, row))
            if col == self.CONFIRMED:
                return str(self._count(self._confirmed, row))
            return None
        if role == Qt.ItemDataRole.EditRole and col == self.OVERRIDE:
            return float(self._in_effect(row)[1])
        if role == SORT_ROLE:
            if col == self.LABEL:
                return name.lower()
            if col == self.GROUP:
                return self._groups.get(label, "").lower()
            if col == self.DEFAULT:
                return self._default(first)
            if col == self.OVERRIDE:
                return self._overrides.get(label, -1.0)
            if col == self.PREDICTED:
                return self._count(self._predicted, row)
            if col == self.CONFIRMED:
                return self._count(self._confirmed, row)
            return None
        if role == Qt.ItemDataRole.FontRole:
            source, _ = self._in_effect(row)
            if (col == self.DEFAULT and source in ("default", "adapted")) or (
                col == self.OVERRIDE and source == "override"
            ):
                font = QFont()
                font.setBold(True)
                return font
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            source, value = self._in_effect(row)
            group = self._floor_groups.get(row)
            if group is not None:
                tip = (
                    f"{group}: one value per photo ({len(self._rows[row][1])} values). A photo is tagged with "
                    f"its most likely {group} when that value's score reaches this floor: {value:.3f} "
                    f"({source}). The global slider does not move it."
                )
                return tip + (
                    "\nDouble-click to set; Delete clears the override" if col == self.OVERRIDE else ""
                )
            tip = f"{label}: threshold in effect {value:.3f} ({source})"
            if first in self._tuned:
                tip += (
                    f"\n* Tuned on your reviewed photos by the library's adapter (the model's: "
                    f"{self._defaults[first]:.3f})"
                )
            if col == self.LABEL:
                tip += "\nRight-click (or “Show photos with this label”) to filter the grid by it"
            elif col == self.OVERRIDE:
                tip += "\nDouble-click to set; Delete clears the override"
            return tip
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= self.DEFAULT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: _Index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != self.OVERRIDE or role != Qt.ItemDataRole.EditRole:
            return False
        row_labels = self.row_labels(index.row())
        if value is None or (isinstance(value, str) and not value.strip()):
            if not any(lab in self._overrides for lab in row_labels):
                return False
            for lab in row_labels:
                self._overrides.pop(lab, None)
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                return False
            if math.isnan(number) or not 0.0 <= number <= 1.0:
                return False
            for lab in row_labels:  # a floor row sets one value for its whole group
                self._overrides[lab] = number
        self.dataChanged.emit(
            self.index(index.row(), self.DEFAULT), self.index(index.row(), self.OVERRIDE), []
        )
        self.overrides_edited.emit()
        return True


class _OverrideDelegate(QStyledItemDelegate):
    """Edits an override with a 0..1 spin box starting from the threshold currently in effect."""

    def createEditor(self, parent, option, index):
        editor = QDoubleSpinBox(parent)
        editor.setRange(0.0, 1.0)
        editor.setDecimals(3)
        editor.setSingleStep(0.01)
        editor.setFrame(False)
        return editor

    def setEditorData(self, editor, index):
        editor.setValue(float(index.data(Qt.ItemDataRole.EditRole) or 0.0))

    def setModelData(self, editor, model, index):
        editor.interpretText()
        model.setData(index, editor.value(), Qt.ItemDataRole.EditRole)


class _LabelTable(QTableView):
    """Delete/Backspace on selected rows clears their overrides (keyboard-first)."""

    clear_requested = Signal(list)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if (
            event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
            and self.state() != self.State.EditingState
        ):
            rows = sorted({i.row() for i in self.selectionModel().selectedIndexes()})
            if rows:
                self.clear_requested.emit(rows)
                event.accept()
                return
        super().keyPressEvent(event)


class ThresholdPanel(QWidget):
    """Global threshold (or each label's tuned default), per-label overrides, top-k cap, "at least one".

    ``policy_changed`` is emitted on every change, live while the slider is dragged; consumers throttle.
    """

    policy_changed = Signal(object)
    label_filter_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._last_emitted: ThresholdPolicy | None = None
        self._syncing = False

        self._build_controls()
        self._build_table()
        self._lay_out()
        self.tuned_check.setChecked(True)
        self.slider.setValue(SLIDER_STEPS // 2)
        self.spin.setValue(0.5)
        self._apply_mode_enabled()

        self._connect()
        self._last_emitted = self.policy()

    def _build_controls(self) -> None:
        """The mode, the global threshold (slider and value), top-k, "at least one" and the two buttons."""
        self.tuned_check = QCheckBox("Use each label's tuned default")
        self.tuned_check.setToolTip(
            "Each label uses the threshold the model was tuned with, unless overridden"
        )
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setTracking(True)
        self.slider.setAccessibleName("Global threshold")
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.0, 1.0)
        self.spin.setDecimals(2)
        self.spin.setSingleStep(0.01)
        self.spin.setAccessibleName("Global threshold value")
        # Typing "0.8" must not pass through 0.0 on the way.
        self.spin.setKeyboardTracking(False)

        self.top_k_spin = QSpinBox()
        self.top_k_spin.setRange(0, 999)
        self.top_k_spin.setSpecialValueText("no cap")
        self.top_k_spin.setToolTip("At most this many predicted tags per photo (highest scores first)")
        self.at_least_one_check = QCheckBox("At least one tag per photo")
        self.at_least_one_check.setToolTip("A photo where no label passes gets its best-scoring label")
        # The model's own rule (its at-least-one groups): shown only for a model that declares some.
        self.group_rule_check = QCheckBox("At least one per group")
        self.group_rule_check.setChecked(True)
        self.group_rule_check.setVisible(False)
        self.reset_button = QPushButton("Reset to bundle defaults")
        # Filtering the grid is an explicit action: a plain click in the table only selects the row.
        self.filter_button = QPushButton("Show photos with this label")
        self.filter_button.setToolTip("Filter the grid to the photos tagged with the selected label")
        self.filter_button.setEnabled(False)

    def _build_table(self) -> None:
        """The per-label table: sortable, overrides edited in place, long names elided in the middle."""
        self.model = ThresholdTableModel(self)
        self.tuned_note = QLabel("")
        self.tuned_note.setWordWrap(True)
        self.tuned_note.setVisible(False)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = _LabelTable()
        self.table.setModel(self.proxy)
        self.table.setItemDelegateForColumn(ThresholdTableModel.OVERRIDE, _OverrideDelegate(self.table))
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # Not AnyKeyPressed: with focus on the table, letters and digits are the labels' review keys.
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # Long names ("top, t-shirt, sweatshirt") take the room the panel has and are elided in the
        # middle (both ends tell labels apart); the tooltip has the whole name.
        header.setSectionResizeMode(ThresholdTableModel.LABEL, QHeaderView.ResizeMode.Stretch)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for col in (
            ThresholdTableModel.DEFAULT,
            ThresholdTableModel.OVERRIDE,
            ThresholdTableModel.PREDICTED,
            ThresholdTableModel.CONFIRMED,
        ):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, 50)

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Threshold"))
        top.addWidget(self.slider, 1)
        top.addWidget(self.spin)
        extras = QHBoxLayout()
        extras.addWidget(QLabel("Top-k"))
        extras.addWidget(self.top_k_spin)
        extras.addWidget(self.at_least_one_check)
        extras.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tuned_check)
        layout.addLayout(top)
        layout.addLayout(extras)
        layout.addWidget(self.group_rule_check)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.tuned_note)
        buttons = QHBoxLayout()
        buttons.addWidget(self.filter_button)
        buttons.addWidget(self.reset_button)
        layout.addLayout(buttons)

    def _connect(self) -> None:
        self.slider.valueChanged.connect(self._slider_moved)
        self.spin.valueChanged.connect(self._spin_changed)
        self.tuned_check.toggled.connect(self._mode_toggled)
        self.top_k_spin.valueChanged.connect(self._emit_if_changed)
        self.at_least_one_check.toggled.connect(self._emit_if_changed)
        self.group_rule_check.toggled.connect(self._emit_if_changed)
        self.reset_button.clicked.connect(self.reset_to_defaults)
        self.model.overrides_edited.connect(self._emit_if_changed)
        self.table.clear_requested.connect(self._clear_rows)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(
            lambda *_a: self.filter_button.setEnabled(self.selected_label() is not None)
        )
        self.filter_button.clicked.connect(self.filter_by_selected)

    # -- public API -------------------------------------------------------------------------
    def set_model(
        self,
        labels: list[str],
        defaults: list[float],
        groups: dict[str, str],
        exclusive: Sequence[str] = (),
        at_least_one: Sequence[str] = (),
    ) -> None:
        """Show the labels of a model with its tuned default thresholds (one floor row per ``exclusive``
        group) and the switch of its ``at_least_one`` groups' rule; overrides for other labels go."""
        self.model.set_labels(labels, defaults, groups, exclusive)
        self._show_group_rule(at_least_one)
        self._emit_if_changed()

    def set_tuned(self, tuned: dict[str, float]) -> None:
        """Say which defaults the library's adapter replaced with thresholds tuned on reviewed photos."""
        self.model.set_tuned(tuned)
        n = len(tuned)
        self.tuned_note.setText(
            f"* {n} label{'s use thresholds' if n != 1 else ' uses a threshold'} tuned on your reviewed photos "
            "(the library's adapter; the model's own where too few were reviewed)"
        )
        self.tuned_note.setVisible(n > 0)

    def set_counts(self, predicted: dict[str, int], confirmed: dict[str, int]) -> None:
        """Per label: how many photos it is predicted on at the current policy and how many a person confirmed."""
        self.model.set_counts(predicted, confirmed)

    def policy(self) -> ThresholdPolicy:
        """The policy the controls describe now."""
        top_k = self.top_k_spin.value()
        return ThresholdPolicy(
            global_threshold=None if self.tuned_check.isChecked() else round(self.spin.value(), 4),
            per_label=self.model.overrides(),
            top_k=top_k or None,
            at_least_one=self.at_least_one_check.isChecked(),
            group_at_least_one=self.group_rule_check.isChecked(),
        )

    def set_policy(self, policy: ThresholdPolicy) -> None:
        """Show ``policy`` in the controls; emits ``policy_changed`` if it differs from the current one."""
        self._syncing = True
        try:
            self.tuned_check.setChecked(policy.global_threshold is None)
            if policy.global_threshold is not None:
                value = min(max(float(policy.global_threshold), 0.0), 1.0)
                self.spin.setValue(value)
                self.slider.setValue(round(value * SLIDER_STEPS))
            self.top_k_spin.setValue(int(policy.top_k or 0))
            self.at_least_one_check.setChecked(bool(policy.at_least_one))
            self.group_rule_check.setChecked(bool(policy.group_at_least_one))
            self.model.set_overrides(policy.per_label)
            self._apply_mode_enabled()
        finally:
            self._syncing = False
        self._emit_if_changed()

    @Slot()
    def reset_to_defaults(self) -> None:
        """Drop every override and go back to each label's tuned default, without cap or forced tag (the
        model's own at-least-one groups apply again)."""
        self.set_policy(ThresholdPolicy())

    # -- internals --------------------------------------------------------------------------
    def _show_group_rule(self, groups: Sequence[str]) -> None:
        names = ", ".join(groups)
        self.group_rule_check.setText(f"At least one {names} per photo")
        self.group_rule_check.setToolTip(
            f"The model's rule (trained on one item per photo): a photo on which no {names} passes its "
            f"threshold gets its most likely {names}. Untick to see only the {names} tags that pass."
        )
        self.group_rule_check.setVisible(bool(groups))

    def _apply_mode_enabled(self) -> None:
        manual = not self.tuned_check.isChecked()
        self.slider.setEnabled(manual)
        self.spin.setEnabled(manual)
        self.model.set_global(round(self.spin.value(), 4) if manual else None)

    @Slot(bool)
    def _mode_toggled(self, _checked: bool) -> None:
        self._apply_mode_enabled()
        self._emit_if_changed()

    @Slot(int)
    def _slider_moved(self, value: int) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            # Keep a finer spin value when the slider merely re-rounds to the same step.
            if round(self.spin.value() * SLIDER_STEPS) != value:
                self.spin.setValue(value / SLIDER_STEPS)
        finally:
            self._syncing = False
        self._apply_mode_enabled()
        self._emit_if_changed()

    @Slot(float)
    def _spin_changed(self, value: float) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.slider.setValue(round(value * SLIDER_STEPS))
        finally:
            self._syncing = False
        self._apply_mode_enabled()
        self._emit_if_changed()

    @Slot()
    def _emit_if_changed(self, *_args: object) -> None:
        if self._syncing:
            return
        policy = self.policy()
        if policy != self._last_emitted:
            self._last_emitted = policy
            self.policy_changed.emit(policy)

    @Slot(list)
    def _clear_rows(self, proxy_rows: list[int]) -> None:
        for proxy_row in proxy_rows:
            source = self.proxy.mapToSource(self.proxy.index(proxy_row, 0))
            self.model.clear_override(source.row())

    def selected_label(self) -> str | None:
        """The label of the table's current row, if a row is selected."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        source = self.proxy.mapToSource(rows[0])
        return self.model.label_at(source.row()) if source.isValid() else None

    @Slot()
    def filter_by_selected(self) -> None:
        label = self.selected_label()
        if label is not None:
            self.label_filter_requested.emit(label)

    def context_menu(self, index: QModelIndex) -> QMenu | None:
        """The menu of a row: filter the grid by its label, clear its override."""
        source = self.proxy.mapToSource(index)
        if not source.isValid():
            return None
        label = self.model.label_at(source.row())
        menu = QMenu(self.table)
        if label is not None:
            menu.addAction(
                f"Show only photos tagged “{label}”", lambda: self.label_filter_requested.emit(label)
            )
        floor = label is None
        clear = menu.addAction(
            "Clear your floor" if floor else "Clear your threshold",
            lambda: self.model.clear_override(source.row()),
        )
        clear.setEnabled(bool(set(self.model.row_labels(source.row())) & set(self.model.overrides())))
        return menu

    @Slot(QPoint)
    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        menu = self.context_menu(index) if index.isValid() else None
        if menu is not None:
            self.table.selectRow(index.row())
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            menu.popup(self.table.viewport().mapToGlobal(pos))
