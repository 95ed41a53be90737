"""Training runs end to end: event stream, real unfreezing, failures, SIGTERM + resume, 2-process DDP."""

from __future__ import annotations

import io
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from trainer_helpers import FAST, make_class_folders, run_trainer, trainer_env, write_image

from fashion_desktop.model import protocol
from fashion_desktop.model.archs import build_model
from fashion_desktop.model.bundle import load_bundle
from fashion_desktop.model.train_config import make_config
from trainer.engine import ParamSchedule, make_optimizer, run_training


def _events(text: str) -> list[protocol.TrainEvent]:
    out = protocol.decode_lines(text, protocol.TRAINING)
    bad = [e for e in out if isinstance(e, protocol.Unreadable)]
    assert not bad, f"stdout lines that are not events: {bad}"
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small finished run shared by the event-stream and evaluate tests."""
    tmp = tmp_path_factory.mktemp("run")
    data = make_class_folders(tmp / "data", 5, ("train", "val", "test"), ["red", "green", "blue"])
    proc = run_trainer(
        ["train", "--events", "--data", str(data), *FAST, "--epochs", "2", "--out", str(tmp / "run")], tmp
    )
    return tmp, data, proc


@pytest.mark.slow
def test_event_stream_of_a_finished_run(trained):
    tmp, _data, proc = trained
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = _events(proc.stdout)
    names = [e.name for e in events]
    assert names[0] == "run_started" and names[-1] == "run_finished"
    assert names.count("epoch_end") == 2 and "checkpoint_saved" in names
    started = events[0]
    assert started["dataset"]["splits"] == {"train": 15, "val": 15, "test": 15}
    assert started["labels"] == ["blue", "green", "red"]
    ends = [e for e in events if e.name == "epoch_end"]
    for key in ("train_loss", "val_loss", "val_f1_micro", "val_f1_macro", "lr", "seconds"):
        assert isinstance(ends[0][key], float), key
    # per-group validation figures for the live plot, from the predictions the epoch already made
    groups = ends[0]["val_groups"]
    assert set(groups) == {"category"}
    assert set(groups["category"]) == {"top1_accuracy", "f1_micro", "f1_macro"}
    assert all(0 <= v <= 1 for v in groups["category"].values())
    finished = events[-1]
    bundle = load_bundle(finished["bundle"])
    assert bundle.labels == ("blue", "green", "red") and bundle.arch == "cnn" and bundle.input_size == 32
    assert bundle.evaluation["split"] == "test" and bundle.evaluation["scores"].shape == (15, 3)
    assert bundle.metrics["test"]["overall"]["images"] == 15 and "val" in bundle.metrics
    assert bundle.provenance["model_id"] and bundle.provenance["created"]
    assert (tmp / "run" / "config.yaml").is_file() and (tmp / "run" / "events.jsonl").is_file()
    assert "epoch 1/2" in proc.stderr  # human logs go to stderr, not stdout


@pytest.mark.slow
def test_evaluate_writes_tables_and_scores(trained):
    tmp, data, _proc = trained
    out = tmp / "eval"
    proc = run_trainer(
        ["evaluate", str(tmp / "run" / "model.fmodel"), str(data / "test"), "--out", str(out), "--events"],
        tmp,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _events(proc.stdout)[-1].name == "run_finished"
    import openpyxl

    ws = openpyxl.load_workbook(out / "per_class_metrics.xlsx").active
    assert [c.value for c in ws[1]][:3] == ["label", "group", "precision"]
    assert ws["A1"].font.bold and ws.freeze_panes == "A2" and ws.auto_filter.ref
    assert ws.max_row == 4
    overall = (out / "overall_metrics.csv").read_text().splitlines()
    assert overall[0].startswith("scope,images,f1_micro") and overall[1].startswith("all labels,15,")
    scores = (out / "per_image_scores.csv").read_text().splitlines()
    assert len(scores) == 16 and scores[0] == "path,readable,blue,green,red"


@pytest.mark.slow
def test_unfreeze_schedule_really_trains_the_backbone():
    cfg = make_config({"arch": "cnn", "unfreeze": ["1:features.4"], "lr": 0.05, "backbone_lr_mult": 0.5})
    torch.manual_seed(0)
    model = build_model("cnn", 3)
    sched = ParamSchedule(model, cfg, pretrained=True)
    opt = make_optimizer(cfg, sched.initial_groups())
    params = dict(model.named_parameters())

    def step():
        before = {k: v.detach().clone() for k, v in params.items()}
        loss = model(torch.randn(4, 3, 16, 16)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {k for k in params if not torch.equal(before[k], params[k])}

    assert sched.due(0) == []
    changed = step()
    assert changed == {"classifier.weight", "classifier.bias"}
    assert sched.due(1) == [0]
    assert sched.apply(0, opt) == 1
    assert opt.param_groups[-1]["lr"] == pytest.approx(0.025)
    assert params["features.4.weight"].requires_grad
    assert step() == {"classifier.weight", "classifier.bias", "features.4.weight"}
    assert not params["features.0.weight"].requires_grad


@pytest.mark.slow
def test_at_a_terminal_evaluate_and_train_show_progress_and_a_per_group_table(trained, tmp_path):
    # Without --events a person reads the output: no JSON, a summary table on stdout, progress on stderr.
    tmp, data, _proc = trained
    proc = run_trainer(
        ["evaluate", str(tmp / "run" / "model.fmodel"), str(data / "test"), "--out", str(tmp_path / "e")], tmp
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not any(line.lstrip().startswith("{") for line in proc.stdout.splitlines()), proc.stdout
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if "F1 micro" in line)
    assert header.split() == ["group", "images", "F1", "micro", "F1", "macro", "top-1"]
    row = next(line for line in lines if line.strip().startswith("all labels")).split()
    assert row[2] == "15" and 0.0 <= float(row[3]) <= 1.0  # images, then F1 micro
    assert len([line for line in lines[lines.index(header) + 1 :] if line.startswith("  ")]) >= 2  # + a group
    assert str(tmp_path / "e") in proc.stdout
    assert "evaluate" in proc.stderr and "15/15" in proc.stderr  # plain progress lines (no terminal here)
    assert "\r" not in proc.stderr

    run = tmp_path / "run"
    proc = run_trainer(["train", "--data", str(data), *FAST, "--epochs", "1", "--out", str(run)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not any(line.lstrip().startswith("{") for line in proc.stdout.splitlines()), proc.stdout
    assert f"Model saved: {run / 'model.fmodel'}" in proc.stdout
    assert "Validation" in proc.stdout and "Test" in proc.stdout and "F1 macro" in proc.stdout
    assert "epoch 1/1 train" in proc.stderr
    assert (run / "events.jsonl").is_file()  # the run folder still keeps the events


@pytest.mark.slow
def test_pretrained_backbone_changes_only_after_its_unfreeze_epoch(tmp_path):
    data = make_class_folders(tmp_path / "d", 4, ("train", "val"), ["red", "green"])
    ref = build_model("efficientnet_lite0", 2, pretrained=True).state_dict()
    weights = {}
    for epochs in (1, 2):
        cfg = make_config(
            {"data": [str(data)], "arch": "efficientnet_lite0", "image_size": 32, "epochs": epochs, "batch_size": 4,
             "unfreeze": ["1:all"], "early_stopping": 0, "out": str(tmp_path / f"run{epochs}"), "lr": 0.01}
        )  # fmt: skip
        assert run_training(cfg, events=protocol.EventWriter(io.StringIO())) == 0
        ck = torch.load(tmp_path / f"run{epochs}" / "last.pt", map_location="cpu", weights_only=True)
        weights[epochs] = ck["model"]
        assert len(ck["optimizer"]["param_groups"]) == epochs  # the backbone joined the optimizer
    stem = "_conv_stem.weight"
    assert torch.equal(weights[1][stem], ref[stem])  # frozen for epoch 0
    assert not torch.equal(weights[2][stem], ref[stem])  # trained once unfrozen
    assert not torch.equal(weights[1]["_fc.weight"], weights[2]["_fc.weight"])


def _run_inprocess(cfg_values: dict) -> tuple[int, list[dict]]:
    buf = io.StringIO()
    code = run_training(make_config(cfg_values), events=protocol.EventWriter(buf))
    return code, _events(buf.getvalue())


def test_missing_folder_and_empty_dataset_fail_with_plain_messages(tmp_path):
    code, events = _run_inprocess(
        {"data": [str(tmp_path / "gone")], "arch": "cnn", "out": str(tmp_path / "r")}
    )
    assert code == 1 and events[-1].name == "run_failed" and "not found" in events[-1]["message"]
    (tmp_path / "empty" / "dress").mkdir(parents=True)
    code, events = _run_inprocess(
        {"data": [str(tmp_path / "empty")], "arch": "cnn", "out": str(tmp_path / "r")}
    )
    assert code == 1 and "no class folders with images" in events[-1]["message"]
    write_image(tmp_path / "broken" / "dress" / "a.jpg", (1, 1, 1)).write_bytes(b"not a jpeg")
    code, events = _run_inprocess(
        {"data": [str(tmp_path / "broken")], "arch": "cnn", "out": str(tmp_path / "r")}
    )
    assert code == 1 and "empty" in events[-1]["message"]


@pytest.mark.slow
def test_nan_loss_fails_the_run_with_advice(tmp_path, monkeypatch):
    import trainer.engine as engine

    data = make_class_folders(tmp_path / "d", 3, ("train", "val"), ["red", "green"])
    monkeypatch.setattr(engine, "masked_bce", lambda logits, y, w=None: logits.sum() * float("nan"))
    code, events = _run_inprocess(
        {"data": [str(data)], "arch": "cnn", "image_size": 32, "batch_size": 2, "out": str(tmp_path / "r")}
    )
    assert code == 1 and events[-1].name == "run_failed"
    assert "diverged" in events[-1]["message"] and "learning rate" in events[-1]["message"]


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_resume_finishes(tmp_path):
    data = make_class_folders(tmp_path / "d", 12, ("train", "val"), ["red", "green", "blue"])
    run = tmp_path / "run"
    args = [
        "train",
        "--events",
        "--data",
        str(data),
        *FAST,
        "--epochs",
        "40",
        "--set",
        "early_stopping=0",
        "--out",
        str(run),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainer", *args], cwd=tmp_path, env=trainer_env(tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    seen = []
    for line in proc.stdout:
        ev = protocol.decode_line(line, protocol.TRAINING)
        seen.append(ev.name)
        if ev.name == "checkpoint_saved" and ev["kind"] == "last":
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 143
    events = _events(rest)
    assert events[-1].name == "run_stopped" and str(run) in events[-1]["message"]
    ck = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    stopped_at = int(ck["epoch"])
    assert 1 <= stopped_at < 40
    resumed = run_trainer(
        ["train", "--events", "--resume", str(run), "--epochs", str(stopped_at + 1)], tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    events = _events(resumed.stdout)
    assert events[0]["resumed_at_epoch"] == stopped_at
    assert [e["epoch"] for e in events if e.name == "epoch_end"] == [stopped_at + 1]
    assert events[-1].name == "run_finished"
    history = json.loads((run / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == list(range(1, stopped_at + 2))


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_two_process_gloo_run_gathers_the_whole_validation_set(tmp_path):
    data = make_class_folders(tmp_path / "d", 6, ("train",), ["red", "green", "blue"])
    for i, cls in enumerate(["red", "green", "blue", "red", "green"]):  # 5 val images: odd, no padding
        write_image(data / "val" / cls / f"v{i}.jpg", (10 * i, 0, 0), seed=100 + i)
    for i, cls in enumerate(["red", "green", "blue"]):
        write_image(data / "test" / cls / f"t{i}.jpg", (0, 10 * i, 0), seed=200 + i)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    args = [
        "-m",
        "trainer",
        "train",
        "--events",
        "--data",
        str(data),
        *FAST,
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "run"),
    ]
    args += ["--set", "sampler=weighted"]
    proc = subprocess.run(
        torchrun + args, cwd=tmp_path, env=trainer_env(tmp_path), capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = _events(proc.stdout)
    names = [e.name for e in events]
    assert names.count("run_started") == 1 and names.count("run_finished") == 1  # rank 0 only
    assert events[0]["world_size"] == 2
    bundle = load_bundle(events[-1]["bundle"])
    assert bundle.metrics["val"]["overall"]["images"] == 5
    assert bundle.metrics["test"]["overall"]["images"] == 3
    assert sorted(Path(p).name for p in bundle.evaluation["paths"]) == ["t0.jpg", "t1.jpg", "t2.jpg"]
    shutil.rmtree(tmp_path / "run" / "cache")


@pytest.mark.slow
def test_inception_trains_with_its_auxiliary_loss():
    from trainer.engine import model_loss
    from trainer.losses import masked_bce

    torch.manual_seed(0)
    model = build_model("inception_v3", 3).train()
    y = torch.tensor([[1, 0, -1], [0, 1, 0]])
    out = model(torch.randn(2, 3, 299, 299))
    assert not isinstance(out, torch.Tensor) and out[1] is not None  # train mode: (logits, aux)
    loss, logits = model_loss(out, y, masked_bce, 0.4)
    want = masked_bce(out[0], y) + 0.4 * masked_bce(out[1], y)
    assert float(loss.detach()) == pytest.approx(float(want.detach())) and logits.shape == (2, 3)
    model.eval()
    with torch.no_grad():
        assert isinstance(model(torch.randn(1, 3, 299, 299)), torch.Tensor)


@pytest.mark.slow
def test_time_limit_ends_training_early_and_still_delivers_a_bundle(tmp_path):
    data = make_class_folders(tmp_path / "d", 8, ("train", "val"), ["red", "green"])
    code, events = _run_inprocess(
        {"data": [str(data)], "arch": "cnn", "image_size": 32, "batch_size": 2, "epochs": 5,
         "time_limit_min": 1e-6, "out": str(tmp_path / "r")}
    )  # fmt: skip
    assert code == 0
    ends = [e for e in events if e.name == "epoch_end"]
    assert len(ends) == 1 and ends[0]["partial"] is True
    assert events[-1].name == "run_finished" and Path(events[-1]["bundle"]).is_file()


@pytest.mark.slow
def test_missing_imagenet_weights_need_an_explicit_choice(tmp_path, monkeypatch):
    import fashion_desktop.model.archs as archs
    from trainer.engine import make_model

    monkeypatch.setattr(archs, "torch_hub_checkpoint_dir", lambda: tmp_path / "empty-hub")
    data = make_class_folders(tmp_path / "d", 2, ("train", "val"), ["red", "green"])
    base = {"data": [str(data)], "arch": "resnet18", "allow_download": False, "out": str(tmp_path / "r")}
    code, events = _run_inprocess(base)
    assert code == 1 and events[-1].name == "run_failed"
    assert "--allow-random-init" in events[-1]["message"] and "resnet18" in events[-1]["message"]
    notes: list[str] = []
    model, pretrained = make_model(make_config({**base, "allow_random_init": True}), 2, notes)
    assert pretrained is False and "random weights" in notes[0]


@pytest.mark.slow
def test_written_bundles_are_readable_by_others(trained):
    tmp, _data, _proc = trained
    for name in ("model.fmodel", "last.pt", "config.yaml"):
        assert (tmp / "run" / name).stat().st_mode & 0o044 == 0o044, name  # not mkstemp's 0600
