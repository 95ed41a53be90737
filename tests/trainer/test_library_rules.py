"""A run on a library keeps the rules its photos were reviewed under, says before Start what it cannot learn,
and never tunes a threshold on a handful of validation photos (issue 19 §2)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from trainer_helpers import COLOURS, write_image

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.model import protocol
from fashion_desktop.model.run_folder import FROM_DEFAULT, FROM_PREVIOUS, THRESHOLDS_NOT_TUNED, untuned_note
from fashion_desktop.model.train_config import make_config
from tests.conftest import split_seed
from trainer.data import read_catalog
from trainer.preview import dataset_preview, format_preview, load_run_dataset, with_data_rules
from trainer.thresholds import MIN_TUNE_POSITIVES, final_thresholds

COLOUR_LABELS = ("red", "green", "blue")


def colour_library(path: Path, colours: list[str]) -> Path:
    """A library whose model has a one-value colour group (red, green, blue) and a ``kind`` label, every
    photo reviewed with the model's scores as its tags: photo i is ``colours[i]``."""
    photos = [
        write_image(path.parent / "photos" / f"{i:02d}.jpg", COLOURS[c], seed=i)
        for i, c in enumerate(colours)
    ]
    with Catalog(path) as cat:
        ids = cat.ensure_images([str(p) for p in photos])
        labels = [*COLOUR_LABELS, "shirt"]
        groups = {**{lab: "colour" for lab in COLOUR_LABELS}, "shirt": "category"}
        cat.register_model("m", labels, "colours", None, groups, [0.5] * 4, exclusive=("colour",))
        scores = [np.float32([0.9 if lab == c else 0.05 for lab in COLOUR_LABELS] + [0.9]) for c in colours]
        cat.add_predictions("m", [(ids[str(p)], s) for p, s in zip(photos, scores, strict=True)])
        cat.set_reviewed(list(ids.values()), True)
    return path


def library_config(lib: Path, **values):
    return make_config({"data": [str(lib)], "val_fraction": 0.0, "test_fraction": 0.0, **values})


def test_a_library_brings_its_models_one_value_groups_to_the_run(tmp_path) -> None:
    lib = colour_library(tmp_path / "lib.ffcat", ["red", "green", "blue"] * 3)
    table = read_catalog(lib)
    assert table.exclusive_groups == ("colour",) and table.groups["red"] == "colour"
    cfg = library_config(lib)
    assert cfg.exclusive_groups == ()  # the Train tab's quick presets set none
    ruled = with_data_rules(cfg, load_run_dataset(cfg))
    assert ruled.exclusive_groups == ("colour",)
    preview = dataset_preview(cfg)
    assert preview["exclusive_groups"] == ["colour"] and preview["lost_exclusive"] == []
    assert preview["dropped"] == []


def test_the_preview_names_the_labels_it_cannot_learn_and_the_rule_it_loses(tmp_path) -> None:
    lib = colour_library(tmp_path / "lib.ffcat", ["red"] * 6)  # no green or blue photo was reviewed
    cfg = library_config(lib)
    preview = dataset_preview(cfg)
    assert set(preview["labels"]) == {"red", "shirt"}
    assert preview["dropped"] == ["blue", "green"] and preview["min_label_count"] == 1
    assert preview["lost_exclusive"] == ["colour"] and preview["exclusive_groups"] == []
    assert not any("labels dropped" in w for w in preview["warnings"])  # said once, in its own line
    text = format_preview(preview)
    assert "labels left out (fewer than 1 training examples): blue, green" in text
    assert "lost one-value rule: colour" in text
    assert with_data_rules(cfg, load_run_dataset(cfg)).exclusive_groups == ()


def test_thresholds_are_tuned_only_on_enough_validation_photos() -> None:
    rng = np.random.default_rng(0)
    n = 40
    targets = np.zeros((n, 2), np.int8)
    targets[:12, 0] = 1  # "many": 12 positives, enough
    targets[:2, 1] = 1  # "few": 2 positives, too few
    scores = np.clip(targets * 0.6 + rng.random((n, 2)) * 0.4, 0, 1).astype(np.float32)
    scores[:2, 1] = 0.03  # the two positives score low: tuned, the cut would follow them down
    thresholds, fell_back = final_thresholds(targets, scores, ["many", "few"])
    assert fell_back == {"few": FROM_DEFAULT} and thresholds[1] == 0.5
    assert thresholds[0] != 0.5 and 0.3 < thresholds[0] < 0.7  # tuned between the two score ranges
    thresholds, fell_back = final_thresholds(targets, scores, ["many", "few"], previous={"few": 0.62})
    assert fell_back == {"few": FROM_PREVIOUS} and thresholds[1] == pytest.approx(0.62)
    assert MIN_TUNE_POSITIVES == 10


def test_a_one_value_group_shares_one_floor_tuned_on_the_groups_photos_or_falls_back() -> None:
    group = (np.array([0, 1, 2]),)
    few = np.full((6, 3), 0, np.int8)
    few[np.arange(6), np.arange(6) % 3] = 1  # 6 photos with a colour: too few for a floor
    scores = np.where(few == 1, 0.8, 0.1).astype(np.float32)
    thresholds, fell_back = final_thresholds(few, scores, list(COLOUR_LABELS), group)
    assert list(thresholds) == [0.5, 0.5, 0.5] and set(fell_back.values()) == {FROM_DEFAULT}
    thresholds, fell_back = final_thresholds(
        few, scores, list(COLOUR_LABELS), group, previous={"red": 0.3, "green": 0.3, "blue": 0.4}
    )
    assert list(thresholds) == pytest.approx([0.4, 0.4, 0.4]) and set(fell_back.values()) == {FROM_PREVIOUS}
    many = np.tile(few, (2, 1))  # 12 photos: the group's floor is tuned (one for all three labels)
    thresholds, fell_back = final_thresholds(many, np.tile(scores, (2, 1)), list(COLOUR_LABELS), group)
    assert fell_back == {} and len(set(thresholds.tolist())) == 1


def test_the_note_says_which_labels_were_not_tuned_and_what_they_use() -> None:
    metrics = {
        THRESHOLDS_NOT_TUNED: {"min_positives": 10, "labels": {"Pink": FROM_DEFAULT, "Cream": FROM_PREVIOUS}}
    }
    note = untuned_note(metrics)
    assert note.startswith("2 labels had fewer than 10 validation photos each")
    assert "Pink use 0.5" in note and "Cream keep the previous model's" in note
    assert untuned_note({THRESHOLDS_NOT_TUNED: {"min_positives": 10, "labels": {}}}) == ""
    assert untuned_note({}) == ""


@pytest.mark.slow
def test_a_run_on_the_library_keeps_its_one_value_group_and_says_which_thresholds_were_not_tuned(
    tmp_path,
) -> None:
    lib = colour_library(tmp_path / "lib.ffcat", ["red", "green", "blue"] * 6)
    from fashion_desktop.model.bundle import load_bundle
    from trainer.engine import run_training

    # The split hashes the photos' paths, tmp_path's among them: pin a seed that validates on a few photos
    # (fewer than a threshold needs to be tuned: what this test is about) and trains on every colour.
    seed = split_seed(
        [str(lib)], 0.3, 0.0, lambda n, table: 0 < n["val"] < MIN_TUNE_POSITIVES and not table.dropped
    )
    cfg = make_config(
        {"data": [str(lib)], "arch": "cnn", "image_size": 32, "batch_size": 8, "epochs": 1,
         "precision": "fp32", "threads": 1, "val_fraction": 0.3, "test_fraction": 0.0, "seed": seed,
         "out": str(tmp_path / "run")}
    )  # fmt: skip
    events = io.StringIO()
    assert run_training(cfg, events=protocol.EventWriter(events)) == 0
    bundle = load_bundle(tmp_path / "run" / "model.fmodel")
    assert bundle.exclusive_groups == ("colour",)
    colour = [bundle.thresholds[bundle.labels.index(lab)] for lab in COLOUR_LABELS]
    assert len(set(colour)) == 1
    untuned = bundle.metrics[THRESHOLDS_NOT_TUNED]
    assert untuned["min_positives"] == MIN_TUNE_POSITIVES
    # A few validation photos of 18: no label has ten positives, so none was tuned.
    assert set(untuned["labels"]) == set(bundle.labels)
    assert "run_finished" in events.getvalue() and THRESHOLDS_NOT_TUNED in events.getvalue()
