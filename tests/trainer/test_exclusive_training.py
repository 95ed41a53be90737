"""Training with exclusive groups: softmax cross-entropy over a group, unknown values masked, the bundle
flag with one floor per group, scores that sum to one over the group when tagging."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from trainer_helpers import COLOURS, write_image

from fashion_desktop.model import protocol
from fashion_desktop.model.bundle import load_bundle
from fashion_desktop.model.scoring import ModelRunner, ScoreOptions, score_paths
from fashion_desktop.model.train_config import ConfigError, make_config
from trainer.engine import make_loss, run_training
from trainer.losses import masked_group_ce


def test_group_cross_entropy_masks_photos_whose_value_is_unknown() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [5.0, -5.0, 0.0]], requires_grad=True)
    targets = torch.tensor([[1, 0, 0], [0, 1, 0], [-1, -1, -1]])
    loss = masked_group_ce(logits, targets, torch.tensor([0, 1, 2]))
    expected = torch.nn.functional.cross_entropy(logits[:2], torch.tensor([0, 1]))
    assert float(loss.detach()) == pytest.approx(float(expected.detach()))
    loss.backward()
    assert torch.all(logits.grad[2] == 0)  # the unknown photo teaches nothing


def test_loss_mixes_bce_for_free_labels_with_ce_per_group() -> None:
    cfg = make_config({"data": ["x"], "exclusive_groups": ["colour"]})
    train_t = np.array([[1, 1, 0], [0, 0, 1]], np.int8)
    loss_fn = make_loss(cfg, train_t, torch.device("cpu"), (np.array([1, 2]),))
    logits = torch.zeros(2, 3)
    y = torch.from_numpy(train_t.astype(np.int64))
    bce = torch.nn.functional.binary_cross_entropy_with_logits(torch.zeros(2), torch.tensor([1.0, 0.0]))
    assert float(loss_fn(logits, y)) == pytest.approx(float(bce) + float(np.log(2)), rel=1e-5)
    with pytest.raises(ConfigError, match="label_smoothing"):
        make_config({"data": ["x"], "label_smoothing": 1.5})


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory) -> tuple[Path, list[Path]]:
    """A spreadsheet of generated photos with a multi-label ``kind`` group and an exclusive ``colour``
    group (a fifth of the photos have no colour: unknown), trained for two epochs."""
    tmp = tmp_path_factory.mktemp("excl")
    rows = []
    names = list(COLOURS)[:3]
    for i in range(60):
        colour = names[i % 3]
        p = write_image(tmp / "img" / f"{i}.jpg", COLOURS[colour], seed=i)
        rows.append({"image": str(p), "kind": "square" if i % 2 else "", "colour": colour if i % 5 else ""})
    sheet = tmp / "labels.csv"
    pd.DataFrame(rows).to_csv(sheet, index=False)
    buf = io.StringIO()
    cfg = make_config(
        {"data": [{"path": str(sheet), "columns": {"kind": "kind", "colour": "colour"}}],
         "exclusive_groups": ["colour"], "arch": "cnn", "image_size": 32, "batch_size": 8, "epochs": 2,
         "lr": 0.01, "val_fraction": 0.25, "test_fraction": 0.2, "out": str(tmp / "run"), "label_smoothing": 0.05}
    )  # fmt: skip
    assert run_training(cfg, events=protocol.EventWriter(buf)) == 0
    return tmp / "run" / "model.fmodel", [tmp / "img" / f"{i}.jpg" for i in range(6)]


@pytest.mark.slow
def test_the_bundle_declares_the_group_with_one_floor(colour_run) -> None:
    bundle_path, _ = colour_run
    b = load_bundle(bundle_path)
    assert b.exclusive_groups == ("colour",)
    colour = [j for j, lab in enumerate(b.labels) if b.groups[lab] == "colour"]
    assert len(colour) == 3 and len({b.thresholds[j] for j in colour}) == 1
    assert "top1_accuracy" in b.metrics["test"]["groups"]["colour"]


@pytest.mark.slow
def test_tagging_with_it_scores_the_group_as_a_softmax(colour_run) -> None:
    bundle_path, photos = colour_run
    b = load_bundle(bundle_path)
    colour = [j for j, lab in enumerate(b.labels) if b.groups[lab] == "colour"]
    batches = list(score_paths(photos, ModelRunner(b, ScoreOptions(batch_size=4))))
    scores = np.concatenate([batch.scores for batch in batches if batch.scores is not None])
    assert len(scores) == len(photos)
    assert scores[:, colour].sum(1) == pytest.approx(np.ones(len(scores)), abs=1e-4)


@pytest.mark.slow
def test_package_writes_the_card_half_precision_weights_and_relative_paths(colour_run, tmp_path) -> None:
    from trainer.package import package

    bundle_path, _ = colour_run
    data_root = bundle_path.parents[1]  # the photos lie under it
    card = {"name": "Shipped colours", "licences": "CC0", "cannot_recognise": "shapes"}
    out = tmp_path / "shipped.fmodel"
    result = package(bundle_path, card, out, data_root, tolerance=0.01, check=12)
    shipped = load_bundle(out)
    evaluated = len(load_bundle(bundle_path).evaluation["paths"])  # the test split: its size follows the hash
    assert result["checked_photos"] == min(12, evaluated) > 0 and result["max_score_change"] <= 0.01
    assert result["precision"] == "fp16"
    assert all(t.dtype == torch.float16 for t in shipped.state_dict.values() if t.is_floating_point())
    assert shipped.name == "Shipped colours" and shipped.provenance["card"]["licences"] == "CC0"
    assert "colour" in shipped.provenance["card"]["held_out_top1"]["img"]  # a source: its first folder
    assert all(not Path(p).is_absolute() for p in shipped.evaluation["paths"])
    assert "out" not in shipped.provenance["config"] and shipped.exclusive_groups == ("colour",)
    # Half-precision weights tag like the full ones.
    assert load_bundle(out).model_id == load_bundle(bundle_path).model_id
    # A tolerance nothing meets keeps single precision.
    kept = package(bundle_path, card, tmp_path / "fp32.fmodel", None, tolerance=-1.0, check=4)
    assert kept["precision"] == "fp32"


def test_an_unfreeze_prefix_that_names_nothing_is_refused_with_the_likely_fix() -> None:
    from fashion_desktop.model.archs import build_model
    from trainer.errors import TrainError
    from trainer.schedule import ParamSchedule

    cfg = make_config(
        {"data": ["photos"], "arch": "efficientnet_lite0", "freeze_backbone": True,
         "unfreeze": ["1:_blocks.15.,_conv_head"]}
    )  # fmt: skip
    model = build_model("efficientnet_lite0", 2)
    with pytest.raises(TrainError, match=r"'_blocks.15.' names no parameter.*did you mean '_blocks.15'"):
        ParamSchedule(model, cfg, pretrained=True)
    fixed = ParamSchedule(model, cfg.replace(unfreeze=("1:_blocks.15,_conv_head",)), pretrained=True)
    assert fixed.plan == [(1, ("_blocks.15", "_conv_head"))]
