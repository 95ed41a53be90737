"""The ``fashion-desktop`` entry point: FOLDER, --model and --library are honoured."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from fashion_desktop.gui import app
from fashion_desktop.gui.main_window import MainWindow


def test_command_line_opens_the_library_adds_the_folder_and_picks_the_model(
    qtbot, tmp_path, photo_folder, tiny_bundle_path
):
    seen = {}

    def inspect_and_close() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        if not windows or windows[0].scan_worker is not None or windows[0].library.rowCount() < 9:
            QTimer.singleShot(50, inspect_and_close)
            return
        w = windows[0]
        seen.update(
            library=w.catalog.path,
            rows=w.library.rowCount(),
            bundle=w.tag_panel.current_bundle(),
            visible=w.isVisible(),
        )
        w.close()

    QTimer.singleShot(50, inspect_and_close)
    rc = app.main(
        [str(photo_folder), "--model", str(tiny_bundle_path), "--library", str(tmp_path / "cli.ffcat")]
    )
    assert rc == 0
    assert seen == {
        "library": tmp_path / "cli.ffcat",
        "rows": 9,
        "bundle": str(tiny_bundle_path),
        "visible": True,
    }


def test_about_names_versions_and_the_library(qtbot, tmp_path):
    import PySide6

    from fashion_desktop import __version__

    w = MainWindow(tmp_path / "about.ffcat")
    qtbot.addWidget(w)
    text = w.about_text()
    assert __version__ in text and PySide6.__version__ in text and "about.ffcat" in text
    # torch is asked in a child process; the open box fills in its version and devices when it answers.
    import torch

    box = w.about()
    assert "checking" in box.text()
    qtbot.waitUntil(lambda: f"PyTorch {torch.__version__}" in box.text(), timeout=60_000)
    assert "Devices: CPU" in box.text()
    box.close()
    w.close()
