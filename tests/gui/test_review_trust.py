"""Review a person can trust: reviewed means settled, the threshold view survives a restart, exports say
who decided and with which thresholds, and tags a person already has can be imported with a preview."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.core.training_table import training_table
from fashion_desktop.core.xmp import NS_LR, NS_RDF
from fashion_desktop.gui.main_window import MainWindow
from fashion_desktop.gui.tag.library_model import Roles
from fashion_desktop.gui.tag.thresholds_panel import ThresholdTableModel
from tests.gui.test_export_dialog import _choose, _export
from tests.gui.test_main_window import chips, grid_rows, scan, select, tag
from tests.gui.test_thresholds_panel import _cell, _click, _click_box

pytestmark = pytest.mark.slow  # every test here starts a child process or trains


def _state(w: MainWindow, name: str) -> str:
    return w.library.index(grid_rows(w)[name]).data(Roles.State)


def _set_global_threshold(qtbot, w: MainWindow, value: str) -> None:
    panel = w.threshold_panel
    if panel.tuned_check.isChecked():
        _click_box(qtbot, panel.tuned_check)
    panel.spin.lineEdit().selectAll()
    qtbot.keyClicks(panel.spin.lineEdit(), value)
    qtbot.keyClick(panel.spin.lineEdit(), Qt.Key.Key_Return)


def _about(path: Path) -> dict[str, str]:
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Tags", "About this export"]
    return {row[0]: row[1] for row in wb["About this export"].iter_rows(values_only=True)}


def test_threshold_overrides_survive_a_restart_and_the_export_records_them(
    qtbot,
    window,  # noqa: F811
    photo_folder,
    tiny_bundle_path,
    tmp_path,
):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    panel = window.threshold_panel
    window.tabs.setCurrentWidget(window.tag_page)
    _click(qtbot, panel, _cell(panel, "green", ThresholdTableModel.OVERRIDE), double=True)
    editor = QApplication.focusWidget()
    editor.selectAll()
    with qtbot.waitSignal(panel.policy_changed):
        qtbot.keyClicks(editor, "0.01")
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    panel.top_k_spin.setFocus()
    with qtbot.waitSignal(panel.policy_changed):
        qtbot.keyClick(panel.top_k_spin, Qt.Key.Key_Up)
        qtbot.keyClick(panel.top_k_spin, Qt.Key.Key_Up)
    with qtbot.waitSignal(panel.policy_changed):
        _click_box(qtbot, panel.at_least_one_check)
    chosen = panel.policy()
    assert chosen.per_label == {"green": 0.01} and chosen.top_k == 2 and chosen.at_least_one
    assert chips(window, "red_0.jpg") == ["red", "green"]  # green's override of 0.01 lets it in
    path = window.catalog.path
    window.close()

    again = MainWindow(path)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    try:
        assert again.threshold_panel.policy() == chosen
        assert _cell(again.threshold_panel, "green", ThresholdTableModel.OVERRIDE).data() == "0.01"
        assert again.threshold_panel.top_k_spin.value() == 2
        assert again.threshold_panel.at_least_one_check.isChecked()
        assert chips(again, "red_0.jpg") == ["red", "green"]  # the grid follows the restored view

        d = again.transfer_ctl.export_dialog()
        out = tmp_path / "tags.xlsx"
        _choose(qtbot, d, "xlsx", path=out)
        _export(qtbot, d)
        about = _about(out)
        assert about["Per-label overrides"] == "green=0.01"
        assert about["Top-k"] == "2" and about["At least one tag"] == "yes"
        assert about["Threshold: green"] == "0.01"
        tags = pd.read_excel(out, keep_default_na=False).set_index("file")["tags"]
        assert tags["red_0.jpg"] == "red|green"
    finally:
        again.close()


def test_a_reviewed_photo_keeps_its_tags_when_thresholds_or_the_model_change(
    qtbot,
    window,  # noqa: F811
    photo_folder,
    tiny_bundle_path,
):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    select(qtbot, window, "red_0.jpg")
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    assert _state(window, "red_0.jpg") == "reviewed"
    # What the person saw is now what they decided: red yes, green and blue no.
    decided = window.catalog.decisions(window.library.id_at(grid_rows(window)["red_0.jpg"]))
    assert decided == {"red": True, "green": False, "blue": False}

    _set_global_threshold(qtbot, window, "0.99")  # nothing passes any more ...
    assert chips(window, "red_3.jpg") == []  # ... on a photo nobody reviewed
    assert chips(window, "red_0.jpg") == ["red"]  # the reviewed one is settled
    _set_global_threshold(qtbot, window, "0.01")  # everything passes
    assert chips(window, "red_3.jpg") == ["red", "green", "blue"]
    assert chips(window, "red_0.jpg") == ["red"]

    # Another model (same labels) that sees blue everywhere: the reviewed photo does not follow it.
    cat, m = window.catalog, window.library
    cat.register_model("other", ["red", "green", "blue"], "other", thresholds=[0.5, 0.5, 0.5])
    cat.add_predictions("other", [(i, np.float32([0.0, 0.0, 1.0])) for i in m.all_ids()])
    m.set_active_model("other")
    # The view is kept per model: the new one starts at its own defaults, the old one's is saved.
    assert window.threshold_panel.policy() == ThresholdPolicy()
    assert cat.view_state("tiny-test-model").global_threshold == 0.01
    _set_global_threshold(qtbot, window, "0.5")
    assert chips(window, "red_3.jpg") == ["blue"]
    assert chips(window, "red_0.jpg") == ["red"]
    rows = {Path(r.path).name: r for r in training_table(cat.path, "other").rows}
    assert rows["red_0.jpg"].positives == {"red"} and rows["red_0.jpg"].known == {"red", "green", "blue"}

    # Undo the review: exactly the state before it, so the photo follows the model again.
    window.undo_action.trigger()
    assert _state(window, "red_0.jpg") == "predicted"
    assert cat.decisions(m.id_at(grid_rows(window)["red_0.jpg"])) == {}
    assert chips(window, "red_0.jpg") == ["blue"]


def test_accept_predictions_settles_a_selection_like_space(
    qtbot,
    window,  # noqa: F811
    photo_folder,
    tiny_bundle_path,
):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    before = {n: chips(window, n) for n in grid_rows(window)}
    qtbot.keyClick(window.grid, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert all(_state(window, n) == "reviewed" for n in grid_rows(window))
    _set_global_threshold(qtbot, window, "0.01")
    assert {n: chips(window, n) for n in grid_rows(window)} == before
    assert window.review_ctl.undo_stack.undoText().startswith("Accept predictions on 9 photos")


def test_export_carries_provenance_and_hierarchical_xmp_keywords(
    qtbot,
    window,  # noqa: F811
    photo_folder,
    tiny_bundle_path,
    tmp_path,
):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    select(qtbot, window, "red_0.jpg")
    qtbot.keyClick(window.grid, window.review.keys["green"])  # the person adds green
    d = window.transfer_ctl.export_dialog()
    out = tmp_path / "tags.xlsx"
    _choose(qtbot, d, "xlsx", path=out)
    _click_box(qtbot, d.provenance_check)
    _export(qtbot, d)
    df = pd.read_excel(out, keep_default_na=False).set_index("file")
    assert list(df.columns[:3]) == ["path", "folder", "tags"]
    assert df.loc["red_0.jpg", "folder"] == str(photo_folder)
    assert df.loc["red_0.jpg", "decided_by:green"] == "yes (person)"
    assert df.loc["red_0.jpg", "decided_by:red"] == "yes (model)"
    assert df.loc["red_0.jpg", "decided_by:blue"] == "no (model)"
    assert float(df.loc["red_0.jpg", "score:red"]) > 0.9
    about = _about(out)
    assert about["Model id"] == "tiny-test-model" and about["Rows"] == "9"
    assert about["App"].startswith("Fashion Finder ") and about["Library"] == str(window.catalog.path)

    d = window.transfer_ctl.export_dialog()
    assert d.format_key() == "xlsx"  # the dialog remembers the last format
    _choose(qtbot, d, "xmp")
    _export(qtbot, d)
    root = ET.parse(photo_folder / "red_0.xmp").getroot()
    bag = root.find(f".//{{{NS_LR}}}hierarchicalSubject")
    assert [li.text for li in bag.iter(f"{{{NS_RDF}}}li")] == ["colour|red", "colour|green"]


def test_import_previews_then_records_decisions_as_one_undo_step(
    qtbot,
    window,  # noqa: F811
    photo_folder,
    tiny_bundle_path,
    tmp_path,
):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    sheet = tmp_path / "mine.csv"
    sheet.write_text("image,tags\nred_0.jpg,green|scarf\nnot_here.jpg,red\n", encoding="utf-8")
    window.transfer_ctl.import_tags_dialog(sheet)  # read in a worker: the preview opens when it is read
    qtbot.waitUntil(
        lambda: window.transfer_ctl.import_box is not None and window.transfer_ctl.import_box.isVisible()
    )
    box = window.transfer_ctl.import_box
    text = box.informativeText()
    assert "Photos matched: 1 (1 not reviewed yet)" in text
    assert "Decisions: 4 added, 0 changed" in text  # green, scarf yes; red, blue no
    assert "Rows matching no photo: 1" in text and "scarf" in text
    assert chips(window, "red_0.jpg") == ["red"]  # a preview changes nothing
    qtbot.mouseClick(window.transfer_ctl.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible())
    assert chips(window, "red_0.jpg") == ["green", "scarf"]
    assert _state(window, "red_0.jpg") == "reviewed"
    window.undo_action.trigger()
    assert chips(window, "red_0.jpg") == ["red"] and _state(window, "red_0.jpg") == "predicted"
