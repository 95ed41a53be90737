"""First launch: the empty page in the grid's place (add or drop a folder), the model box, Tag photos disabled."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from fashion_desktop.gui import settings
from fashion_desktop.gui.controllers import tagging
from fashion_desktop.gui.main_window import MainWindow
from fashion_desktop.gui.tag.first_launch import NO_MODEL_TEXT, NO_PHOTOS_TIP
from fashion_desktop.gui.tag.tag_panel import DEFAULT_MODEL_TEXT
from tests.conftest import make_photo


@pytest.fixture
def no_default_model(monkeypatch):
    monkeypatch.setattr(tagging, "default_model_path", lambda: None)


def open_window(qtbot, tmp_path: Path) -> MainWindow:
    w = MainWindow(tmp_path / "lib.ffcat")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def drop(widget, folder: Path) -> bool:
    """Drag ``folder`` over ``widget`` and drop it there, as a file manager would; True if accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(
        QPoint(20, 20), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(
        QPointF(20, 20), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def test_first_launch_page_until_photos_then_grid_and_back_when_folders_go(
    qtbot, tmp_path, no_default_model
) -> None:
    w = open_window(qtbot, tmp_path)
    page = w.first_launch
    assert page.isVisible() and not w.grid.isVisible()
    assert page.add_button.isVisible() and page.drop_label.text() == "or drop one here"
    assert "Space marks a photo reviewed" in page.keys_label.text() and "J / K" in page.keys_label.text()

    empty = tmp_path / "empty"
    (empty / "notes").mkdir(parents=True)
    (empty / "notes" / "readme.txt").write_text("no photos here")
    with qtbot.waitSignal(w.scan_finished, timeout=20_000):
        assert drop(page, empty)
    assert page.isVisible()
    assert f"No photos found in {empty}" in page.notice.text() and page.notice.isVisible()

    photos = tmp_path / "photos"
    for i in range(3):
        make_photo(photos / f"red_{i}.jpg", (64, 48), "red")
    with qtbot.waitSignal(w.scan_finished, timeout=20_000):
        assert drop(page, photos)
    assert w.grid.isVisible() and not page.isVisible()
    assert w.tag_panel.run_button.isEnabled() and w.tag_action.isEnabled()

    for folder in list(w.catalog.folders()):
        w.library_ctl.remove_folder(folder)
    assert page.isVisible() and not w.grid.isVisible()
    assert not w.tag_panel.run_button.isEnabled()
    w.close()


def test_tag_photos_is_disabled_with_the_reason_before_any_folder(qtbot, tmp_path, tiny_bundle_path) -> None:
    w = open_window(qtbot, tmp_path)
    w.tag_panel.select_bundle(str(tiny_bundle_path))
    button = w.tag_panel.run_button
    assert not button.isEnabled() and button.toolTip() == NO_PHOTOS_TIP
    assert "add a folder first" in button.toolTip()
    assert not w.tag_action.isEnabled()
    w.tag_panel.model_combo.clear()  # no model either: before, pressing opened a file dialog for one
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.keyClick(w, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.wait(100)
    assert w.tag_worker is None
    assert not [x for x in QApplication.topLevelWidgets() if isinstance(x, QFileDialog) and x.isVisible()]
    w.close()


def test_an_unreadable_folder_is_refused_with_a_message(qtbot, tmp_path, monkeypatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    w = open_window(qtbot, tmp_path)
    monkeypatch.setattr(os, "scandir", scandir)  # root may read any folder: the refusal is simulated
    w.library_ctl.add_folder(locked)
    monkeypatch.undo()
    text = w.first_launch.notice.text()
    assert f"{locked} cannot be read: permission denied" in text and w.first_launch.notice.isVisible()
    assert w.catalog.folders() == [] and w.scan_worker is None
    w.close()


def test_the_default_model_is_preselected_when_no_other_was_chosen(
    qtbot, tmp_path, tiny_bundle_path, monkeypatch
) -> None:
    monkeypatch.setattr(tagging, "default_model_path", lambda: tiny_bundle_path)
    w = open_window(qtbot, tmp_path)
    assert w.tag_panel.current_bundle() == str(tiny_bundle_path)
    assert w.tag_panel.model_combo.currentText() == DEFAULT_MODEL_TEXT
    assert w.first_launch.model_label.text() == f"Model: {DEFAULT_MODEL_TEXT}"
    w.close()


def test_a_model_used_before_wins_over_the_default(qtbot, tmp_path, tiny_bundle_path, monkeypatch) -> None:
    from fashion_desktop.core.demo import save_colour_bundle

    mine = save_colour_bundle(tmp_path / "mine.fmodel", model_id="mine", name="mine")
    settings.set_value(settings.RECENT_BUNDLES, [str(mine)])
    monkeypatch.setattr(tagging, "default_model_path", lambda: tiny_bundle_path)
    w = open_window(qtbot, tmp_path)
    assert w.tag_panel.current_bundle() == str(mine)
    assert w.tag_panel.model_combo.findData(str(tiny_bundle_path)) >= 0  # still offered
    w.close()


def test_without_any_model_the_model_box_says_so(qtbot, tmp_path, no_default_model) -> None:
    w = open_window(qtbot, tmp_path)
    combo = w.tag_panel.model_combo
    assert combo.count() == 0 and combo.currentIndex() == -1
    assert combo.placeholderText() == NO_MODEL_TEXT
    assert w.first_launch.model_label.text() == NO_MODEL_TEXT
    w.close()


def test_the_no_photos_text_names_heic_and_raw_in_a_few_words() -> None:
    from fashion_desktop.gui.tag.first_launch import no_photos_text

    text = no_photos_text("/photos", [])
    assert "HEIC" in text and "or raw (CR2, CR3, NEF, ARW, RAF, ORF, RW2, DNG …)" in text
    assert (
        "HEIF" not in text and "RWL" not in text and "JPEG" not in text
    )  # one name per kind, raw by example
    assert len(text) < 220
