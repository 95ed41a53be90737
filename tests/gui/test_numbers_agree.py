"""One number, one source: the status bar, the quit question, the bars, the finished line, the plots and the
runs list say the same thing at the same moment; the time left honours the time limit (issue 19, item 4)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor

from fashion_desktop.gui.train.train_tab import TrainTab, lower_priority
from fashion_desktop.gui.worker import Child
from fashion_desktop.model.progress_text import percent
from fashion_desktop.model.protocol import TRAINING, Progress

REPO = Path(__file__).resolve().parents[2]

# A trainer that writes its events to the run folder too; ``at`` puts an event at T0 + at on its clock.
FAKE = r"""
import json, os, signal, sys, time
from fashion_desktop.model import protocol as p

scenario = os.environ["FAKE_SCENARIO"]
out = sys.argv[sys.argv.index("--out") + 1]
os.makedirs(out, exist_ok=True)
log = open(os.path.join(out, "events.jsonl"), "a", encoding="utf-8")
T0 = time.time()

def ev(name, at=None, **f):
    msg = json.loads(p.encode(name, **f))
    if at is not None:
        msg["time"] = T0 + at
    line = json.dumps(msg)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    log.write(line + "\n")
    log.flush()

def stopped(signum, frame):
    ev(p.RUN_STOPPED, message="stopped at epoch 1", resume=out)
    sys.exit(143)

signal.signal(signal.SIGTERM, stopped)
labels = ["red", "blue"]
if scenario == "cache":  # 223 of 250 photos decoded, then slow
    ev(p.RUN_STARTED, config={"epochs": 10, "arch": "cnn"}, labels=labels, dataset={"train": 200})
    for step in (100, 223):
        ev(p.PROGRESS, phase="cache", step=step, steps=250)
elif scenario == "limit":  # a 4-minute limit; at this pace 10 epochs would take 16 minutes
    ev(p.RUN_STARTED, at=0, config={"epochs": 10, "time_limit_min": 4.0}, labels=labels, dataset={})
    ev(p.PROGRESS, at=10, phase="cache", step=250, steps=250)
    ev(p.PROGRESS, at=20, phase="train", epoch=1, epochs=10, step=1, steps=100, batch_loss=0.9)
    ev(p.PROGRESS, at=30, phase="train", epoch=1, epochs=10, step=11, steps=100, batch_loss=0.8)
else:  # "finish": the trainer keeps epoch 2 (its own criterion); epoch 3 has the higher F1 macro
    ev(p.RUN_STARTED, config={"epochs": 3, "arch": "cnn"}, labels=labels, dataset={"train": 8})
    rows = [(0.30, 0.50, 0.55, True), (0.361, 0.52, 0.61, True), (0.40, 0.60, 0.58, False)]
    for epoch, (macro, micro, colour, improved) in enumerate(rows, start=1):
        for step in (1, 2):
            ev(p.PROGRESS, phase="train", epoch=epoch, epochs=3, step=step, steps=2, batch_loss=1.0 / step)
        ev(p.EPOCH_END, epoch=epoch, epochs=3, improved=improved, train_loss=0.9 / epoch, val_loss=1.0 / epoch,
           val_f1_micro=micro, val_f1_macro=macro, lr=0.001, val_groups={"colour": {"top1_accuracy": colour}})
        if scenario == "one_epoch":
            break
    if scenario == "finish":
        tuned = {"overall": {"f1_macro": 0.7145, "f1_micro": 0.83}, "groups": {"colour": {"top1_accuracy": 0.61}}}
        with open(os.path.join(out, "metrics.json"), "w") as fh:
            json.dump({"best_epoch": 2, "val": tuned}, fh)
        ev(p.RUN_FINISHED, bundle=os.path.join(out, "model.fmodel"),
           metrics={"val": tuned["overall"], "val_groups": tuned["groups"], "best_epoch": 2})
        sys.exit(0)
while True:
    time.sleep(0.05)
"""


def fake_factory(tmp_path: Path, scenario: str):
    script = tmp_path / "fake_numbers_trainer.py"
    script.write_text(FAKE)
    env = dict(os.environ)
    env.update(PYTHONPATH=str(REPO), FAKE_SCENARIO=scenario, PYTHONUNBUFFERED="1")

    def factory(args):
        return lower_priority(Child(sys.executable, (str(script), *args), TRAINING, b"", None, (0, 143), env))

    return factory


def fill_form(tab: TrainTab, tmp_path: Path, scenario: str) -> None:
    tab.child_factory = fake_factory(tmp_path, scenario)
    (tmp_path / "train-data").mkdir(exist_ok=True)
    tab.sources.clear()
    tab.add_source(str(tmp_path / "train-data"))
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("cnn"))
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("random"))
    tab.out_edit.setText(str(tmp_path / "run"))


def make_tab(qtbot, tmp_path: Path, scenario: str) -> TrainTab:
    tab = TrainTab()
    qtbot.addWidget(tab)
    fill_form(tab, tmp_path, scenario)
    return tab


@pytest.mark.slow
def test_the_status_bar_and_the_quit_question_say_what_the_tag_tabs_bar_shows(
    qtbot, window, photo_folder, tiny_bundle_path
) -> None:
    w = window
    with qtbot.waitSignal(w.scan_finished, timeout=20_000):
        w.library_ctl.add_folder(photo_folder)
    seen: list[tuple[int, int, str, str, list[str]]] = []

    def look(event) -> None:  # connected after the window's own handler: what a person sees right then
        if isinstance(event, Progress):
            bar = w.tag_panel.progress.text()
            seen.append((event.done, event.total, bar, w.job_status.label.text(), w.running_jobs()))

    w.library_ctl.session.tag_event.connect(look)
    w.tag_panel.select_bundle(str(tiny_bundle_path))
    with qtbot.waitSignal(w.tagging_finished, timeout=60_000):
        qtbot.mouseClick(w.tag_panel.run_button, Qt.MouseButton.LeftButton)
    assert seen and seen[-1][:2] == (9, 9)
    for done, total, bar, line, jobs in seen:
        pct = percent(done, total)
        assert (bar, line) == (f"{pct} %", f"Tagging {done:,}/{total:,}"), (done, total, bar, line)
        assert jobs == [f"Tagging is running ({done:,} of {total:,} done, {pct} %)"]


@pytest.mark.slow
def test_the_status_bar_and_the_quit_question_say_what_the_train_tabs_bar_shows(
    qtbot, window, tmp_path
) -> None:
    w, tab = window, window.train_tab
    fill_form(tab, tmp_path, "cache")
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "223 of 250" in tab.status_label.text(), timeout=15_000)
    assert w.running_jobs() == ["Training is running (preparing the photos, 89 %)"]
    assert w.job_status.label.text() == "Training preparing the photos, 89 %"
    assert tab.progress.value() == 223 and tab.progress.maximum() == 250 and tab.progress.text() == "89 %"
    assert tab.status_label.text() == "Preparing the photos: 223 of 250"
    w.close()
    assert w.quit_box is not None and "Training is running (preparing the photos, 89 %)." in w.quit_box.text()
    qtbot.mouseClick(w.stop_quit_button, Qt.MouseButton.LeftButton)
    assert not w.isVisible()


@pytest.mark.slow
def test_the_time_left_honours_the_time_limit(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path, "limit")
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "step 11 of 100" in tab.status_label.text(), timeout=15_000)
    # 220 s of the 4 minutes are left once the photos were prepared (10 s in) and 30 s have gone; at this
    # pace the 10 epochs would take another 16m 29s, which the trainer will not get.
    assert "about 3m 40s left (time limit)" in tab.status_label.text(), tab.status_label.text()
    tab.stop()
    qtbot.waitUntil(lambda: not tab.busy(), timeout=15_000)


@pytest.mark.slow
def test_the_finished_line_the_f1_plot_and_the_runs_list_give_the_same_f1(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path, "finish")
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy(), timeout=20_000)
    assert tab.state == "finished", tab.banner.text()
    line = tab.status_label.text()
    assert "Model from epoch 2: val F1 micro 0.520, macro 0.361; colour accuracy 0.610" in line, line
    assert "0.7145" not in line
    tab.plots.redraw()
    xs, ys = tab.plots.curve_data("f1_macro")
    assert xs == [1, 2, 3] and ys[xs.index(2)] == pytest.approx(0.361)
    qtbot.waitUntil(lambda: tab.history.names() == ["run"], timeout=15_000)
    model = tab.history.model
    column = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())].index(
        "Val F1 macro"
    )
    assert model.index(0, column).data() == "0.361"


def _drawn_at(plot, x: float, y: float, colour: str) -> bool:
    """Whether a person sees ``colour`` where point (x, y) of ``plot`` is."""
    plot.grab()  # lays the plot out for its data, so the point maps to where it is drawn
    vb = plot.getPlotItem().getViewBox()
    where = plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
    image = plot.grab().toImage()
    want = QColor(colour)
    for dx in range(-2, 3):
        for dy in range(-2, 3):
            c = image.pixelColor(where.x() + dx, where.y() + dy)
            if (
                max(abs(c.red() - want.red()), abs(c.green() - want.green()), abs(c.blue() - want.blue()))
                < 40
            ):
                return True
    return False


@pytest.mark.slow
def test_the_per_epoch_plots_show_the_first_epoch(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path, "one_epoch")
    tab.resize(1400, 900)
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.plots.curve_data("f1_macro")[0] == [1.0], timeout=15_000)
    qtbot.waitUntil(lambda: tab.plots.curve_data("train_loss")[0] == [1.0], timeout=5_000)
    assert _drawn_at(tab.plots.f1_plot, 1.0, 0.30, "#ff7f0e"), "epoch 1's F1 macro is not drawn"
    assert _drawn_at(tab.plots.epoch_plot, 1.0, 0.9, "#1f77b4"), "epoch 1's training loss is not drawn"
    tab.stop()
    qtbot.waitUntil(lambda: not tab.busy(), timeout=15_000)
