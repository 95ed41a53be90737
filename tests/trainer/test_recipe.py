"""The v2 recipe's trainer features: phone-like augmentation, source weights, flip averaging, the selection metric."""

from __future__ import annotations

import colorsys
import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from trainer_helpers import make_class_folders

from fashion_desktop.model import protocol
from fashion_desktop.model.archs import build_model
from fashion_desktop.model.bundle import load_bundle, new_bundle, save_bundle
from fashion_desktop.model.bundle_file import read_header
from fashion_desktop.model.bundle_format import BundleDescription, BundleError
from fashion_desktop.model.images import load_for_model
from fashion_desktop.model.resources import resource_path
from fashion_desktop.model.scoring import ModelRunner, ScoreOptions, mean_score_logits, sigmoid_scores
from fashion_desktop.model.train_config import (
    ConfigError,
    check_source_weights,
    config_from_run_dir,
    load_config_file,
    make_config,
    resume_config,
    save_config,
)
from trainer.checkpoints import TrainState
from trainer.distributed import DistInfo
from trainer.engine import run_training
from trainer.pipeline import to_model_input
from trainer.report import group_table
from trainer.sampling import train_sampler
from trainer.schedule import LrControl, select_value

# ---------------------------------------------------------------- augmentation

# Clearly coloured, each channel distinct, and mid-tones: brightness and contrast never clip them to 0 or
# 1 (clipping, unlike the jitter itself, would shift the hue).
COLOURS = [
    (0.6, 0.3, 0.35), (0.3, 0.55, 0.35), (0.3, 0.35, 0.6), (0.55, 0.5, 0.3),
    (0.55, 0.3, 0.5), (0.3, 0.5, 0.55), (0.6, 0.45, 0.3), (0.45, 0.3, 0.6),
]  # fmt: skip


def _garments(n: int = 8, size: int = 48) -> tuple[torch.Tensor, list[tuple[float, float, float]]]:
    """uint8 NHWC photos of one colour each, shaded by a grey pattern (an off-centre dark square, a
    gradient): the pixels vary, their hue does not. Returns the batch and each photo's colour."""
    colours = COLOURS[:n]
    shade = np.tile(np.linspace(0.6, 1.0, size), (size, 1))
    shade[8:24, 12:30] *= 0.8
    photos = np.stack([shade[..., None] * np.array(c) for c in colours])
    return torch.from_numpy((photos * 255).round().astype(np.uint8)), colours


def _pixels(batch: torch.Tensor, augment: str, seed: int = 0) -> torch.Tensor:
    """The batch as the model would get it but unnormalised: float NCHW in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    return to_model_input(batch, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), augment, g, channels_last=False)


def test_phone_augmentation_moves_pixels_but_keeps_each_photos_hue() -> None:
    batch, colours = _garments()
    plain, phone = _pixels(batch, "none"), _pixels(batch, "phone")
    assert phone.shape == plain.shape
    moved = (phone - plain).abs().mean(dim=(1, 2, 3))
    assert (moved > 0.01).all()  # every photo cropped, turned, lit differently
    for i, colour in enumerate(colours):
        hue = colorsys.rgb_to_hsv(*colour)[0]
        mean = phone[i].mean(dim=(1, 2)).tolist()
        got = colorsys.rgb_to_hsv(*mean)[0]
        assert min(abs(got - hue), 1 - abs(got - hue)) < 0.005, (i, colour, mean)  # within 2 degrees
        # the channels keep their order: a red garment stays the reddest channel, a blue one the bluest
        assert np.argsort(mean).tolist() == np.argsort(colour).tolist()


def test_phone_augmentation_follows_the_runs_seed() -> None:
    batch, _ = _garments(4)
    assert torch.equal(_pixels(batch, "phone", seed=3), _pixels(batch, "phone", seed=3))
    assert not torch.equal(_pixels(batch, "phone", seed=3), _pixels(batch, "phone", seed=4))


def test_the_augment_setting_accepts_phone_and_names_the_choices() -> None:
    assert make_config({"augment": "phone"}).augment == "phone"
    with pytest.raises(ConfigError, match="phone"):
        make_config({"augment": "hue"})


# ---------------------------------------------------------------- source weights


def _draws(cfg, sources: list[str], epoch: int = 0) -> list[int]:
    targets = np.zeros((len(sources), 2), dtype=np.int8)
    return list(train_sampler(cfg, list(range(len(sources))), targets, sources, DistInfo(), epoch))


def test_source_weights_draw_that_sources_photos_that_much_more_often() -> None:
    sources = ["shop"] * 500 + ["phone"] * 500
    cfg = make_config({"source_weights": {"phone": 3}, "seed": 5})
    draws = _draws(cfg, sources)
    assert len(draws) == len(sources)  # an epoch is as long as before
    share = np.mean([sources[i] == "phone" for i in draws])
    assert 0.70 < share < 0.80  # 3 / (1 + 3) of the draws
    assert _draws(cfg, sources) == draws and _draws(cfg, sources, epoch=1) != draws  # the seed's draws
    plain = _draws(make_config({"seed": 5}), sources)
    assert sorted(plain) == list(range(len(sources)))  # without weights: each photo once, shuffled


def test_source_weights_must_name_a_source_of_the_data_and_be_positive() -> None:
    cfg = make_config({"source_weights": {"fotos": 2}})
    with pytest.raises(ConfigError, match="names 'fotos'.*'shop', 'phone'"):
        check_source_weights(cfg, ["shop", "phone", "shop"])
    check_source_weights(make_config({"source_weights": {"phone": 2}}), ["shop", "phone"])
    with pytest.raises(ConfigError, match="above 0"):
        make_config({"source_weights": {"phone": 0}})
    with pytest.raises(ConfigError, match="must be a number"):
        make_config({"source_weights": {"phone": "lots"}})
    with pytest.raises(ConfigError, match="must map source names"):
        make_config({"source_weights": "phone"})


def test_the_recipe_settings_are_saved_and_a_resume_cannot_change_them(tmp_path: Path) -> None:
    cfg = make_config(
        {"data": ["x"], "source_weights": {"phone": 3}, "tta_flip": True, "select_metric": "balanced"}
    )
    save_config(cfg, tmp_path / "config.yaml")
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["source_weights"] == {"phone": 3.0}
    saved = config_from_run_dir(tmp_path)
    assert saved == cfg
    for key, value in (("source_weights", {"phone": 1}), ("tta_flip", False), ("select_metric", "f1_macro")):
        with pytest.raises(ConfigError, match=f"cannot change {key}"):
            resume_config(saved, tmp_path, {key: value})
    assert resume_config(saved, tmp_path, {"source_weights": {"phone": 3.0}}).source_weights == {"phone": 3.0}


# ---------------------------------------------------------------- flip averaging


def _tiny_bundle(tta_flip: bool):
    torch.manual_seed(0)
    labels = ("dress", "skirt", "red", "blue", "green")
    groups = {"dress": "category", "skirt": "category", "red": "colour", "blue": "colour", "green": "colour"}
    model = build_model("cnn", len(labels))
    return new_bundle(
        "cnn", labels, model.state_dict(), input_size=32, groups=groups, exclusive_groups=("colour",),
        tta_flip=tta_flip,
    )  # fmt: skip


def test_flip_averaging_scores_the_mean_of_the_photo_and_its_mirror() -> None:
    photos = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8))
    options = ScoreOptions(device="cpu", precision="fp32", batch_size=6)
    plain = ModelRunner(_tiny_bundle(False), options)
    direct, mirrored = plain.scores(photos), plain.scores(photos.flip(2))
    assert np.abs(direct - mirrored).max() > 1e-3  # the mirror image really scores differently
    averaged = ModelRunner(_tiny_bundle(True), options).scores(photos)
    np.testing.assert_allclose(averaged, (direct + mirrored) / 2, atol=1e-5)
    colour = [2, 3, 4]
    np.testing.assert_allclose(averaged[:, colour].sum(1), 1.0, atol=1e-5)  # still one value per photo


def test_mean_score_logits_stay_finite_when_both_scores_saturate() -> None:
    a = torch.tensor([[40.0, -40.0, 5.0, -5.0]])
    b = torch.tensor([[40.0, 40.0, -5.0, -5.0]])
    mixed = mean_score_logits(a, b, (np.array([2, 3]),))
    assert torch.isfinite(mixed).all()
    scores = sigmoid_scores(mixed, (np.array([2, 3]),))
    want = (sigmoid_scores(a, (np.array([2, 3]),)) + sigmoid_scores(b, (np.array([2, 3]),))) / 2
    np.testing.assert_allclose(scores, want, atol=1e-6)


def test_the_bundle_carries_flip_averaging(tmp_path: Path) -> None:
    path = save_bundle(_tiny_bundle(True), tmp_path / "m.fmodel")
    assert load_bundle(path).tta_flip is True and read_header(path)[0].tta_flip is True
    assert load_bundle(save_bundle(_tiny_bundle(False), tmp_path / "n.fmodel")).tta_flip is False
    raw = _tiny_bundle(True).description().to_raw()
    del raw["tta_flip"]  # a bundle from before the field: no averaging
    assert BundleDescription.from_raw(raw, "old.fmodel").tta_flip is False
    with pytest.raises(BundleError, match="tta_flip"):
        BundleDescription.from_raw({**raw, "tta_flip": "yes"}, "odd.fmodel")


# ---------------------------------------------------------------- choosing the best epoch

# Epoch 1 has the best F1 macro by tagging nearly everyone with the commonest gender; epoch 2 tells the
# genders apart (balanced accuracy 0.80) at a slightly lower F1 macro; epoch 3 is worse on both.
HISTORY = [
    {"epoch": 1, "val_f1_macro": 0.70, "val_loss": 0.9,
     "val_groups": {"category": {"f1_macro": 0.80}, "gender": {"top1_accuracy": 0.80, "balanced_accuracy": 0.55}}},
    {"epoch": 2, "val_f1_macro": 0.66, "val_loss": 0.8,
     "val_groups": {"category": {"f1_macro": 0.78}, "gender": {"top1_accuracy": 0.78, "balanced_accuracy": 0.80}}},
    {"epoch": 3, "val_f1_macro": 0.60, "val_loss": 0.85,
     "val_groups": {"category": {"f1_macro": 0.75}, "gender": {"top1_accuracy": 0.7, "balanced_accuracy": math.nan}}},
]  # fmt: skip


def _best_epoch(select_metric: str) -> int:
    """The epoch the trainer keeps (``TrainState.improved`` fed as ``_train_epochs`` feeds it), 1-based."""
    st = TrainState(None, None, None)  # type: ignore[arg-type]  # improved() reads only the best so far
    for i, row in enumerate(HISTORY):
        st.improved(select_value(row, select_metric), i)
    return st.best["epoch"] + 1


def test_select_metric_balanced_keeps_the_epoch_that_tells_the_values_apart() -> None:
    assert _best_epoch("f1_macro") == 1
    assert _best_epoch("balanced") == 2
    assert select_value(HISTORY[1], "balanced") == pytest.approx((0.80 + 0.78) / 2)
    assert select_value(HISTORY[2], "balanced") == pytest.approx(0.75)  # a NaN group is left out
    plateau = LrControl("plateau", 3, 0, 1, 0.3)
    for row in HISTORY:
        plateau.step(select_value(row, "balanced"))
    assert plateau.plateau_mult == pytest.approx(0.3)  # one epoch without improvement: one cut


def test_select_value_falls_back_to_f1_macro_then_the_loss() -> None:
    no_groups = {"val_f1_macro": 0.5, "val_loss": 1.0, "val_groups": {}}
    assert select_value(no_groups, "balanced") == 0.5
    nothing = {"val_f1_macro": math.nan, "val_loss": 0.4}
    assert select_value(nothing, "balanced") == select_value(nothing, "f1_macro") == -0.4
    with pytest.raises(ConfigError, match="select_metric"):
        make_config({"select_metric": "accuracy"})


# ---------------------------------------------------------------- the recipe file


def test_the_v2_recipe_draft_is_a_valid_config_on_v1s_pinned_split() -> None:
    v1 = load_config_file(resource_path("models", "default-v1.yaml"))
    v2 = load_config_file(resource_path("models", "default-v2.yaml"))
    cfg = make_config(v2)
    for key in ("data", "data_root", "seed", "val_fraction", "test_fraction", "exclusive_groups"):
        assert v2[key] == v1[key], key
    assert cfg.arch == "efficientnet_lite0" and cfg.pretrained and not cfg.allow_download
    assert cfg.freeze_backbone and cfg.unfreeze == ("1:all",) and cfg.backbone_lr_mult == 0.1
    assert cfg.scheduler == "cosine" and cfg.warmup_epochs > 0 and 8 <= cfg.epochs <= 12
    assert cfg.image_size == 160 and cfg.augment == "phone" and cfg.select_metric == "balanced"
    assert cfg.time_limit_min > 0
    assert set(cfg.source_weights) == {"clothing-small"} <= {entry["name"] for entry in v2["data"]}


# ---------------------------------------------------------------- a run with all of it


@pytest.mark.slow
def test_a_run_with_the_recipe_features_writes_a_flip_averaging_bundle(tmp_path: Path) -> None:
    shop = make_class_folders(tmp_path / "shop", 5, ("train", "val", "test"), ["red", "green", "blue"])
    phone = make_class_folders(tmp_path / "phone", 3, ("train", "val", "test"), ["red", "green", "blue"])
    buf = io.StringIO()
    cfg = make_config(
        {"data": [{"path": str(shop), "name": "shop", "group": "colour"},
                  {"path": str(phone), "name": "phone", "group": "colour"}],
         "exclusive_groups": ["colour"], "arch": "cnn", "image_size": 32, "batch_size": 4, "epochs": 2,
         "threads": 1, "precision": "fp32", "augment": "phone", "source_weights": {"phone": 3},
         "tta_flip": True, "select_metric": "balanced", "out": str(tmp_path / "run")}
    )  # fmt: skip
    assert run_training(cfg, events=protocol.EventWriter(buf)) == 0
    events = protocol.decode_lines(buf.getvalue(), protocol.TRAINING)
    ends = [e for e in events if e.name == protocol.EPOCH_END]
    assert len(ends) == 2 and all("balanced_accuracy" in e["val_groups"]["colour"] for e in ends)
    assert config_from_run_dir(tmp_path / "run").source_weights == {"phone": 3.0}
    bundle = load_bundle(tmp_path / "run" / "model.fmodel")
    assert bundle.tta_flip and "balanced_accuracy" in bundle.metrics["test"]["groups"]["colour"]
    # The scores kept from the run's test pass are the ones tagging gives: the one scoring path averages.
    runner = ModelRunner(bundle, ScoreOptions(device="cpu", precision="fp32"))
    paths = bundle.evaluation["paths"]
    pixels = torch.from_numpy(np.stack([load_for_model(p, 32, bundle.resize) for p in paths]))
    kept = bundle.evaluation["scores"].float().numpy()
    np.testing.assert_allclose(runner.scores(pixels), kept, atol=2e-3)


@pytest.mark.slow
def test_a_run_refuses_source_weights_for_a_source_it_does_not_have(tmp_path: Path) -> None:
    data = make_class_folders(tmp_path / "shop", 3, ("train", "val"), ["red", "green"])
    buf = io.StringIO()
    cfg = make_config(
        {"data": [{"path": str(data), "name": "shop"}], "arch": "cnn", "image_size": 32, "epochs": 1,
         "source_weights": {"phones": 3}, "out": str(tmp_path / "run")}
    )  # fmt: skip
    assert run_training(cfg, events=protocol.EventWriter(buf)) == 1
    failed = [e for e in protocol.decode_lines(buf.getvalue(), protocol.TRAINING) if e.name == "run_failed"]
    assert failed and "'phones'" in failed[0]["message"] and "'shop'" in failed[0]["message"]


def test_the_terminal_table_shows_balanced_accuracy_for_the_groups_that_have_it() -> None:
    groups = {
        "category": {"images": 10, "f1_micro": 0.9, "f1_macro": 0.8, "top1_accuracy": 0.9},
        "gender": {
            "images": 10,
            "f1_micro": 0.7,
            "f1_macro": 0.6,
            "top1_accuracy": 0.7,
            "balanced_accuracy": 0.55,
        },
    }
    head, category, gender = group_table(None, groups)
    assert head.split()[-2:] == ["top-1", "balanced"]
    assert category.split()[-1] == "0.900" and gender.split()[-2:] == ["0.700", "0.550"]
    assert "balanced" not in group_table(None, {"category": groups["category"]})[0]


def test_fashion_evaluate_can_turn_flip_averaging_on_to_measure_it(tmp_path: Path) -> None:
    from trainer.evaluate import evaluate_cli

    bundle = save_bundle(_tiny_bundle(False), tmp_path / "m.fmodel")
    data = make_class_folders(tmp_path / "data", 2, (), ["red", "blue"])
    scores = {}
    for mode in ("bundle", "on"):
        out = tmp_path / mode
        argv = [str(bundle), str(data), "--out", str(out), "--tta-flip", mode, "--device", "cpu"]
        assert evaluate_cli([*argv, "--precision", "fp32"]) == 0
        scores[mode] = np.load(out / "evaluation.npz")["scores"]
    paths = [str(p) for p in np.load(tmp_path / "on" / "evaluation.npz")["paths"]]
    pixels = torch.from_numpy(np.stack([load_for_model(p, 32, "squash") for p in paths]))
    flipped = ModelRunner(_tiny_bundle(True), ScoreOptions(device="cpu", precision="fp32")).scores(pixels)
    np.testing.assert_allclose(scores["on"], flipped, atol=1e-5)
    assert np.abs(scores["on"] - scores["bundle"]).max() > 1e-4  # the bundle says no: no averaging
