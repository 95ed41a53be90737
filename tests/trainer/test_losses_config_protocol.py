"""Masked losses, the class-weighted sampler weights, config parsing and the event protocol."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fashion_desktop.model import protocol
from fashion_desktop.model.train_config import (
    ConfigError,
    TrainConfig,
    load_config_file,
    make_config,
    unfreeze_plan,
)
from trainer.losses import auto_pos_weight, masked_bce, masked_focal, sample_weights


@pytest.mark.parametrize("loss", [masked_bce, masked_focal])
def test_unknown_labels_contribute_nothing(loss):
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.3, 4.0, -2.0]], requires_grad=True)
    t = torch.tensor([[1, -1, 0], [-1, 1, -1]])
    out = loss(logits, t)
    out.backward()
    assert (logits.grad[t == -1] == 0).all()
    # Same value whatever the model says about unknown entries.
    changed = logits.detach().clone()
    changed[t == -1] = torch.tensor([50.0, -50.0, 9.0])
    assert float(loss(changed, t)) == pytest.approx(float(out.detach()))


def test_masked_bce_is_the_mean_over_known_entries():
    logits = torch.tensor([[2.0, -1.0], [0.3, 4.0]])
    t = torch.tensor([[1, -1], [0, -1]])
    want = F.binary_cross_entropy_with_logits(torch.tensor([2.0, 0.3]), torch.tensor([1.0, 0.0]))
    assert float(masked_bce(logits, t)) == pytest.approx(float(want))
    assert float(masked_bce(logits, torch.full((2, 2), -1))) == 0.0
    pw = torch.tensor([3.0, 1.0])
    want_pw = (3 * F.softplus(torch.tensor(-2.0)) + F.softplus(torch.tensor(0.3))) / 2
    assert float(masked_bce(logits, t, pw)) == pytest.approx(float(want_pw))


def test_focal_loss_down_weights_easy_examples():
    t = torch.tensor([[1]])
    easy, hard = (
        masked_focal(torch.tensor([[4.0]]), t, -1, 2.0),
        masked_focal(torch.tensor([[-1.0]]), t, -1, 2.0),
    )
    p = torch.sigmoid(torch.tensor(4.0))
    assert float(easy) == pytest.approx(float(-((1 - p) ** 2) * torch.log(p)), rel=1e-5)
    assert float(hard) > 50 * float(easy)


def test_seed_sampler_weights_and_pos_weight_ignore_unknowns():
    t = np.array([[1, 0], [1, -1], [0, 1], [-1, -1]], dtype=np.int8)
    w = sample_weights(t)
    # label weights: a = 1/2, b = 1/1; image 2 (rare label) is drawn twice as often as image 0
    assert w[:3] == pytest.approx([0.5, 0.5, 1.0])
    assert w[3] == pytest.approx(0.5)  # nothing known: smallest weight, not zero
    assert auto_pos_weight(t) == pytest.approx([1.0, 1.0])
    t2 = np.array([[1], [0], [0], [0], [-1]], dtype=np.int8)
    assert auto_pos_weight(t2) == pytest.approx([3.0])


def test_config_file_then_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("arch: resnet50\nepochs: 7\nunfreeze: ['2:layer4', '4:all']\ndata: [a, b]\n")
    cfg = make_config(load_config_file(f), {"epochs": "3", "lr": None, "batch-size": 8})
    assert (cfg.arch, cfg.epochs, cfg.batch_size, cfg.lr) == ("resnet50", 3, 8, TrainConfig().lr)
    assert unfreeze_plan(cfg) == [(2, ("layer4",)), (4, ("",))]
    assert cfg.data == ("a", "b")
    with pytest.raises(ConfigError, match="unknown setting 'epoch'"):
        make_config({"epoch": 3})
    with pytest.raises(ConfigError, match="'loss' must be one of"):
        make_config({"loss": "hinge"})
    with pytest.raises(ConfigError, match="unfreeze entry"):
        make_config({"unfreeze": ["later:all"]})
    with pytest.raises(ConfigError, match="batch_size"):
        make_config({"batch_size": "many"})


def test_events_are_one_json_object_per_line_with_version():
    buf = io.StringIO()
    w = protocol.EventWriter(buf, max_progress_per_s=2)
    w.emit(protocol.RUN_STARTED, config={"lr": float("nan")}, dataset={"images": np.int64(3)})
    assert w.progress(step=1) is True
    assert w.progress(step=2) is False  # rate-limited
    w.emit(protocol.RUN_FINISHED, bundle="x.fmodel")
    lines = buf.getvalue().splitlines()
    assert all(json.loads(line)["protocol"] == protocol.PROTOCOL_VERSION for line in lines)
    events = protocol.decode_lines(lines, protocol.TRAINING)
    assert [e.name for e in events] == ["run_started", "progress", "run_finished"]
    assert events[0]["config"]["lr"] is None and events[0]["dataset"]["images"] == 3
    stray = protocol.decode_line("some stray print", protocol.TRAINING)
    assert isinstance(stray, protocol.Unreadable) and "not JSON" in stray.reason
    newer = json.dumps({"event": "run_started", "protocol": protocol.PROTOCOL_VERSION + 1})
    with pytest.raises(protocol.ProtocolError, match="newer than this app understands"):
        protocol.decode_line(newer, protocol.TRAINING)
    with pytest.raises(protocol.ProtocolError):
        protocol.encode("made_up")
    silent = io.StringIO()
    protocol.EventWriter(silent, enabled=False).emit(protocol.RUN_FAILED, message="x")
    assert silent.getvalue() == ""


def test_every_trainer_event_round_trips_and_older_versions_are_read(tmp_path):
    fields = {
        protocol.RUN_STARTED: {"config": {"lr": 0.001}, "labels": ["dress"], "world_size": 1},
        protocol.PROGRESS: {"phase": "train", "epoch": 1, "epochs": 2, "step": 3, "steps": 9, "loss": 0.25},
        protocol.EPOCH_END: {
            "epoch": 1,
            "val_f1_macro": 0.5,
            "partial": False,
            "val_groups": {"colour": {"top1_accuracy": 0.75, "f1_micro": 0.5, "f1_macro": None}},
        },
        protocol.CHECKPOINT_SAVED: {"path": "run/last.pt", "kind": "last", "epoch": 1},
        protocol.RUN_FINISHED: {"bundle": "run/model.fmodel", "metrics": {"val": {"f1_micro": 0.75}}},
        protocol.RUN_FAILED: {"message": "no data"},
        protocol.RUN_STOPPED: {"message": "stopped at epoch 2", "resume": "run"},
        protocol.LOG: {"level": "warning", "message": "unfreeze past the last epoch"},
        protocol.DATASET_PREVIEW: {
            "labels": ["dress"],
            "counts": {"train": {"dress": 3}, "val": {"dress": 1}, "test": {"dress": 0}},
            "warnings": ["the test split is empty"],
        },
    }
    assert set(fields) == set(protocol.TRAIN_EVENTS)
    events_file = tmp_path / "events.jsonl"
    buf = io.StringIO()
    w = protocol.EventWriter(buf, log_path=str(events_file), max_progress_per_s=0)
    for name, values in fields.items():
        w.emit(name, **values)
    assert events_file.read_text(encoding="utf-8") == buf.getvalue()  # the run folder keeps a copy
    back = protocol.decode_lines(buf.getvalue(), protocol.TRAINING)
    assert [(e.name, dict(e.fields)) for e in back] == list(fields.items())
    assert all(isinstance(e.time, float) for e in back)
    # Version 1 of the trainer's protocol had the same envelope: a reader of version 2 still reads it.
    old = json.dumps({"event": "run_failed", "protocol": 1, "time": 5.0, "message": "old trainer"})
    assert protocol.decode_line(old, protocol.TRAINING) == protocol.TrainEvent(
        "run_failed", {"message": "old trainer"}, 5.0
    )
    bad = json.dumps({"event": "run_failed", "protocol": 2, "time": 5.0})
    got = protocol.decode_line(bad, protocol.TRAINING)
    assert isinstance(got, protocol.Unreadable) and "bad fields for 'run_failed'" in got.reason
    # epoch_end from before val_groups still reads; a val_groups that is not a mapping is a bad line
    plain = json.dumps({"event": "epoch_end", "protocol": 2, "epoch": 3, "val_f1_macro": 0.5})
    assert protocol.decode_line(plain, protocol.TRAINING)["epoch"] == 3
    odd = json.dumps({"event": "epoch_end", "protocol": 2, "epoch": 3, "val_groups": [0.5]})
    got = protocol.decode_line(odd, protocol.TRAINING)
    assert isinstance(got, protocol.Unreadable) and "'val_groups' is not dict" in got.reason
    unknown = protocol.decode_line(json.dumps({"event": "summary", "protocol": 2}), protocol.TRAINING)
    assert isinstance(unknown, protocol.Unreadable) and "unknown training event 'summary'" in unknown.reason


@pytest.mark.slow
def test_stray_prints_in_the_trainer_go_to_stderr_not_the_event_stream(tmp_path):
    from trainer_helpers import trainer_env

    script = (
        "import os, sys\n"
        "import trainer.evaluate as ev\n"
        "real = ev.load_bundle_converting\n"
        "def noisy(path, *a):\n"
        "    print('hello from a library')\n"
        "    os.write(1, b'raw bytes on fd 1\\n')\n"
        "    return real(path, *a)\n"
        "ev.load_bundle_converting = noisy\n"
        "from trainer.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    args = [
        "evaluate",
        str(tmp_path / "missing.fmodel"),
        str(tmp_path),
        "--events",
        "--out",
        str(tmp_path / "e"),
    ]
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=trainer_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    events = protocol.decode_lines(proc.stdout, protocol.TRAINING)
    assert [e.name for e in events] == ["run_failed"], proc.stdout  # nothing unreadable in between
    assert "missing.fmodel" in events[0]["message"]
    assert "hello from a library" in proc.stderr and "raw bytes on fd 1" in proc.stderr


def test_the_stdout_guard_puts_everything_back(capfd):
    import os

    with protocol.guard_stdout() as events:
        print("a stray print")
        events.write("an event line\n")
    print("after the guard")
    os.write(1, b"fd 1 after the guard\n")
    out, err = capfd.readouterr()
    assert "an event line" in out and "after the guard" in out and "fd 1 after the guard" in out
    assert "a stray print" in err and "a stray print" not in out


def test_command_line_overrides_and_resume_keeps_the_recipe(tmp_path):
    from fashion_desktop.model.train_config import save_config
    from trainer.cli import resolve_train_config

    cfg, resume = resolve_train_config(
        [
            "--data",
            "photos",
            "--epochs",
            "3",
            "--set",
            "loss=focal",
            "--set",
            'unfreeze=["1:layer4", "3:all"]',
        ]
    )
    assert not resume and cfg.data == ("photos",) and cfg.epochs == 3 and cfg.loss == "focal"
    assert cfg.unfreeze == ("1:layer4", "3:all")
    with pytest.raises(ConfigError, match="no data"):
        resolve_train_config(["--epochs", "3"])
    save_config(cfg, tmp_path / "config.yaml")
    again, resume = resolve_train_config(["--resume", str(tmp_path), "--epochs", "5", "--set", "lr=9"])
    # the new learning rate is applied on resume (it used to be dropped silently); the recipe is kept
    assert resume and again.epochs == 5 and again.lr == 9 and again.loss == "focal"
    with pytest.raises(ConfigError, match="cannot change loss"):
        resolve_train_config(["--resume", str(tmp_path), "--set", "loss=bce"])
    assert again.out == str(tmp_path)


def test_the_progress_bar_redraws_in_place_on_a_terminal_and_keeps_out_of_the_logs_way():
    import logging

    from trainer.report import ProgressBar, TerminalReport, setup_logging

    term, out = io.StringIO(), io.StringIO()
    bar = ProgressBar(term, tty=True)
    report = TerminalReport(out, bar)
    report("progress", {"phase": "train", "epoch": 1, "epochs": 3, "step": 5, "steps": 10, "loss": 0.5})
    report("progress", {"phase": "train", "epoch": 1, "epochs": 3, "step": 10, "steps": 10, "loss": 0.4})
    shown = term.getvalue()
    assert shown.count("\r\x1b[K") == 2 and "\n" not in shown  # one line, redrawn in place
    assert "epoch 1/3 train" in shown and "10/10" in shown and "loss 0.4000" in shown
    logger = logging.getLogger("trainer")
    saved = logger.handlers[:], logger.level, logger.propagate
    try:
        setup_logging(bar=bar)
        logger.handlers[0].setStream(term)
        logger.info("epoch 1/3 done")
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    after = term.getvalue()[len(shown) :]
    assert (
        after.startswith("\r\x1b[K")
        and "epoch 1/3 done\n" in after
        and after.endswith("10/10 100% loss 0.4000")
    )
    report(
        "run_finished",
        {"out": "eval", "metrics": {"overall": {"images": 4, "f1_micro": 0.5, "f1_macro": None}}},
    )
    assert "all labels" in out.getvalue() and "0.500" in out.getvalue() and "-" in out.getvalue()
    assert term.getvalue().endswith("\r\x1b[K")  # the bar is gone before the summary


def test_rate_limited_progress_still_reports_the_last_step_of_a_phase() -> None:
    """A bar fed by rate-limited events ends at 100 %, not wherever the last allowed event left it."""
    import io

    out = io.StringIO()
    writer = protocol.EventWriter(out, max_progress_per_s=0.5)
    for step in range(1, 51):
        writer.progress(phase="val", step=step, steps=50)
    events = protocol.decode_lines(out.getvalue(), protocol.TRAINING)
    assert [e["step"] for e in events] == [1, 50]
