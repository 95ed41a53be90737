"""The grid by keyboard and across resets: a key for each of 46 labels, and a re-scan keeps the reviewer's place."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from fashion_desktop.gui.tag.library_model import Roles
from tests.conftest import make_photo
from tests.gui.test_main_window import scan, select

WIDE = [f"attr_{i:02d}" for i in range(46)]  # as many labels as the iMaterialist taxonomy
SHIFT = Qt.KeyboardModifier.ShiftModifier


def test_every_label_of_a_46_label_model_gets_a_key_and_shift_keys_toggle_the_right_one(
    qtbot,
    window,  # noqa: F811
    photo_folder,
):
    scan(qtbot, window, photo_folder)
    groups = {lab: "garment" if i < 20 else "attribute" for i, lab in enumerate(WIDE)}
    window.library.set_active_model("wide", WIDE, groups)
    pane, grid, lib = window.review, window.grid, window.library
    hints = [pane.rows[lab].key_label.text() for lab in WIDE]
    assert len(set(hints)) == len(WIDE) and all(len(h) > 2 for h in hints)
    assert hints[:3] == ["[1]", "[2]", "[3]"] and hints[33] == "[z]"
    assert hints[34:36] == ["[⇧1]", "[⇧2]"] and hints[44:] == ["[⇧A]", "[⇧B]"]
    assert not any(c in h for h in hints for c in "jkJK")  # J and K move between photos
    assert grid.label_keys == {key: lab for lab, key in pane.keys.items()}

    select(qtbot, window, "red_0.jpg")
    image = window.review_ctl.selected_ids()[0]

    def decided() -> dict[str, bool]:
        return {lab: v for lab in WIDE if (v := lib.decision(image, lab)) is not None}

    qtbot.keyClick(grid, Qt.Key.Key_B, SHIFT)
    assert decided() == {"attr_45": True}
    assert pane.rows["attr_45"].box.isChecked() and pane.rows["attr_45"].source == "person"
    # Shift+1 arrives as "!" from a US keyboard: it is the 35th label, not the first.
    qtbot.keyClick(grid, Qt.Key.Key_Exclam, SHIFT)
    assert decided() == {"attr_45": True, "attr_34": True}
    qtbot.keyClick(grid, "1")
    assert decided() == {"attr_45": True, "attr_34": True, "attr_00": True}
    qtbot.keyClick(grid, Qt.Key.Key_B, SHIFT)  # a second press takes it off again
    assert decided()["attr_45"] is False and not pane.rows["attr_45"].box.isChecked()
    qtbot.keyClick(grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert decided()["attr_45"] is True
    for key in (Qt.Key.Key_J, Qt.Key.Key_K):
        qtbot.keyClick(grid, key, SHIFT)
    assert decided() == {"attr_45": True, "attr_34": True, "attr_00": True}

    # Typing in a text field types; label keys belong to the grid alone.
    window.filters.search.setFocus()
    qtbot.keyClick(window.filters.search, "A", SHIFT)
    assert window.filters.search.text() == "A"
    assert "attr_44" not in decided()


def make_photos(folder: Path, n: int) -> list[Path]:
    colours = ("red", "green", "blue")
    return [make_photo(folder / f"p{i:03d}.jpg", (48, 32), colours[i % 3]) for i in range(n)]


def shown_name(index) -> str:
    return Path(index.data(Roles.Path)).name


def top_left(grid) -> tuple[str, int]:
    """The photo at the viewport's top-left and where its cell starts (pixels above the top: < 0)."""
    idx = grid.indexAt(QPoint(1, 1))
    return shown_name(idx), grid.visualRect(idx).top()


def columns(grid) -> int:
    m, first = grid.model(), grid.indexAt(QPoint(1, 1))
    top = grid.visualRect(first).top()
    return next(k for k in range(1, 50) if grid.visualRect(m.index(first.row() + k, 0)).top() != top)


def rescan(qtbot, w) -> None:
    with qtbot.waitSignal(w.scan_finished, timeout=30_000):
        w.rescan_action.trigger()


def test_a_rescan_that_removes_files_keeps_the_current_photo_and_the_scroll_position(
    qtbot,
    window,  # noqa: F811
    tmp_path,
):
    folder = tmp_path / "many"
    photos = make_photos(folder, 200)
    window.resize(1100, 800)
    scan(qtbot, window, folder)
    grid = window.grid
    bar = grid.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 4 * grid.viewport().height())
    bar.setValue(bar.maximum() // 2 + 37)  # half-way, the top row cut through
    before_top = top_left(grid)
    assert before_top[1] < 0
    picked = grid.indexAt(grid.viewport().rect().center())
    grid.setFocus()
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.visualRect(picked).center())
    current = shown_name(grid.currentIndex())
    first_shown, cols = grid.indexAt(QPoint(1, 1)).row(), columns(grid)
    # A row's worth of photos above the viewport goes (every row below moves up), and some below it.
    above = list(range(1, first_shown, 9))[:cols]
    assert len(above) == cols
    gone = [photos[i] for i in above + [picked.row() + 5 * cols, 199]]
    for p in gone:
        p.unlink()

    rescan(qtbot, window)

    assert window.library.rowCount() == 200 - len(gone)
    assert shown_name(grid.currentIndex()) == current
    assert [window.library.path_of(i) for i in window.review_ctl.selected_ids()] == [str(folder / current)]
    assert current in window.review.title.text()
    assert top_left(grid) == before_top

    # The current photo and the top-left one go (and one above): the photos after them take over,
    # the one after the top-left photo in the top row, where the top-left one was.
    names = [p.name for p in photos if p.exists()]
    after_current = names[names.index(current) + 1]
    after_top = names[names.index(before_top[0]) + 1]
    for name in (current, before_top[0], names[0]):
        (folder / name).unlink()

    rescan(qtbot, window)

    assert shown_name(grid.currentIndex()) == after_current
    assert [window.library.path_of(i) for i in window.review_ctl.selected_ids()] == [
        str(folder / after_current)
    ]
    assert after_current in window.review.title.text()
    after_top_rect = grid.visualRect(window.review_ctl.view_index(image_id(window, folder / after_top)))
    assert after_top_rect.top() == before_top[1]
    assert grid.indexAt(QPoint(after_top_rect.left() + 1, 1)).data(Roles.Path) == str(folder / after_top)


def image_id(w, path: Path) -> int:
    return next(i for i in w.library.all_ids() if w.library.path_of(i) == str(path))


def test_a_filter_that_still_shows_the_selection_keeps_it_current(qtbot, window, tmp_path):  # noqa: F811
    folder = tmp_path / "many"
    make_photos(folder, 120)
    window.resize(1100, 800)
    scan(qtbot, window, folder)
    # Opening a library again gives the grid a new model: the place is kept for that one too.
    assert window.library_ctl.open_library(window.catalog.path)
    select(qtbot, window, "p105.jpg")
    ids = window.review_ctl.selected_ids()
    with qtbot.waitSignal(window.library.modelReset, timeout=5_000):
        window.filters.search.setText("p1")  # p100..p119 stay
    assert window.library.rowCount() == 20
    assert shown_name(window.grid.currentIndex()) == "p105.jpg"
    assert window.review_ctl.selected_ids() == ids
    assert window.grid.visualRect(window.grid.currentIndex()).intersects(window.grid.viewport().rect())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland keycodes")
def test_shifted_digit_keys_work_on_non_us_layouts() -> None:
    """UK Shift+2 types '"', German Shift+7 types '/': the digit row's physical key decides."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent

    from fashion_desktop.gui.tag.grid import shifted_key_text

    def press(key, text: str, scancode: int) -> QKeyEvent:
        return QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.ShiftModifier, scancode, 0, 0, text)

    assert shifted_key_text(press(Qt.Key.Key_QuoteDbl, '"', 11)) == "Shift+2"  # UK
    assert shifted_key_text(press(Qt.Key.Key_Slash, "/", 16)) == "Shift+7"  # German
    assert shifted_key_text(press(Qt.Key.Key_Equal, "=", 19)) == "Shift+0"  # German
    assert shifted_key_text(press(Qt.Key.Key_Exclam, "!", 0)) == "Shift+1"  # US, no scancode (tests)
    assert shifted_key_text(press(Qt.Key.Key_Question, "?", 61)) == ""  # not the digit row


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland keycodes")
def test_label_keys_follow_the_physical_digit_row_on_azerty(qtbot, window, tmp_path):  # noqa: F811
    """On AZERTY the key marked 2 types 'é' without Shift; it must still toggle label [2]."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    for i, colour in enumerate(["red", "green", "blue"]):
        make_photo(tmp_path / "p" / f"{colour}_{i}.jpg", (64, 48), colour)
    scan(qtbot, window, tmp_path / "p")
    window.library.set_active_model("m", ["red", "green", "blue"], {}, [0.5, 0.5, 0.5])
    select(qtbot, window, "red_0.jpg")
    assert window.review.keys["green"] == "2"
    event = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Eacute, Qt.KeyboardModifier.NoModifier, 11, 0, 0, "é")
    QApplication.sendEvent(window.grid, event)
    assert window.review.rows["green"].box.isChecked()
