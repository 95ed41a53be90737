"""The default model's committed config: one pinned split of ../shared/data, read through data_root."""

from __future__ import annotations

from pathlib import Path

import pytest
from trainer_helpers import SHARED_DATA, make_class_folders

from fashion_desktop.model.resources import resource_path
from fashion_desktop.model.train_config import load_config_file, make_config
from trainer.preview import load_run_dataset

CONFIG = resource_path("models", "default-v2.yaml")


def test_relative_sources_and_mappings_are_read_from_data_root(tmp_path: Path) -> None:
    make_class_folders(tmp_path / "root" / "clothes", 3, (), ["red", "green"])
    (tmp_path / "root" / "map.csv").write_text("source,target\nred,dress\ngreen,skirt\n", encoding="utf-8")
    cfg = make_config(
        {
            "data": [{"path": "clothes", "mapping": "map.csv"}],
            "data_root": str(tmp_path / "root"),
            # Every photo trains: split by its path's hash, a class of 3 may have none (and be dropped).
            "val_fraction": 0.0,
            "test_fraction": 0.0,
        }
    )
    table = load_run_dataset(cfg)
    assert set(table.labels) == {"dress", "skirt"} and len(table) == 6


@pytest.mark.slow
def test_the_pinned_split_holds_out_product_ids_and_the_clothing_test_folder() -> None:
    if not (SHARED_DATA / "fashion-products").is_dir():
        pytest.skip("../shared/data is not here")
    raw = load_config_file(CONFIG)
    cfg = make_config({**raw, "data_root": str(SHARED_DATA)})
    assert cfg.exclusive_groups == ("colour", "gender", "season", "usage") and cfg.seed == 2026
    table = load_run_dataset(cfg)
    splits = {}
    for path, split, source in zip(table.paths, table.splits, table.sources, strict=True):
        splits.setdefault(source, {}).setdefault(split, []).append(path)
    clothing_test = {p for p in splits["clothing-small"]["test"]}
    assert clothing_test and all("/test/" in p.replace("\\", "/") for p in clothing_test)
    products = splits["fashion-products"]
    assert 0.08 < len(products["test"]) / sum(map(len, products.values())) < 0.12
    # Read twice, the split is the same photo for photo: every run compares on the same held-out sets.
    again = load_run_dataset(cfg)
    assert again.paths == table.paths and again.splits == table.splits
