"""Tagging and training take turns: the queue alone, then the real window with real tagging and a fake trainer."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from fashion_desktop.gui import settings
from fashion_desktop.gui.job_queue import JobQueue
from fashion_desktop.gui.main_window import MainWindow
from tests.gui.test_train_tab import fake_factory


class Jobs:
    """Two pretend jobs whose ``running`` flags the test flips, and a record of what the queue started."""

    def __init__(self, qtbot, take_turns: bool = True) -> None:
        self.running = {"tagging": False, "training": False}
        self.started: list[str] = []
        self.lines: list[str] = []
        self.queue = JobQueue(take_turns)
        self.queue.add_kind("tagging", "Tagging", lambda: self.running["tagging"], lambda: "1,234/5,000")
        self.queue.add_kind("training", "Training", lambda: self.running["training"])
        self.queue.changed.connect(self.lines.append)

    def starter(self, kind: str):
        def start() -> None:
            self.started.append(kind)
            self.running[kind] = True

        return start

    def end(self, kind: str) -> None:
        self.running[kind] = False
        self.queue.update()


def test_a_job_asked_for_while_the_other_kind_runs_waits_then_starts(qtbot) -> None:
    j = Jobs(qtbot)
    assert j.queue.submit("training", j.starter("training")) is True  # nothing else runs: at once
    assert j.started == ["training"] and j.lines[-1] == "Training running"
    assert j.queue.submit("tagging", j.starter("tagging")) is False
    assert j.started == ["training"] and j.queue.waiting() == ["tagging"]
    assert j.lines[-1] == "Training running · Tagging waits"
    assert j.queue.blocked_by("tagging") == ["Training"]
    j.end("training")
    qtbot.waitUntil(lambda: j.started == ["training", "tagging"], timeout=2000)
    assert j.queue.waiting() == [] and j.lines[-1] == "Tagging 1,234/5,000"
    j.end("tagging")
    assert j.lines[-1] == ""  # nothing runs or waits: the status bar is clear


def test_a_waiting_job_can_be_withdrawn_replaced_or_run_now(qtbot) -> None:
    j = Jobs(qtbot)
    j.queue.submit("tagging", j.starter("tagging"))
    first, second = [], []
    assert j.queue.submit("training", lambda: first.append(1)) is False
    assert j.queue.submit("training", lambda: second.append(1)) is False  # one waiting job per kind
    assert j.lines[-1] == "Tagging 1,234/5,000 · Training waits"
    assert j.queue.run_now() == ["training"]
    assert (first, second) == ([], [1]) and j.queue.waiting() == []
    j.queue.submit("training", j.starter("training"))
    assert j.queue.withdraw("training") is True and j.queue.withdraw("training") is False
    j.end("tagging")
    qtbot.wait(50)
    assert j.started == ["tagging"]  # the withdrawn job never started


def test_with_turns_off_both_run_at_once_and_turning_them_off_starts_what_waits(qtbot) -> None:
    j = Jobs(qtbot, take_turns=False)
    assert j.queue.submit("tagging", j.starter("tagging")) is True
    assert j.queue.submit("training", j.starter("training")) is True
    assert j.lines[-1] == "Tagging 1,234/5,000 · Training running"
    k = Jobs(qtbot)
    k.queue.submit("tagging", k.starter("tagging"))
    k.queue.submit("training", k.starter("training"))
    k.queue.set_take_turns(False)
    qtbot.waitUntil(lambda: k.started == ["tagging", "training"], timeout=2000)


# ---------------------------------------------------------------- the window


def scan(qtbot, w: MainWindow, folder) -> None:
    with qtbot.waitSignal(w.scan_finished, timeout=20_000):
        w.library_ctl.add_folder(folder)


def start_fake_training(qtbot, w: MainWindow, tmp_path, scenario: str) -> None:
    tab = w.train_tab
    tab.child_factory = tab.factory = fake_factory(tmp_path, scenario)
    (tmp_path / "train-data").mkdir(exist_ok=True)
    tab.sources.clear()
    tab.add_source(str(tmp_path / "train-data"))
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("cnn"))
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("random"))
    tab.out_edit.setText(str(tmp_path / "run"))
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)


@pytest.mark.slow
def test_tagging_waits_for_training_and_starts_when_it_ends(
    qtbot, window, tmp_path, photo_folder, tiny_bundle_path
) -> None:
    w = window
    scan(qtbot, w, photo_folder)
    start_fake_training(qtbot, w, tmp_path, "stop")
    qtbot.waitUntil(lambda: w.train_tab.epoch == 1, timeout=15_000)
    w.tag_panel.select_bundle(str(tiny_bundle_path))
    qtbot.mouseClick(w.tag_panel.run_button, Qt.MouseButton.LeftButton)
    assert w.tag_worker is None  # not started: it waits its turn
    assert "Waiting for training to finish" in w.tag_panel.rate_label.text()
    assert w.job_status.label.text() == "Training epoch 1 of 2 · Tagging waits"
    assert w.job_status.run_now_button.isVisibleTo(w) and not w.tag_panel.run_button.isEnabled()
    with qtbot.waitSignal(w.tagging_finished, timeout=60_000) as done:
        w.train_tab.stop()  # the run saves its checkpoint and ends: tagging's turn
        qtbot.waitUntil(lambda: w.tag_worker is not None, timeout=15_000)
        assert w.train_tab.state == "stopped" and w.job_status.label.text().startswith("Tagging ")
        assert not w.job_status.run_now_button.isVisibleTo(w)
    assert done.args[0].tagged == 9
    qtbot.waitUntil(lambda: w.job_status.label.text() == "", timeout=2000)


@pytest.mark.slow
def test_run_now_anyway_starts_the_waiting_job_beside_the_running_one(
    qtbot, window, tmp_path, photo_folder, tiny_bundle_path
) -> None:
    w = window
    scan(qtbot, w, photo_folder)
    start_fake_training(qtbot, w, tmp_path, "stop")
    qtbot.waitUntil(lambda: w.train_tab.epoch == 1, timeout=15_000)
    w.tag_panel.select_bundle(str(tiny_bundle_path))
    qtbot.mouseClick(w.tag_panel.run_button, Qt.MouseButton.LeftButton)
    assert w.tag_worker is None
    with qtbot.waitSignal(w.tagging_finished, timeout=60_000) as done:
        qtbot.mouseClick(w.job_status.run_now_button, Qt.MouseButton.LeftButton)
        assert w.tag_worker is not None and w.train_tab.worker is not None  # both at once
    assert done.args[0].tagged == 9 and w.train_tab.state == "running"


@pytest.mark.slow
def test_training_waits_for_tagging_and_a_waiting_run_can_be_stopped(
    qtbot, window, tmp_path, photo_folder, tiny_bundle_path
) -> None:
    w, tab = window, window.train_tab
    scan(qtbot, w, photo_folder)
    w.tag_panel.select_bundle(str(tiny_bundle_path))
    qtbot.mouseClick(w.tag_panel.run_button, Qt.MouseButton.LeftButton)
    assert w.tag_worker is not None  # the tagging process is loading torch and the model
    start_fake_training(qtbot, w, tmp_path, "ok")
    assert tab.state == "queued" and tab.worker is None and tab.busy()
    assert "Waiting for tagging to finish" in tab.status_label.text()
    assert w.job_status.label.text().startswith("Tagging ") and w.job_status.label.text().endswith(
        " · Training waits"
    )
    assert not tab.start_button.isEnabled() and tab.stop_button.isEnabled()
    qtbot.mouseClick(tab.stop_button, Qt.MouseButton.LeftButton)  # changed my mind: drop it
    assert tab.state == "idle" and not tab.busy() and tab.start_button.isEnabled()
    assert w.jobs.waiting() == []
    qtbot.waitSignal(w.tagging_finished, timeout=60_000).wait()
    qtbot.wait(100)
    assert tab.worker is None and not (tmp_path / "argv.jsonl").exists()  # the dropped run never started
    # queued again behind a new tagging run (a re-tag of every photo): it starts when tagging ends
    w.tag_panel.force_box.setChecked(True)
    qtbot.mouseClick(w.tag_panel.run_button, Qt.MouseButton.LeftButton)
    assert w.tag_worker is not None
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert tab.state == "queued"
    qtbot.waitUntil(lambda: tab.state == "finished", timeout=60_000)
    assert w.tag_worker is None and len(tab.factory.argv()) == 1


@pytest.mark.slow
def test_the_take_turns_setting_lets_both_run_at_once_and_is_remembered(
    qtbot, window, tmp_path, photo_folder, tiny_bundle_path
) -> None:
    w = window
    assert w.take_turns_action.isChecked()
    w.take_turns_action.trigger()
    assert not w.jobs.take_turns and settings.get_int(settings.JOBS_TAKE_TURNS, 1) == 0
    scan(qtbot, w, photo_folder)
    start_fake_training(qtbot, w, tmp_path, "stop")
    qtbot.waitUntil(lambda: w.train_tab.epoch == 1, timeout=15_000)
    w.tag_panel.select_bundle(str(tiny_bundle_path))
    with qtbot.waitSignal(w.tagging_finished, timeout=60_000):
        qtbot.mouseClick(w.tag_panel.run_button, Qt.MouseButton.LeftButton)
        assert w.tag_worker is not None  # at once, beside the training run
    again = MainWindow(tmp_path / "lib.ffcat")
    qtbot.addWidget(again)
    assert not again.take_turns_action.isChecked() and not again.jobs.take_turns
    again.close()
