"""File > Import Keywords from Photos: read off the GUI thread, a preview, one undo step (issue 21)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.exiftool import EXIFTOOL_ENV
from tests.core.test_keyword_import import keyword_library, needs_exiftool, write_keywords
from tests.gui.test_main_window import chips


@pytest.fixture
def library(tmp_path):
    return keyword_library(tmp_path)


@pytest.fixture
def window_library(library):
    return library[0]


@needs_exiftool
def test_the_menu_reads_keywords_previews_them_and_one_undo_takes_the_import_back(qtbot, window, library):
    db, folder = library
    write_keywords(folder / "a.jpg", "-XMP-lr:HierarchicalSubject=colour|Black", "-XMP-dc:Subject=denim")
    write_keywords(folder / "b.jpg", "-XMP-dc:Subject=shoe", "-XMP-ffd:Keywords=shoe")  # the app's own
    w = window
    assert chips(w, "a.jpg") == ["dress", "Red"]
    ctl = w.transfer_ctl.keywords
    w.import_keywords_action.trigger()
    qtbot.waitUntil(lambda: ctl.preview_box is not None and ctl.preview_box.isVisible(), timeout=20_000)
    text = ctl.preview_box.informativeText()
    assert "Photos matched: 1 of 3 (none marked reviewed)" in text
    assert "Decisions: 2 added, 0 changed" in text
    assert "New tags: denim (keywords)" in text
    assert "Keywords this app wrote (skipped): 1" in text
    qtbot.mouseClick(ctl.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not ctl.preview_box.isVisible())
    assert chips(w, "a.jpg") == ["dress", "Black", "denim"]  # Black replaces the model's Red
    assert chips(w, "b.jpg") == ["dress", "Red"]
    with Catalog(db, read_only=True) as cat:
        assert cat.person_labels() == {"denim": "keywords"}
        assert not any(r.reviewed for r in cat.images())
        assert all(all(d.values()) for d in cat.all_decisions().values())  # never a "no"
    w.undo_action.trigger()  # Ctrl+Z: the whole import, the new tag with it
    assert chips(w, "a.jpg") == ["dress", "Red"]
    with Catalog(db, read_only=True) as cat:
        assert cat.person_labels() == {} and cat.all_decisions() == {}


def test_without_exiftool_the_window_says_what_to_install(qtbot, window, monkeypatch, tmp_path):
    monkeypatch.setenv(EXIFTOOL_ENV, str(tmp_path / "no-exiftool"))
    window.import_keywords_action.trigger()
    box = window.messages.last_warning
    assert box is not None and "ExifTool" in box.text() and "libimage-exiftool-perl" in box.text()
    assert window.transfer_ctl.keywords.preview_box is None
