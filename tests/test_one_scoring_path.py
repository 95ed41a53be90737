"""`fashion evaluate` and `fashion tag` score the same photos identically: one scoring path for both."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_desktop.cli import main
from fashion_desktop.core.catalog import Catalog
from tests.conftest import TINY_LABELS


def _noisy_photos(root: Path, per_class: int = 5) -> list[Path]:
    """Class folders (red/green/blue) of photos with a colour cast and noise, so scores are not saturated."""
    rng = np.random.default_rng(7)
    made = []
    for c, label in enumerate(TINY_LABELS):
        for i in range(per_class):
            pixels = rng.integers(0, 256, (48 + 8 * i, 40 + 4 * c, 3), dtype=np.uint8)
            pixels[..., c] = np.maximum(pixels[..., c], 120 + 20 * i)
            path = root / label / f"{label}_{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path, quality=90)
            made.append(path)
    return made


def _random_cnn_bundle(path: Path) -> Path:
    """A `cnn` bundle with random weights and non-trivial BatchNorm statistics (so folding is exercised)."""
    import torch

    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.bundle import new_bundle, save_bundle

    torch.manual_seed(3)
    model = build_model("cnn", len(TINY_LABELS))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    bundle = new_bundle(
        "cnn",
        TINY_LABELS,
        model.state_dict(),
        input_size=48,
        groups={lab: "colour" for lab in TINY_LABELS},
        provenance={"model_id": "random-cnn", "name": "random cnn"},
    )
    return save_bundle(bundle, path)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("which", ["colour", "random"])
def test_evaluate_and_tag_give_the_same_scores_and_tags(
    tmp_path: Path, tiny_bundle_path: Path, precision: str, which: str
) -> None:
    photos = _noisy_photos(tmp_path / "photos")
    model = tiny_bundle_path if which == "colour" else _random_cnn_bundle(tmp_path / "random.fmodel")
    db = tmp_path / "lib.ffcat"
    common = ["--batch-size", "4", "--precision", precision, "--device", "cpu"]
    assert main(["tag", str(tmp_path / "photos"), "--model", str(model), "--catalog", str(db),
                 "--out", str(tmp_path / "tags.csv"), *common]) == 0  # fmt: skip
    out = tmp_path / "evaluation"
    assert main(["evaluate", str(model), str(tmp_path / "photos"), "--out", str(out), *common]) == 0

    cat = Catalog(db)
    try:
        (model_rec,) = cat.models()
        key = model_rec.key
        ids = {os.path.realpath(r.path): r.id for r in cat.images()}
        tagged = {p: s for p, s in ((p, cat.scores(key, [i]).get(i)) for p, i in ids.items())}
        thresholds = np.asarray(model_rec.thresholds, np.float32)
    finally:
        cat.close()
    ev = np.load(out / "evaluation.npz")
    evaluated = {os.path.realpath(p): s for p, s in zip(ev["paths"], ev["scores"], strict=True)}
    assert sorted(evaluated) == sorted(os.path.realpath(p) for p in photos) == sorted(tagged)
    worst = max(float(np.abs(tagged[p] - evaluated[p]).max()) for p in evaluated)
    assert worst <= 1e-6, f"evaluate and tag disagree by {worst}"
    spread = np.stack(list(evaluated.values()))
    assert spread.std(axis=0).min() > 1e-3  # real, varied scores: the comparison can fail
    for p in evaluated:
        assert ((tagged[p] >= thresholds) == (evaluated[p] >= thresholds)).all()
