"""Space marks reviewed and moves on through the grid's order; the last photo says the queue is done."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt

from fashion_desktop.gui import settings
from fashion_desktop.gui.tag.library_model import Roles
from tests.gui.test_main_window import grid_rows, scan, select


def _current_name(w) -> str:
    return w.grid.currentIndex().data(Qt.ItemDataRole.DisplayRole)


def _names_in_view(w) -> list[str]:
    m = w.review_ctl.view_model
    return [m.index(r, 0).data(Qt.ItemDataRole.DisplayRole) for r in range(m.rowCount())]


def _reviewed(w, name: str) -> bool:
    return bool(w.library.index(grid_rows(w)[name]).data(Roles.Reviewed))


def test_space_marks_reviewed_and_moves_to_the_next_photo_of_the_view(qtbot, window, photo_folder):
    w = window
    scan(qtbot, w, photo_folder)
    names = _names_in_view(w)
    select(qtbot, w, names[0])
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)
    assert _reviewed(w, names[0]) and _current_name(w) == names[1]
    assert w.grid.selectionModel().selectedIndexes() == [w.grid.currentIndex()]
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)
    assert _reviewed(w, names[1]) and _current_name(w) == names[2]
    w.undo_action.trigger()  # undo takes the mark away and goes back to the photo it was on
    assert not _reviewed(w, names[1]) and _current_name(w) == names[1]
    w.redo_action.trigger()
    assert _reviewed(w, names[1]) and _current_name(w) == names[2]


def test_space_on_a_selection_marks_them_all_and_moves_past_it(qtbot, window, photo_folder):
    w = window
    scan(qtbot, w, photo_folder)
    names = _names_in_view(w)
    select(qtbot, w, names[2])
    sm, vm = w.grid.selectionModel(), w.review_ctl.view_model
    sm.select(vm.index(3, 0), QItemSelectionModel.SelectionFlag.Select)
    sm.select(vm.index(4, 0), QItemSelectionModel.SelectionFlag.Select)
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)
    assert all(_reviewed(w, n) for n in names[2:5]) and not _reviewed(w, names[5])
    assert _current_name(w) == names[5]


def test_the_last_photo_stays_and_the_status_bar_says_the_queue_is_done(qtbot, window, photo_folder):
    w = window
    scan(qtbot, w, photo_folder)
    names = _names_in_view(w)
    select(qtbot, w, names[-1])
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)
    assert _reviewed(w, names[-1]) and _current_name(w) == names[-1]
    n = len(names) - 1
    assert (
        w.statusBar().currentMessage()
        == f"Last photo of this view; {n} not reviewed yet — J jumps to the next"
    )
    w.grid.selectAll()
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)  # every photo of the view reviewed now
    assert all(_reviewed(w, name) for name in names)
    assert w.statusBar().currentMessage() == f"All {len(names)} photos in this view are reviewed"


def test_space_moving_on_can_be_turned_off_and_is_remembered(qtbot, window, photo_folder):
    w = window
    scan(qtbot, w, photo_folder)
    names = _names_in_view(w)
    assert w.space_advances_action.isChecked()  # on by default
    w.space_advances_action.trigger()
    assert not w.space_advances_action.isChecked()
    assert settings.get_int(settings.SPACE_ADVANCES, 1) == 0
    select(qtbot, w, names[0])
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)
    assert _reviewed(w, names[0]) and _current_name(w) == names[0]
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)  # again: not reviewed, as before
    assert not _reviewed(w, names[0])


def test_space_on_a_reviewed_photo_unmarks_it_and_stays(qtbot, window, photo_folder):
    w = window
    scan(qtbot, w, photo_folder)
    names = _names_in_view(w)
    select(qtbot, w, names[0])
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)
    select(qtbot, w, names[0])
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)
    assert not _reviewed(w, names[0]) and _current_name(w) == names[0]
