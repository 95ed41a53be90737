"""One value per exclusive group when a person edits: keys, selections, the pane, filters (issue 19 §1)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QRadioButton

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.gui.main_window import MainWindow
from fashion_desktop.gui.tag import commands
from tests.conftest import make_photo
from tests.gui.test_main_window import chips, grid_rows, select

LABELS = ["dress", "shoe", "Men", "Women", "Girls", "Green", "Pink", "White", "Fall", "Summer"]
GROUPS = {
    "dress": "category",
    "shoe": "category",
    "Men": "gender",
    "Women": "gender",
    "Girls": "gender",
    "Green": "colour",
    "Pink": "colour",
    "White": "colour",
    "Fall": "season",
    "Summer": "season",
}
# every photo: a dress, Men (Women next, then Girls), Green (then White, then Pink), Fall
SCORES = np.array([0.9, 0.1, 0.7, 0.2, 0.1, 0.6, 0.1, 0.3, 0.8, 0.2], np.float32)


def make_library(tmp_path, n: int = 5, decisions: dict[str, bool] | None = None):
    folder = tmp_path / "photos"
    paths = [folder / f"p{i}.jpg" for i in range(n)]
    for p in paths:
        make_photo(p, (64, 48), "red")
    cat = Catalog(tmp_path / "lib.ffcat")
    cat.add_folder(str(folder))
    ids = cat.ensure_images([str(p) for p in paths])
    cat.register_model(
        "m",
        LABELS,
        "model",
        None,
        GROUPS,
        thresholds=[0.5] * len(LABELS),
        exclusive=["gender", "colour", "season"],
    )
    cat.add_predictions("m", [(i, SCORES) for i in ids.values()])
    for label, value in (decisions or {}).items():
        cat.set_decision(ids[str(paths[0])], label, value)
    cat.close()
    return tmp_path / "lib.ffcat"


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(make_library(tmp_path))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def press(qtbot, w, label: str) -> None:
    key = w.review.keys[label]
    modifier = (
        Qt.KeyboardModifier.ShiftModifier if key.startswith("Shift+") else Qt.KeyboardModifier.NoModifier
    )
    qtbot.keyClick(w.grid, key.removeprefix("Shift+").lower(), modifier)


def test_a_value_key_replaces_the_groups_value_and_one_undo_brings_it_back(qtbot, window):
    w = window
    select(qtbot, w, "p1.jpg")
    assert chips(w, "p1.jpg") == ["dress", "Men", "Green", "Fall"]
    press(qtbot, w, "Girls")
    assert chips(w, "p1.jpg") == ["dress", "Girls", "Green", "Fall"]
    press(qtbot, w, "Pink")
    assert chips(w, "p1.jpg") == ["dress", "Girls", "Pink", "Fall"]  # one key fixes a wrong colour
    qtbot.keyClick(w.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert chips(w, "p1.jpg") == ["dress", "Girls", "Green", "Fall"]


def test_the_key_of_the_value_already_set_takes_the_persons_value_away(qtbot, window):
    w = window
    select(qtbot, w, "p1.jpg")
    press(qtbot, w, "Girls")
    press(qtbot, w, "Girls")  # unreviewed: back to the model's suggestion, in one undo step
    assert chips(w, "p1.jpg") == ["dress", "Men", "Green", "Fall"]
    assert w.library.decision(w.library.id_at(grid_rows(w)["p1.jpg"]), "Girls") is None
    press(qtbot, w, "Girls")
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)  # reviewed: Girls is now the person's settled value
    select(qtbot, w, "p1.jpg")  # Space moved on to the next photo (issue 24): back to p1
    press(qtbot, w, "Girls")
    assert chips(w, "p1.jpg") == ["dress", "Green", "Fall"]  # a reviewed photo keeps no gender


def test_a_value_set_on_a_selection_replaces_each_photos_value(qtbot, window):
    w = window
    ids = [w.library.id_at(r) for r in range(w.library.rowCount())]
    w.review_ctl.push(commands.set_label(w.library, ids, "Summer", True))  # the batch "add tag" dialog path
    for name in ("p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg", "p4.jpg"):
        assert chips(w, name) == ["dress", "Men", "Green", "Summer"]
    qtbot.keyClick(w.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert all("Fall" in chips(w, f"p{i}.jpg") and "Summer" not in chips(w, f"p{i}.jpg") for i in range(5))


def test_the_pane_shows_a_one_value_group_as_one_choice_with_the_next_best_values_first(qtbot, window):
    w = window
    select(qtbot, w, "p2.jpg")
    pane = w.review
    assert isinstance(pane.rows["Pink"].box, QRadioButton)
    assert not isinstance(pane.rows["dress"].box, QRadioButton)  # categories stay check boxes
    assert pane.one_value_order("colour") == ["Green", "White", "Pink"]
    assert pane.one_value_order("gender") == ["Men", "Women", "Girls"]
    pane.rows["Pink"].box.click()  # (its text, not the stretched row, takes the mouse)
    assert chips(w, "p2.jpg") == ["dress", "Men", "Pink", "Fall"]
    assert pane.rows["Pink"].box.isChecked() and not pane.rows["Green"].box.isChecked()
    assert pane.one_value_order("colour") == ["Pink", "Green", "White"]


def test_a_catalog_holding_two_person_values_in_a_group_can_find_them(qtbot, tmp_path):
    w = MainWindow(make_library(tmp_path, decisions={"Green": True, "White": True}))
    qtbot.addWidget(w)
    w.show()
    bar = w.tag_page.filters
    i = bar.review_combo.findData("two values")
    assert bar.review_combo.itemText(i) == "Two values in a one-value group"
    bar.review_combo.setCurrentIndex(i)
    qtbot.waitUntil(lambda: w.library.rowCount() == 1)
    assert sorted(grid_rows(w)) == ["p0.jpg"]
    w.close()


def test_import_tags_only_sets_the_listed_value_and_marks_nothing_reviewed(qtbot, window, tmp_path):
    w = window
    sheet = tmp_path / "fix.csv"
    sheet.write_text("image,tags\np0.jpg,Pink\np1.jpg,Pink|Girls\n", encoding="utf-8")
    w.transfer_ctl.import_tags_dialog(sheet)  # read in a worker: the preview opens when it is read
    qtbot.waitUntil(lambda: w.transfer_ctl.import_box is not None and w.transfer_ctl.import_box.isVisible())
    box = w.transfer_ctl.import_box
    mode = w.transfer_ctl.import_mode
    assert mode.isChecked()  # as before: the listed photos are settled ...
    mode.setChecked(False)  # ... unless the person chooses tags only
    assert "Photos matched: 2 (none marked reviewed)" in box.informativeText()
    qtbot.mouseClick(w.transfer_ctl.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible())
    assert chips(w, "p0.jpg") == ["dress", "Men", "Pink", "Fall"]
    assert chips(w, "p1.jpg") == ["dress", "Girls", "Pink", "Fall"]
    assert not any(w.library.is_reviewed(w.library.id_at(r)) for r in range(w.library.rowCount()))
    w.undo_action.trigger()
    assert chips(w, "p1.jpg") == ["dress", "Men", "Green", "Fall"]
