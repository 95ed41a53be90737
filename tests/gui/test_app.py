"""The ``fashion-desktop`` entry point: FOLDER, --model and --library are honoured."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from numpy._core.multiarray import _set_madvise_hugepage
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
    frozen_before = gc.get_freeze_count()
    huge_before = _set_madvise_hugepage(True)
    try:
        rc = app.main(
            [str(photo_folder), "--model", str(tiny_bundle_path), "--library", str(tmp_path / "cli.ffcat")]
        )
        # What lived at start-up (the libraries, the window) is left out of the collector's full passes:
        # walking it took 100 ms a pass, a freeze of the window each time one ran
        seen["frozen"] = gc.get_freeze_count() - frozen_before > 10_000
        # numpy's big arrays on ordinary pages (a new column waited for huge pages: ~90 ms stalls)
        seen["small pages"] = not _set_madvise_hugepage(True)
    finally:
        gc.unfreeze()  # the rest of the test run collects as usual
        _set_madvise_hugepage(huge_before)
    assert rc == 0
    assert seen == {
        "library": tmp_path / "cli.ffcat",
        "rows": 9,
        "bundle": str(tiny_bundle_path),
        "visible": True,
        "frozen": True,
        "small pages": True,
    }


@pytest.mark.slow
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


@pytest.mark.slow
def test_version_answers_at_once_without_qt_or_torch() -> None:
    import subprocess
    import sys

    from fashion_desktop import __version__

    code = (
        "import sys\n"
        "from fashion_desktop.gui import app\n"
        "try:\n"
        "    app.main(['--version'])\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code, 'torch' in sys.modules, 'PySide6.QtWidgets' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.splitlines() == [f"fashion-desktop {__version__}", "exit 0 False False"], res.stderr


def test_each_session_writes_a_log_file_and_about_says_where(qtbot, tmp_path, photo_folder) -> None:
    from fashion_desktop.gui import settings

    def close_when_scanned() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows or windows[0].scan_worker is not None or windows[0].library.rowCount() < 9:
            QTimer.singleShot(50, close_when_scanned)
            return
        assert f"Logs: {settings.log_dir()}" in windows[0].about_text()
        windows[0].close()

    QTimer.singleShot(50, close_when_scanned)
    assert app.main([str(photo_folder), "--library", str(tmp_path / "log.ffcat")]) == 0
    logs = list(settings.log_dir().glob("fashion-desktop-*.log"))
    assert len(logs) == 1
    assert f"session log {logs[0]}" in logs[0].read_text()


def test_old_session_logs_beyond_the_kept_number_are_removed(tmp_path) -> None:
    import logging
    import os

    from fashion_desktop.gui.session_log import start_session_log

    for i in range(14):
        old = tmp_path / f"fashion-desktop-2026010{i % 10}-00000{i}-1.log"
        old.write_text("old")
        os.utime(old, (1_000_000 + i, 1_000_000 + i))
    handler = start_session_log(tmp_path, keep=10)
    try:
        assert handler is not None
        kept = sorted(p.name for p in tmp_path.glob("fashion-desktop-*.log"))
        assert len(kept) == 10 and Path(handler.baseFilename).name in kept
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
