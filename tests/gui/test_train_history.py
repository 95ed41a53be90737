"""The Train tab's runs history, comparing a run's model with the Tag tab's, switching to it, and resuming
with the form's changes (issue 9, items 7 and 5), driven like a person would."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.gui import settings
from fashion_desktop.gui.train.run_curves import legend_names
from fashion_desktop.gui.train.runs_history import RunsModel
from fashion_desktop.gui.train.train_tab import TrainTab, lower_priority
from fashion_desktop.gui.worker import Child
from fashion_desktop.model.protocol import TRAINING
from tests.conftest import TINY_LABELS, make_photo
from tests.gui.test_use_model_trust import answer

REPO = Path(__file__).resolve().parents[2]

# A trainer that writes a real run folder (config.yaml, events.jsonl, splits.json, metrics.json and a
# given bundle as model.fmodel) in a blink: its curves follow the learning rate, so two runs differ.
FAKE = r"""
import json, os, shutil, sys
import yaml
from fashion_desktop.model import protocol as p
from fashion_desktop.model.run_folder import write_splits

args = sys.argv[1:]
with open(os.environ["FAKE_ARGV"], "a") as fh:
    fh.write(json.dumps(args) + "\n")
def opt(name, default=None):
    return args[args.index(name) + 1] if name in args else default
sets = dict(a.split("=", 1) for a in (args[i + 1] for i, x in enumerate(args) if x == "--set"))
cfg = {k: yaml.safe_load(v) for k, v in sets.items()}
out = opt("--out") or opt("--resume")
os.makedirs(out, exist_ok=True)
if opt("--resume") is None:
    cfg.update(arch=opt("--arch"), data=[a for i, a in enumerate(args) if i and args[i - 1] == "--data"])
    with open(os.path.join(out, "config.yaml"), "w") as fh:
        yaml.safe_dump(cfg, fh)
ev = p.EventWriter(sys.stdout, log_path=os.path.join(out, "events.jsonl"))
lr, epochs = float(cfg.get("lr", 0.001)), int(cfg.get("epochs", 2))
ev.emit(p.RUN_STARTED, config=cfg, labels=["red", "green", "blue"], dataset={"train": 6})
if os.environ.get("FAKE_SCENARIO") == "fail":
    ev.emit(p.RUN_FAILED, message="the dataset is empty: no training images")
    sys.exit(1)
for epoch in range(1, epochs + 1):
    for step in (1, 2):
        ev.progress(force=True, phase="train", epoch=epoch, epochs=epochs, step=step, steps=2,
                    loss=lr * 1000 / epoch, batch_loss=lr * 1000 / (epoch + step))
    ev.emit(p.EPOCH_END, epoch=epoch, epochs=epochs, train_loss=lr * 1000 / epoch, val_loss=lr * 1200 / epoch,
            val_f1_micro=0.2 * epoch, val_f1_macro=0.1 * epoch + lr * 100, lr=lr)
write_splits(out, {"train": json.loads(os.environ.get("FAKE_TRAIN", "[]"))})
bundle = shutil.copy(os.environ["FAKE_BUNDLE"], os.path.join(out, "model.fmodel"))
groups = {"colour": {"top1_accuracy": 0.5 + lr * 100, "f1_macro": 0.4}}
with open(os.path.join(out, "metrics.json"), "w") as fh:
    json.dump({"best_epoch": epochs, "val": {"overall": {"f1_macro": 0.4}, "groups": groups}}, fh)
ev.emit(p.RUN_FINISHED, bundle=bundle, metrics={"val": {"f1_macro": 0.4}, "val_groups": groups})
"""


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_FINDER_HOME", str(tmp_path / "home"))


def fake_factory(tmp_path: Path, bundle: Path, train: list[str] = (), scenario: str = "ok"):
    script = tmp_path / "fake_run_trainer.py"
    script.write_text(FAKE)
    argv_file = tmp_path / "argv.jsonl"
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO), FAKE_ARGV=str(argv_file), FAKE_BUNDLE=str(bundle),
        FAKE_TRAIN=json.dumps(list(train)), FAKE_SCENARIO=scenario, PYTHONUNBUFFERED="1",
    )  # fmt: skip

    def factory(args):
        return lower_priority(Child(sys.executable, (str(script), *args), TRAINING, b"", None, (0, 143), env))

    factory.argv = lambda: [json.loads(line) for line in argv_file.read_text().splitlines()]
    return factory


def setup_form(tab: TrainTab, source: Path, out: Path) -> None:
    tab.sources.clear()
    tab.add_source(str(source))
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("cnn"))
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("random"))
    tab.epochs_spin.setValue(2)
    tab.out_edit.setText(str(out))


def run_to_end(qtbot, tab: TrainTab, timeout: int = 30_000) -> None:
    assert tab.start_button.isEnabled(), tab.problem_label.text()
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy(), timeout=timeout)
    assert tab.state == "finished", tab.banner.text() + tab.log_view.toPlainText()[-2000:]


def click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def open_runs(qtbot, tab: TrainTab) -> None:
    with qtbot.waitSignal(tab.history.refreshed, timeout=10_000):
        tab.lower_tabs.setCurrentWidget(tab.history)


def select_run(tab: TrainTab, name: str) -> None:
    assert tab.history.select(str(next(r.path for r in tab.history.runs if r.name == name)))


@pytest.mark.slow
def test_history_lists_runs_reopens_their_curves_and_overlays_two(qtbot, tmp_path, tiny_bundle_path) -> None:
    tab = TrainTab(child_factory=fake_factory(tmp_path, tiny_bundle_path))
    qtbot.addWidget(tab)
    runs = tmp_path / "runs"
    (tmp_path / "photos").mkdir()
    setup_form(tab, tmp_path / "photos", runs / "run-a")
    run_to_end(qtbot, tab)
    setup_form(tab, tmp_path / "photos", runs / "run-b")
    tab.lr_spin.setValue(0.002)
    tab.epochs_spin.setValue(3)
    run_to_end(qtbot, tab)
    tab.child_factory = fake_factory(tmp_path, tiny_bundle_path, scenario="fail")
    setup_form(tab, tmp_path / "photos", runs / "run-c")
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy(), timeout=30_000)
    assert tab.state == "failed"

    open_runs(qtbot, tab)
    assert tab.history.names() == ["run-c", "run-b", "run-a"]  # newest first
    shown = {
        row[0]: row for row in ([tab.history.model.index(r, c).data() for c in range(7)] for r in range(3))
    }
    assert shown["run-a"][1] == "finished" and shown["run-c"][1] == "failed"
    assert shown["run-a"][2][:4].isdigit()  # the date it started
    assert shown["run-b"][3].startswith("cnn, 3/3 epochs") and "lr 0.002" in shown["run-b"][3]
    assert shown["run-b"][5] == "(val) colour: top-1 0.70, F1 0.40"
    assert shown["run-a"][6] == "model.fmodel" and shown["run-c"][6] == "–"
    failed = tab.history.model.index(0, 1).data(Qt.ItemDataRole.ToolTipRole)
    assert failed == "the dataset is empty: no training images"  # the failure, on hovering its status
    assert not tab.history.compare_button.isEnabled() or tab.history.selected() is not None

    # Reopen run-a's curves: what the plots drew live for it.
    select_run(tab, "run-a")
    with qtbot.waitSignal(tab.run_shown, timeout=10_000):
        click(qtbot, tab.history.show_button)
    tab.plots.redraw()
    assert tab.plots.curve_data("train_loss") == ([1.0, 2.0], [pytest.approx(1.0), pytest.approx(0.5)])
    assert tab.plots.curve_data("batch_raw")[0] == [1.0, 2.0, 3.0, 4.0]
    assert "Showing run run-a: finished, 2 epochs" in tab.status_label.text()

    # Overlay run-b: dashed, in another colour, and the legends name both runs.
    select_run(tab, "run-b")
    with qtbot.waitSignal(tab.run_shown, timeout=10_000):
        click(qtbot, tab.history.overlay_button)
    xs, ys = tab.overlay.curve_data("train_loss")
    assert xs == [1.0, 2.0, 3.0] and ys == pytest.approx([2.0, 1.0, 2 / 3])
    assert tab.plots.curve_data("train_loss")[1] == pytest.approx([1.0, 0.5])  # run-a stays as it was
    assert legend_names(tab.plots.epoch_plot) == ["run-a: train", "run-a: val", "run-b: train", "run-b: val"]
    solid, dashed = tab.plots.curves["train_loss"].opts["pen"], tab.overlay.items["train_loss"].opts["pen"]
    assert dashed.style() == Qt.PenStyle.DashLine and solid.style() == Qt.PenStyle.SolidLine
    assert dashed.color() != solid.color()
    assert "run-b" in " ".join(legend_names(tab.plots.f1_plot))
    assert legend_names(tab.plots.lr_plot) == ["run-a: lr", "run-b: lr"]
    # Showing another run alone takes the overlay away and the plain names come back.
    with qtbot.waitSignal(tab.run_shown, timeout=10_000):
        click(qtbot, tab.history.show_button)
    assert tab.overlay.items == {} and legend_names(tab.plots.epoch_plot) == ["train", "val"]
    assert legend_names(tab.plots.lr_plot) == []
    assert tab.plots.curve_data("train_loss")[0] == [1.0, 2.0, 3.0]


def test_an_opened_folder_is_listed_and_remembered(qtbot, tmp_path, tiny_bundle_path) -> None:
    elsewhere = tmp_path / "elsewhere" / "old-run"
    elsewhere.mkdir(parents=True)
    (elsewhere / "config.yaml").write_text("arch: resnet18\nepochs: 4\n")
    (elsewhere / "last.pt").write_bytes(b"")
    (elsewhere / "events.jsonl").write_text(
        json.dumps({"event": "run_stopped", "protocol": 2, "time": 1.0e9, "message": "stopped at epoch 2"})
        + "\n"
    )
    tab = TrainTab()
    qtbot.addWidget(tab)
    tab.out_edit.setText(str(tmp_path / "runs" / "run1"))
    open_runs(qtbot, tab)
    assert tab.history.names() == []
    assert "No runs found" in tab.history.note.text()
    with qtbot.waitSignal(tab.history.refreshed, timeout=10_000):
        tab.history.folder_opened.emit(str(elsewhere))  # what Open folder… sends once a folder is chosen
    assert tab.history.names() == ["old-run"]
    row = [tab.history.model.index(0, c).data() for c in range(7)]
    assert row[1] == "stopped (resumable)" and row[3].startswith("resnet18, 0/4 epochs")
    again = TrainTab()
    qtbot.addWidget(again)
    open_runs(qtbot, again)
    assert again.history.names() == ["old-run"]


def test_the_runs_model_is_a_well_behaved_item_model(qtmodeltester, tmp_path) -> None:
    from fashion_desktop.model.run_folder import list_runs

    run = tmp_path / "r1"
    run.mkdir()
    (run / "config.yaml").write_text("arch: cnn\nepochs: 2\nlr: 0.001\n")
    model = RunsModel()
    model.set_runs(list_runs(tmp_path))
    assert model.rowCount() == 1
    qtmodeltester.check(model)


# ---------------------------------------------------------------- resuming with the form's changes


def saved_run(folder: Path, **settings_) -> Path:
    from fashion_desktop.model.train_config import make_config, save_config

    folder.mkdir(parents=True)
    cfg = make_config(None, {"arch": "cnn", "pretrained": False, "allow_random_init": True, "data": [str(folder.parent.parent / "photos")],
                             "epochs": 2, "lr": 1e-3, "progress_per_s": 10.0, **settings_})  # fmt: skip
    save_config(cfg, folder / "config.yaml")
    (folder / "last.pt").write_bytes(b"")
    return folder


@pytest.mark.slow
def test_resume_passes_the_changes_it_can_make_and_explains_those_it_cannot(
    qtbot, tmp_path, tiny_bundle_path
) -> None:
    factory = fake_factory(tmp_path, tiny_bundle_path)
    tab = TrainTab(child_factory=factory)
    qtbot.addWidget(tab)
    run = saved_run(tmp_path / "runs" / "r1")
    (tmp_path / "photos").mkdir()
    setup_form(tab, tmp_path / "photos", run)
    asked: list[str] = []
    tab.confirm_resume = lambda text: asked.append(text) or False
    tab.epochs_spin.setValue(6)
    tab.lr_spin.setValue(0.0005)
    tab.time_spin.setValue(30)
    # Only changes a resume can make: no question, and they reach the trainer.
    assert tab.resume(str(run))
    qtbot.waitUntil(lambda: not tab.busy(), timeout=30_000)
    args = factory.argv()[-1]
    assert args[:2] == ["--resume", str(run)] and asked == []
    sets = dict(a.split("=", 1) for a in args[3::2])
    assert sets["epochs"] == "6" and sets["lr"] == "0.0005" and sets["time_limit_min"] == "30.0"
    assert not {"arch", "loss", "data"} & set(sets)  # unchanged settings are not sent
    # A change a resume cannot make is explained before anything starts; cancelling starts nothing.
    tab.loss_combo.setCurrentText("focal")
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("resnet18"))
    assert tab.resume(str(run)) is False and not tab.busy()
    assert len(factory.argv()) == 1
    text = asked[-1]
    assert "It takes these changes: epochs 6; learning rate 0.0005; time limit (min) 30." in text
    assert "loss: stays bce (the form says focal)" in text
    assert "architecture: stays cnn (the form says resnet18)" in text
    assert "start a new run instead" in text
    # Going on resumes with the run's own settings for those, and the changes it can make.
    tab.confirm_resume = lambda text: True
    assert tab.resume(str(run))
    qtbot.waitUntil(lambda: not tab.busy(), timeout=30_000)
    args = factory.argv()[-1]
    assert "loss=" not in " ".join(args) and "arch=" not in " ".join(args) and "epochs=6" in args


@pytest.mark.slow
def test_the_resume_button_of_a_stopped_run_in_the_history_resumes_it(
    qtbot, tmp_path, tiny_bundle_path
) -> None:
    factory = fake_factory(tmp_path, tiny_bundle_path)
    tab = TrainTab(child_factory=factory)
    qtbot.addWidget(tab)
    run = saved_run(tmp_path / "runs" / "r1", epochs=4)
    (tmp_path / "photos").mkdir()
    setup_form(tab, tmp_path / "photos", tmp_path / "runs" / "next")
    tab.epochs_spin.setValue(4)
    open_runs(qtbot, tab)
    select_run(tab, "r1")
    click(qtbot, tab.history.resume_history_button)
    qtbot.waitUntil(lambda: not tab.busy(), timeout=30_000)
    assert factory.argv()[-1] == ["--resume", str(run)]


# ---------------------------------------------------------------- comparing, then using a run's model


def swapped_bundle(path: Path) -> Path:
    """The demo colour model with its labels rotated: always wrong (a red photo scores high on green)."""
    from tests.core.test_compare import swapped_colour_bundle

    return swapped_colour_bundle(path)


@pytest.fixture
def reviewed_library(tmp_path) -> tuple[Path, list[str]]:
    """12 photos, all reviewed: the person decided each one's colour."""
    folder = tmp_path / "photos"
    paths = [
        str(make_photo(folder / f"{TINY_LABELS[i % 3]}{i}.jpg", (40, 32), TINY_LABELS[i % 3]))
        for i in range(12)
    ]
    cat = Catalog(tmp_path / "lib.ffcat")
    cat.add_folder(str(folder))
    ids = cat.ensure_images(paths)
    decisions = [(ids[p], lab, lab == TINY_LABELS[i % 3]) for i, p in enumerate(paths) for lab in TINY_LABELS]
    cat.set_reviewed(list(ids.values()), True, decisions)
    cat.close()
    return tmp_path / "lib.ffcat", paths


@pytest.mark.slow
def test_a_runs_model_is_compared_on_held_out_photos_then_used_and_the_library_retagged(
    qtbot, tmp_path, tiny_bundle_path, reviewed_library
) -> None:
    from fashion_desktop.gui.main_window import MainWindow

    lib, paths = reviewed_library
    w = MainWindow(lib)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.library is not None and w.library.rowCount() == 12, timeout=20_000)
    w.tag_panel.select_bundle(str(tiny_bundle_path))  # the Tag tab's model: right on every photo
    new_model = swapped_bundle(tmp_path / "swapped.fmodel")
    tab = w.train_tab
    tab.child_factory = fake_factory(tmp_path, new_model, train=paths[:8])  # it trained on 8 of the 12
    w.tabs.setCurrentWidget(tab)
    setup_form(tab, tmp_path / "photos", tmp_path / "runs" / "swap")
    with qtbot.waitSignal(tab.compare.compared, timeout=60_000) as compared:
        run_to_end(qtbot, tab)
        assert tab.lower_tabs.currentWidget() is tab.compare  # a finished run is compared at once
    result = compared.args[0]
    assert result is not None, tab.compare.note.text()
    assert (result.photos, result.excluded) == (4, 8)
    # Four photos are too few for a verdict: the new columns say so instead of naming a winner.
    assert tab.compare.rows() == [["colour", "4", "1.000", "0.000", "1.000", "0.000", "", "too few photos"]]
    assert (
        "rests on 4 photos: reviewed ones the run did not learn from (8 left out" in tab.compare.note.text()
    )
    assert tab.compare.verdict_label.text().startswith("No verdict")
    assert "tiny" in tab.compare.note.text()  # the current model, by name
    # Use it: in the library, on the Models tab with its metrics, and the Tag tab's model.
    bundle = str(tmp_path / "runs" / "swap" / "model.fmodel")
    click(qtbot, tab.compare.use_button)
    answer(qtbot, tab.compare, yes=True)  # no verdict on four photos: it asks first
    assert w.tag_panel.current_bundle() == bundle
    assert bundle in w.models_tab.bundles.paths() and w.models_tab.selected_path() == bundle
    assert "swapped" in [m.key for m in w.catalog.models()]
    assert tab.compare.retag_button.isVisible() and "12 photos" in tab.compare.retag_label.text()
    # One click tags the library with it.
    with qtbot.waitSignal(w.tagging_finished, timeout=60_000) as tagged:
        click(qtbot, tab.compare.retag_button)
    assert tagged.args[0] is not None and tagged.args[0].tagged == 12
    assert w.tabs.currentWidget() is w.tag_page and w.library.model_key == "swapped"
    assert len(w.catalog.scores("swapped")) == 12
    w.close()


@pytest.mark.slow
def test_nothing_to_compare_with_is_said_plainly_and_use_still_works(
    qtbot, tmp_path, tiny_bundle_path
) -> None:
    tab = TrainTab(child_factory=fake_factory(tmp_path, tiny_bundle_path))
    qtbot.addWidget(tab)
    (tmp_path / "photos").mkdir()
    setup_form(tab, tmp_path / "photos", tmp_path / "runs" / "r")
    run_to_end(qtbot, tab)
    assert tab.compare.worker is None  # no library, no current model: nothing was started
    assert not tab.compare.compare_button.isEnabled()
    assert "Open a library first" in tab.compare.compare_button.toolTip()
    tab.set_catalog_path(tmp_path / "lib.ffcat")
    tab.compare.refresh()
    assert "no model to compare with" in tab.compare.compare_button.toolTip()
    used = []
    tab.use_model_requested.connect(used.append)
    click(qtbot, tab.compare.use_button)
    assert used == [str(tmp_path / "runs" / "r" / "model.fmodel")]
    assert settings.recent(settings.TRAIN_RUN_FOLDERS)[0] == str(tmp_path / "runs")
