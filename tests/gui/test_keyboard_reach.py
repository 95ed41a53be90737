"""Every label within reach of the keyboard, anywhere on the Tag tab, and no surprises (issue 13)."""
# ruff: noqa: F811

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.gui.main_window import MainWindow
from fashion_desktop.gui.tag.library_model import Roles
from fashion_desktop.gui.tag.thresholds_panel import ThresholdTableModel
from tests.conftest import make_photo
from tests.gui.test_main_window import chips, grid_rows, scan, select, start_a_long_run, tag

N_LABELS = 100


def _labels_100() -> tuple[list[str], dict[str, str]]:
    labels = [f"garment {i:02d}" for i in range(N_LABELS - 4)] + ["spring", "summer", "autumn", "winter"]
    groups = {
        lab: ("season" if lab in ("spring", "summer", "autumn", "winter") else "category") for lab in labels
    }
    return labels, groups


@pytest.fixture
def big_window(qtbot, tmp_path):
    """A library of 3 photos tagged by a 100-label model (so 32 labels have no direct key)."""
    folder = tmp_path / "photos"
    paths = [folder / f"p{i}.jpg" for i in range(3)]
    for p in paths:
        make_photo(p, (64, 48), "red")
    labels, groups = _labels_100()
    cat = Catalog(tmp_path / "big.ffcat")
    cat.add_folder(str(folder))
    ids = cat.ensure_images([str(p) for p in paths])
    cat.register_model("m100", labels, "hundred", None, groups, thresholds=[0.5] * N_LABELS)
    scores = np.full(N_LABELS, 0.1, np.float32)
    scores[0] = 0.9  # "garment 00" on every photo
    cat.add_predictions("m100", [(i, scores) for i in ids.values()])
    cat.close()
    w = MainWindow(tmp_path / "big.ffcat")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def test_palette_toggles_a_label_that_has_no_key_and_undo_takes_it_back(qtbot, big_window):
    w = big_window
    assert "winter" not in w.review.keys and len(w.review.keys) < N_LABELS  # no direct key
    select(qtbot, w, "p1.jpg")
    qtbot.keyClick(w.grid, Qt.Key.Key_Slash)
    palette = w.review_ctl.label_palette
    assert palette is not None and palette.isVisible()
    assert len(palette.shown_labels()) == N_LABELS
    qtbot.keyClicks(palette.search, "wint")
    assert palette.shown_labels()[0] == "winter"
    assert "season" in palette.list.item(0).text()  # the group is shown
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert not palette.isVisible()
    assert chips(w, "p1.jpg") == ["garment 00", "winter"]
    assert chips(w, "p0.jpg") == ["garment 00"]
    assert w.review.rows["winter"].source == "person"
    assert "winter" in w.undo_action.text()  # the same named, undoable command as a key
    qtbot.keyClick(w.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert chips(w, "p1.jpg") == ["garment 00"]


def test_palette_opens_with_ctrl_k_and_esc_closes_without_a_change(qtbot, big_window):
    w = big_window
    select(qtbot, w, "p0.jpg")
    w.threshold_panel.table.setFocus()
    qtbot.keyClick(w.threshold_panel.table, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    palette = w.review_ctl.label_palette
    assert palette is not None and palette.isVisible()
    qtbot.keyClicks(palette.search, "zzzz")
    assert palette.shown_labels() == []
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)  # nothing matches: nothing toggled
    qtbot.keyClick(palette.search, Qt.Key.Key_Escape)
    assert not palette.isVisible()
    assert chips(w, "p0.jpg") == ["garment 00"]
    assert not w.review_ctl.undo_stack.canUndo()


def test_palette_finds_by_word_start_and_letters_in_order():
    from fashion_desktop.gui.tag.label_palette import find_labels, palette_entries

    entries = palette_entries(
        ["shirt, blouse", "top, t-shirt, sweatshirt", "dress", "Women"], {"Women": "gender"}, {}, {}
    )
    assert [e.label for e in find_labels("dre", entries)] == ["dress"]
    assert [e.label for e in find_labels("tsh", entries)][0] == "top, t-shirt, sweatshirt"
    assert [e.label for e in find_labels("gender", entries)] == ["Women"]
    assert len(find_labels("", entries)) == 4


@pytest.mark.slow
def test_keys_work_with_focus_in_the_threshold_table_and_undo_follows(
    qtbot, window, photo_folder, tiny_bundle_path
):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    select(qtbot, window, "red_0.jpg")
    table = window.threshold_panel.table
    row_rect = table.visualRect(table.model().index(1, ThresholdTableModel.GROUP))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=row_rect.center())
    assert QApplication.focusWidget() is table
    key_green = window.review.keys["green"]
    qtbot.keyClick(table, key_green)
    assert chips(window, "red_0.jpg") == ["red", "green"]
    qtbot.keyClick(table, Qt.Key.Key_Space)
    assert window.library.index(grid_rows(window)["red_0.jpg"]).data(Roles.State) == "reviewed"
    qtbot.keyClick(table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert chips(window, "red_0.jpg") == ["red"]
    assert table.state() != table.State.EditingState  # the key did not open an override editor
    # A button of the filter bar has focus: the keys still review.
    button = window.filters.tags_button
    button.setFocus()
    qtbot.keyClick(button, key_green)
    assert chips(window, "red_0.jpg") == ["red", "green"]


@pytest.mark.slow
def test_a_key_typed_in_a_text_field_types_and_toggles_nothing(qtbot, window, photo_folder, tiny_bundle_path):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    select(qtbot, window, "red_0.jpg")
    key_green = window.review.keys["green"]
    field = window.filters.search
    field.setFocus()
    qtbot.keyClick(field, key_green)
    qtbot.keyClick(field, Qt.Key.Key_Space)
    qtbot.keyClick(field, Qt.Key.Key_Slash)
    assert field.text() == f"{key_green} /"
    assert window.review_ctl.label_palette is None
    spin = window.threshold_panel.top_k_spin
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_J)
    assert chips(window, "red_0.jpg") == ["red"]
    assert window.library.index(grid_rows(window)["red_0.jpg"]).data(Roles.State) != "reviewed"
    assert not window.review_ctl.undo_stack.canUndo()


@pytest.mark.slow
def test_remove_tag_offers_only_present_tags_with_counts_and_nothing_preselected(
    qtbot,
    window,
    photo_folder,
    tiny_bundle_path,
):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    select(qtbot, window, "red_0.jpg")
    ctrl = Qt.KeyboardModifier.ControlModifier
    for name in ("red_3.jpg", "green_1.jpg"):
        idx = window.review_ctl.view_index(window.library.id_at(grid_rows(window)[name]))
        qtbot.mouseClick(
            window.grid.viewport(), Qt.MouseButton.LeftButton, ctrl, window.grid.visualRect(idx).center()
        )
    assert len(window.review_ctl.selected_ids()) == 3
    dlg = window.review_ctl.tag_selection_dialog(False)
    assert dlg is not None
    assert dlg.offered() == ["red (2 of 3)", "green (1 of 3)"]  # no "blue": no selected photo has it
    assert not dlg.list.selectedItems() and not dlg.ok_button.isEnabled()
    qtbot.keyClick(dlg.list, Qt.Key.Key_Return)  # a quick Enter removes nothing
    assert chips(window, "red_0.jpg") == ["red"]
    dlg.choose("green")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert chips(window, "green_1.jpg") == []
    assert chips(window, "red_0.jpg") == ["red"]
    qtbot.waitUntil(lambda: not dlg.isVisible())
    # After the dialog closed, undo works from wherever the label keys work.
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert chips(window, "green_1.jpg") == ["green"]


@pytest.mark.slow
def test_a_plain_click_in_the_threshold_table_does_not_filter_or_move(
    qtbot, window, photo_folder, tiny_bundle_path
):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    select(qtbot, window, "green_4.jpg")
    current = window.grid.currentIndex().data(Roles.Path)
    panel = window.threshold_panel
    table = panel.table
    cell = table.visualRect(table.model().index(2, ThresholdTableModel.LABEL))  # "blue"
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=cell.center())
    assert window.filters.selected_tags() == []
    assert window.library.rowCount() == 9
    assert window.grid.currentIndex().data(Roles.Path) == current
    # The explicit action filters.
    assert panel.filter_button.isEnabled()
    qtbot.mouseClick(panel.filter_button, Qt.MouseButton.LeftButton)
    assert window.filters.selected_tags() == ["blue"]
    assert window.library.rowCount() == 3
    menu = panel.context_menu(table.model().index(0, 0))
    assert menu.actions()[0].text() == "Show only photos tagged “red”"


@pytest.mark.slow
def test_quitting_during_tagging_asks_and_cancel_keeps_it_running(
    qtbot, tmp_path, tiny_bundle_path, held_tagging
):
    w = MainWindow(tmp_path / "lib.ffcat")
    qtbot.addWidget(w)
    w.show()
    start_a_long_run(qtbot, w, tmp_path / "many", tiny_bundle_path, 300)
    assert w.tag_worker is not None
    w.close()
    box = w.quit_box
    assert box is not None and box.isVisible() and w.isVisible()
    assert "Tagging is running (" in box.text() and "of 300 done" in box.text()
    assert "What is done is kept" in box.text()
    box.button(box.StandardButton.Cancel).click()
    assert w.isVisible() and w.tag_worker is not None  # still tagging
    w.close()
    qtbot.mouseClick(w.stop_quit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=30_000)
    assert w.session is None


def test_progress_bar_and_counts_agree():
    from fashion_desktop.gui.tag.tag_panel import TagPanel

    panel = TagPanel()
    panel.set_running(True)
    panel.show_progress(242, 300, 160.0, 0.4)
    assert panel.progress.text() == "80 %"
    assert "242 / 300 photos (80 %)" in panel.rate_label.text()
    panel.show_progress(299, 300, 160.0, 0.0)
    assert panel.progress.text() == "99 %"  # not "100 %" while a photo is left
    panel.deleteLater()


@pytest.mark.slow
def test_reopening_says_how_many_are_untagged_and_one_click_resumes(
    qtbot, tmp_path, tiny_bundle_path, photo_folder
):
    w = MainWindow(tmp_path / "lib.ffcat")
    qtbot.addWidget(w)
    w.show()
    scan(qtbot, w, photo_folder)
    tag(qtbot, w, tiny_bundle_path)
    assert not w.tag_panel.untagged_row.isVisibleTo(w)
    for i in range(4):
        make_photo(photo_folder / f"new_{i}.jpg", (64, 48), "green")
    scan(qtbot, w, photo_folder)  # four photos the model has not seen
    w.close()

    again = MainWindow(tmp_path / "lib.ffcat")
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    panel = again.tag_panel
    assert panel.untagged_row.isVisible()
    assert panel.untagged_label.text().startswith("4 photos are not tagged yet")
    with qtbot.waitSignal(again.tagging_finished, timeout=60_000) as blocker:
        qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].tagged == 4 and blocker.args[0].skipped == 9
    assert chips(again, "new_0.jpg") == ["green"]
    assert not panel.untagged_row.isVisible()
    again.close()


def test_help_keyboard_shortcuts_lists_the_label_keys_of_the_model(qtbot, big_window):
    w = big_window
    w.shortcuts_action.trigger()
    dlg = w.shortcuts_window
    text = dlg.text()
    assert "Label keys of hundred" in text
    assert "garment 00" in text and "⇧Z" in text  # the last key, as the review pane shows it
    key_of_10 = w.review.keys["garment 10"]
    assert (
        f"{key_of_10}\ngarment 10" in text
        or f"{key_of_10}\tgarment 10" in text
        or f"{key_of_10} garment 10" in text
    )
    assert "Space" in text and "/" in text
    assert "Ctrl+K" in text and "Ctrl+Z" in text and "Ctrl+E" in text  # read from the menus' actions
    dlg.close()
