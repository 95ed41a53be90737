"""The grid's right-click menu: each entry acts on the photo under the pointer (or the selection it is in)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, QObject, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMenu, QMessageBox

from tests.gui.test_main_window import chips, scan, select
from tests.gui.test_one_value import make_library


@pytest.fixture
def window_library(tmp_path):
    return make_library(tmp_path)


class _Urls(QObject):
    """Takes the URLs the app asks the desktop to open (instead of starting a file manager)."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url)


@pytest.fixture
def urls():
    catcher = _Urls()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    yield catcher
    QDesktopServices.unsetUrlHandler("file")


def _entries(menu: QMenu, prefix: str = "") -> dict[str, QAction]:
    found: dict[str, QAction] = {}
    for action in menu.actions():
        if action.isSeparator():
            continue
        name = prefix + action.text().replace("&", "")
        if action.menu() is not None:
            found[name] = action
            found.update(_entries(action.menu(), name + " ▸ "))
        else:
            found[name] = action
    return found


def _menu_on(w, name: str) -> dict[str, QAction]:
    index = w.review_ctl.view_index(w.library.id_at(_rows(w)[name]))
    return _entries(w.thumbnail_menu.menu_for(index))


def _rows(w) -> dict[str, int]:
    from tests.gui.test_main_window import grid_rows

    return grid_rows(w)


def _select_also(w, name: str) -> None:
    index = w.review_ctl.view_index(w.library.id_at(_rows(w)[name]))
    w.grid.selectionModel().select(index, QItemSelectionModel.SelectionFlag.Select)


def _selected_names(w) -> list[str]:
    return sorted(Path(w.library.path_of(i)).name for i in w.review_ctl.selected_ids())


def test_right_click_outside_the_selection_selects_the_photo_and_lists_every_entry(qtbot, window):
    w = window
    select(qtbot, w, "p0.jpg")
    entries = _menu_on(w, "p2.jpg")
    assert _selected_names(w) == ["p2.jpg"]
    for text in (
        "Show in Folder",
        "Open with the System Viewer",
        "Copy Path",
        "Mark Reviewed",
        "Mark Not Reviewed",
        "Set gender ▸ Women",
        "Set colour ▸ Pink",
        "Set season ▸ Summer",
        "Find Similar Photos",
        "Remove from Library…",
    ):
        assert text in entries, text
    assert entries["Find Similar Photos"] is w.find_similar_action
    assert entries["Set colour ▸ Green"].isChecked() and not entries["Set colour ▸ Pink"].isChecked()
    assert not entries["Mark Not Reviewed"].isEnabled() and entries["Mark Not Reviewed"].toolTip()


def test_right_click_inside_the_selection_keeps_it_and_copies_every_path(qtbot, window):
    w = window
    select(qtbot, w, "p1.jpg")
    _select_also(w, "p3.jpg")
    entries = _menu_on(w, "p3.jpg")
    assert _selected_names(w) == ["p1.jpg", "p3.jpg"]
    entries["Copy 2 Paths"].trigger()
    lines = QGuiApplication.clipboard().text().splitlines()
    assert sorted(Path(p).name for p in lines) == ["p1.jpg", "p3.jpg"] and all(
        Path(p).is_file() for p in lines
    )


def test_show_in_folder_and_open_with_the_system_viewer_ask_the_desktop(qtbot, window, urls):
    w = window
    entries = _menu_on(w, "p4.jpg")
    path = Path(w.library.path_of(w.library.id_at(_rows(w)["p4.jpg"])))
    entries["Show in Folder"].trigger()
    entries["Open with the System Viewer"].trigger()
    assert [u.toLocalFile() for u in urls.opened] == [str(path.parent), str(path)]


def test_mark_reviewed_and_not_reviewed_are_one_undo_step_each(qtbot, window):
    w = window
    select(qtbot, w, "p1.jpg")
    _select_also(w, "p2.jpg")
    _menu_on(w, "p2.jpg")["Mark Reviewed"].trigger()
    assert all(w.library.is_reviewed(w.library.id_at(_rows(w)[n])) for n in ("p1.jpg", "p2.jpg"))
    entries = _menu_on(w, "p2.jpg")
    assert not entries["Mark Reviewed"].isEnabled() and entries["Mark Not Reviewed"].isEnabled()
    entries["Mark Not Reviewed"].trigger()
    assert not any(w.library.is_reviewed(w.library.id_at(_rows(w)[n])) for n in ("p1.jpg", "p2.jpg"))
    w.undo_action.trigger()
    assert all(w.library.is_reviewed(w.library.id_at(_rows(w)[n])) for n in ("p1.jpg", "p2.jpg"))


def test_set_a_value_of_a_one_value_group_replaces_it_in_one_undo_step(qtbot, window):
    w = window
    select(qtbot, w, "p1.jpg")
    _select_also(w, "p2.jpg")
    _menu_on(w, "p1.jpg")["Set colour ▸ Pink"].trigger()
    assert chips(w, "p1.jpg") == chips(w, "p2.jpg") == ["dress", "Men", "Pink", "Fall"]
    assert chips(w, "p3.jpg") == ["dress", "Men", "Green", "Fall"]
    assert _menu_on(w, "p1.jpg")["Set colour ▸ Pink"].isChecked()
    w.undo_action.trigger()
    assert chips(w, "p1.jpg") == chips(w, "p2.jpg") == ["dress", "Men", "Green", "Fall"]


def test_remove_from_library_asks_then_removes_the_photos_but_not_the_files(qtbot, window):
    w = window
    select(qtbot, w, "p1.jpg")
    _select_also(w, "p2.jpg")
    paths = [Path(w.library.path_of(w.library.id_at(_rows(w)[n]))) for n in ("p1.jpg", "p2.jpg")]
    _menu_on(w, "p2.jpg")["Remove from Library…"].trigger()
    box = w.thumbnail_menu.remove_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "2 photos" in box.text() and "lost" in box.informativeText() and "disk" in box.informativeText()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert len(_rows(w)) == 5
    _menu_on(w, "p2.jpg")["Remove from Library…"].trigger()
    w.thumbnail_menu.remove_box.button(QMessageBox.StandardButton.Ok).click()
    assert sorted(_rows(w)) == ["p0.jpg", "p3.jpg", "p4.jpg"]
    assert {Path(r.path).name for r in w.catalog.images()} == {"p0.jpg", "p3.jpg", "p4.jpg"}
    assert all(p.is_file() for p in paths)
    assert "Removed 2 photos" in w.statusBar().currentMessage()


def test_without_a_model_the_set_entries_say_why_they_are_off(qtbot, tmp_path):
    from fashion_desktop.gui.main_window import MainWindow
    from tests.conftest import make_photo

    for i in range(2):
        make_photo(tmp_path / "photos" / f"q{i}.jpg", (64, 48), "red")
    w = MainWindow(tmp_path / "plain.ffcat")
    qtbot.addWidget(w)
    w.show()
    try:
        scan(qtbot, w, tmp_path / "photos")
        entries = _menu_on(w, "q1.jpg")
        off = entries["Set a Value"]
        assert not off.isEnabled() and "model" in off.toolTip()
        assert entries["Copy Path"].isEnabled() and entries["Mark Reviewed"].isEnabled()
    finally:
        w.close()
