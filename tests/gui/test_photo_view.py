"""The larger look: double-click or Enter opens the photo large; arrows, review keys, zoom keys and Escape."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.gui.test_main_window import chips, grid_rows, select
from tests.gui.test_one_value import make_library


@pytest.fixture
def window_library(tmp_path):
    return make_library(tmp_path)


def _shown_name(w) -> str:
    return w.grid.currentIndex().data(Qt.ItemDataRole.DisplayRole)


def _open_by_double_click(qtbot, w, name: str) -> None:
    select(qtbot, w, name)
    rect = w.grid.visualRect(w.grid.currentIndex())
    qtbot.mouseDClick(w.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_double_click_opens_the_photo_large_and_arrows_walk_the_grids_order(qtbot, window):
    w = window
    view = w.photo_view
    _open_by_double_click(qtbot, w, "p1.jpg")
    assert w.tag_page.middle.currentWidget() is view and view.hasFocus()
    assert w.tag_page.left.isHidden()  # the filters make room for the photo
    assert "p1.jpg" in view.title.text() and "2 of 5" in view.title.text()
    qtbot.waitUntil(lambda: view.preview.has_photo(), timeout=10_000)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert _shown_name(w) == "p2.jpg" and "p2.jpg" in view.title.text()
    qtbot.keyClick(view, Qt.Key.Key_Left)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert _shown_name(w) == "p0.jpg"
    qtbot.keyClick(view, Qt.Key.Key_Left)  # the first photo: stays
    assert _shown_name(w) == "p0.jpg"
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert w.tag_page.middle.currentWidget() is w.tag_page.grid and w.grid.hasFocus()
    assert not w.tag_page.left.isHidden()


def test_enter_opens_it_and_the_review_keys_work_there(qtbot, window):
    w = window
    view = w.photo_view
    select(qtbot, w, "p1.jpg")
    qtbot.keyClick(w.grid, Qt.Key.Key_Return)
    assert w.tag_page.middle.currentWidget() is view and view.hasFocus()
    for label in ("Girls", "Pink"):  # label keys pressed with the large view in front
        key = w.review.keys[label]
        qtbot.keyClick(view, key.removeprefix("Shift+").lower(), _mods(key))
    assert chips(w, "p1.jpg") == ["dress", "Girls", "Pink", "Fall"]
    qtbot.keyClick(view, Qt.Key.Key_Space)  # reviewed, and the large view moves on with the grid
    assert w.library.is_reviewed(w.library.id_at(grid_rows(w)["p1.jpg"]))
    assert _shown_name(w) == "p2.jpg" and "p2.jpg" in view.title.text()
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo: back to p1
    assert _shown_name(w) == "p1.jpg" and not w.library.is_reviewed(w.library.id_at(grid_rows(w)["p1.jpg"]))
    qtbot.keyClick(view, Qt.Key.Key_J)  # next unreviewed
    assert _shown_name(w) == "p2.jpg"
    assert w.tag_page.middle.currentWidget() is view


def test_ctrl_1_shows_actual_pixels_and_ctrl_0_fits_again(qtbot, window):
    w = window
    view = w.photo_view
    _open_by_double_click(qtbot, w, "p3.jpg")
    qtbot.waitUntil(lambda: view.preview.has_photo(), timeout=10_000)
    assert view.preview.zoom is None and not view.actual_button.isChecked()
    qtbot.keyClick(view, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert view.preview.zoom == 1.0 and view.actual_button.isChecked()
    qtbot.keyClick(view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert view.preview.zoom is None and not view.actual_button.isChecked()
    qtbot.mouseClick(view.actual_button, Qt.MouseButton.LeftButton)
    assert view.preview.zoom == 1.0
    qtbot.mouseClick(view.back_button, Qt.MouseButton.LeftButton)
    assert w.tag_page.middle.currentWidget() is w.tag_page.grid


def _mods(key: str) -> Qt.KeyboardModifier:
    return Qt.KeyboardModifier.ShiftModifier if key.startswith("Shift+") else Qt.KeyboardModifier.NoModifier


def test_the_shortcut_help_lists_the_large_views_keys(qtbot, window):
    dlg = window.show_shortcuts()
    try:
        text = dlg.text()
        assert "The photo large" in text and "Back to the grid" in text and "The photo at 100 %" in text
    finally:
        dlg.close()
