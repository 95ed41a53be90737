"""The trainer calibrates the "?" badge on validation photos and measures it on test photos; packaging
keeps it, and gives a run from before the badge one chosen on its stored test photos."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from trainer_helpers import COLOURS, write_image

from fashion_desktop.model import protocol
from fashion_desktop.model.badge import SCORE
from fashion_desktop.model.bundle import load_bundle, save_bundle
from fashion_desktop.model.train_config import make_config
from trainer.engine import run_training


@pytest.fixture(scope="module")
def run_bundle(tmp_path_factory) -> Path:
    """A two-epoch run over generated photos: a multi-label ``kind`` group and an exclusive ``colour``."""
    tmp = tmp_path_factory.mktemp("badge")
    names = list(COLOURS)[:3]
    rows = []
    for i in range(48):
        p = write_image(tmp / "img" / f"{i}.jpg", COLOURS[names[i % 3]], seed=i)
        rows.append({"image": str(p), "kind": "square" if i % 2 else "", "colour": names[i % 3]})
    sheet = tmp / "labels.csv"
    pd.DataFrame(rows).to_csv(sheet, index=False)
    cfg = make_config(
        {"data": [{"path": str(sheet), "columns": {"kind": "kind", "colour": "colour"}}],
         "exclusive_groups": ["colour"], "arch": "cnn", "image_size": 32, "batch_size": 8, "epochs": 2,
         "lr": 0.01, "val_fraction": 0.25, "test_fraction": 0.25, "out": str(tmp / "run")}
    )  # fmt: skip
    assert run_training(cfg, events=protocol.EventWriter(io.StringIO())) == 0
    return tmp / "run" / "model.fmodel"


@pytest.mark.slow
def test_a_trained_bundle_carries_a_badge_chosen_on_validation_and_measured_on_test(run_bundle) -> None:
    badge = load_bundle(run_bundle).badge
    assert badge is not None and badge["score"] == SCORE
    assert badge["chosen_on"] == "validation" and badge["measured_on"] == "test"
    assert 0.0 <= badge["cutoff"] <= 1.0 and badge["photos"] > 0 and badge["target_share"] == 0.2


@pytest.mark.slow
def test_packaging_keeps_the_badge_or_calibrates_an_older_run_on_its_test_photos(
    run_bundle, tmp_path
) -> None:
    from trainer.package import package

    card = {"name": "Badged"}
    result = package(run_bundle, card, tmp_path / "a.fmodel", None, tolerance=0.01, check=0)
    kept, trained = load_bundle(tmp_path / "a.fmodel").badge, load_bundle(run_bundle).badge
    assert json.dumps(kept, sort_keys=True) == json.dumps(trained, sort_keys=True)  # NaN: nothing to count
    assert result["badge"].startswith("? marks the photos most likely to have a wrong tag")
    older = save_bundle(replace(load_bundle(run_bundle), badge=None), tmp_path / "older.fmodel")
    package(older, card, tmp_path / "b.fmodel", None, tolerance=0.01, check=0)
    badge = load_bundle(tmp_path / "b.fmodel").badge
    assert badge is not None and badge["chosen_on"] == badge["measured_on"] == "test"
    assert badge["flagged"] <= 0.2
