"""Needs attention (order, count, J/K, Space) and the search box over tags in the real window (issue 24)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from fashion_desktop.gui.main_window import MainWindow
from fashion_desktop.gui.tag.library_model import Roles
from tests.core.test_tag_search import queue_library
from tests.gui.test_main_window import select


@pytest.fixture
def window_library(tmp_path):
    cat, _ids = queue_library(tmp_path)
    cat.close()
    return tmp_path / "lib.ffcat"


def shown(w) -> list[str]:
    m = w.library
    return [Path(m.index(r).data(Roles.Path)).name for r in range(m.rowCount())]


def current(w) -> str:
    return Path(w.grid.currentIndex().data(Roles.Path)).name


def choose_attention(qtbot, w) -> None:
    bar = w.filters
    bar.review_combo.setCurrentIndex(bar.review_combo.findData("attention"))
    qtbot.waitUntil(lambda: "Needs attention: 4" in w.status_label.text())


def test_needs_attention_shows_the_queue_in_its_order_with_a_count(qtbot, window):
    w = window
    choose_attention(qtbot, w)
    assert shown(w) == ["p3.jpg", "p4.jpg", "p2.jpg", "p1.jpg"]  # to confirm, two values, most uncertain
    assert not w.filters.sort_combo.isEnabled()  # the queue's order replaces the sort
    w.filters.review_combo.setCurrentIndex(0)
    assert w.filters.sort_combo.isEnabled()
    assert "Needs attention: 4" in w.status_label.text()  # the count stays, whatever the view


def test_the_count_is_in_the_status_bar_without_choosing_the_filter(qtbot, window):
    w = window
    qtbot.waitUntil(lambda: "Needs attention: 4" in w.status_label.text())  # answered between events
    w.library.write_reviewed([w.library.id_at(r) for r in range(w.library.rowCount())], True)
    qtbot.waitUntil(lambda: "Nothing needs attention" in w.status_label.text())


def test_j_and_k_walk_the_queue_and_space_takes_a_photo_out_of_it(qtbot, window):
    w = window
    choose_attention(qtbot, w)
    select(qtbot, w, "p3.jpg")
    qtbot.keyClick(w.grid, Qt.Key.Key_J)
    assert current(w) == "p4.jpg"
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)  # p4 reviewed: the next photo comes
    assert current(w) == "p2.jpg"
    qtbot.waitUntil(lambda: "Needs attention: 3" in w.status_label.text())
    assert shown(w) == ["p3.jpg", "p4.jpg", "p2.jpg", "p1.jpg"]  # edits never move rows
    qtbot.keyClick(w.grid, Qt.Key.Key_K)
    assert current(w) == "p3.jpg"  # p4 no longer needs attention: K passes it
    qtbot.keyClick(w.grid, Qt.Key.Key_J)
    assert current(w) == "p2.jpg"
    w.filters.review_combo.setCurrentIndex(0)
    choose_attention_again = w.filters.review_combo.findData("attention")
    w.filters.review_combo.setCurrentIndex(choose_attention_again)  # applied again: p4 has gone
    assert shown(w) == ["p3.jpg", "p2.jpg", "p1.jpg"]


def type_search(qtbot, w, text: str) -> None:
    box = w.filters.tag_search
    box.selectAll()
    box.clear()
    qtbot.keyClicks(box, text)
    qtbot.waitUntil(lambda: w.library.spec.search == text.strip())


def test_typing_in_the_search_box_filters_the_grid_and_combines_with_show(qtbot, window):
    w = window
    type_search(qtbot, w, "gender:Men")
    assert shown(w) == ["p0.jpg", "p1.jpg", "p2.jpg", "p4.jpg", "p5.jpg", "p6.jpg"]  # p3: no scores now
    type_search(qtbot, w, "gender:men -reviewed")
    assert shown(w) == ["p0.jpg", "p1.jpg", "p2.jpg", "p4.jpg", "p6.jpg"]
    choose_attention(qtbot, w)
    assert shown(w) == ["p4.jpg", "p2.jpg", "p1.jpg"]
    type_search(qtbot, w, "nosuchtag")
    assert shown(w) == []
    w.filters.clear_button.click()
    assert w.filters.tag_search.text() == "" and len(shown(w)) == 7


def test_the_completer_finishes_the_last_word(qtbot, window):
    box = window.filters.tag_search
    qtbot.keyClicks(box, "-reviewed colour:bla")
    assert box.completer_.currentCompletion() == "colour:black"
    box.completer_.activated.emit("colour:black")
    assert box.text() == "-reviewed colour:black "


def test_the_search_is_remembered_per_library(qtbot, tmp_path, window):
    w = window
    type_search(qtbot, w, "gender:men")
    path = w.library_ctl.catalog.path
    other = tmp_path / "other.ffcat"
    assert w.library_ctl.open_library(other)
    assert w.filters.tag_search.text() == ""  # another library: its own (empty) search
    assert w.library_ctl.open_library(path)
    assert w.filters.tag_search.text() == "gender:men"
    qtbot.waitUntil(lambda: w.library.rowCount() == 6)
    w2 = MainWindow(path)  # opened again in a new window: the same search, applied
    try:
        assert w2.filters.tag_search.text() == "gender:men"
        qtbot.waitUntil(lambda: w2.library is not None and w2.library.rowCount() == 6)
    finally:
        w2.close()
        w2.deleteLater()
