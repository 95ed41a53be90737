"""A tag the model does not have, created from the review pane or the label palette (issue 9, item 2)."""
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.training_table import training_table
from fashion_desktop.gui.main_window import MainWindow
from fashion_desktop.gui.tag.tag_dialogs import OWN_GROUP, NewTagDialog
from tests.conftest import make_photo
from tests.gui.test_main_window import chips, grid_rows, select

LABELS = ["dress", "skirt", "spring", "summer"]
GROUPS = {"dress": "category", "skirt": "category", "spring": "season", "summer": "season"}


def _open(qtbot, path: Path) -> MainWindow:
    w = MainWindow(path)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def lib(tmp_path) -> Path:
    """A library of 4 photos tagged by a 4-label model ("dress" on every photo)."""
    folder = tmp_path / "photos"
    paths = [folder / f"p{i}.jpg" for i in range(4)]
    for p in paths:
        make_photo(p, (64, 48), "red")
    cat = Catalog(tmp_path / "lib.ffcat")
    cat.add_folder(str(folder))
    ids = cat.ensure_images([str(p) for p in paths])
    cat.register_model("m4", LABELS, "four", None, GROUPS, thresholds=[0.5] * 4)
    cat.add_predictions("m4", [(i, np.float32([0.9, 0.1, 0.1, 0.1])) for i in ids.values()])
    cat.close()
    return tmp_path / "lib.ffcat"


@pytest.fixture
def window_library(lib) -> Path:
    """The ``window`` fixture (tests/gui/conftest.py) opens this library."""
    return lib


def _ctrl_click(qtbot, w: MainWindow, name: str) -> None:
    idx = w.review_ctl.view_index(w.library.id_at(grid_rows(w)[name]))
    qtbot.mouseClick(
        w.grid.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ControlModifier,
        w.grid.visualRect(idx).center(),
    )


def _group_of_row(w: MainWindow, label: str) -> str:
    box = w.review.rows[label].box.parentWidget()
    assert isinstance(box, QGroupBox)
    return box.title()


def _decisions(w: MainWindow, label: str) -> dict[str, bool]:
    out = {}
    for name, row in grid_rows(w).items():
        value = w.catalog.decisions(w.library.id_at(row)).get(label)
        if value is not None:
            out[name] = value
    return out


def _create(qtbot, dlg: NewTagDialog, name: str | None, group: str | None = None, own: str = "") -> None:
    if name is not None:
        dlg.name.clear()
        qtbot.keyClicks(dlg.name, name)
    if group is not None:
        dlg.group.setCurrentIndex(dlg.group.findText(group))
    if own:
        qtbot.keyClicks(dlg.own_group, own)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)


def test_new_tag_from_the_review_pane_on_two_photos_is_a_decision_with_a_key_and_one_undo(qtbot, window):
    w = window
    select(qtbot, w, "p0.jpg")
    _ctrl_click(qtbot, w, "p1.jpg")
    assert w.review.new_tag_button.isVisible() and w.review.new_tag_button.isEnabled()
    qtbot.mouseClick(w.review.new_tag_button, Qt.MouseButton.LeftButton)
    dlg = w.review_ctl.tag_dialog
    assert isinstance(dlg, NewTagDialog) and dlg.isVisible()
    assert dlg.group.currentText() == "tags"  # the default group
    offered = [dlg.group.itemText(i) for i in range(dlg.group.count())]
    assert offered == ["tags", "category", "season", OWN_GROUP]
    _create(qtbot, dlg, "denim", "category")
    assert _decisions(w, "denim") == {"p0.jpg": True, "p1.jpg": True}
    assert chips(w, "p0.jpg") == ["dress", "denim"] and chips(w, "p1.jpg") == ["dress", "denim"]
    assert chips(w, "p2.jpg") == ["dress"]
    assert _group_of_row(w, "denim") == "category"  # shown under the group picked
    assert w.review.rows["denim"].source == "person"
    key = w.review.keys["denim"]  # the next free key
    assert key not in {w.review.keys[lab] for lab in LABELS}
    assert "denim" in w.filters._tag_actions  # the filter offers it
    # Its key toggles it like any other label.
    select(qtbot, w, "p2.jpg")
    qtbot.keyClick(w.grid, key)
    assert chips(w, "p2.jpg") == ["dress", "denim"]
    qtbot.keyClick(w.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert chips(w, "p2.jpg") == ["dress"]
    # One undo takes the new tag away: decisions, chips, row, and the label itself.
    assert "New tag “denim”" in w.undo_action.text()
    qtbot.keyClick(w.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _decisions(w, "denim") == {}
    assert chips(w, "p0.jpg") == ["dress"]
    assert "denim" not in w.review.rows and w.catalog.person_labels() == {}
    qtbot.keyClick(
        w.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert _decisions(w, "denim") == {"p0.jpg": True, "p1.jpg": True}
    assert w.catalog.person_labels() == {"denim": "category"}


def test_the_palette_offers_to_create_a_tag_no_label_has_in_a_group_of_its_own(qtbot, window):
    w = window
    select(qtbot, w, "p2.jpg")
    qtbot.keyClick(w.grid, Qt.Key.Key_Slash)
    palette = w.review_ctl.label_palette
    qtbot.keyClicks(palette.search, "floral")
    assert palette.shown_labels() == []
    assert palette.create_offer() == "+  Create tag “floral”…"
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    dlg = w.review_ctl.tag_dialog
    assert isinstance(dlg, NewTagDialog) and dlg.name.text() == "floral"  # typed once
    _create(qtbot, dlg, None, OWN_GROUP, own="pattern")
    assert chips(w, "p2.jpg") == ["dress", "floral"]
    assert _group_of_row(w, "floral") == "pattern"
    # The filter offers it, and filtering by it shows the photo that has it.
    w.filters._tag_actions["floral"].setChecked(True)
    qtbot.waitUntil(lambda: sorted(grid_rows(w)) == ["p2.jpg"])
    w.filters._tag_actions["floral"].setChecked(False)
    qtbot.waitUntil(lambda: len(grid_rows(w)) == 4)
    select(qtbot, w, "p2.jpg")
    # From now on the palette lists it, with its group, and offers no second one.
    qtbot.keyClick(w.grid, Qt.Key.Key_Slash)
    palette = w.review_ctl.label_palette
    qtbot.keyClicks(palette.search, "FLORAL")
    assert palette.shown_labels() == ["floral"] and palette.create_offer() is None
    assert "pattern" in palette.list.item(0).text()
    # A label that matches only loosely still gets the offer, after the matches (Enter toggles the match).
    palette.search.clear()
    qtbot.keyClicks(palette.search, "dre")
    assert palette.shown_labels()[0] == "dress" and palette.create_offer() == "+  Create tag “dre”…"


def test_refused_names_are_explained_and_the_dialog_stays_open(qtbot, window):
    w = window
    select(qtbot, w, "p0.jpg")
    dlg = w.review_ctl.new_tag_dialog()
    for name, reason in [("a|b", "'|'"), ("   ", "empty"), ("Dress", "“dress”")]:
        _create(qtbot, dlg, name)
        assert dlg.isVisible() and dlg.problem.isVisible()
        assert reason in dlg.problem.text(), dlg.problem.text()
    qtbot.keyClicks(dlg.name, "x")
    assert not dlg.problem.isVisible()  # the explanation goes once the name is edited
    _create(qtbot, dlg, "denim", OWN_GROUP)  # a group of its own left unnamed
    assert dlg.isVisible() and "group name" in dlg.problem.text()
    assert w.catalog.person_labels() == {} and _decisions(w, "denim") == {}
    assert w.review_ctl.undo_stack.count() == 0


def test_the_group_is_remembered_when_the_library_is_opened_again(qtbot, window, lib):
    w = window
    select(qtbot, w, "p0.jpg")
    _create(qtbot, w.review_ctl.new_tag_dialog(), "floral", OWN_GROUP, own="pattern")
    w.close()
    w2 = _open(qtbot, lib)
    try:
        assert chips(w2, "p0.jpg") == ["dress", "floral"]
        assert _group_of_row(w2, "floral") == "pattern"
        assert "floral" in w2.review.keys
    finally:
        w2.close()


def test_label_keys_are_the_same_when_the_library_is_opened_again(qtbot, window, lib):
    w = window
    select(qtbot, w, "p0.jpg")
    for name in ("denim", "floral"):
        _create(qtbot, w.review_ctl.new_tag_dialog(), name, "category")
    for _ in range(2):  # both creations undone, then floral made again: it gets back its key
        qtbot.keyClick(w.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    _create(qtbot, w.review_ctl.new_tag_dialog(), "floral", "category")
    keys = {lab: row.key_label.text() for lab, row in w.review.rows.items()}
    assert keys["floral"] == "[6]" and "[5]" not in keys.values()  # learnt in this session, though 5 is free
    w.close()
    w2 = _open(qtbot, lib)
    try:
        assert {lab: row.key_label.text() for lab, row in w2.review.rows.items()} == keys
        select(qtbot, w2, "p1.jpg")
        qtbot.keyClick(w2.grid, "6")  # and the key does what it did
        assert chips(w2, "p1.jpg") == ["dress", "floral"]
    finally:
        w2.close()


def test_reviewing_after_a_tag_exists_settles_it_and_earlier_reviews_leave_it_unknown(qtbot, window, lib):
    w = window
    select(qtbot, w, "p0.jpg")
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)  # p0 reviewed before "denim" exists
    select(qtbot, w, "p1.jpg")
    _create(qtbot, w.review_ctl.new_tag_dialog(), "denim", "category")
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)  # p1 reviewed with denim on
    select(qtbot, w, "p2.jpg")
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)  # p2 reviewed after "denim" exists, without it
    assert _decisions(w, "denim") == {"p1.jpg": True, "p2.jpg": False}
    rows = {Path(r.path).name: r for r in training_table(lib).rows}
    assert set(rows) == {"p0.jpg", "p1.jpg", "p2.jpg"}
    assert "denim" not in rows["p0.jpg"].known
    assert "denim" in rows["p1.jpg"].positives and rows["p1.jpg"].tags["category"] == ("dress", "denim")
    assert "denim" in rows["p2.jpg"].known and "denim" not in rows["p2.jpg"].positives
    assert training_table(lib).groups["denim"] == "category"
