"""``fashion train --preview``: the dataset as training would read it, counted per split, without training."""

from __future__ import annotations

import subprocess
import sys

import pytest
from trainer_helpers import make_class_folders, run_trainer, trainer_env

from fashion_desktop.model import protocol


def test_preview_prints_counts_and_warnings_and_writes_nothing(tmp_path):
    data = make_class_folders(tmp_path / "data", 6, ("train", "val"), ["red", "green", "denim"])
    out = tmp_path / "run"
    proc = run_trainer(["train", "--data", str(data), "--out", str(out), "--preview"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split()[-3:] for line in proc.stdout.splitlines() if line.strip()}
    for label in ("red", "green", "denim"):
        assert rows[label] == ["6", "6", "0"], proc.stdout
    assert rows["images"] == ["18", "18", "0"]
    assert "warning: the test split is empty" in proc.stdout
    assert "3 labels have fewer than 10 training examples" in proc.stdout
    assert not out.exists()


def test_preview_event_for_the_app(tmp_path):
    data = make_class_folders(tmp_path / "data", 12, (), ["red", "green"])
    proc = run_trainer(
        [
            "preview",
            "--events",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--set",
            "val_fraction=0",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    events = protocol.decode_lines(proc.stdout, protocol.TRAINING)
    assert [e.name for e in events] == [protocol.DATASET_PREVIEW]
    ev = events[0]
    assert sorted(ev["labels"]) == ["green", "red"]
    assert sum(ev["images"].values()) == 24 and ev["images"]["val"] == 0
    for label in ("red", "green"):
        assert sum(ev["counts"][s][label] for s in ("train", "val", "test")) == 12
        assert ev["known"]["train"][label] == ev["images"]["train"]
    assert any("the val split is empty" in w for w in ev["warnings"])
    assert ev["rare"] == [lab for lab in ev["labels"] if ev["counts"]["train"][lab] < 10]
    assert ev["inputs"] == [
        {"path": str(data), "source": "folders:data", "images": 24, "labels": ["green", "red"]}
    ]
    assert not (tmp_path / "run").exists()


def test_preview_of_missing_data_fails_in_one_line(tmp_path):
    proc = run_trainer(["train", "--preview", "--events", "--data", str(tmp_path / "nope")], tmp_path)
    assert proc.returncode == 1
    events = protocol.decode_lines(proc.stdout, protocol.TRAINING)
    assert [e.name for e in events] == ["run_failed"] and "nope" in events[0]["message"]


@pytest.mark.slow
def test_preview_says_which_labels_a_start_bundle_knows(tmp_path):
    import torch

    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.bundle import new_bundle, save_bundle

    torch.manual_seed(0)
    source = save_bundle(
        new_bundle("cnn", ["red", "green", "blue"], build_model("cnn", 3).state_dict(), input_size=32),
        tmp_path / "source.fmodel",
    )
    data = make_class_folders(tmp_path / "data", 3, ("train", "val"), ["red", "green", "denim"])
    args = ["train", "--data", str(data), "--init-from", str(source), "--preview"]
    proc = run_trainer([*args, "--events"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    (ev,) = protocol.decode_lines(proc.stdout, protocol.TRAINING)
    start = ev["init_from"]
    assert (
        sorted(start["kept"]) == ["green", "red"]
        and start["new"] == ["denim"]
        and start["dropped"] == ["blue"]
    )
    text = run_trainer(args, tmp_path).stdout
    assert "new labels (vs " in text and ": denim" in text and "dropped labels" in text


@pytest.mark.slow
def test_preview_answers_without_importing_torch(tmp_path):
    """The app runs a preview each time a source changes: it must not pay for torch (seconds)."""
    # Split folders: 4 photos split by their paths' hashes may leave none to train on (the preview fails).
    data = make_class_folders(tmp_path / "data", 2, ("train", "val"), ["red", "green"])
    code = (
        "import sys\n"
        "from trainer.cli import main\n"
        f"code = main(['preview', '--events', '--data', {str(data)!r}])\n"
        "assert code == 0, code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=trainer_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert protocol.DATASET_PREVIEW in proc.stdout
