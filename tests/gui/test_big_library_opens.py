"""A big library opens without freezing the window: its photos, scores and decisions are read and scored in a
worker (seconds at a million photos), the window says it is opening meanwhile, then shows exactly what a
library opened at once shows; a folder added meanwhile is scanned once it is loaded, and tagging, relinking or
removing a folder meanwhile say to wait."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from fashion_desktop.core.catalog import Catalog, FileInfo
from fashion_desktop.core.library_columns import LibraryColumns
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.gui import library_session

N = 400
LABELS = ["red", "green", "blue"]


@pytest.fixture
def window_library(tmp_path):
    """A library of 400 photos scored by a model, a person's decision and a saved threshold view."""
    path = tmp_path / "big.ffcat"
    cat = Catalog(path)
    fid = cat.add_folder("/photos")
    files = [FileInfo(f"/photos/p{i:04d}.jpg", 1000 + i, 1_000_000.0 + i) for i in range(N)]
    cat.record_scan_batch(fid, files, cat.new_scan_token(fid))
    cat.register_model("m", LABELS, "Colours", None, {lab: "colour" for lab in LABELS}, None, [])
    ids = [r[0] for r in cat.query("SELECT id FROM images ORDER BY id")]
    rng = np.random.default_rng(1)
    cat.add_predictions("m", zip(ids, rng.random((N, 3), dtype=np.float32), strict=True))
    cat.set_decisions([(ids[0], "blue", True), (ids[0], "red", False)])
    cat.set_view_state("m", ThresholdPolicy(global_threshold=0.7))
    cat.close()
    return path


@pytest.fixture
def loaded_on(monkeypatch):
    """Treat 100 photos as big, and record the threads that load libraries."""
    monkeypatch.setattr(library_session, "ASYNC_VIEW_PHOTOS", 100)
    threads: list[str] = []
    real = LibraryColumns.reload

    def reload(self):
        threads.append(threading.current_thread().name)
        return real(self)

    monkeypatch.setattr(LibraryColumns, "reload", reload)
    return threads


def test_a_big_library_loads_in_a_worker_and_shows_what_opening_it_at_once_shows(
    qtbot, loaded_on, window, window_library, tmp_path
):
    w = window
    session = w.library_ctl.session
    if session.loading:  # it may have finished already on a fast machine
        assert "Opening" in w.status_label.text() and w.library.rowCount() == 0
        with qtbot.waitSignal(session.loaded, timeout=20_000):
            pass
    qtbot.waitUntil(lambda: "400 photos" in w.status_label.text(), timeout=5_000)
    assert loaded_on and threading.main_thread().name not in loaded_on
    m = w.library
    assert m.rowCount() == N and m.model_key == "m"
    first = m.id_at(0)
    assert m.tags_of(first) == ["blue"] and m.decision(first, "red") is False
    # The saved threshold view is in effect: 0.7 everywhere, in the panel and in the tags shown
    assert m.thresholds() == pytest.approx(dict.fromkeys(LABELS, 0.7))
    assert w.view_state.panel.policy() == ThresholdPolicy(global_threshold=0.7)
    for row in range(1, 40):
        i = m.id_at(row)
        assert m.tags_of(i) == [lab for lab in LABELS if m.scores_of(i)[lab] >= 0.7]

    # The same library opened at once (small-library path) shows the same
    at_once = Catalog(window_library)
    from fashion_desktop.gui.tag.library_model import LibraryModel

    ref = LibraryModel(at_once)
    ref.columns.policy = ThresholdPolicy(global_threshold=0.7)
    ref.set_active_model("m")
    ref.reload()
    assert [m.tags_of(m.id_at(r)) for r in range(N)] == [ref.tags_of(ref.id_at(r)) for r in range(N)]
    assert m.counts() == ref.counts()
    ref.reader.close()
    at_once.close()


def test_a_folder_added_while_the_library_loads_is_scanned_once_it_is_loaded(
    qtbot, monkeypatch, window_library, tmp_path, tiny_bundle_path
):
    monkeypatch.setattr(library_session, "ASYNC_VIEW_PHOTOS", 100)
    release = threading.Event()
    real = LibraryColumns.reload

    def slow_reload(self):
        release.wait(20)
        return real(self)

    monkeypatch.setattr(LibraryColumns, "reload", slow_reload)
    from fashion_desktop.gui.main_window import MainWindow

    w = MainWindow(window_library)
    w.show()
    try:
        session = w.library_ctl.session
        assert session.loading
        qtbot.waitUntil(lambda: "Opening" in w.status_label.text(), timeout=5_000)
        # Not the first-launch page ("Add a folder of photos to start"): the grid, saying it is opening
        assert not w.tag_page.first_launch_shown() and "still opening" in w.tag_page.grid.count_label.text()
        assert not w.tag_panel.run_button.isEnabled()
        more = tmp_path / "more"
        more.mkdir()
        for i in range(3):
            Image.new("RGB", (40, 40), (200, 20 * i, 20)).save(more / f"new{i}.jpg")
        w.library_ctl.add_folder(more)
        qtbot.wait(200)
        assert not session.scanning() or session.scan_worker is None  # waits for the load
        # What cannot wait says so, and starts nothing
        w.tagging_ctl.start_tagging(str(tiny_bundle_path))
        assert "still opening" in w.statusBar().currentMessage() and session.tag_worker is None
        assert not w.library_ctl.relink_folder("/photos", str(more))
        assert "still opening" in w.statusBar().currentMessage() and session.relink_worker is None
        w.library_ctl.remove_folder("/photos")
        assert "has opened" in w.statusBar().currentMessage() and "/photos" in session.catalog.folders()
        w.messages.last_warning.close()
        release.set()
        with qtbot.waitSignal(w.scan_finished, timeout=20_000):
            pass
        assert w.library.image_count() == N + 3 and w.library.model_key == "m"
    finally:
        release.set()
        w.train_tab.shutdown(15_000)
        w.close()
        w.deleteLater()
