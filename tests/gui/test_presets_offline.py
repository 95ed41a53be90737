"""Presets work offline or say before Start that they download weights; the window's words name its own
controls, never a command-line option, and say what a preset or a layout is for (issue 19, item 3)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from fashion_desktop.gui.train.train_form import FINE_TUNE, PRESETS, VIT_STUDY
from fashion_desktop.gui.train.train_tab import TrainTab, lower_priority
from fashion_desktop.gui.window_words import for_window
from fashion_desktop.gui.worker import Child
from fashion_desktop.model.arch_table import ARCH_TABLE, OFFLINE_WEIGHTS
from fashion_desktop.model.protocol import TRAINING
from fashion_desktop.model.run_folder import run_folder_problem
from tests.gui.test_export_dialog import _dialog, library  # noqa: F401 - the export dialog's fixture

REPO = Path(__file__).resolve().parents[2]

# A trainer that says what the real one says when a run cannot go on (FAKE_MESSAGE), with a warning
# naming an option too, or that stops as the real one does when asked to (FAKE_MESSAGE empty).
FAKE = r"""
import os, signal, sys, time
from fashion_desktop.model import protocol as p

def ev(name, **f):
    sys.stdout.write(p.encode(name, **f) + "\n")
    sys.stdout.flush()

ev(p.RUN_STARTED, config={"epochs": 2}, labels=["red", "blue"], dataset={"train": 4})
ev(p.LOG, level="warning", message="denim: not in the taxonomy (use --mapping to map it)")
out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else "run"
message = os.environ["FAKE_MESSAGE"]
if message:
    ev(p.RUN_FAILED, message=message.replace("OUT", out))
    sys.exit(1)
def stopped(signum, frame):
    ev(p.RUN_STOPPED, message=f"stopped at epoch 1; continue with --resume {out}", resume=out)
    sys.exit(143)
signal.signal(signal.SIGTERM, stopped)
ev(p.PROGRESS, phase="train", epoch=1, epochs=2, step=1, steps=4, loss=0.7)
while True:
    time.sleep(0.05)
"""

# What the real trainer says on the ways a run from the window can end early (trainer/engine.py,
# trainer/data.py, model/devices.py, model/train_config.py, core/catalog.py), OUT standing for its folder.
TRAINER_MESSAGES = (
    "ImageNet weights for vit_b_16 are not in the local cache (/c/vit.pth) and downloading is off. To train "
    "from random weights instead (much worse with little data), pass --allow-random-init or --no-pretrained.",
    "OUT already finished its 3 epochs; to train it further, pass --epochs above 3 with --resume OUT",
    "the loss became nan at epoch 2, step 7: training diverged. Try a lower learning rate (--lr 0.0001), full "
    "precision (--set precision=fp32) or stronger gradient clipping (--set grad_clip=1); --resume OUT with "
    "them goes on from the last checkpoint.",
    "--resume OUT cannot change arch (was cnn); start a new run instead",
    "device 'cuda' was requested but no CUDA GPU is visible; use --device cpu or auto",
    "--init-from /m/a.fmodel is a resnet18 model; --arch cnn cannot start from it (leave out --arch, or "
    "pass --arch resnet18)",
    "--init-from: the bundle has no weights for fc.weight; it is not a resnet18 model",
    "no data given (use --data PATH)",
    "map.csv row 3: 'Denim' is not a known label; did you mean 'denim'? (to add it as a new label anyway, "
    "pass --set allow_new_labels=true)",
    "/l/lib.ffcat: this catalog is from an older version of Fashion Finder (schema 3; this app reads 4 to 9) "
    "and was left as it is; open it once in the app or run `fashion tag FOLDER --model MODEL --out FILE "
    "--catalog /l/lib.ffcat` to upgrade it (a copy of the old file is kept)",
)


@pytest.fixture(autouse=True)
def _empty_weights_cache(tmp_path, monkeypatch):
    """No downloaded weights on this computer (the tests put one there where they need it)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def fake_factory(tmp_path: Path, message: str = ""):
    script = tmp_path / "fake_words_trainer.py"
    script.write_text(FAKE)
    env = dict(os.environ)
    env.update(PYTHONPATH=str(REPO), FAKE_MESSAGE=message, PYTHONUNBUFFERED="1")
    started: list[list[str]] = []

    def factory(args):
        started.append(list(args))
        return lower_priority(Child(sys.executable, (str(script), *args), TRAINING, b"", None, (0, 143), env))

    factory.started = started
    return factory


def make_tab(qtbot, tmp_path, message: str = "") -> TrainTab:
    tmp_path.mkdir(parents=True, exist_ok=True)
    tab = TrainTab(child_factory=fake_factory(tmp_path, message))
    qtbot.addWidget(tab)
    (tmp_path / "photos").mkdir(exist_ok=True)
    tab.add_source(str(tmp_path / "photos"))
    tab.out_edit.setText(str(tmp_path / "run"))
    return tab


def choose_preset(qtbot, tab: TrainTab, name: str) -> None:
    combo = tab.preset_combo
    combo.activated.emit(combo.findData(name))  # as a click on the list's entry does


def test_every_preset_works_offline_or_says_before_start_that_it_downloads(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path)
    combo = tab.preset_combo
    titles = {combo.itemData(i): combo.itemText(i) for i in range(1, combo.count())}
    tips = {
        combo.itemData(i): combo.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(1, combo.count())
    }
    assert set(titles) == set(PRESETS)
    for name, preset in PRESETS.items():
        offline = preset["start"] != "imagenet" or preset["arch"] in OFFLINE_WEIGHTS
        if offline:
            assert titles[name] == name and "offline" in tips[name], (name, tips[name])
        else:
            mb = ARCH_TABLE[preset["arch"]].download_mb
            assert titles[name] == f"{name} (needs a {mb} MB download)"
            assert "internet" in tips[name] and f"{mb} MB" in tips[name]
    # The quick look and the best recipe learn offline from the weights that ship with the app.
    assert PRESETS["Quick look"]["arch"] == PRESETS["Best quality"]["arch"] == "efficientnet_lite0"
    assert PRESETS["Best quality"]["extra"]["select_metric"] == "balanced"  # still the default-v2 recipe
    choose_preset(qtbot, tab, "Quick look")
    assert tab.problem() is None and "download" not in tab.arch_hint.text()

    # A preset that downloads: the form says so, and Start asks before anything starts.
    choose_preset(qtbot, tab, VIT_STUDY)
    assert tab.arch_combo.currentData() == "vit_b_16" and "330 MB" in tab.arch_hint.text()
    asked: list[str] = []
    tab.confirm_download = lambda text: asked.append(text) or False
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 1 and "internet connection" in asked[0] and "330 MB" in asked[0]
    assert "EfficientNet-Lite0" in asked[0]  # what to choose to train offline
    assert not tab.busy() and tab.child_factory.started == [] and "Not started" in tab.status_label.text()
    tab.confirm_download = lambda text: asked.append(text) or True
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 2 and tab.busy() and len(tab.child_factory.started) == 1
    tab.stop()
    qtbot.waitUntil(lambda: not tab.busy(), timeout=15_000)

    # Weights already downloaded once: nothing to say, nothing to ask.
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / ARCH_TABLE["vit_b_16"].weights_file).write_bytes(b"weights")
    again = make_tab(qtbot, tmp_path / "again")
    assert again.preset_combo.itemText(again.preset_combo.findData(VIT_STUDY)) == VIT_STUDY
    choose_preset(qtbot, again, VIT_STUDY)
    assert "download" not in again.arch_hint.text() and again.form.download_question() is None


def test_presets_and_export_layouts_are_named_for_what_they_are_for(qtbot, tmp_path, library) -> None:  # noqa: F811
    tab = make_tab(qtbot, tmp_path)
    titles = [tab.preset_combo.itemText(i) for i in range(tab.preset_combo.count())]
    assert not [t for t in titles if "seed" in t.lower() or "recipe" in t.lower()], titles
    assert VIT_STUDY in PRESETS and FINE_TUNE in PRESETS
    assert "original study" in VIT_STUDY
    hints = [tab.arch_combo.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(tab.arch_combo.count())]
    assert not [h for h in hints if "seed" in h.lower()], hints
    catalog, _ids, _corrected = library
    d = _dialog(qtbot, catalog)
    formats = [d.format_combo.itemText(i) for i in range(d.format_combo.count())]
    assert not [f for f in formats if "seed" in f.lower()], formats
    assert any("original Fashion Finder study" in f and "ImageId" in f for f in formats), formats


@pytest.mark.parametrize("message", TRAINER_MESSAGES, ids=lambda m: m[:24])
def test_trainer_messages_read_in_the_windows_words(message) -> None:
    said = for_window(message.replace("OUT", "/runs/run1"))
    assert "--" not in said and "`fashion" not in said, said


def test_the_advice_names_the_button_or_field_that_does_it() -> None:
    assert (
        for_window("stopped at epoch 2; continue with --resume /r/run1")
        == "stopped at epoch 2; Resume continues it"
    )
    said = for_window(TRAINER_MESSAGES[1].replace("OUT", "/r/run1"))
    assert said.endswith("to train it further, set Epochs above 3 and press Resume")
    said = for_window(TRAINER_MESSAGES[2].replace("OUT", "/r/run1"))
    assert "a lower learning rate (0.0001)" in said and "Resume with them goes on" in said
    assert 'choose "Random weights" under Start from' in for_window(TRAINER_MESSAGES[0])
    assert for_window("the batch is too big; try --batch-size 8") == "the batch is too big; try Batch size 8"


def test_the_run_folder_rule_reads_in_the_windows_words(tmp_path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("arch: cnn\n")
    (run / "last.pt").write_bytes(b"")
    said = for_window(run_folder_problem(run) or "")
    assert said and "--" not in said and "Resume continues it" in said, said


@pytest.mark.slow
@pytest.mark.parametrize("message", TRAINER_MESSAGES[:3], ids=lambda m: m[:24])
def test_a_failed_run_says_what_to_do_in_the_window_without_options(qtbot, tmp_path, message) -> None:
    tab = make_tab(qtbot, tmp_path, message)
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("cnn"))
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("random"))
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy(), timeout=20_000)
    assert tab.state == "failed" and not tab.banner.isHidden()
    assert "--" not in tab.banner.text(), tab.banner.text()
    app_lines = [line for line in tab.log_view.toPlainText().splitlines() if not line.startswith("--- ")]
    assert not [line for line in app_lines if "--" in line], app_lines
    assert "warning: denim: not in the taxonomy" in tab.log_view.toPlainText()


@pytest.mark.slow
def test_a_stopped_run_points_at_the_resume_button(qtbot, tmp_path) -> None:
    tab = make_tab(qtbot, tmp_path)
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("cnn"))
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("random"))
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.epoch == 1, timeout=15_000)
    qtbot.mouseClick(tab.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy(), timeout=15_000)
    assert tab.state == "stopped" and tab.resume_button.isEnabled()
    text = tab.status_label.text()
    assert "--" not in text and text.count("Resume") == 1 and "stopped at epoch 1" in text, text


@pytest.mark.slow
def test_a_tagging_failure_names_the_tag_tabs_device_box_not_an_option(
    qtbot, window, photo_folder, tiny_bundle_path
) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: tagging on it does not fail")
    w = window
    with qtbot.waitSignal(w.scan_finished, timeout=20_000):
        w.library_ctl.add_folder(photo_folder)
    with qtbot.waitSignal(w.tagging_finished, timeout=60_000):
        w.tagging_ctl.start_tagging(str(tiny_bundle_path), "cuda")  # a device remembered from another PC
    said = w.tag_panel.rate_label.text()
    assert said.startswith("Tagging stopped: device 'cuda' was requested") and "--" not in said, said
    assert 'choose Device "cpu" or "auto"' in said
