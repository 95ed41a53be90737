"""The Duplicates view in the real window: copies of a photo shown together, group after group."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from tests.conftest import make_photo
from tests.gui.test_find_similar import _names
from tests.gui.test_main_window import scan, tag


def _photos(folder: Path) -> None:
    """A red photo, its re-encoded half-size copy, and different photos (other colours, a red-and-blue one)."""
    original = make_photo(folder / "red.jpg", (160, 120), "red", quality=95)
    Image.open(original).resize((80, 60), Image.BILINEAR).save(folder / "red_copy.jpg", quality=60)
    make_photo(folder / "green.jpg", (160, 120), "green")
    make_photo(folder / "blue.jpg", (150, 100), "blue")
    split = np.zeros((120, 160, 3), np.uint8)
    split[:, :80] = (220, 30, 30)
    split[:, 80:] = (30, 60, 220)
    Image.fromarray(split).save(folder / "red_and_blue.jpg", quality=90)


def _find_duplicates(qtbot, w, folder: Path, bundle: Path | None) -> None:
    """Scan ``folder`` (tag it with ``bundle`` unless None), then View > Find Duplicates; return once shown."""
    scan(qtbot, w, folder)
    if bundle is not None:
        tag(qtbot, w, bundle)
    else:  # exact copies are found by the content hash the scan records after it has shown the photos
        qtbot.waitUntil(lambda: all(r.content_hash for r in w.catalog.images()), timeout=20_000)
    assert w.duplicates_action.isEnabled()
    with qtbot.waitSignal(w.similar_ctl.duplicates.shown, timeout=20_000):
        w.duplicates_action.trigger()


def test_the_duplicates_view_groups_a_re_encoded_copy_and_show_all_restores(
    qtbot, window, tmp_path, tiny_bundle_path
) -> None:
    w = window
    _photos(tmp_path / "photos")
    _find_duplicates(qtbot, w, tmp_path / "photos", tiny_bundle_path)
    assert _names(w) == ["red.jpg", "red_copy.jpg"]  # the larger photo first
    bar = w.filters
    assert bar.similar_label.text().startswith("1 group of duplicates (2 photos)")
    assert bar.show_all_button.isVisible()
    assert w.grid.currentIndex().isValid()  # the first photo of the first group is current
    qtbot.mouseClick(bar.show_all_button, Qt.MouseButton.LeftButton)
    assert len(_names(w)) == 5 and not bar.show_all_button.isVisible()


def test_without_embeddings_exact_copies_still_group_and_the_window_says_how_many_lack_one(
    qtbot, window, tmp_path
) -> None:
    w = window
    folder = tmp_path / "photos"
    _photos(folder)
    shutil.copy(folder / "green.jpg", folder / "green_again.jpg")
    _find_duplicates(qtbot, w, folder, None)
    assert _names(w) == ["green.jpg", "green_again.jpg"]  # the re-encoded copy needs an embedding
    text = w.filters.similar_label.text()
    assert text.startswith("1 group of duplicates (2 photos)")
    assert "6 photos have no embedding yet" in text


def test_no_duplicates_is_said_plainly_and_the_grid_stays(qtbot, window, tmp_path, tiny_bundle_path) -> None:
    w = window
    folder = tmp_path / "photos"
    _photos(folder)
    (folder / "red_copy.jpg").unlink()
    _find_duplicates(qtbot, w, folder, tiny_bundle_path)
    assert w.statusBar().currentMessage() == "No duplicates among the 4 photos"
    assert len(_names(w)) == 4 and not w.filters.show_all_button.isVisible()
