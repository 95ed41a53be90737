"""The Train tab driven like a person would, against a fake trainer that prints canned protocol events."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from fashion_desktop.gui.train import run_control
from fashion_desktop.gui.train import train_tab as tt
from fashion_desktop.gui.train.train_form import TrainForm
from fashion_desktop.gui.train.train_plots import Series
from fashion_desktop.gui.train.train_tab import TrainTab, lower_priority
from fashion_desktop.gui.worker import Child
from fashion_desktop.model.protocol import TRAINING

REPO = Path(__file__).resolve().parents[2]

FAKE = r"""
import json, os, signal, sys, time
from fashion_desktop.model import protocol as p

scenario = os.environ["FAKE_SCENARIO"]
with open(os.environ["FAKE_ARGV"], "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\n")

def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

def ev(name, **f):
    out(p.encode(name, **f))

ev(p.RUN_STARTED, config={"epochs": 2}, labels=["red", "blue"], dataset={"train": 8})
ev(p.LOG, level="info", message=f"nice {os.nice(0) if hasattr(os, 'nice') else 0}")
print("loading the data...", file=sys.stderr, flush=True)
if scenario == "ok":
    out("this is not json")
    old = json.loads(p.encode(p.LOG, level="info", message="from protocol 1"))
    old["protocol"] = 1
    out(json.dumps(old))
    out(json.dumps({"event": "epoch_end", "protocol": 2, "epoch": "one"}))  # a field of the wrong type
    out(json.dumps({"event": "epoch_end", "protocol": 2, "epoch": 1, "val_groups": [0.5]}))
    for epoch in (1, 2):
        for step in (1, 2, 3, 4):
            ev(p.PROGRESS, phase="train", epoch=epoch, epochs=2, step=step, steps=4,
               loss=1.0 / (epoch * 4 + step), samples_per_s=12.5)
        ev(p.EPOCH_END, epoch=epoch, epochs=2, train_loss=0.5 / epoch, val_loss=0.6 / epoch,
           val_f1_micro=0.4 * epoch, val_f1_macro=0.3 * epoch, lr=0.001 / epoch,
           val_groups={"colour": {"top1_accuracy": 0.5 + 0.1 * epoch, "f1_micro": 0.5, "f1_macro": 0.4},
                       "gender": {"top1_accuracy": 0.8 if epoch == 1 else float("nan"), "f1_micro": 0.7},
                       "odd": "not a mapping"})
        ev(p.CHECKPOINT_SAVED, path="last.pt", kind="last", epoch=epoch)
    ev(p.RUN_FINISHED, bundle="out/model.fmodel",
       metrics={"val": {"f1_micro": 0.81, "f1_macro": 0.77},
                "val_groups": {"colour": {"top1_accuracy": 0.9, "f1_macro": 0.7}}})
elif scenario == "old":
    # A trainer of protocol 1, from before batch_loss and val_groups: what it sends still plots.
    def ev1(name, **f):
        out(json.dumps({"event": name, "protocol": 1, "time": time.time(), **f}))
    for epoch in (1, 2):
        for step in (1, 2):
            ev1(p.PROGRESS, phase="train", epoch=epoch, epochs=2, step=step, steps=2, loss=0.9 / epoch)
        ev1(p.EPOCH_END, epoch=epoch, epochs=2, train_loss=0.5 / epoch, val_loss=0.6 / epoch,
            val_f1_micro=0.4 * epoch, val_f1_macro=0.3 * epoch, lr=0.001)
    ev1(p.RUN_FINISHED, bundle="out/model.fmodel", metrics={"val": {"f1_micro": 0.8, "f1_macro": 0.7}})
elif scenario == "newer":
    line = json.loads(p.encode(p.LOG, level="info", message="x"))
    line["protocol"] = p.PROTOCOL_VERSION + 1
    out(json.dumps(line))
    time.sleep(30)
elif scenario == "crash":
    print("RuntimeError: boom in the data loader", file=sys.stderr, flush=True)
    sys.exit(1)
elif scenario == "nan":
    ev(p.RUN_FAILED, message="the loss became nan at epoch 1, step 3: training diverged; lower the learning rate")
    sys.exit(1)
elif scenario == "flood":  # every batch of 4 epochs at once, as fast as the pipe takes them
    out("\n".join(p.encode(p.PROGRESS, phase="train", epoch=e, epochs=4, step=s, steps=500, batch_loss=1.0 / s,
                            samples_per_s=900.0) for e in (1, 2, 3, 4) for s in range(1, 501)))
    time.sleep(30)
elif scenario in ("stop", "hang", "resumed"):
    def stopped(signum, frame):
        if scenario == "hang":
            return
        ev(p.CHECKPOINT_SAVED, path="last.pt", kind="last", epoch=1)
        ev(p.RUN_STOPPED, message="stopped at epoch 1; continue with --resume out", resume="out")
        sys.exit(143)
    signal.signal(signal.SIGTERM, stopped)
    if scenario == "resumed":  # epoch 2 of 3 after a resume: one step a second, 6 of 12 steps to go
        ev(p.PROGRESS, phase="train", epoch=2, epochs=3, step=1, steps=4, loss=0.7, samples_per_s=3.0)
        time.sleep(1.0)
        ev(p.PROGRESS, phase="train", epoch=2, epochs=3, step=2, steps=4, loss=0.7, samples_per_s=3.0)
    else:
        ev(p.PROGRESS, phase="train", epoch=1, epochs=2, step=1, steps=4, loss=0.7, samples_per_s=3.0,
           eta_s=4.2)
    while True:
        time.sleep(0.05)
"""


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_FINDER_HOME", str(tmp_path / "home"))


def fake_factory(tmp_path: Path, scenario: str):
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE)
    argv_file = tmp_path / "argv.jsonl"
    env = dict(os.environ)
    env.update(PYTHONPATH=str(REPO), FAKE_SCENARIO=scenario, FAKE_ARGV=str(argv_file), PYTHONUNBUFFERED="1")

    def factory(args):
        return lower_priority(Child(sys.executable, (str(script), *args), TRAINING, b"", None, (0, 143), env))

    factory.argv = lambda: [json.loads(line) for line in argv_file.read_text().splitlines()]
    return factory


def make_tab(qtbot, tmp_path, scenario: str = "ok") -> TrainTab:
    factory = fake_factory(tmp_path, scenario)
    tab = TrainTab(child_factory=factory)
    tab.factory = factory
    qtbot.addWidget(tab)
    data = tmp_path / "photos"
    data.mkdir(exist_ok=True)
    tab.add_source(str(data))
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("cnn"))
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("random"))
    tab.out_edit.setText(str(tmp_path / "run"))
    return tab


def run_to_end(qtbot, tab: TrainTab, timeout: int = 20_000) -> None:
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert tab.busy()
    qtbot.waitUntil(lambda: not tab.busy(), timeout=timeout)
    tab.plots.redraw()


@pytest.mark.slow
def test_a_run_streams_into_plots_progress_and_log(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path)
    assert tab.start_button.isEnabled(), tab.problem_label.text()
    run_to_end(qtbot, tab)
    assert tab.state == "finished"
    # the figures of the epoch the model comes from (the highest F1 macro: the fake sends no "improved")
    assert "Model from epoch 2: val F1 micro 0.800, macro 0.600" in tab.status_label.text()
    assert "colour accuracy 0.700" in tab.status_label.text()
    xs, ys = tab.plots.curve_data("batch_raw")
    assert xs == [1, 2, 3, 4, 5, 6, 7, 8] and ys[0] == pytest.approx(0.2)
    ema_x, ema_y = tab.plots.curve_data("batch_ema")
    assert len(ema_y) == 8 and ema_y[0] == pytest.approx(ys[0])  # bias-corrected: starts at the loss
    assert ema_y[-1] > ys[-1]  # smoothed: lags behind the falling loss
    assert tab.plots.curve_data("train_loss") == ([1, 2], [0.5, 0.25])
    assert tab.plots.curve_data("val_loss")[1] == pytest.approx([0.6, 0.3])
    assert tab.plots.curve_data("f1_macro")[1] == pytest.approx([0.3, 0.6])
    assert tab.plots.curve_data("lr")[1] == pytest.approx([0.001, 0.0005])
    # one accuracy curve per label group, with a legend entry; a null figure (no known positive) is a gap
    assert tab.plots.groups() == ["colour", "gender"]
    assert tab.plots.curve_data("group:colour") == ([1, 2], pytest.approx([0.6, 0.7]))
    assert tab.plots.curve_data("group:gender") == ([1], [0.8])
    legend = [label.text for _item, label in tab.plots.f1_plot.getPlotItem().legend.items]
    assert legend == ["F1 micro", "F1 macro", "colour accuracy", "gender accuracy"]
    log = tab.log_view.toPlainText()
    assert "loading the data..." in log  # stderr in the log pane
    assert "unreadable trainer line" in log and "this is not json" in log  # malformed: shown, run went on
    assert "field 'epoch' is missing or not int" in log and "'val_groups' is not dict" in log
    assert "from protocol 1" in log  # an older protocol version is accepted
    assert tab.progress.value() == tab.progress.maximum()
    assert not tab.banner.isVisible()
    assert tab.running_job() == ""
    args = tab.factory.argv()[0]
    assert args[:2] == ["--data", str(tmp_path / "photos")] and "--arch" in args and "cnn" in args
    assert "epochs=10" in args and 'unfreeze=["1:all"]' in args


@pytest.mark.slow
def test_an_older_trainer_without_batch_loss_or_group_figures_still_plots(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path, "old")
    run_to_end(qtbot, tab)
    assert tab.state == "finished", tab.banner.text()
    assert tab.plots.curve_data("batch_raw") == ([1, 2, 3, 4], pytest.approx([0.9, 0.9, 0.45, 0.45]))
    assert tab.plots.curve_data("val_loss") == ([1, 2], pytest.approx([0.6, 0.3]))
    assert tab.plots.curve_data("f1_micro") == ([1, 2], pytest.approx([0.4, 0.8]))
    assert tab.plots.groups() == []
    assert "unreadable" not in tab.log_view.toPlainText()
    # a new run clears the last one's group curves
    tab.child_factory = tab.factory = fake_factory(tmp_path, "ok")
    tab.out_edit.setText(str(tmp_path / "run-b"))
    run_to_end(qtbot, tab)
    assert tab.plots.groups() == ["colour", "gender"]
    tab.child_factory = tab.factory = fake_factory(tmp_path, "old")
    tab.out_edit.setText(str(tmp_path / "run-c"))
    run_to_end(qtbot, tab)
    assert tab.plots.groups() == [] and len(tab.plots.f1_plot.getPlotItem().legend.items) == 2


@pytest.mark.slow
def test_the_trainer_runs_at_lower_priority(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path)
    run_to_end(qtbot, tab)
    expected = min(os.nice(0) + tt.NICENESS, 19)
    assert f"nice {expected}" in tab.log_view.toPlainText()


@pytest.mark.slow
def test_progress_and_running_job_while_running(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path, "stop")
    tab.start()
    qtbot.waitUntil(lambda: "Epoch 1 of 2, step 1 of 4" in tab.status_label.text(), timeout=15_000)
    assert "3.0 samples/s" in tab.status_label.text()
    assert "about 0m 04s left in this epoch" in tab.status_label.text()  # the trainer's, for now
    assert tab.running_job() == "Training is running (epoch 1 of 2)"
    assert not tab.start_button.isEnabled() and tab.stop_button.isEnabled()
    tab.stop()
    qtbot.waitUntil(lambda: not tab.busy(), timeout=15_000)


@pytest.mark.slow
def test_the_time_left_comes_from_this_launchs_pace_on_the_trainers_clock(qtbot, tmp_path) -> None:
    """Not from the launch: start-up and the epochs a resumed run skips would make it far too short."""
    tab = make_tab(qtbot, tmp_path, "resumed")
    tab.start()
    qtbot.waitUntil(lambda: "step 2 of 4" in tab.status_label.text(), timeout=15_000)
    left = re.search(r"about (\d+)m (\d+)s left", tab.status_label.text())
    assert left and "this epoch" not in tab.status_label.text(), tab.status_label.text()
    seconds = int(left[1]) * 60 + int(left[2])
    assert 5 <= seconds <= 15  # 6 steps to go at a second a step (the fake's sleep may run late)
    tab.stop()
    qtbot.waitUntil(lambda: not tab.busy(), timeout=15_000)


@pytest.mark.slow
def test_a_flood_of_progress_events_redraws_the_bar_a_few_times_and_ends_on_the_last(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path, "flood")
    values = []
    tab.progress.valueChanged.connect(values.append)
    tab.start()
    qtbot.waitUntil(lambda: "Epoch 4 of 4, step 500 of 500" in tab.status_label.text(), timeout=30_000)
    assert tab.progress.value() == tab.progress.maximum() == 2000
    assert len(values) < 200  # not once per event: a bar repaints at each new value
    tab.plots.redraw()
    xs, _ = tab.plots.curve_data("batch_ema")
    assert xs[0] == 1 and xs[-1] >= 1999 and len(xs) >= 1000  # the whole flood reached the plot, thinned
    tab.stop()
    qtbot.waitUntil(lambda: not tab.busy(), timeout=15_000)


@pytest.mark.slow
def test_stop_marks_the_run_stopped_and_resume_continues_it(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path, "stop")
    tab.start()
    qtbot.waitUntil(lambda: tab.epoch == 1, timeout=15_000)  # the first progress event
    qtbot.mouseClick(tab.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy(), timeout=15_000)
    assert tab.state == "stopped"
    assert "Resume" in tab.status_label.text() and not tab.banner.isVisible()
    assert tab.resume_button.isEnabled() and tab.start_button.isEnabled()
    qtbot.mouseClick(tab.resume_button, Qt.MouseButton.LeftButton)
    assert tab.busy()
    qtbot.waitUntil(lambda: len(tab.factory.argv()) == 2, timeout=15_000)
    assert tab.factory.argv()[-1] == ["--resume", str(tmp_path / "run")]
    tab.stop()
    qtbot.waitUntil(lambda: not tab.busy(), timeout=15_000)


@pytest.mark.slow
def test_a_trainer_that_ignores_stop_is_killed_and_marked_so(qtbot, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(run_control, "STOP_GRACE_S", 1)
    tab = make_tab(qtbot, tmp_path, "hang")
    tab.start()
    qtbot.waitUntil(lambda: tab.epoch == 1, timeout=15_000)  # the first progress event
    tab.stop()
    qtbot.waitUntil(lambda: not tab.busy(), timeout=15_000)
    assert tab.state == "killed" and "killed" in tab.status_label.text()
    assert "did not stop within 1 s" in tab.log_view.toPlainText()
    assert tab.resume_button.isEnabled()


@pytest.mark.parametrize(
    ("scenario", "shown"),
    [
        ("newer", "is newer than this app understands"),
        ("crash", "exit code 1: RuntimeError: boom in the data loader"),
        ("nan", "the loss became nan at epoch 1, step 3"),
    ],
)
@pytest.mark.slow
def test_failures_show_plainly_and_leave_the_tab_usable(qtbot, tmp_path, scenario, shown) -> None:
    tab = make_tab(qtbot, tmp_path, scenario)
    run_to_end(qtbot, tab)
    assert tab.state == "failed"
    assert tab.banner.isVisible() or not tab.isVisible()
    assert not tab.banner.isHidden()
    assert shown in tab.banner.text()
    assert "FAILED" in tab.log_view.toPlainText()
    assert tab.start_button.isEnabled() and not tab.stop_button.isEnabled()
    tab.factory = fake_factory(tmp_path, "ok")
    tab.child_factory = tab.factory
    run_to_end(qtbot, tab)
    assert tab.state == "finished" and tab.banner.isHidden()


def test_invalid_settings_are_explained_and_start_is_disabled(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path)
    tab.batch_spin.setValue(0)
    assert not tab.start_button.isEnabled()
    assert "batch_size must be at least 1" in tab.problem_label.text()
    assert tab.start_button.toolTip() == tab.problem_label.text()
    tab.batch_spin.setValue(8)
    tab.image_size.setValue(16)
    assert "image_size" in tab.problem_label.text() and not tab.start_button.isEnabled()
    tab.image_size.setValue(32)
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("imagenet"))
    assert "no ImageNet weights" in tab.problem_label.text()
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("bundle"))
    assert "model file to start from" in tab.problem_label.text()
    tab.bundle_edit.setText(str(tmp_path / "missing.fmodel"))
    assert "no such model file" in tab.problem_label.text()
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("random"))
    assert tab.problem_label.text() == "" and tab.start_button.isEnabled()
    tab.sources.clear()
    tab.validate()
    assert "Add a data source" in tab.problem_label.text()
    assert tab.start() is False


def test_every_architecture_is_offered_and_presets_apply(qtbot, tmp_path) -> None:
    from fashion_desktop.model.arch_table import ARCH_NAMES

    tab = make_tab(qtbot, tmp_path)
    assert [tab.arch_combo.itemData(i) for i in range(tab.arch_combo.count())] == list(ARCH_NAMES)
    tab.apply_preset(tt.VIT_STUDY)
    assert tab.arch_combo.currentData() == "vit_b_16" and tab.lr_spin.value() == pytest.approx(1e-4)
    assert tab.sampler_check.isChecked()
    tab.apply_preset("Fine-tune this model on my corrections")
    assert tab.start_combo.currentData() == "bundle" and tab.bundle_edit.isVisibleTo(tab)
    bundle = tmp_path / "m.fmodel"
    bundle.write_bytes(b"x")
    tab.bundle_edit.setText(str(bundle))
    assert tab.problem() is None
    assert f"init_from={json.dumps(str(bundle))}" in tab.args()


def test_best_quality_is_the_v2_recipe_on_offline_weights_and_presets_that_download_say_so(
    qtbot, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no weights downloaded yet
    from fashion_desktop.gui.train.train_form import CONFIG_KEYS, PRESETS
    from fashion_desktop.model.arch_table import OFFLINE_WEIGHTS
    from fashion_desktop.model.resources import resource_path
    from fashion_desktop.model.train_config import load_config_file, make_config

    tab = make_tab(qtbot, tmp_path)
    combo = tab.preset_combo
    titles = {combo.itemData(i): combo.itemText(i) for i in range(1, combo.count())}
    assert set(titles) == set(PRESETS)
    assert titles["Best quality"] == "Best quality" and titles[tt.FINE_TUNE] == tt.FINE_TUNE
    assert titles["Quick look"] == "Quick look"  # EfficientNet-Lite0: its weights ship with the app
    assert titles[tt.VIT_STUDY].endswith("(needs a 330 MB download)")
    combo.activated.emit(combo.findData("Best quality"))  # chosen from the list
    assert combo.currentIndex() == 0
    assert tab.arch_combo.currentData() == "efficientnet_lite0" in OFFLINE_WEIGHTS
    assert tab.start_combo.currentData() == "imagenet" and tab.problem() is None
    assert "augment phone" in tab.form.extra_label.text()
    o = tab.form.overrides()
    assert o["pretrained"] is True and o["unfreeze"] == ["1:all"]
    assert "--set" in tab.args() and 'augment="phone"' in tab.args()
    # The preset is the committed recipe, less its data, split and time limit.
    form_cfg = make_config(None, {k: v for k, v in o.items() if k in CONFIG_KEYS})
    recipe = make_config(load_config_file(resource_path("models", "default-v2.yaml")))
    shared = (
        *PRESETS["Best quality"]["extra"], "arch", "pretrained", "image_size", "epochs", "batch_size", "lr",
        "loss", "sampler", "freeze_backbone", "unfreeze", "scheduler", "early_stopping",
    )  # fmt: skip
    assert {k: getattr(form_cfg, k) for k in shared} == {k: getattr(recipe, k) for k in shared}
    # Another preset replaces the recipe's hidden settings.
    tab.apply_preset("Quick look")
    assert "augment" not in tab.form.overrides() and tab.form.extra_label.text() == ""


def test_fine_tuning_scales_its_epochs_to_the_librarys_reviewed_photos(qtbot, tmp_path) -> None:
    from fashion_desktop.gui.train.train_form import fine_tune_epochs

    assert (fine_tune_epochs(40), fine_tune_epochs(200), fine_tune_epochs(5000)) == (15, 10, 3)
    form = TrainForm()
    qtbot.addWidget(form)
    library = tmp_path / "lib.ffcat"
    library.write_bytes(b"")
    form.set_catalog_path(library)
    form.apply_preset(tt.FINE_TUNE)
    assert form.epochs_spin.value() == 5  # the library not counted yet: the preset's own
    counted = {"inputs": [{"path": str(library), "source": "catalog:lib.ffcat", "images": 200, "labels": []}]}
    form.dataset.preview = counted  # what the data preview answers once it has counted
    form.dataset.preview_changed.emit()
    assert form.library_photos() == 200 and form.epochs_spin.value() == 10
    form.dataset.preview = None
    form.apply_preset(tt.FINE_TUNE)
    form.epochs_spin.setValue(7)  # a person's choice before the count arrives stays
    form.dataset.preview = counted
    form.dataset.preview_changed.emit()
    assert form.epochs_spin.value() == 7
    form.apply_preset(tt.FINE_TUNE)  # counted already: scaled at once
    assert form.epochs_spin.value() == 10


def test_settings_are_remembered(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path)
    tab.epochs_spin.setValue(7)
    tab.loss_combo.setCurrentText("focal")
    again = TrainTab(child_factory=tab.child_factory)
    qtbot.addWidget(again)
    assert again.epochs_spin.value() == 7 and again.loss_combo.currentText() == "focal"
    assert again.values()["sources"] == [str(tmp_path / "photos")]


@pytest.mark.slow
def test_an_output_folder_holding_a_run_is_asked_about(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.fmodel").write_bytes(b"x")
    asked = []
    tab.ask_run_folder = lambda state: asked.append(state.kind) or "cancel"
    assert tab.start() is False and asked == ["finished"] and not tab.busy()
    tab.ask_run_folder = lambda state: "new"
    run_to_end(qtbot, tab)
    assert tab.out_edit.text() == f"{run}-2"
    assert tab.factory.argv()[-1][tab.factory.argv()[-1].index("--out") + 1] == f"{run}-2"
    tab.out_edit.setText(str(run))
    tab.ask_run_folder = lambda state: "overwrite"
    run_to_end(qtbot, tab)
    assert "--overwrite" in tab.factory.argv()[-1]
    tab.ask_run_folder = lambda state: "resume"
    run_to_end(qtbot, tab)
    assert tab.factory.argv()[-1] == ["--resume", str(run)]
    other = tmp_path / "somebodys_project"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    tab.out_edit.setText(str(other))
    assert tab.start() is False and not tab.busy()
    assert "not usable as a run folder" in tab.banner.text() and not tab.banner.isHidden()
    assert (other / "notes.txt").read_text() == "mine"


def test_series_stay_bounded_and_cover_the_whole_run() -> None:
    s = Series(limit=100)
    for i in range(100_000):
        s.add(i, float(i))
    assert len(s.xs) < 100
    assert s.xs[0] == 0 and s.xs[-1] > 95_000
    steps = {b - a for a, b in zip(s.xs, s.xs[1:], strict=False)}
    assert len(steps) == 1  # evenly thinned


def test_plots_redraw_on_a_timer_not_per_event(qtbot) -> None:
    from fashion_desktop.gui.train.train_plots import TrainPlots

    plots = TrainPlots(limit=50)
    qtbot.addWidget(plots)
    before = plots.redraws
    for i in range(5000):
        plots.add_batch_loss(i, 1.0)
    assert plots.redraws == before  # nothing drawn yet: the timer does it
    with qtbot.waitSignal(plots.timer.timeout, timeout=5000):
        pass  # one tick of the redraw timer, after the plots' own slot
    assert plots.redraws == before  # not while hidden (the Train tab is not the one shown)
    plots.show()
    qtbot.waitUntil(lambda: plots.redraws > before, timeout=2000)
    xs, _ = plots.curve_data("batch_ema")
    assert 0 < len(xs) < 50 and xs[-1] > 4000
    shown = plots.redraws
    plots.add_epoch({"epoch": 1, "train_loss": 0.5})
    qtbot.waitUntil(lambda: plots.redraws > shown, timeout=2000)  # and the timer follows new points
    assert plots.curve_data("train_loss") == ([1.0], [0.5])


def test_an_epochs_end_repaints_its_three_plots_one_turn_apart(qtbot) -> None:
    """Repainting loss, F1 and learning-rate plots in one go stalled the window three times as long."""
    from fashion_desktop.gui.train.train_plots import TrainPlots

    plots = TrainPlots()
    qtbot.addWidget(plots)
    plots.show()
    qtbot.waitExposed(plots)
    plots.timer.stop()  # the test turns the timer's handle itself
    plots.add_epoch({"epoch": 1, "train_loss": 0.5, "val_f1_macro": 0.4, "lr": 0.01})
    plots._tick()
    assert plots.curve_data("train_loss")[1] == [0.5]
    assert plots.curve_data("f1_macro") == ([], []) and plots.curve_data("lr") == ([], [])
    qtbot.waitUntil(lambda: plots.curve_data("f1_macro")[1] == [0.4], timeout=2000)
    qtbot.waitUntil(lambda: plots.curve_data("lr")[1] == [0.01], timeout=2000)


@pytest.mark.slow
def test_a_real_tiny_run_from_the_tab_finishes(qtbot, tmp_path, monkeypatch) -> None:
    pytest.importorskip("torch")
    sys.path.insert(0, str(REPO / "tests" / "trainer"))
    from trainer_helpers import make_class_folders

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # explicit train/val folders: a random split of a dozen photos may leave validation empty
    data = make_class_folders(
        tmp_path / "data", per_class=4, splits=("train", "val"), classes=["red", "blue"]
    )
    tab = TrainTab()
    qtbot.addWidget(tab)
    tab.sources.clear()
    tab.add_source(str(data))
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("cnn"))
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("random"))
    tab.image_size.setValue(32)
    tab.epochs_spin.setValue(1)
    tab.batch_spin.setValue(4)
    tab.early_spin.setValue(0)
    tab.device_combo.setCurrentText("cpu")
    tab.out_edit.setText(str(tmp_path / "run"))
    assert tab.start_button.isEnabled(), tab.problem_label.text()
    run_to_end(qtbot, tab, timeout=180_000)
    assert tab.state == "finished", tab.banner.text() + tab.log_view.toPlainText()[-2000:]
    assert "val F1 micro" in tab.status_label.text() and "model.fmodel" in tab.status_label.text()
    assert (tmp_path / "run" / "model.fmodel").is_file()
    assert tab.plots.curve_data("train_loss")[0] == [1.0]


@pytest.mark.slow
def test_the_window_has_a_train_tab_and_asks_before_quitting_mid_run(qtbot, tmp_path) -> None:
    from fashion_desktop.gui.main_window import MainWindow

    w = MainWindow(tmp_path / "lib.ffcat")
    qtbot.addWidget(w)
    w.show()
    tab = w.train_tab
    assert w.tabs.indexOf(tab) == 2 and w.tabs.tabText(2) == "T&rain"
    assert tab.catalog_path == str(tmp_path / "lib.ffcat")
    qtbot.mouseClick(tab.add_library_button, Qt.MouseButton.LeftButton)
    assert tab.values()["sources"][-1] == str(tmp_path / "lib.ffcat")
    bundle = tmp_path / "current.fmodel"
    bundle.write_bytes(b"x")
    w.tag_panel.select_bundle(str(bundle))  # the Tag tab's model
    tab.apply_preset("Fine-tune this model on my corrections")
    assert tab.bundle_edit.text() == str(bundle) and tab.start_combo.currentData() == "bundle"
    assert tab.values()["sources"].count(str(tmp_path / "lib.ffcat")) == 1
    tab.child_factory = tab.factory = fake_factory(tmp_path, "stop")
    tab.sources.clear()
    tab.add_source(str(tmp_path))
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("cnn"))
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("random"))
    tab.out_edit.setText(str(tmp_path / "run"))
    assert tab.start()
    qtbot.waitUntil(lambda: tab.epoch == 1, timeout=15_000)  # the first progress event
    pid = tab.worker.process_id()
    assert w.running_jobs() == ["Training is running (epoch 1 of 2)"]
    w.close()
    assert w.quit_box is not None and w.isVisible()
    assert "Training is running (epoch 1 of 2)" in w.quit_box.text()
    qtbot.mouseClick(w.stop_quit_button, Qt.MouseButton.LeftButton)
    assert not w.isVisible()
    with pytest.raises(ProcessLookupError):  # stopped (it saved its checkpoint) and reaped
        os.kill(pid, 0)


def test_a_first_launch_offers_the_trainers_defaults_with_the_architecture_explained(qtbot) -> None:
    """Not the first registry entry ('cnn', which has no ImageNet weights) beside 'ImageNet weights'."""
    tab = TrainTab()
    qtbot.addWidget(tab)
    assert tab.arch_combo.currentData() == "efficientnet_lite0"
    assert tab.start_combo.currentData() == "imagenet"
    assert "224 px" in tab.arch_hint.text() and "EfficientNet" in tab.arch_hint.text()
    assert not tab.bundle_edit.isVisibleTo(tab)  # the model-file field is for "an existing model" only
    assert "ImageNet" not in (tab.problem() or "")


def test_the_form_alone_says_why_start_is_disabled_and_follows_the_run_state(qtbot, tmp_path) -> None:
    form = TrainForm()
    qtbot.addWidget(form)
    form.dataset.clear()
    assert form.problem_label.text().startswith("Add a data source")
    assert not form.start_button.isEnabled() and form.start_button.toolTip() == form.problem_label.text()
    (tmp_path / "photos").mkdir()
    form.add_source(str(tmp_path / "photos"))
    form.arch_combo.setCurrentIndex(form.arch_combo.findData("cnn"))
    form.start_combo.setCurrentIndex(form.start_combo.findData("random"))
    assert form.problem_label.text() == "" and form.start_button.isEnabled()
    with qtbot.waitSignal(form.start_requested):
        qtbot.mouseClick(form.start_button, Qt.MouseButton.LeftButton)
    form.set_run_state(busy=True, can_stop=True, can_resume=False)
    assert not form.start_button.isEnabled() and form.start_button.toolTip() == "A run is in progress."
    assert form.stop_button.isEnabled() and not form.resume_button.isEnabled()
    assert not form.preset_combo.isEnabled()
    with qtbot.waitSignal(form.stop_requested):
        qtbot.mouseClick(form.stop_button, Qt.MouseButton.LeftButton)


def test_the_run_control_alone_tells_a_run_through_its_signals(qtbot, tmp_path) -> None:
    form = TrainForm()
    qtbot.addWidget(form)
    form.dataset.clear()
    (tmp_path / "photos").mkdir()
    form.add_source(str(tmp_path / "photos"))
    form.set_values({"arch": "cnn", "start": "random", "out": str(tmp_path / "run")})
    run = run_control.RunControl(form, fake_factory(tmp_path, "ok"))
    states, logged, epochs, losses = [], [], [], []
    run.state_changed.connect(states.append)
    run.logged.connect(logged.append)
    run.epoch_ended.connect(epochs.append)
    run.batch_loss_measured.connect(lambda step, loss: losses.append(step))
    assert run.start() and run.busy()
    qtbot.waitUntil(lambda: not run.busy(), timeout=20_000)
    assert states[0] == "running" and states[-1] == "finished" and run.epoch == run.epochs == 2
    assert [e["epoch"] for e in epochs] == [1, 2] and losses == [1, 2, 3, 4, 5, 6, 7, 8]
    assert (
        run.status.startswith("Finished. Model from epoch 2: val F1 micro 0.800") and logged[-1] == run.status
    )
    assert "loading the data..." in logged and run.can_resume() is False and run.running_job() == ""
