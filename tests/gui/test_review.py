"""Review pane: every label with its probability and key, model vs person shown apart, clicks edit."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QGroupBox

from tests.gui.test_main_window import chips, scan, select, tag


@pytest.mark.slow
def test_review_pane_lists_labels_with_scores_keys_and_source(qtbot, window, photo_folder, tiny_bundle_path):  # noqa: F811
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    select(qtbot, window, "blue_2.jpg")
    pane = window.review
    assert [g.title() for g in pane.findChildren(QGroupBox)] == ["colour"]
    rows = pane.rows
    assert list(rows) == ["red", "green", "blue"]
    assert rows["blue"].box.isChecked() and not rows["red"].box.isChecked()
    assert float(rows["blue"].score_label.text()) > 0.9
    assert float(rows["red"].score_label.text()) < 0.2
    assert rows["blue"].source == "model" and rows["blue"].box.font().italic()
    assert rows["red"].key_label.text() == f"[{pane.keys['red']}]"
    box = rows["red"].box
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))
    assert rows["red"].box.isChecked() and rows["red"].source == "person" and rows["red"].box.font().bold()
    assert rows["red"].source_label.text() == "✔ you"
    assert chips(window, "blue_2.jpg") == ["red", "blue"]
    box = rows["blue"].box  # the person says "not blue": a decision, shown as a "no", not a tick
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))
    assert not rows["blue"].box.isChecked() and rows["blue"].source_label.text() == "✘ you"
    assert chips(window, "blue_2.jpg") == ["red"]
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))
    assert rows["blue"].box.isChecked() and rows["blue"].source_label.text() == "✔ you"
    assert chips(window, "blue_2.jpg") == ["red", "blue"]
    assert "blue_2.jpg" in pane.title.text()


def test_preview_loads_off_the_gui_thread_and_zooms(qtbot, window, photo_folder):  # noqa: F811
    scan(qtbot, window, photo_folder)
    select(qtbot, window, "green_1.jpg")
    preview = window.review.preview
    qtbot.waitUntil(lambda: preview._pixmap is not None, timeout=10_000)
    preview.set_zoom(2.0)
    assert preview._label.width() >= preview._pixmap.width() * 2 - 1
    preview.set_zoom(None)


@pytest.mark.slow
def test_start_up_does_not_import_torch():
    code = (
        "import sys; from fashion_desktop.gui import app, main_window; from fashion_desktop.gui.models import models_tab; from fashion_desktop.gui.tag import thresholds_panel;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_device_list_enables_only_what_torch_reports(qtbot, tmp_path):
    import torch

    from fashion_desktop.gui.tag.tag_panel import TagPanel

    panel = TagPanel()
    qtbot.addWidget(panel)
    items = {
        panel.device_combo.itemData(i): panel.device_combo.model().item(i)
        for i in range(panel.device_combo.count())
    }
    assert not items["cuda"].isEnabled() and not items["mps"].isEnabled()  # unknown until torch is asked
    assert items["auto"].isEnabled() and items["cpu"].isEnabled()
    panel.probe()
    qtbot.waitUntil(lambda: panel.devices is not None, timeout=60_000)
    assert items["cuda"].isEnabled() == torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None)
    assert items["mps"].isEnabled() == bool(mps is not None and mps.is_available())
    panel.stop()
