"""Item 9: a tag name that holds the tag separator '|' (or is empty) never gets into a library or a bundle,
so the tags column of every export can be split back."""

from __future__ import annotations

from pathlib import Path

import pytest

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.model.bundle_format import BundleDescription, BundleError


@pytest.mark.parametrize("label", ["denim|blue", "", "   "])
def test_a_person_cannot_record_an_unsplittable_tag(tmp_path: Path, label: str) -> None:
    cat = Catalog(tmp_path / "lib.ffcat")
    try:
        ids = cat.ensure_images([str(tmp_path / "a.jpg")])
        image_id = ids[str(tmp_path / "a.jpg")]
        with pytest.raises(ValueError, match="not a usable tag name"):
            cat.set_decision(image_id, label, True)
        with pytest.raises(ValueError, match="not a usable tag name"):
            cat.set_decisions([(image_id, "floral", True), (image_id, label, True)])
        assert cat.decisions(image_id) == {}  # the good one of the refused batch was not written either
        cat.set_decision(image_id, "denim", True)
        assert cat.decisions(image_id) == {"denim": True}
    finally:
        cat.close()


@pytest.mark.parametrize("label", ["denim|blue", ""])
def test_a_bundle_with_an_unsplittable_label_is_refused_naming_file_and_field(label: str) -> None:
    raw = {"format": "fashion-finder-bundle", "format_version": 2, "arch": "cnn", "labels": ["red", label]}
    with pytest.raises(BundleError, match=r"m\.fmodel: .*labels: "):
        BundleDescription.from_raw(raw, "m.fmodel")


def test_the_add_tag_dialog_explains_and_records_nothing_for_a_name_with_a_bar(
    qtbot, tmp_path, photo_folder
) -> None:
    from PySide6.QtCore import Qt

    from fashion_desktop.gui.main_window import MainWindow

    window = MainWindow(tmp_path / "lib.ffcat")
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.library_ctl.add_folder(photo_folder)
    window.grid.selectAll()
    dlg = window.review_ctl.tag_selection_dialog(True)
    dlg.combo.setEditText("denim|blue")
    qtbot.keyClick(dlg.combo.lineEdit(), Qt.Key.Key_Return)
    assert dlg.isVisible() and "'|'" in dlg.problem.text()
    assert not any(window.catalog.all_decisions().values())
    dlg.combo.setEditText("denim")
    qtbot.keyClick(dlg.combo.lineEdit(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dlg.isVisible())
    decided = window.catalog.all_decisions()
    assert decided and all(d == {"denim": True} for d in decided.values())
    window.close()
