"""`fashion evaluate` reports the F1 of the tags `fashion tag` writes, and takes MODEL as `tag` does ('default')."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_desktop.cli import main

COLOURS = ("red", "green", "blue")


def _rows(path: Path) -> list[dict[str, str]]:
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    # fashion tag's output starts with "# field: value" lines saying which model made it.
    return list(csv.DictReader(io.StringIO("".join(line for line in lines if not line.startswith("#")))))


def _group_f1(out: Path, group: str) -> float:
    """The group's F1 micro as ``fashion evaluate`` reports it in ``out``."""
    (row,) = [r for r in _rows(out / "overall_metrics.csv") if r["scope"] == group]
    return float(row["f1_micro"])


def tag_f1(tags_csv: Path, values: set[str]) -> float:
    """F1 micro of the tags of one exclusive group (``values``) that ``fashion tag`` wrote, against each
    photo's one true value (the name of its folder): a tag of any other value of the group is wrong."""
    tp = fp = fn = 0
    for row in _rows(tags_csv):
        truth = Path(row["path"]).parent.name
        tags = set(row["tags"].split("|")) & values
        tp += truth in tags
        fp += len(tags - {truth})
        fn += truth not in tags
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def _evaluate_and_tag(tmp: Path, model: str, photos: Path) -> tuple[Path, Path]:
    common = ["--device", "cpu", "--batch-size", "4"]
    tags = tmp / "tags.csv"
    assert main(["tag", str(photos), "--model", model, "--out", str(tags), *common]) == 0
    out = tmp / "evaluation"
    assert main(["evaluate", model, str(photos), "--out", str(out), *common]) == 0
    return out, tags


def _exclusive_cnn(path: Path, floor: float) -> Path:
    """A `cnn` bundle with random weights whose three colours form an exclusive group at ``floor``."""
    import torch

    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.bundle import new_bundle, save_bundle

    torch.manual_seed(5)
    model = build_model("cnn", len(COLOURS))
    bundle = new_bundle(
        "cnn", COLOURS, model.state_dict(), input_size=48, groups={c: "colour" for c in COLOURS},
        exclusive_groups=("colour",), thresholds=(floor,) * len(COLOURS),
        provenance={"model_id": "exclusive-cnn", "name": "exclusive cnn"},
    )  # fmt: skip
    return save_bundle(bundle, path)


def _noisy(root: Path, per_class: int = 6) -> Path:
    """``root/<colour>/*.jpg``: noise with a weak colour cast, so a random model is unsure between colours."""
    rng = np.random.default_rng(11)
    for c, colour in enumerate(COLOURS):
        for i in range(per_class):
            px = rng.integers(0, 220, (40, 48, 3)).astype(np.int32)
            px[..., c] += 30
            (root / colour).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.clip(px, 0, 255).astype(np.uint8)).save(root / colour / f"{i}.jpg")
    return root


def test_evaluate_reports_the_f1_of_the_tags_tag_writes_on_generated_photos(tmp_path) -> None:
    model = _exclusive_cnn(tmp_path / "excl.fmodel", floor=0.2)
    out, tags = _evaluate_and_tag(tmp_path, str(model), _noisy(tmp_path / "photos"))
    reported = _group_f1(out, "colour")
    assert reported == pytest.approx(tag_f1(tags, set(COLOURS)), abs=0.001)
    # Several colours pass the floor, so a plain score >= threshold would have reported another figure.
    ev = np.load(out / "evaluation.npz")
    passing = (ev["scores"] >= 0.2).sum(1)
    assert (passing > 1).any()
    t = ev["targets"]
    plain = ev["scores"] >= 0.2
    tp, fp, fn = (plain & (t == 1)).sum(), (plain & (t == 0)).sum(), (~plain & (t == 1)).sum()
    assert abs(2 * tp / (2 * tp + fp + fn) - reported) > 0.05


def test_evaluate_reports_the_f1_of_the_tags_tag_writes_on_real_photos(tmp_path, shared_data) -> None:
    """Six fashion-products photos each of baseColour Black, Blue and White, in folders named by colour,
    measured with the shipped default model (exclusive colour group of 32 values)."""
    source = shared_data / "fashion-products"
    taken = {c: 0 for c in ("Black", "Blue", "White")}
    for row in _rows(source / "labels.csv"):
        colour = row["baseColour"]
        if taken.get(colour, 6) < 6 and (source / row["image"]).is_file():
            (tmp_path / "photos" / colour).mkdir(parents=True, exist_ok=True)
            shutil.copy(source / row["image"], tmp_path / "photos" / colour)
            taken[colour] += 1
    assert taken == {"Black": 6, "Blue": 6, "White": 6}
    out, tags = _evaluate_and_tag(tmp_path, "default", tmp_path / "photos")
    from fashion_desktop.model.bundle_file import read_bundle_file
    from fashion_desktop.model.resources import default_model_path

    description = read_bundle_file(default_model_path()).description
    colours = {lab for lab in description.labels if description.groups.get(lab) == "colour"}
    assert "colour" in description.exclusive_groups and len(colours) > 3
    assert _group_f1(out, "colour") == pytest.approx(tag_f1(tags, colours), abs=0.001)


def _solid(root: Path) -> Path:
    for colour, rgb in (("Black", (10, 10, 12)), ("White", (245, 245, 240))):
        for i in range(2):
            (root / colour).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (40, 48), tuple(v + 3 * i for v in rgb)).save(root / colour / f"{i}.jpg")
    return root


def test_evaluate_default_uses_the_model_shipped_with_the_app_as_tag_does(tmp_path, monkeypatch, capsys):
    from fashion_desktop.model import resources

    shipped = resources.default_model_path()
    assert shipped is not None
    photos = _solid(tmp_path / "photos")
    common = ["--device", "cpu", "--batch-size", "4"]
    assert main(["evaluate", "default", str(photos), "--out", str(tmp_path / "by-name"), *common]) == 0
    assert main(["evaluate", str(shipped), str(photos), "--out", str(tmp_path / "by-path"), *common]) == 0
    by_name = (tmp_path / "by-name" / "overall_metrics.csv").read_text(encoding="utf-8")
    assert by_name == (tmp_path / "by-path" / "overall_metrics.csv").read_text(encoding="utf-8")
    capsys.readouterr()
    # A build that ships no default model says so, as `fashion tag --model default` does.
    monkeypatch.setattr(resources, "default_model_path", lambda: None)
    assert main(["evaluate", "default", str(photos), "--out", str(tmp_path / "none")]) == 1
    assert "no default model is bundled with this build" in capsys.readouterr().err


def test_evaluate_reports_the_f1_of_the_tags_tag_writes_with_an_at_least_one_group(tmp_path) -> None:
    """A sigmoid group every photo gets a value of (the bundle's at-least-one rule): no score reaches the
    thresholds, so each photo is tagged with its top value, and `evaluate` measures exactly those tags."""
    import torch

    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.bundle import new_bundle, save_bundle

    torch.manual_seed(5)
    model = build_model("cnn", len(COLOURS))
    bundle = new_bundle(
        "cnn", COLOURS, model.state_dict(), input_size=48, groups={c: "colour" for c in COLOURS},
        at_least_one_groups=("colour",), thresholds=(0.99,) * len(COLOURS),
        provenance={"model_id": "one-item-cnn", "name": "one item per photo"},
    )  # fmt: skip
    path = save_bundle(bundle, tmp_path / "one.fmodel")
    out, tags = _evaluate_and_tag(tmp_path, str(path), _noisy(tmp_path / "photos"))
    assert all(len(set(r["tags"].split("|")) & set(COLOURS)) == 1 for r in _rows(tags))
    assert (np.load(out / "evaluation.npz")["scores"] < 0.99).all()  # a plain >= tags nothing (F1 0)
    reported = _group_f1(out, "colour")
    assert reported == pytest.approx(tag_f1(tags, set(COLOURS)), abs=0.001) and reported > 0
