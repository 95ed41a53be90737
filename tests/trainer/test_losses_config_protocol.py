"""Masked losses, the class-weighted sampler weights, config parsing and the event protocol."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainer import protocol
from trainer.config import ConfigError, TrainConfig, load_config_file, make_config, unfreeze_plan
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
    events = [protocol.decode(line) for line in lines]
    assert [e["event"] for e in events] == ["run_started", "progress", "run_finished"]
    assert all(e["protocol"] == protocol.PROTOCOL_VERSION for e in events)
    assert events[0]["config"]["lr"] is None and events[0]["dataset"]["images"] == 3
    assert protocol.decode("some stray print") is None
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(json.dumps({"event": "run_started", "protocol": protocol.PROTOCOL_VERSION + 1}))
    with pytest.raises(protocol.ProtocolError):
        protocol.encode("made_up")
    silent = io.StringIO()
    protocol.EventWriter(silent, enabled=False).emit(protocol.RUN_FAILED, message="x")
    assert silent.getvalue() == ""


def test_command_line_overrides_and_resume_keeps_the_recipe(tmp_path):
    from trainer.cli import resolve_train_config
    from trainer.config import save_config

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
    assert resume and again.epochs == 5 and again.lr == cfg.lr and again.loss == "focal"
    assert again.out == str(tmp_path)
