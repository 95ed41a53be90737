"""The one executable of a frozen build: ``--train-process`` runs the trainer at lower priority, and the
Train tab starts it that way when frozen (checked here with a stand-in executable, no freezing needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fashion_desktop.gui.train import train_tab
from fashion_desktop.gui.worker import ProcessWorker
from fashion_desktop.model.protocol import FROZEN_TRAIN_FLAG, RUN_FINISHED

pytestmark = pytest.mark.slow  # every test here starts a child process or trains

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not hasattr(os, "nice"), reason="os.nice is POSIX only")
def test_train_process_lowers_its_priority_and_passes_the_arguments_on() -> None:
    code = (
        "import os, sys\n"
        "import trainer.cli\n"
        "trainer.cli.main = lambda argv: print('nice', os.nice(0), 'argv', argv) or 7\n"
        "from fashion_desktop import launcher\n"
        "sys.exit(launcher.main(['--train-process', 'train', '--events', '--epochs', '1']))\n"
    )
    env = {**os.environ, "FASHION_TRAIN_NICE": "5"}
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 7, res.stderr
    expected = min(os.nice(0) + 5, 19)
    assert res.stdout.strip() == f"nice {expected} argv ['train', '--events', '--epochs', '1']"


@pytest.mark.skipif(os.name == "nt", reason="the stand-in executable is a shell script")
def test_a_frozen_build_runs_a_real_training_through_its_own_executable(qtbot, tmp_path, monkeypatch) -> None:
    pytest.importorskip("torch")
    sys.path.insert(0, str(REPO / "tests" / "trainer"))
    from trainer_helpers import make_class_folders

    exe = tmp_path / "fashion-desktop"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m fashion_desktop.launcher "$@"\n')
    exe.chmod(0o755)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data = make_class_folders(
        tmp_path / "data", per_class=2, splits=("train", "val"), classes=["red", "blue"]
    )
    args = ["--data", str(data), "--out", str(tmp_path / "run"), "--arch", "cnn", "--image-size", "32"]
    args += ["--epochs", "1", "--batch-size", "4", "--set", "early_stopping=0", "--set", "threads=1"]

    child = train_tab.default_child(args)
    assert child.program == str(exe)
    assert child.args[:3] == (FROZEN_TRAIN_FLAG, "train", "--events")  # no "python -c" in a frozen build
    assert child.env["FASHION_TRAIN_NICE"] == str(train_tab.NICENESS)
    worker = ProcessWorker(child, name="training")
    ended: dict[str, object] = {}
    worker.finished.connect(lambda result: ended.setdefault("result", result))
    worker.failed.connect(lambda message: ended.setdefault("failed", message))
    worker.start()
    qtbot.waitUntil(lambda: bool(ended), timeout=180_000)
    assert "failed" not in ended, ended["failed"]
    assert ended["result"].name == RUN_FINISHED
    assert (tmp_path / "run" / "model.fmodel").is_file()


def test_the_executable_answers_version_without_qt_or_torch() -> None:
    from fashion_desktop import __version__

    code = (
        "import sys\n"
        "from fashion_desktop import launcher\n"
        "try:\n"
        "    launcher.main(['--version'])\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code, 'torch' in sys.modules, 'PySide6.QtWidgets' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.stdout.splitlines() == [f"fashion-desktop {__version__}", "exit 0 False False"], res.stderr


def test_the_builds_fashion_executable_is_the_command_line(monkeypatch, capsys) -> None:
    from fashion_desktop import __version__, launcher

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/fashion-desktop/fashion")

    def run(argv: list[str]) -> int | None:
        try:
            return launcher.main(argv)
        except SystemExit as ended:  # argparse's --help
            return ended.code

    assert run(["--version"]) in (0, None)
    assert __version__ in capsys.readouterr().out
    assert run(["tag", "--help"]) in (0, None)
    assert "usage: fashion tag" in capsys.readouterr().out
    # fashion-desktop --cli is the same command line; without it, fashion-desktop stays the window.
    monkeypatch.setattr(sys, "executable", "C:/Fashion Finder/FASHION.EXE")
    assert launcher.started_as_cli(sys.executable)
    assert not launcher.started_as_cli("/opt/fashion-desktop/fashion-desktop")
    assert run(["--cli", "adapt", "--help"]) in (0, None)
    assert "usage: fashion adapt" in capsys.readouterr().out


def test_the_tag_process_flag_matches_the_tagging_process() -> None:
    from fashion_desktop.core.tag_process import FROZEN_FLAG
    from fashion_desktop.launcher import FROZEN_TAG_FLAG

    assert FROZEN_TAG_FLAG == FROZEN_FLAG
