"""The runs history the Train tab lists: ``list_runs`` and ``read_run`` on real and broken run folders."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from trainer_helpers import FAST, make_class_folders, run_trainer

from fashion_desktop.model.run_folder import find_runs, list_runs, read_run, read_splits, trained_on


def _event(name: str, **fields) -> str:
    return json.dumps({"event": name, "protocol": 2, "time": fields.pop("time", 1000.0), **fields})


@pytest.mark.slow
def test_a_real_finished_run_and_a_failed_one(tmp_path):
    data = make_class_folders(tmp_path / "data", 4, ("train", "val"), ["red", "green"])
    runs = tmp_path / "runs"
    ok = run_trainer(
        ["train", "--events", "--data", str(data), *FAST, "--epochs", "2", "--out", str(runs / "first")],
        tmp_path,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    failed = run_trainer(
        ["train", "--events", "--data", str(data), *FAST, "--lr", "1e-3", "--set", "val_fraction=0.5",
         "--set", "seed=3", "--out", str(runs / "second"), "--set", "min_label_count=99"],
        tmp_path,
    )  # fmt: skip
    assert failed.returncode == 1
    (runs / "notes").mkdir()
    (runs / "notes" / "todo.txt").write_text("not a run")

    listed = {r.name: r for r in list_runs(runs)}
    assert set(listed) == {"first", "second"}
    first = listed["first"]
    assert first.state == "finished" and first.arch == "cnn"
    assert (first.epochs_done, first.epochs_planned) == (2, 2)
    assert first.bundle == runs / "first" / "model.fmodel"
    assert first.best_f1_macro is not None and 0 <= first.best_f1_macro <= 1
    assert first.started is not None and abs(first.started - time.time()) < 600
    assert listed["second"].state == "failed" and listed["second"].message
    assert listed["second"].bundle is None

    record = read_run(runs / "first")
    assert record.config["arch"] == "cnn" and record.config["epochs"] == 2
    assert [r.epoch for r in record.epochs] == [1, 2]
    assert all(isinstance(r.val_loss, float) and isinstance(r.lr, float) for r in record.epochs)
    assert all(set(r.groups["category"]) >= {"top1_accuracy", "f1_macro"} for r in record.epochs)
    assert record.batches and all(isinstance(b.batch_loss, float) for b in record.batches)
    assert "val" in record.final_groups and record.final_groups["val"]
    assert record.skipped_lines == 0
    assert first.final_groups == record.final_groups and first.config["arch"] == "cnn"  # the list shows them
    assert record.epochs[0].fields["epoch"] == 1 and "val_f1_macro" in record.epochs[0].fields
    # The photos of each split are recorded: a comparison on the library leaves out what it learnt from.
    splits = read_splits(runs / "first")
    photos = {str(p) for p in data.rglob("*.jpg")}
    assert set(splits["train"]) | set(splits["val"]) | set(splits.get("test", [])) == photos
    assert set(splits["train"]) == {p for p in photos if Path(p).parent.parent.name == "train"}
    assert trained_on(runs / "first", None).splits_file == runs / "first" / "splits.json"
    assert find_runs(runs / "first") == [first] and len(find_runs(runs)) == 2


def test_broken_and_unfinished_run_folders(tmp_path):
    runs = tmp_path / "runs"
    live = runs / "live"
    live.mkdir(parents=True)
    cfg = {"arch": "resnet18", "epochs": 5}
    (live / "events.jsonl").write_text(
        _event("run_started", config=cfg, time=2000.0)
        + "\n"
        + _event("progress", phase="train", epoch=1, epochs=5, step=1, steps=3, loss=0.7, batch_loss=0.7)
        + "\n"
        + _event(
            "epoch_end", epoch=1, train_loss=0.6, val_loss=0.5, val_f1_micro=0.4, val_f1_macro=0.3, lr=0.001
        )
        + "\n"
        + '{"event":"progress","protocol":2,"ti'  # the trainer is half-way through writing this line
    )
    record = read_run(live)
    assert record.info.state == "running" and record.info.arch == "resnet18"
    assert (record.info.epochs_done, record.info.epochs_planned) == (1, 5)
    assert record.info.best_f1_macro == 0.3 and record.info.started == 2000.0
    assert record.skipped_lines == 1 and len(record.batches) == 1 and record.batches[0].batch_loss == 0.7
    assert record.metrics == {} and record.final_groups == {}
    assert record.epochs[0].groups is None  # an epoch_end from before val_groups

    old = time.time() - 3600
    os.utime(live / "events.jsonl", (old, old))
    assert read_run(live).info.state == "unknown"  # no end event and silent for an hour: killed

    stopped = runs / "stopped"
    stopped.mkdir()
    (stopped / "config.yaml").write_text(": this is not yaml : [\n")
    (stopped / "last.pt").write_bytes(b"")
    (stopped / "events.jsonl").write_text(
        "garbage line\n"
        + _event("run_started", config=cfg)
        + "\n"
        + _event("run_stopped", message="stopped at epoch 1; continue with --resume x")
        + "\n"
    )
    info = read_run(stopped).info
    assert info.state == "stopped" and "resume" in info.message and info.arch == "resnet18"

    resumed = runs / "resumed"  # failed once, then resumed and finished: the last session decides
    resumed.mkdir()
    (resumed / "events.jsonl").write_text(
        "\n".join(
            [
                _event("run_started", config=cfg),
                _event("run_failed", message="out of memory"),
                _event("run_started", config=cfg),
                _event("epoch_end", epoch=1, val_f1_macro=0.2, val_f1_micro=0.25),
                _event("epoch_end", epoch=1, val_f1_macro=0.5, val_f1_micro=0.55),
                _event("run_finished", bundle="x"),
            ]
        )
    )
    r = read_run(resumed)
    assert r.info.state == "finished" and r.info.epochs_done == 1 and r.info.best_f1_micro == 0.55

    empty = runs / "only-config"
    empty.mkdir()
    (empty / "config.yaml").write_text("arch: cnn\nepochs: 3\n")
    assert read_run(empty).info.state == "unknown" and read_run(empty).epochs == []

    assert {r.name for r in list_runs(runs)} == {"live", "stopped", "resumed", "only-config"}
    assert list_runs(tmp_path / "missing") == []
    assert read_run(tmp_path / "missing").info.state == "unknown"
