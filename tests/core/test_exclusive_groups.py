"""Exclusive groups (one value per photo): bundle flag, scores, the tag rule, catalog, policy and export."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fashion_desktop.core import catalog_schema
from fashion_desktop.core import export as ex
from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.scan import sync_folder
from fashion_desktop.core.tags import predicted_matrix
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.model.bundle import load_bundle, new_bundle, save_bundle
from fashion_desktop.model.bundle_file import read_bundle_file
from fashion_desktop.model.bundle_format import BundleError
from fashion_desktop.model.groups import exclusive_columns, group_softmax, top_of_group
from fashion_desktop.model.metrics import group_floor
from fashion_desktop.model.scoring import sigmoid_scores
from tests.conftest import make_photo

LABELS = ["dress", "shirt, blouse", "red", "green", "blue", "Men", "Women"]
GROUPS = {
    "dress": "category", "shirt, blouse": "category", "red": "colour", "green": "colour", "blue": "colour",
    "Men": "gender", "Women": "gender",
}  # fmt: skip
EXCLUSIVE = ("colour", "gender")


def test_scores_of_an_exclusive_group_are_a_softmax_and_the_rest_stay_sigmoid() -> None:
    logits = torch.tensor([[2.0, -1.0, 3.0, 2.5, -4.0, 0.0, 1.0]])
    cols = exclusive_columns(LABELS, GROUPS, EXCLUSIVE)
    s = sigmoid_scores(logits, cols)
    assert s[0, 2:5].sum() == pytest.approx(1.0, abs=1e-6)
    assert s[0, 5:7].sum() == pytest.approx(1.0, abs=1e-6)
    assert s[0, 0] == pytest.approx(float(torch.sigmoid(torch.tensor(2.0))), abs=1e-6)
    # Without the flag every label is its own sigmoid, as bundles always were.
    plain = sigmoid_scores(logits)
    assert plain[0, 2:5].sum() > 1.5


def test_the_tag_rule_tags_only_the_groups_top_value_at_its_floor() -> None:
    cols = exclusive_columns(LABELS, GROUPS, EXCLUSIVE)
    scores = np.array(
        [
            [0.9, 0.8, 0.45, 0.40, 0.15, 0.55, 0.45],  # two colours above 0.3: only red is tagged
            [0.1, 0.9, 0.25, 0.20, 0.55, 0.51, 0.49],  # blue; Men (top) although both pass
            [0.1, 0.1, 0.34, 0.33, 0.33, np.nan, np.nan],  # red below floor 0.35: no colour; unscored gender
        ],
        np.float32,
    )
    th = np.array([0.5, 0.5, 0.35, 0.35, 0.35, 0.3, 0.3], np.float32)
    got = predicted_matrix(scores, th, exclusive=cols)
    tagged = [[LABELS[j] for j in np.flatnonzero(row)] for row in got]
    assert tagged == [["dress", "shirt, blouse", "red", "Men"], ["shirt, blouse", "blue", "Men"], []]
    # A bundle without exclusive groups tags every label at or above its threshold, as before.
    plain = predicted_matrix(scores, th)
    assert [LABELS[j] for j in np.flatnonzero(plain[0])] == [
        "dress",
        "shirt, blouse",
        "red",
        "green",
        "Men",
        "Women",
    ]


def test_softmax_and_top_of_group_handle_unscored_rows() -> None:
    cols = exclusive_columns(LABELS, GROUPS, EXCLUSIVE)
    logits = np.zeros((1, len(LABELS)), np.float32)
    s = group_softmax(logits, np.full((1, len(LABELS)), 0.5, np.float32), cols)
    assert s[0, 2:5] == pytest.approx([1 / 3] * 3)
    keep = top_of_group(np.full((1, len(LABELS)), np.nan, np.float32), cols)
    assert keep.all()  # nothing scored: nothing to rule out (the NaN scores are never tagged anyway)


def test_group_floor_rises_when_the_wrong_answers_are_the_unsure_ones() -> None:
    rng = np.random.default_rng(0)
    n = 400
    truth = rng.integers(0, 3, n)
    sure = rng.random(n) < 0.7
    scores = np.full((n, 3), 0.2, np.float32)
    pred = np.where(sure, truth, (truth + 1) % 3)  # every unsure photo is wrong
    scores[np.arange(n), pred] = np.where(sure, 0.9, 0.45)
    targets = np.zeros((n, 3), np.int8)
    targets[np.arange(n), truth] = 1
    floor = group_floor(targets, scores)
    assert 0.45 < floor <= 0.9
    # When every top answer is right, tagging them all is best.
    scores_right = np.full((n, 3), 0.2, np.float32)
    scores_right[np.arange(n), truth] = 0.4
    assert group_floor(targets, scores_right) <= 0.4


def _bundle(tmp_path: Path, exclusive=EXCLUSIVE, thresholds=None) -> Path:
    from fashion_desktop.model.archs import build_model

    model = build_model("cnn", len(LABELS), pretrained=False)
    th = thresholds or (0.5, 0.5, 0.3, 0.3, 0.3, 0.4, 0.4)
    b = new_bundle(
        "cnn",
        LABELS,
        model.state_dict(),
        input_size=32,
        groups=GROUPS,
        thresholds=th,
        exclusive_groups=exclusive,
    )
    return save_bundle(b, tmp_path / "m.fmodel")


def test_the_bundle_flag_round_trips_and_is_checked(tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    assert load_bundle(path).exclusive_groups == EXCLUSIVE
    assert read_bundle_file(path).description.exclusive_groups == EXCLUSIVE  # the torch-free reader too
    (tmp_path / "plain").mkdir()
    assert load_bundle(_bundle(tmp_path / "plain", exclusive=())).exclusive_groups == ()
    (tmp_path / "bad").mkdir()
    with pytest.raises(BundleError, match="share one threshold"):
        _bundle(tmp_path / "bad", thresholds=(0.5, 0.5, 0.3, 0.2, 0.3, 0.4, 0.4))
    with pytest.raises(BundleError, match="needs at least two labels"):
        _bundle(tmp_path / "bad", exclusive=("category", "nosuchgroup"))


def test_the_catalog_keeps_the_flag_and_upgrades_a_schema_6_catalog(tmp_path: Path) -> None:
    path = tmp_path / "v6.ffcat"
    db = sqlite3.connect(path)
    db.executescript(catalog_schema.SCHEMA_V1)
    for step in catalog_schema.MIGRATIONS[:5]:
        step(db) if callable(step) else db.executescript(step)
    db.execute("INSERT INTO meta VALUES('schema_version', '6')")
    db.execute(
        "INSERT INTO models(model_key, name, labels, groups, thresholds, added_at) VALUES('old', 'o', ?, '{}', NULL, 0)",
        ('["a", "b"]',),
    )
    db.commit()
    db.close()
    with Catalog(path, read_only=True) as cat:  # an older file read as it is: no flag, nothing written
        assert cat.model("old").exclusive == ()
    with Catalog(path) as cat:
        assert cat.schema_version == catalog_schema.SCHEMA_VERSION >= 7
        cat.register_model("new", LABELS, groups=GROUPS, thresholds=[0.5] * 7, exclusive=EXCLUSIVE)
    with Catalog(path, read_only=True) as cat:
        rec = cat.model("new")
        assert rec.exclusive == EXCLUSIVE
        assert rec.exclusive_labels() == {"red", "green", "blue", "Men", "Women"}
        assert cat.model("old").exclusive == ()


def test_the_global_slider_does_not_move_a_floor_but_an_override_does() -> None:
    floors = {"red", "green"}
    policy = ThresholdPolicy(global_threshold=0.8)
    th = policy.thresholds(["dress", "red", "green"], [0.5, 0.2, 0.2], floors)
    assert th.tolist() == pytest.approx([0.8, 0.2, 0.2])
    policy = ThresholdPolicy(global_threshold=0.8, per_label={"red": 0.6, "green": 0.6})
    assert policy.thresholds(["dress", "red", "green"], [0.5, 0.2, 0.2], floors).tolist() == pytest.approx(
        [0.8, 0.6, 0.6]
    )


@pytest.mark.parametrize("exclusive", [EXCLUSIVE, ()])
def test_export_writes_one_value_per_exclusive_group_column(tmp_path: Path, exclusive) -> None:
    folder = tmp_path / "photos"
    make_photo(folder / "a.jpg")
    with Catalog(tmp_path / "cat.ffcat") as cat:
        list(sync_folder(cat, folder))
        cat.register_model("m", LABELS, groups=GROUPS, thresholds=[0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3],
                           exclusive=exclusive)  # fmt: skip
        (rec,) = cat.images()
        cat.add_predictions("m", [(rec.id, np.array([0.9, 0.1, 0.45, 0.40, 0.15, 0.55, 0.45], np.float32))])
        out = tmp_path / "tags.csv"
        ex.export_file(cat, out, "m", about=False)
    row = pd.read_csv(out, keep_default_na=False).iloc[0]
    if exclusive:
        assert row["colour"] == "red" and row["gender"] == "Men" and row["category"] == "dress"
    else:  # the old behaviour for a model without the flag: every label over its threshold
        assert row["colour"] == "red|green" and row["gender"] == "Men|Women"


def test_the_tagging_process_names_the_exclusive_groups_before_the_catalog_has_the_model() -> None:
    """The app shows a run's labels from its first event, before the child registers the model: the
    groups must travel with it or the grid tags every gender value (seen under Xvfb)."""
    from fashion_desktop.model.protocol import ModelInfo

    info = ModelInfo("k", tuple(LABELS), GROUPS, (0.5,) * len(LABELS), EXCLUSIVE)
    back = ModelInfo.from_wire(info.to_wire())
    assert back.exclusive == EXCLUSIVE
    old = {k: v for k, v in info.to_wire().items() if k != "exclusive"}  # an older child: no groups
    assert ModelInfo.from_wire(old).exclusive == ()
