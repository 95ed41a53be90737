"""Find similar in the real window: photos tagged through the real tagging path, then their nearest photos."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QItemSelectionModel, Qt

from fashion_desktop.gui.tag.library_model import Roles
from tests.gui.test_main_window import scan, tag


def _pattern_photos(folder: Path) -> Path:
    """Eight photos of random colour blocks and a half-size re-encoded copy of one; returns the original."""
    rng = np.random.default_rng(5)
    folder.mkdir(parents=True)
    for i in range(8):
        blocks = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(blocks).resize((192, 192), Image.NEAREST).save(folder / f"p{i:02d}.jpg", quality=92)
    original = folder / "p03.jpg"
    Image.open(original).resize((96, 96), Image.BILINEAR).save(folder / "p03_small.jpg", quality=85)
    return original


def _names(w) -> list[str]:
    m = w.library
    return [Path(m.index(r).data(Roles.Path)).name for r in range(m.rowCount())]


def _select(w, name: str) -> None:
    m = w.library
    row = _names(w).index(name)
    index = w.review_ctl.view_model.mapFromSource(m.index(row))
    w.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)


def test_find_similar_lists_the_photo_then_its_resized_copy_and_show_all_restores(
    qtbot, window, tmp_path, tiny_bundle_path
) -> None:
    w = window
    _pattern_photos(tmp_path / "photos")
    scan(qtbot, w, tmp_path / "photos")
    tag(qtbot, w, tiny_bundle_path)
    assert w.library.rowCount() == 9
    _select(w, "p03.jpg")
    # Also on the grid's right-click menu (issue 24: a menu of its own, with the window's action in it).
    menu = w.thumbnail_menu.menu_for(w.grid.currentIndex())
    assert w.find_similar_action.isEnabled() and w.find_similar_action in menu.actions()
    assert w.grid.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu
    with qtbot.waitSignal(w.similar_ctl.shown, timeout=20_000):
        w.find_similar_action.trigger()
    names = _names(w)
    assert names[:2] == ["p03.jpg", "p03_small.jpg"] and len(names) == 9
    bar = w.filters
    assert bar.show_all_button.isVisible() and "p03.jpg" in bar.similar_label.text()
    assert bar.clear_button.isEnabled()
    qtbot.mouseClick(bar.show_all_button, Qt.MouseButton.LeftButton)
    assert sorted(_names(w)) == sorted(names) and _names(w)[0] == "p00.jpg"  # name order again
    assert not bar.show_all_button.isVisible()

    # Again (the index is kept now), then Clear filters: every photo, too.
    _select(w, "p03_small.jpg")
    w.grid.setFocus()
    shift_ctrl = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    with qtbot.waitSignal(w.similar_ctl.shown, timeout=5_000):
        qtbot.keyClick(w.grid, Qt.Key.Key_F, shift_ctrl)  # the keyboard reaches it from the grid
    assert _names(w)[:2] == ["p03_small.jpg", "p03.jpg"]
    qtbot.mouseClick(bar.clear_button, Qt.MouseButton.LeftButton)
    assert _names(w)[0] == "p00.jpg" and len(_names(w)) == 9 and not bar.show_all_button.isVisible()

    # A selection of two: both first, then the others by the mean of their embeddings.
    _select(w, "p01.jpg")
    extra = w.review_ctl.view_model.mapFromSource(w.library.index(_names(w).index("p05.jpg")))
    w.grid.selectionModel().select(extra, QItemSelectionModel.SelectionFlag.Select)
    with qtbot.waitSignal(w.similar_ctl.shown, timeout=5_000):
        w.find_similar_action.trigger()
    assert set(_names(w)[:2]) == {"p01.jpg", "p05.jpg"} and len(_names(w)) == 9


def test_a_photo_without_an_embedding_is_said_in_the_status_bar(
    qtbot, window, tmp_path, tiny_bundle_path
) -> None:
    w = window
    _pattern_photos(tmp_path / "photos")
    scan(qtbot, w, tmp_path / "photos")
    tag(qtbot, w, tiny_bundle_path)
    key = w.library.model_key
    ids, _blobs = w.catalog.embeddings(key)
    first = int(ids[0])
    w.catalog._db.execute("DELETE FROM embeddings WHERE image_id=?", (first,))  # tagged before they existed
    _select(w, Path(w.library.path_of(first)).name)
    w.find_similar_action.trigger()
    qtbot.waitUntil(lambda: "no embedding yet" in w.statusBar().currentMessage(), timeout=10_000)
    assert "Re-tag photos this model already tagged" in w.statusBar().currentMessage()
    assert not w.filters.show_all_button.isVisible() and w.library.rowCount() == 9


@pytest.mark.parametrize("big", [False, True], ids=["small library", "big library: counted in a worker"])
def test_the_tag_panel_counts_photos_without_an_embedding_and_re_tags_just_those(
    qtbot, window, tmp_path, tiny_bundle_path, monkeypatch, big
) -> None:
    w = window
    counted_on: list[str] = []
    if big:  # a million photos' count is a second of SQLite: it runs off the GUI thread
        from fashion_desktop.core.catalog_reader import CatalogReader
        from fashion_desktop.gui.controllers import view_state
        from fashion_desktop.gui.tag import library_model

        monkeypatch.setattr(view_state, "ASYNC_VIEW_PHOTOS", 0)
        monkeypatch.setattr(library_model, "ASYNC_VIEW_PHOTOS", 0)
        real = CatalogReader.without_embeddings

        def counted(self, key):
            counted_on.append(threading.current_thread().name)
            return real(self, key)

        monkeypatch.setattr(CatalogReader, "without_embeddings", counted)
    _pattern_photos(tmp_path / "photos")
    scan(qtbot, w, tmp_path / "photos")
    tag(qtbot, w, tiny_bundle_path)
    panel = w.tag_panel
    assert not panel.embeddings_row.isVisible()
    key, path = w.library.model_key, w.catalog.path
    ids, _blobs = w.catalog.embeddings(key)
    kept = int(ids[0])
    w.catalog._db.execute("DELETE FROM embeddings WHERE image_id<>?", (kept,))  # tagged before they existed
    with qtbot.waitSignal(w.library_opened, timeout=20_000):
        w.library_ctl.open_library(path)  # opened again, as after the upgrade
    qtbot.waitUntil(panel.embeddings_row.isVisible, timeout=10_000)
    assert panel.embeddings_label.text().startswith(
        "8 photos were tagged before similar-photo search existed"
    )
    before = w.catalog.scores(key)
    with qtbot.waitSignal(w.tagging_finished, timeout=60_000) as done:
        qtbot.mouseClick(panel.fill_embeddings_button, Qt.MouseButton.LeftButton)
    assert done.args[0].tagged == 8 and done.args[0].skipped == 1  # only those without one
    assert w.catalog.without_embeddings(key) == 0 and w.catalog.scores(key).keys() == before.keys()
    qtbot.waitUntil(lambda: not panel.embeddings_row.isVisible(), timeout=5_000)
    assert (
        (len(counted_on) >= 2 and threading.main_thread().name not in counted_on) if big else not counted_on
    )
    _select(w, "p03.jpg")
    with qtbot.waitSignal(w.similar_ctl.shown, timeout=20_000):
        w.find_similar_action.trigger()
    assert _names(w)[:2] == ["p03.jpg", "p03_small.jpg"]
