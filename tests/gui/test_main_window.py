"""The real main window driven like a person would: add a folder, tag, review by keyboard, undo, reopen."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from fashion_desktop.gui import settings
from fashion_desktop.gui.main_window import MainWindow
from fashion_desktop.gui.tag.library_model import Roles
from tests.conftest import make_photo


def scan(qtbot, w: MainWindow, folder: Path) -> None:
    with qtbot.waitSignal(w.scan_finished, timeout=20_000):
        w.library_ctl.add_folder(folder)


def tag(qtbot, w: MainWindow, bundle: Path) -> None:
    w.tag_panel.select_bundle(str(bundle))
    with qtbot.waitSignal(w.tagging_finished, timeout=60_000):
        qtbot.mouseClick(w.tag_panel.run_button, Qt.MouseButton.LeftButton)


def start_a_long_run(qtbot, w: MainWindow, folder: Path, bundle: Path, n: int) -> None:
    """Tag ``n`` photos one per batch; return once some show tags, so done work exists and must be kept."""
    for i in range(n):
        make_photo(folder / f"p{i:03d}.jpg", (64, 48), ["red", "green", "blue"][i % 3])
    scan(qtbot, w, folder)
    w.tag_panel.batch_spin.setValue(1)
    w.tag_panel.select_bundle(str(bundle))
    qtbot.mouseClick(w.tag_panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.tag_worker is None or any(w.library.counts()[0].values()), timeout=30_000)


def grid_rows(w: MainWindow) -> dict[str, int]:
    m = w.library
    return {Path(m.index(r).data(Roles.Path)).name: r for r in range(m.rowCount())}


def chips(w: MainWindow, name: str) -> list[str]:
    return w.library.index(grid_rows(w)[name]).data(Roles.FinalTags)


def select(qtbot, w: MainWindow, name: str) -> None:
    idx = w.review_ctl.view_index(w.library.id_at(grid_rows(w)[name]))
    w.grid.setFocus()
    w.grid.scrollTo(idx)
    qtbot.mouseClick(w.grid.viewport(), Qt.MouseButton.LeftButton, pos=w.grid.visualRect(idx).center())
    assert w.grid.currentIndex() == idx


def test_scan_shows_every_photo(qtbot, window, photo_folder):
    scan(qtbot, window, photo_folder)
    assert sorted(grid_rows(window)) == sorted(p.name for p in photo_folder.rglob("*.jpg"))
    assert "9 of 9 photos" in window.tag_page.grid.count_label.text()


def test_after_the_scan_photos_get_sizes_and_content_hashes_in_the_background(qtbot, window, photo_folder):
    """The grid shows the photos first; width, height and the hash (for relinking a moved folder) follow."""
    scan(qtbot, window, photo_folder)

    def described() -> bool:
        records = window.catalog.images()
        return bool(records) and all(r.content_hash and r.width for r in records)

    qtbot.waitUntil(described, timeout=20_000)
    widths = {Path(r.path).name: (r.width, r.height) for r in window.catalog.images()}
    assert len(widths) == 9 and all(w > 0 and h > 0 for w, h in widths.values())


@pytest.mark.slow
def test_tagging_shows_colour_chips_and_rerun_skips(qtbot, window, photo_folder, tiny_bundle_path):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    for name in grid_rows(window):
        colour = name.split("_")[0]
        assert chips(window, name) == [colour], name
    with qtbot.waitSignal(window.tagging_finished, timeout=60_000) as blocker:
        qtbot.mouseClick(window.tag_panel.run_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].skipped == 9 and blocker.args[0].tagged == 0


@pytest.mark.slow
def test_keyboard_review_undo_redo_and_reopen(qtbot, window, photo_folder, tiny_bundle_path, tmp_path):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    select(qtbot, window, "red_0.jpg")
    key_green = window.review.keys["green"]
    key_red = window.review.keys["red"]
    qtbot.keyClick(window.grid, key_green)
    assert chips(window, "red_0.jpg") == ["red", "green"]
    assert window.review.rows["green"].source == "person"
    qtbot.keyClick(window.grid, key_red)
    assert chips(window, "red_0.jpg") == ["green"]
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    assert window.library.index(grid_rows(window)["red_0.jpg"]).data(Roles.State) == "reviewed"
    window.undo_action.trigger()  # undo the review mark
    assert window.library.index(grid_rows(window)["red_0.jpg"]).data(Roles.State) == "predicted"
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo "remove red"
    assert chips(window, "red_0.jpg") == ["red", "green"]
    qtbot.keyClick(
        window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert chips(window, "red_0.jpg") == ["green"]
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    # J jumps to the next photo that still needs review.
    qtbot.keyClick(window.grid, Qt.Key.Key_J)
    current = window.grid.currentIndex()
    assert current.data(Roles.State) != "reviewed"
    path = window.catalog.path
    window.close()

    again = MainWindow(path)
    qtbot.addWidget(again)
    try:
        assert chips(again, "red_0.jpg") == ["green"]
        assert again.library.index(grid_rows(again)["red_0.jpg"]).data(Roles.State) == "reviewed"
        assert again.library.labels == ("red", "green", "blue")
    finally:
        again.close()


@pytest.mark.slow
def test_batch_edit_of_a_selection_is_one_undo_step(qtbot, window, photo_folder, tiny_bundle_path):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(window.review_ctl.selected_ids()) == 9
    window.review_ctl.set_tag_on_selection("blue", True)
    assert all("blue" in chips(window, n) for n in grid_rows(window))
    window.review_ctl.accept_predictions()
    assert all(window.library.index(r).data(Roles.State) == "reviewed" for r in range(9))
    window.undo_action.trigger()
    assert all(window.library.index(r).data(Roles.State) == "predicted" for r in range(9))
    window.undo_action.trigger()
    assert chips(window, "red_0.jpg") == ["red"]
    assert chips(window, "blue_2.jpg") == ["blue"]
    window.redo_action.trigger()
    assert all("blue" in chips(window, n) for n in grid_rows(window))


@pytest.mark.slow
def test_thresholds_change_the_chips_and_counts(qtbot, window, photo_folder, tiny_bundle_path):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    assert chips(window, "green_1.jpg") == ["green"]
    panel = window.threshold_panel
    if panel.tuned_check.isChecked():
        qtbot.mouseClick(
            panel.tuned_check, Qt.MouseButton.LeftButton, pos=QPoint(6, panel.tuned_check.height() // 2)
        )
    panel.slider.setFocus()
    qtbot.keyClick(panel.slider, Qt.Key.Key_Home)  # global threshold 0.00: every label passes
    qtbot.waitUntil(lambda: chips(window, "green_1.jpg") == ["red", "green", "blue"])
    qtbot.waitUntil(lambda: window.library.counts()[0] == {"red": 9, "green": 9, "blue": 9})
    qtbot.keyClick(panel.slider, Qt.Key.Key_End)  # 1.00: nothing passes
    qtbot.waitUntil(lambda: chips(window, "green_1.jpg") == [])
    window.filters.set_tags(["green"], "any")
    assert window.library.rowCount() == 0


@pytest.mark.slow
def test_filters_by_tag_and_review_state(qtbot, window, photo_folder, tiny_bundle_path):
    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    window.filters.set_tags(["red"], "any")
    assert sorted(grid_rows(window)) == ["red_0.jpg", "red_3.jpg", "red_6.jpg"]
    window.filters.set_tags(["red", "blue"], "none")
    assert sorted(grid_rows(window)) == ["green_1.jpg", "green_4.jpg", "green_7.jpg"]
    window.filters.set_tags([], "any")
    assert len(grid_rows(window)) == 9


@pytest.mark.slow
def test_bad_files_are_listed_with_reasons(qtbot, window, bad_folder, tiny_bundle_path):
    folder, cases = bad_folder
    scan(qtbot, window, folder)
    tag(qtbot, window, tiny_bundle_path)
    listed = {
        window.tag_panel.failed_list.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(window.tag_panel.failed_list.count())
    }
    for name in ("empty", "truncated", "not_image", "bomb"):
        assert str(cases[name]) in listed
    window.filters.set_review("failed")
    assert {
        Path(p).name
        for p in (window.library.index(r).data(Roles.Path) for r in range(window.library.rowCount()))
    } == {cases[n].name for n in ("empty", "truncated", "not_image", "bomb")}


def test_rescan_finds_new_and_removed_files(qtbot, window, photo_folder):
    scan(qtbot, window, photo_folder)
    make_photo(photo_folder / "new_one.jpg")
    (photo_folder / "red_0.jpg").unlink()
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.rescan_action.trigger()
    names = grid_rows(window)
    assert "new_one.jpg" in names and "red_0.jpg" not in names


@pytest.mark.slow
def test_rescan_of_a_changed_file_drops_its_stale_tags_but_keeps_decisions(
    qtbot, window, photo_folder, tiny_bundle_path
):
    import os

    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    select(qtbot, window, "green_1.jpg")
    qtbot.keyClick(window.grid, window.review.keys["blue"])
    select(qtbot, window, "red_3.jpg")
    target = photo_folder / "red_3.jpg"
    make_photo(target, (200, 150), "blue")  # same name, new content
    os.utime(target, (1_000_000_000, 1_000_000_000))
    make_photo(photo_folder / "green_1.jpg", (200, 150), "green")
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.rescan_action.trigger()
    assert chips(window, "red_3.jpg") == []  # the old "red" score belonged to the old photo
    assert window.library.index(grid_rows(window)["red_3.jpg"]).data(Roles.State) == "untagged"
    assert chips(window, "green_1.jpg") == ["blue"]  # the person's decision survives the change
    assert chips(window, "red_6.jpg") == ["red"]


@pytest.mark.slow
def test_export_from_the_window_writes_what_the_grid_shows(
    qtbot, window, photo_folder, tiny_bundle_path, tmp_path
):
    import csv

    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    select(qtbot, window, "red_0.jpg")
    qtbot.keyClick(window.grid, window.review.keys["blue"])  # a person's decision must be exported too
    window.filters.set_tags(["red"], "any")
    dlg = window.transfer_ctl.export_dialog()
    qtbot.waitExposed(dlg)
    dlg.format_combo.setCurrentIndex(dlg.format_combo.findData("csv"))
    dlg.scope_buttons["filtered"].setChecked(True)
    assert dlg.scope() == "filtered"
    out = tmp_path / "out.csv"
    dlg.path_edit.setText(str(out))
    with qtbot.waitSignal(dlg.exported, timeout=20_000):
        qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    from fashion_desktop.core.export import PATH_COLUMN, TAG_SEPARATOR, TAGS_COLUMN

    with open(out, newline="", encoding="utf-8-sig") as fh:
        table = csv.DictReader(line for line in fh if not line.startswith("#"))  # the "About" header
        rows = {Path(r[PATH_COLUMN]).name: r[TAGS_COLUMN].split(TAG_SEPARATOR) for r in table}
    assert rows == {"red_0.jpg": ["red", "blue"], "red_3.jpg": ["red"], "red_6.jpg": ["red"]}


@pytest.mark.slow
def test_cancel_keeps_what_was_tagged_and_a_rerun_finishes_the_rest(
    qtbot, window, tmp_path, tiny_bundle_path, held_tagging
):
    n = 400
    with qtbot.waitSignal(window.tagging_finished, timeout=60_000) as blocker:
        start_a_long_run(qtbot, window, tmp_path / "many", tiny_bundle_path, n)
        qtbot.mouseClick(window.tag_panel.cancel_button, Qt.MouseButton.LeftButton)
    first = blocker.args[0]
    assert first.cancelled
    kept = len(window.catalog.predicted_paths("tiny-test-model"))
    assert 0 < kept < n and kept == first.tagged
    shown = sum(bool(window.library.index(r).data(Roles.FinalTags)) for r in range(n))
    assert shown == kept
    held_tagging.release()
    with qtbot.waitSignal(window.tagging_finished, timeout=60_000) as blocker:
        qtbot.mouseClick(window.tag_panel.run_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].skipped == kept and blocker.args[0].tagged == n - kept


@pytest.mark.slow
def test_window_remembers_geometry_recent_folders_and_bundles(
    qtbot, tmp_path, photo_folder, tiny_bundle_path
):
    w = MainWindow(tmp_path / "lib.ffcat")
    qtbot.addWidget(w)
    w.show()
    w.resize(700, 500)  # the offscreen screen is small and clamps restored geometry
    scan(qtbot, w, photo_folder)
    tag(qtbot, w, tiny_bundle_path)
    w.tag_page.grid.slider.setValue(100)
    w.resize(w.width(), 480)
    saved_height = w.height()
    w.close()
    again = MainWindow()  # no library given: the last one opens
    qtbot.addWidget(again)
    try:
        assert again.catalog.path == tmp_path / "lib.ffcat"
        assert settings.get_bytes(settings.GEOMETRY) is not None
        assert again.height() == saved_height  # (the offscreen screen is too narrow to test widths)
        assert [a.text() for a in again.recent_folders_menu.actions()] == [str(photo_folder.resolve())]
        assert again.tag_panel.current_bundle() == str(tiny_bundle_path)
        assert again.tag_page.grid.slider.value() == 100
        assert again.library.rowCount() == 9
    finally:
        again.close()


def test_dropping_a_folder_adds_and_scans_it(qtbot, window, photo_folder):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo_folder))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.dropEvent(event)
    assert window.library.rowCount() == 9
    assert window.catalog.folders() == [str(photo_folder.resolve())]


@pytest.mark.slow
def test_label_key_on_a_selection_edits_every_photo_and_shows_partial_state(
    qtbot, window, photo_folder, tiny_bundle_path
):
    from PySide6.QtCore import QItemSelectionModel

    scan(qtbot, window, photo_folder)
    tag(qtbot, window, tiny_bundle_path)
    select(qtbot, window, "red_0.jpg")
    green = window.review_ctl.view_index(window.library.id_at(grid_rows(window)["green_1.jpg"]))
    window.grid.selectionModel().select(green, QItemSelectionModel.SelectionFlag.Select)
    assert window.review.rows["red"].box.checkState() == Qt.CheckState.PartiallyChecked
    qtbot.keyClick(window.grid, window.review.keys["red"])  # not all have it: add it to all
    assert chips(window, "red_0.jpg") == ["red"] and chips(window, "green_1.jpg") == ["red", "green"]
    qtbot.keyClick(window.grid, window.review.keys["red"])  # all have it now: remove from all
    assert chips(window, "red_0.jpg") == [] and chips(window, "green_1.jpg") == ["green"]
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert chips(window, "red_0.jpg") == ["red"] and chips(window, "green_1.jpg") == ["red", "green"]


def test_models_tab_use_for_tagging_selects_the_bundle(qtbot, window, tiny_bundle_path):
    window.models_tab.set_bundle_paths([str(tiny_bundle_path)])
    window.tabs.setCurrentWidget(window.models_tab)
    window.models_tab.select_path(str(tiny_bundle_path))
    with qtbot.waitSignal(window.models_tab.model_activated, timeout=30_000):
        qtbot.waitUntil(
            lambda: window.models_tab.current_info() is not None and window.models_tab.current_info().ok,
            timeout=30_000,
        )
        qtbot.mouseClick(window.models_tab.use_button, Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.tag_page
    assert window.tag_panel.current_bundle() == str(tiny_bundle_path)


@pytest.mark.slow
def test_a_broken_bundle_says_which_file_and_loses_nothing(qtbot, window, photo_folder, tmp_path):
    scan(qtbot, window, photo_folder)
    select(qtbot, window, "red_0.jpg")
    window.review_ctl.set_tag_on_selection(
        "dress", True
    )  # a decision made before the failed run (no model yet)
    assert chips(window, "red_0.jpg") == ["dress"]
    bad = tmp_path / "broken.fmodel"
    bad.write_bytes(b"this is not a model")
    window.tag_panel.select_bundle(str(bad))
    with qtbot.waitSignal(window.tagging_finished, timeout=30_000) as blocker:
        qtbot.mouseClick(window.tag_panel.run_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] is None
    assert str(bad) in window.last_warning.text() and window.last_warning.isVisible()
    assert str(bad) in window.tag_panel.rate_label.text()
    assert window.tag_panel.run_button.isEnabled()
    assert window.catalog.decisions(window.library.id_at(grid_rows(window)["red_0.jpg"])) == {"dress": True}
    assert chips(window, "red_0.jpg") == ["dress"]
    window.last_warning.close()


@pytest.mark.slow
def test_library_tagged_on_the_command_line_opens_with_chips_and_tuned_thresholds(
    qtbot, tmp_path, photo_folder, tiny_bundle_path
):
    from fashion_desktop.cli import main as fashion
    from fashion_desktop.model.bundle import load_bundle, save_bundle, with_thresholds

    # A bundle tuned to demand more of "red" than the tiny model's red score (~0.98) gives.
    strict = save_bundle(
        with_thresholds(load_bundle(tiny_bundle_path), [0.99, 0.5, 0.5]), tmp_path / "strict.fmodel"
    )
    lib = tmp_path / "cli.ffcat"
    assert (
        fashion(
            [
                "tag",
                str(photo_folder),
                "--model",
                str(strict),
                "--catalog",
                str(lib),
                "--out",
                str(tmp_path / "out.csv"),
            ]
        )
        == 0
    )
    w = MainWindow(lib)
    qtbot.addWidget(w)
    w.show()
    try:
        assert list(w.library.defaults) == pytest.approx([0.99, 0.5, 0.5])
        assert chips(w, "green_1.jpg") == ["green"]
        assert chips(w, "blue_2.jpg") == ["blue"]
        assert chips(w, "red_0.jpg") == []  # 0.98 < the bundle's tuned 0.99
    finally:
        w.close()


@pytest.mark.slow
def test_a_tagging_process_that_dies_mid_run_is_reported_and_its_saved_batches_stay(
    qtbot, window, tmp_path, tiny_bundle_path, held_tagging
):
    """Tagging runs in a child process: killing it (a driver crash, the OOM killer) must not take the
    window with it; the batches it committed stay and a re-run does only the rest."""
    import os
    import signal

    n = 300
    with qtbot.waitSignal(window.tagging_finished, timeout=60_000) as blocker:
        start_a_long_run(qtbot, window, tmp_path / "many", tiny_bundle_path, n)
        assert window.tag_worker is not None
        os.kill(window.tag_worker.process_id(), signal.SIGKILL)
    assert blocker.args[0] is None
    text = window.last_warning.text()
    assert "tagging process crashed" in text and "kept" in text
    assert window.tag_panel.run_button.isEnabled() and window.tag_worker is None
    kept = len(window.catalog.predicted_paths("tiny-test-model"))
    assert 0 < kept < n
    window.last_warning.close()
    held_tagging.release()
    with qtbot.waitSignal(window.tagging_finished, timeout=60_000) as blocker:
        qtbot.mouseClick(window.tag_panel.run_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].skipped == kept and blocker.args[0].tagged == n - kept
    assert sum(bool(window.library.index(r).data(Roles.FinalTags)) for r in range(n)) == n


@pytest.mark.slow
def test_closing_the_window_mid_run_stops_the_tagging_process_and_keeps_its_batches(
    qtbot, tmp_path, tiny_bundle_path, held_tagging
):
    """No orphaned process keeps a CPU busy after the app is closed; what it saved is there next time."""
    import os

    n = 300
    w = MainWindow(tmp_path / "lib.ffcat")
    qtbot.addWidget(w)
    w.show()
    start_a_long_run(qtbot, w, tmp_path / "many", tiny_bundle_path, n)
    assert w.tag_worker is not None
    pid = w.tag_worker.process_id()
    w.close()  # asks first (the run goes on meanwhile); "Stop & quit" closes
    assert w.quit_box is not None and w.isVisible()
    qtbot.mouseClick(w.stop_quit_button, Qt.MouseButton.LeftButton)
    assert not w.isVisible()
    with pytest.raises(ProcessLookupError):  # the child has exited and been reaped
        os.kill(pid, 0)
    again = MainWindow(tmp_path / "lib.ffcat")
    qtbot.addWidget(again)
    again.show()
    kept = len(again.catalog.predicted_paths("tiny-test-model"))
    assert 0 < kept < n
    assert sum(bool(again.library.index(r).data(Roles.FinalTags)) for r in range(n)) == kept
    held_tagging.release()
    tag(qtbot, again, tiny_bundle_path)
    assert len(again.catalog.predicted_paths("tiny-test-model")) == n
    again.close()
