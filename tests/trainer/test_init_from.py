"""``fashion train --init-from BUNDLE``: the run starts from a bundle and keeps the head rows of the labels it knows."""

from __future__ import annotations

import pytest
import torch
from trainer_helpers import FAST, make_class_folders, run_trainer

from fashion_desktop.model import protocol
from fashion_desktop.model.archs import build_model
from fashion_desktop.model.bundle import load_bundle, new_bundle, save_bundle
from fashion_desktop.model.scoring import ScoreOptions, as_runner, score_paths
from trainer.data import load_dataset
from trainer.init_from import transplant


def _source_bundle(tmp_path, arch: str = "cnn", labels=("red", "green", "blue")):
    torch.manual_seed(1)
    model = build_model(arch, len(labels))
    bundle = new_bundle(arch, labels, model.state_dict(), input_size=32, provenance={"model_id": "src-id-1"})
    return save_bundle(bundle, tmp_path / "source.fmodel")


def test_head_surgery_keeps_known_rows_adds_fresh_ones_and_drops_the_rest(tmp_path):
    source = load_bundle(_source_bundle(tmp_path))
    model = build_model("cnn", 3)
    done = transplant(model, ["red", "green", "denim"], source.state_dict, source.labels, "cnn")
    state = model.state_dict()
    for key in ("classifier.weight", "classifier.bias"):
        assert torch.equal(state[key][0], source.state_dict[key][0])  # red
        assert torch.equal(state[key][1], source.state_dict[key][1])  # green
        assert not torch.equal(state[key][2], source.state_dict[key][2])  # denim is fresh, not blue's row
    assert torch.equal(state["features.0.weight"], source.state_dict["features.0.weight"])
    assert (done.kept, done.new, done.dropped) == (("red", "green"), ("denim",), ("blue",))


@pytest.mark.slow
def test_inception_aux_head_rows_move_too():
    labels = ["a", "b"]
    src = build_model("inception_v3", 2).state_dict()
    model = build_model("inception_v3", 2)
    transplant(model, ["b", "c"], src, labels, "inception_v3")
    state = model.state_dict()
    for key in ("fc.weight", "AuxLogits.fc.weight", "AuxLogits.fc.bias"):
        assert torch.equal(state[key][0], src[key][1])


@pytest.mark.slow
def test_train_from_a_bundle_with_a_new_label(tmp_path):
    source = _source_bundle(tmp_path)
    data = make_class_folders(tmp_path / "data", 5, ("train", "val"), ["red", "green", "denim"])
    out = tmp_path / "run"
    fast = [a for a in FAST if a not in ("--arch", "cnn", "--image-size", "32")]
    proc = run_trainer(
        ["train", "--events", "--data", str(data), *fast, "--epochs", "1", "--init-from", str(source),
         "--out", str(out)],
        tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    expected = list(load_dataset([str(data)], None, 0.1, 0.1).labels)
    bundle = load_bundle(out / "model.fmodel")
    assert list(bundle.labels) == expected and set(expected) == {"red", "green", "denim"}
    assert bundle.arch == "cnn" and bundle.input_size == 32  # both from the source bundle
    assert bundle.provenance["init_from"] == "src-id-1"
    denim = sorted((data / "val" / "denim").glob("*.jpg"))
    runner = as_runner(bundle, ScoreOptions(device="cpu", num_threads=1, decode_workers=1, model_workers=1))
    batches = list(score_paths(denim, runner))
    scores = torch.cat([torch.as_tensor(b.scores) for b in batches if b.scores is not None])
    assert scores.shape == (len(denim), 3) and torch.isfinite(scores).all()
    assert "started from" in proc.stderr
    # The Train tab plots per-batch loss and shows speed and time left from the progress events.
    train_progress = [
        e for e in protocol.decode_lines(proc.stdout, protocol.TRAINING)
        if e.name == "progress" and e.get("phase") == "train"
    ]  # fmt: skip
    assert train_progress
    for e in train_progress:
        assert isinstance(e["batch_loss"], float) and e["batch_loss"] >= 0
        assert e["samples_per_s"] > 0 and e["eta_s"] >= 0
    assert train_progress[-1]["eta_s"] == 0

    # Training it further keeps where it started from, in the bundle and without downloading anything.
    more = run_trainer(["train", "--resume", str(out), "--epochs", "2"], tmp_path)
    assert more.returncode == 0, more.stderr[-2000:]
    again = load_bundle(out / "model.fmodel")
    assert again.provenance["init_from"] == "src-id-1" and list(again.labels) == expected
    assert again.metrics["history"][-1]["epoch"] == 2


@pytest.mark.slow
def test_unreadable_init_from_fails_in_one_line(tmp_path):
    data = make_class_folders(tmp_path / "data", 3, (), ["red", "green"])
    bad = tmp_path / "broken.fmodel"
    bad.write_bytes(b"not a bundle at all")
    proc = run_trainer(
        ["train", "--events", "--data", str(data), "--init-from", str(bad), "--out", str(tmp_path / "r")],
        tmp_path,
    )
    assert proc.returncode == 1
    events = protocol.decode_lines(proc.stdout, protocol.TRAINING)
    assert [e.name for e in events] == ["run_failed"] and str(bad) in events[0]["message"]
    errors = [line for line in proc.stderr.splitlines() if str(bad) in line]
    assert len(errors) == 1, proc.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_init_from_refuses_another_architecture_by_name(tmp_path):
    source = _source_bundle(tmp_path)
    data = make_class_folders(tmp_path / "data", 3, (), ["red", "green"])
    proc = run_trainer(
        ["train", "--data", str(data), "--init-from", str(source), "--arch", "resnet18",
         "--out", str(tmp_path / "r")],
        tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "is a cnn model; --arch resnet18 cannot start from it" in proc.stderr
