"""A library tagged with an earlier default model hears that the default changed, and keeps its work
when it re-tags (issue 18)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.demo import save_colour_bundle
from fashion_desktop.gui.controllers import tagging as tagging_module
from fashion_desktop.gui.main_window import MainWindow
from fashion_desktop.model import resources
from tests.gui.test_main_window import chips, scan, tag


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """The app's default model file, at first the earlier default ("v1")."""
    path = tmp_path / "app" / "resources" / "models" / "default.fmodel"
    path.parent.mkdir(parents=True)
    save_colour_bundle(path, model_id="default-v1", name="Fashion Finder default (test v1)")
    monkeypatch.setattr(resources, "default_model_path", lambda: path)
    monkeypatch.setattr(tagging_module, "default_model_path", lambda: path)
    return path


@pytest.mark.slow
def test_a_library_tagged_with_the_earlier_default_is_offered_a_retag_that_keeps_decisions(
    qtbot, tmp_path, photo_folder, shipped
):
    lib = tmp_path / "lib.ffcat"
    w = MainWindow(lib)
    qtbot.addWidget(w)
    w.show()
    scan(qtbot, w, photo_folder)
    tag(qtbot, w, shipped)
    assert not w.tag_panel.default_changed_row.isVisibleTo(w)  # tagged with the default in use
    w.close()
    cat = Catalog(lib)
    red = cat.image_by_path((photo_folder / "red_0.jpg").resolve()).id
    cat.set_decision(red, "green", True)  # the person's own word, and a tag of their own
    cat.set_decision(red, "vintage", True)
    cat.close()

    # The app is upgraded: the same file now holds another default model.
    save_colour_bundle(shipped, model_id="default-v2", name="Fashion Finder default v2 (test)")
    again = MainWindow(lib)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    panel = again.tag_panel
    assert panel.default_changed_row.isVisible()
    text = panel.default_changed_label.text()
    assert "default model has changed (Fashion Finder default v2 (test))" in text
    assert "9 photos" in text and "your own tags and reviews stay" in text
    # The earlier default's badge calibration is not applied to scores another model gave.
    assert again.library.model_key == "default-v1"

    with qtbot.waitSignal(again.tagging_finished, timeout=60_000) as blocker:
        qtbot.mouseClick(panel.retag_default_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].tagged == 9
    assert again.library.model_key == "default-v2"
    assert not panel.default_changed_row.isVisible()
    assert {"red", "green", "vintage"} <= set(chips(again, "red_0.jpg"))
    again.close()


def test_no_notice_for_a_persons_own_model_or_the_current_default(qtbot, tmp_path, photo_folder, shipped):
    own = tmp_path / "runs" / "mine" / "model.fmodel"
    own.parent.mkdir(parents=True)
    save_colour_bundle(own, model_id="mine", name="Fashion Finder default fine-tuned")
    assert not resources.earlier_default("mine", "Fashion Finder default fine-tuned", str(own), ("v2", "x"))
    assert not resources.earlier_default("v2", "Fashion Finder default", str(shipped), ("v2", "x"))
    assert resources.earlier_default("v1", "anything", str(shipped), ("v2", "x"))
    # a frozen build unpacks into a new folder each launch: the name and the file name still tell
    frozen = "/tmp/_MEI1/resources/models/default.fmodel"
    assert resources.earlier_default("v1", "Fashion Finder default (E)", frozen, ("v2", "x"))
