"""Threshold panel: global slider, tuned defaults, per-label overrides, counts, top-k, reset."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from fashion_desktop.core.tags import predicted_matrix
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.gui.tag.thresholds_panel import ThresholdPanel, ThresholdTableModel

LABELS = ["red", "green", "blue", "dress"]
DEFAULTS = [0.3, 0.6, 0.45, 0.5]
GROUPS = {"red": "colour", "green": "colour", "blue": "colour", "dress": "category"}


@pytest.fixture
def panel(qtbot):
    w = ThresholdPanel()
    qtbot.addWidget(w)
    w.set_model(LABELS, DEFAULTS, GROUPS)
    w.resize(600, 500)
    w.show()
    qtbot.waitExposed(w)
    return w


def _cell(panel: ThresholdPanel, label: str, column: int):
    """Proxy index of ``label``'s cell in ``column`` (the table may be sorted)."""
    proxy = panel.proxy
    for row in range(proxy.rowCount()):
        if proxy.index(row, ThresholdTableModel.LABEL).data() == label:
            return proxy.index(row, column)
    raise AssertionError(f"{label} not shown")


def _click(qtbot, panel: ThresholdPanel, index, double: bool = False) -> None:
    rect = panel.table.visualRect(index)
    vp = panel.table.viewport()
    if double:
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(vp, Qt.MouseButton.LeftButton, pos=rect.center())
    else:
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=rect.center())


def _click_box(qtbot, box) -> None:
    """Click a check box on its indicator (a stretched box's centre may be past its text)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def test_model_passes_qtmodeltester(qtmodeltester):
    model = ThresholdTableModel()
    model.set_labels(LABELS, DEFAULTS, GROUPS)
    model.set_counts({"red": 3}, {"green": 1})
    model.set_overrides({"blue": 0.2})
    qtmodeltester.check(model, force_py=True)


def test_starts_with_tuned_defaults_and_table_shows_bundle_values(panel):
    policy = panel.policy()
    assert policy.global_threshold is None
    assert policy.per_label == {}
    assert not panel.slider.isEnabled()
    assert list(policy.thresholds(LABELS, DEFAULTS)) == pytest.approx(DEFAULTS)
    assert _cell(panel, "green", ThresholdTableModel.DEFAULT).data() == "0.60"
    assert _cell(panel, "dress", ThresholdTableModel.GROUP).data() == "category"
    assert _cell(panel, "red", ThresholdTableModel.OVERRIDE).data() == ""


def test_dragging_slider_emits_live_global_policy(qtbot, panel):
    _click_box(qtbot, panel.tuned_check)
    assert panel.slider.isEnabled()
    seen: list[ThresholdPolicy] = []
    panel.policy_changed.connect(seen.append)
    panel.slider.setFocus()
    for _ in range(5):
        qtbot.keyClick(panel.slider, Qt.Key.Key_Right)
    # One emission per step while moving, not one at the end.
    assert len(seen) == 5
    assert seen[-1].global_threshold == pytest.approx(0.55)
    assert panel.spin.value() == pytest.approx(0.55)
    assert list(seen[-1].thresholds(LABELS, DEFAULTS)) == pytest.approx([0.55] * 4)


def test_spin_box_moves_slider_and_changes_policy(qtbot, panel):
    panel.tuned_check.setChecked(False)
    with qtbot.waitSignal(panel.policy_changed) as blocker:
        panel.spin.selectAll()
        qtbot.keyClicks(panel.spin.lineEdit(), "0.8")
        qtbot.keyClick(panel.spin.lineEdit(), Qt.Key.Key_Return)
    assert blocker.args[0].global_threshold == pytest.approx(0.8)
    assert panel.slider.value() == 80


def test_override_edited_in_table_wins_and_delete_clears_it(qtbot, panel):
    index = _cell(panel, "green", ThresholdTableModel.OVERRIDE)
    _click(qtbot, panel, index, double=True)
    editor = QApplication.focusWidget()
    assert editor is not None
    editor.selectAll()
    with qtbot.waitSignal(panel.policy_changed) as blocker:
        qtbot.keyClicks(editor, "0.25")
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    policy = blocker.args[0]
    assert policy.per_label == {"green": pytest.approx(0.25)}
    assert _cell(panel, "green", ThresholdTableModel.OVERRIDE).data() == "0.25"
    # The override wins over a global threshold too.
    panel.tuned_check.setChecked(False)
    th = panel.policy().thresholds(LABELS, DEFAULTS)
    assert th[1] == pytest.approx(0.25)
    assert th[0] == pytest.approx(panel.spin.value())

    _click(qtbot, panel, _cell(panel, "green", ThresholdTableModel.LABEL))
    with qtbot.waitSignal(panel.policy_changed) as blocker:
        qtbot.keyClick(panel.table, Qt.Key.Key_Delete)
    assert blocker.args[0].per_label == {}


def test_counts_shown_and_filter_by_label_is_an_explicit_action(qtbot, panel):
    panel.set_counts({"red": 12, "blue": 3}, {"red": 4})
    assert _cell(panel, "red", ThresholdTableModel.PREDICTED).data() == "12"
    assert _cell(panel, "red", ThresholdTableModel.CONFIRMED).data() == "4"
    assert _cell(panel, "green", ThresholdTableModel.PREDICTED).data() == "0"
    # A plain click only selects the row (it used to filter the grid: a surprise).
    with qtbot.assertNotEmitted(panel.label_filter_requested):
        _click(qtbot, panel, _cell(panel, "blue", ThresholdTableModel.LABEL))
    assert panel.selected_label() == "blue"
    with qtbot.waitSignal(panel.label_filter_requested) as blocker:
        qtbot.mouseClick(panel.filter_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["blue"]
    # Sorting by predicted count puts the busiest label first.
    panel.table.sortByColumn(ThresholdTableModel.PREDICTED, Qt.SortOrder.DescendingOrder)
    assert panel.proxy.index(0, ThresholdTableModel.LABEL).data() == "red"


def test_top_k_and_at_least_one_change_predictions(qtbot, panel):
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.2, 0.1]], dtype=np.float32)
    panel.set_policy(ThresholdPolicy(global_threshold=0.5))
    p = panel.policy()
    before = predicted_matrix(scores, p.thresholds(LABELS, DEFAULTS), p)
    assert before.sum(axis=1).tolist() == [3, 0]

    panel.top_k_spin.setFocus()
    with qtbot.waitSignal(panel.policy_changed):
        qtbot.keyClick(panel.top_k_spin, Qt.Key.Key_Up)
    with qtbot.waitSignal(panel.policy_changed):
        _click_box(qtbot, panel.at_least_one_check)
    p = panel.policy()
    assert p.top_k == 1 and p.at_least_one
    after = predicted_matrix(scores, p.thresholds(LABELS, DEFAULTS), p)
    assert after.tolist() == [[True, False, False, False], [False, True, False, False]]


def test_set_policy_round_trips_and_reset_restores_defaults(qtbot, panel):
    wanted = ThresholdPolicy(global_threshold=0.35, per_label={"dress": 0.7}, top_k=2, at_least_one=True)
    with qtbot.waitSignal(panel.policy_changed):
        panel.set_policy(wanted)
    assert panel.policy() == wanted
    assert panel.slider.value() == 35
    assert _cell(panel, "dress", ThresholdTableModel.OVERRIDE).data() == "0.70"
    # Setting the same policy again is not a change.
    with qtbot.assertNotEmitted(panel.policy_changed):
        panel.set_policy(wanted)

    with qtbot.waitSignal(panel.policy_changed) as blocker:
        qtbot.mouseClick(panel.reset_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == ThresholdPolicy()
    assert panel.policy().thresholds(LABELS, DEFAULTS).tolist() == pytest.approx(DEFAULTS)
    assert _cell(panel, "dress", ThresholdTableModel.OVERRIDE).data() == ""


def test_new_model_drops_overrides_of_unknown_labels(qtbot, panel):
    panel.set_policy(ThresholdPolicy(per_label={"dress": 0.7, "red": 0.2}))
    with qtbot.waitSignal(panel.policy_changed) as blocker:
        panel.set_model(["red", "shirt"], [0.5, 0.5], {})
    assert blocker.args[0].per_label == {"red": pytest.approx(0.2)}
    assert panel.proxy.rowCount() == 2


def test_mismatched_defaults_are_refused(panel):
    with pytest.raises(ValueError, match="2 labels but 1"):
        panel.set_model(["a", "b"], [0.5], {})


def test_an_exclusive_group_is_one_floor_row_that_the_global_slider_does_not_move(qtbot) -> None:
    w = ThresholdPanel()
    qtbot.addWidget(w)
    w.set_model(LABELS, [0.25, 0.25, 0.25, 0.5], GROUPS, exclusive=("colour",))
    w.show()
    qtbot.waitExposed(w)
    names = [w.proxy.index(r, ThresholdTableModel.LABEL).data() for r in range(w.proxy.rowCount())]
    assert sorted(names) == ["colour: top value", "dress"]  # not red / green / blue one by one
    floor_row = _cell(w, "colour: top value", ThresholdTableModel.LABEL)
    assert "one value per photo" in floor_row.data(Qt.ItemDataRole.ToolTipRole)
    # The global slider moves the label's threshold, never the floor.
    w.tuned_check.setChecked(False)
    w.spin.setValue(0.8)
    assert _cell(w, "dress", ThresholdTableModel.LABEL).data(Qt.ItemDataRole.ToolTipRole).find("0.800") > 0
    assert "0.250 (default)" in floor_row.data(Qt.ItemDataRole.ToolTipRole)
    # Editing the floor sets one value for every label of the group, and the policy says so.
    with qtbot.waitSignal(w.policy_changed):
        w.proxy.setData(_cell(w, "colour: top value", ThresholdTableModel.OVERRIDE), 0.4)
    assert w.policy().per_label == {"red": 0.4, "green": 0.4, "blue": 0.4}
    # Clearing it clears the whole group.
    w.model.clear_override(w.proxy.mapToSource(floor_row).row())
    assert w.policy().per_label == {}


def test_the_models_group_rule_is_a_switch_shown_only_for_a_model_that_declares_one(qtbot, panel):
    from fashion_desktop.model.groups import at_least_one_columns

    box = panel.group_rule_check
    assert not box.isVisible()
    panel.set_model(LABELS, DEFAULTS, GROUPS, at_least_one=("category",))
    assert box.isVisible() and box.isChecked() and box.text() == "At least one category per photo"
    scores = np.array([[0.9, 0.1, 0.1, 0.2]], dtype=np.float32)  # red passes, no category does
    required = at_least_one_columns(LABELS, GROUPS, ["category"])

    def tags() -> list[bool]:
        p = panel.policy()
        return predicted_matrix(scores, p.thresholds(LABELS, DEFAULTS), p, (), required)[0].tolist()

    assert tags() == [True, False, False, True]  # the photo's most likely category: dress
    with qtbot.waitSignal(panel.policy_changed) as blocker:
        _click_box(qtbot, box)
    assert blocker.args[0].group_at_least_one is False and tags() == [True, False, False, False]
    with qtbot.waitSignal(panel.policy_changed) as blocker:
        qtbot.mouseClick(panel.reset_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == ThresholdPolicy() and box.isChecked()
    panel.set_model(LABELS, DEFAULTS, GROUPS)  # a model without such a group: no switch to show
    assert not box.isVisible()
