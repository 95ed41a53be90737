"""A training config's at-least-one groups: copied into the bundle, measured in its metrics, applied by `fashion tag`."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from trainer_helpers import make_class_folders

from fashion_desktop.model import protocol
from fashion_desktop.model.train_config import make_config

CLASSES = ["red", "green", "blue"]


def _config(tmp: Path, **changes):
    return make_config(
        {"data": [str(tmp / "data")], "arch": "cnn", "image_size": 32, "batch_size": 8, "epochs": 1,
         "lr": 0.01, "precision": "fp32", "threads": 1, "augment": "none", "out": str(tmp / "run"), **changes}
    )  # fmt: skip


@pytest.fixture(scope="module")
def one_item_run(tmp_path_factory) -> Path:
    """A tiny run on class folders (one category per photo) whose config names ``category``."""
    from trainer.engine import run_training

    tmp = tmp_path_factory.mktemp("one-item")
    make_class_folders(tmp / "data", 6, ("train", "val", "test"), CLASSES)
    cfg = _config(tmp, at_least_one_groups=["category"])
    assert run_training(cfg, events=protocol.EventWriter(io.StringIO())) == 0
    return tmp


def _tag(tmp_path: Path, bundle: Path, folder: Path) -> pd.DataFrame:
    from fashion_desktop.cli import EXIT_OK, main
    from fashion_desktop.core.spreadsheet import comment_lines

    out = tmp_path / f"{bundle.stem}.csv"
    args = ["tag", str(folder), "--model", str(bundle), "--out", str(out), "--device", "cpu"]
    assert main(args) == EXIT_OK
    return pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False, skiprows=comment_lines(out))


@pytest.mark.slow
def test_the_bundle_carries_the_groups_its_metrics_apply_them_and_fashion_tag_gives_every_photo_a_category(
    one_item_run, tmp_path
) -> None:
    from fashion_desktop.model.bundle import load_bundle, save_bundle, with_thresholds
    from fashion_desktop.model.metrics import compute_metrics

    b = load_bundle(one_item_run / "run" / "model.fmodel")
    assert b.at_least_one_groups == ("category",) and b.provenance["config"]["at_least_one_groups"] == [
        "category"
    ]
    # The stored test metrics are those of the rule's tags.
    ev = b.evaluation
    targets, scores = ev["targets"].numpy(), ev["scores"].float().numpy()
    th = np.asarray(b.thresholds)
    rule = compute_metrics(targets, scores, th, required=b.at_least_one_columns())["overall"]
    assert b.metrics["test"]["overall"]["f1_micro"] == pytest.approx(rule["f1_micro"], abs=1e-9)

    # Thresholds no score reaches: without the rule no photo has a category, with it every photo has one.
    strict = with_thresholds(b, [0.999] * len(b.labels))
    with_rule = save_bundle(strict, tmp_path / "with_rule.fmodel")
    without = save_bundle(dataclasses.replace(strict, at_least_one_groups=()), tmp_path / "without.fmodel")
    folder = one_item_run / "data" / "test"
    tagged = _tag(tmp_path, with_rule, folder)
    assert len(tagged) == 3 * 6 and all(tagged["category"] != "")
    assert all(_tag(tmp_path, without, folder)["category"] == "")


def test_a_group_the_data_lacks_is_refused_before_training(tmp_path) -> None:
    from trainer.engine import run_training

    make_class_folders(tmp_path / "data", 2, ("train", "val"), CLASSES[:2])
    buf = io.StringIO()
    assert (
        run_training(_config(tmp_path, at_least_one_groups=["categroy"]), events=protocol.EventWriter(buf))
        == 1
    )
    assert "no label of the data is in group 'categroy' (its groups: category)" in buf.getvalue()
    assert not (tmp_path / "run" / "model.fmodel").exists()
