"""torch never loads in the app's own process: tagging, the device check and the Models tab use a child
process or read bundles without it, so the window never waits on torch's interpreter lock or memory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_photo

pytestmark = pytest.mark.slow  # every test here starts a child process or trains

SCRIPT = r"""
import sys, time
from PySide6.QtWidgets import QApplication
app = QApplication([])
from fashion_desktop.gui.main_window import MainWindow

lib, folder, bundle = sys.argv[1:4]
w = MainWindow(lib)
w.show()
done = {}
w.scan_finished.connect(lambda: done.setdefault("scan", True))
w.tagging_finished.connect(lambda s: done.setdefault("tag", s))

def wait(key, timeout=120):
    end = time.monotonic() + timeout
    while key not in done and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    assert key in done, key

w.library_ctl.add_folder(folder)
wait("scan")
w.tagging_ctl.start_tagging(bundle)
wait("tag")
summary = done["tag"]
w.tabs.setCurrentWidget(w.models_tab)
w.models_tab.add_bundle(bundle)
end = time.monotonic() + 60
while (w.models_tab.is_loading() or w.models_tab.current_info() is None) and time.monotonic() < end:
    app.processEvents()
    time.sleep(0.01)
info = w.models_tab.current_info()
w.close()
print("tagged", summary.tagged, "labels", ",".join(info.labels), "evaluation", info.evaluation is not None)
print("torch", "torch" in sys.modules)
"""


def test_tagging_and_the_models_tab_never_import_torch_in_the_app(
    tmp_path: Path, tiny_bundle_path: Path
) -> None:
    folder = tmp_path / "photos"
    for i, colour in enumerate(["red", "green", "blue"] * 2):
        make_photo(folder / f"{colour}_{i}.jpg", (64, 48), colour)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "lib.ffcat"), str(folder), str(tiny_bundle_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("tagged 6 labels red,green,blue"), out.stdout
    assert lines[-1] == "torch False", out.stdout
