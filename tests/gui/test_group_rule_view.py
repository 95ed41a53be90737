"""The Tag tab's threshold view turns the model's at-least-one groups off, and the library keeps that choice."""

from __future__ import annotations

import numpy as np

from tests.gui.test_main_window import chips, scan
from tests.gui.test_thresholds_panel import _click_box

LABELS = ["dress", "coat", "red"]
GROUPS = {"dress": "category", "coat": "category", "red": "colour"}


def test_the_view_turns_the_models_rule_off_and_the_library_keeps_that(qtbot, window, photo_folder) -> None:
    scan(qtbot, window, photo_folder)
    cat, m, panel = window.catalog, window.library, window.threshold_panel
    cat.register_model("one-item", LABELS, "one item per photo", groups=GROUPS, thresholds=[0.5] * 3,
                       at_least_one=("category",))  # fmt: skip
    cat.add_predictions("one-item", [(i, np.float32([0.2, 0.3, 0.9])) for i in m.all_ids()])
    cat.register_model("other", LABELS, "other", groups=GROUPS, thresholds=[0.5] * 3)
    cat.add_predictions("other", [(i, np.float32([0.2, 0.3, 0.9])) for i in m.all_ids()])
    m.set_active_model("one-item")
    box = panel.group_rule_check
    assert box.isVisibleTo(panel) and box.isChecked() and "category" in box.text()
    assert chips(window, "red_0.jpg") == ["coat", "red"]  # no category passed: the most likely one

    with qtbot.waitSignal(panel.policy_changed):
        _click_box(qtbot, box)
    assert chips(window, "red_0.jpg") == ["red"]
    window.view_state.save()
    assert cat.view_state("one-item").group_at_least_one is False

    # Another model (without the rule) and back: the view comes back as this library left it.
    m.set_active_model("other")
    assert not box.isVisibleTo(panel) and chips(window, "red_0.jpg") == ["red"]
    m.set_active_model("one-item")
    assert box.isVisibleTo(panel) and not box.isChecked()
    assert chips(window, "red_0.jpg") == ["red"]
