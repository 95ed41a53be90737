"""One metrics owner: the five places that measure a model give the same numbers, and only one computes F1."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from fashion_desktop.model.metrics import compute_metrics
from tests.conftest import ROOT

CLASSES = ("red", "green", "blue")
# What the five entry points are compared on (the Train tab's comparison shows per-group numbers only).
GROUP_KEYS = ("f1_micro", "f1_macro", "precision_micro", "recall_micro", "exact_match", "top1_accuracy")
GROUP_TITLES = ("F1 micro", "F1 macro", "Precision", "Recall", "Exact match", "Top-1 accuracy")  # the tab's
OVERALL_KEYS = ("f1_micro", "f1_macro", "precision_micro", "recall_micro", "exact_match", "f1_samples")


def _photos(root: Path) -> None:
    """``root/{train,val,test}/<colour>/*.jpg``: noise with a colour cast of random strength (a tiny model
    learns it, but not perfectly)."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("val", 6), ("test", 6)):
        for c, cls in enumerate(CLASSES):
            for i in range(n):
                px = rng.integers(0, 200, (32, 32, 3)).astype(np.int32)
                px[..., c] += int(rng.integers(0, 90))
                path = root / split / cls / f"{cls}{i}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.clip(px, 0, 255).astype(np.uint8)).save(path, quality=90)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A tiny trainer run whose one label group (colour) is exclusive; returns the run folder."""
    from fashion_desktop.model import protocol
    from fashion_desktop.model.train_config import make_config
    from trainer.engine import run_training

    tmp = tmp_path_factory.mktemp("one-owner")
    _photos(tmp / "data")
    cfg = make_config(
        {"data": [{"path": str(tmp / "data"), "group": "colour"}], "exclusive_groups": ["colour"],
         "arch": "cnn", "image_size": 32, "batch_size": 8, "epochs": 2, "lr": 0.01, "precision": "fp32",
         "threads": 1, "augment": "flip", "out": str(tmp / "run")}
    )  # fmt: skip
    assert run_training(cfg, events=protocol.EventWriter(io.StringIO())) == 0
    return tmp / "run"


def _models_tab(qtbot, bundle: str) -> tuple[dict[str, float], dict[str, float]]:
    """(overall, colour group) as the Models tab shows them at the model's own thresholds."""
    from fashion_desktop.gui.models.metrics_model import OVERALL_KEYS as SHOWN
    from fashion_desktop.gui.models.metrics_model import SORT_ROLE
    from fashion_desktop.gui.models.models_tab import ModelsTab

    tab = ModelsTab()
    qtbot.addWidget(tab)
    tab.resize(1100, 700)
    tab.set_bundle_paths([bundle])
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.waitUntil(lambda: not tab.bundles.unloaded() and not tab.is_loading(), timeout=20_000)
    pos = tab.list_view.visualRect(tab.bundles.index(0, 0)).center()
    qtbot.mouseClick(tab.list_view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: tab.overall_model.rowCount() > 0, timeout=5000)
    names = {title: key for key, title in SHOWN}
    m = tab.overall_model
    overall = {names[m.index(r, 0).data()]: m.index(r, 1).data(SORT_ROLE) for r in range(m.rowCount())}
    g = tab.groups_model
    (row,) = [r for r in range(g.rowCount()) if g.index(r, 0).data() == "colour"]
    heads = [g.headerData(c, Qt.Orientation.Horizontal) for c in range(g.columnCount())]
    keys = dict(zip(GROUP_TITLES, GROUP_KEYS, strict=True))
    group = {keys[h]: g.index(row, c).data(SORT_ROLE) for c, h in enumerate(heads) if h in keys}
    return overall, group


def _evaluate(tmp: Path, bundle: str, data: Path) -> tuple[dict[str, float], dict[str, float]]:
    """(overall, colour group) from the tables ``fashion evaluate`` writes."""
    from fashion_desktop.cli import main

    out = tmp / "evaluation"
    args = ["evaluate", bundle, str(data), "--out", str(out), "--device", "cpu", "--precision", "fp32"]
    assert main(args) == 0
    text = (out / "overall_metrics.csv").read_text(encoding="utf-8")
    rows = {r["scope"]: r for r in csv.DictReader(io.StringIO(text))}
    return (
        {k: float(rows["all labels"][k]) for k in OVERALL_KEYS},
        {k: float(rows["colour"][k]) for k in GROUP_KEYS},
    )


def _compare(tmp: Path, bundle: str, photos: list[Path]) -> dict[str, float]:
    """The colour group as the Train tab's "compare before Use this model" measures it: the photos
    reviewed in a library, their colour the person's decision."""
    from fashion_desktop.core.catalog import Catalog
    from fashion_desktop.core.compare import Exclusion, compare_models
    from fashion_desktop.model.protocol import Comparison
    from fashion_desktop.model.scoring import ScoreOptions

    cat = Catalog(tmp / "lib.ffcat")
    ids = cat.ensure_images([str(p) for p in photos])
    decisions = [(ids[str(p)], lab, lab == p.parent.name) for p in photos for lab in CLASSES]
    cat.set_reviewed(list(ids.values()), True, decisions)
    cat.close()
    options = ScoreOptions(device="cpu", precision="fp32")
    *_, result = compare_models(tmp / "lib.ffcat", [("run", bundle)], Exclusion(), options)
    assert isinstance(result, Comparison) and result.photos == len(photos)
    return result.models[0]["groups"]["colour"]


def _package(tmp: Path, run: Path) -> dict:
    from trainer.package import package_main

    card = tmp / "card.yaml"
    card.write_text("name: one owner\nlicences: CC0\n", encoding="utf-8")
    out = tmp / "shipped.fmodel"
    assert (
        package_main([str(run), "--card", str(card), "--out", str(out), "--data-root", str(run.parent)]) == 0
    )
    from fashion_desktop.model.bundle import load_bundle

    return load_bundle(out).metrics["test"]


def test_the_five_entry_points_give_the_same_numbers_on_a_bundle_with_an_exclusive_group(
    qtbot, run, tmp_path
) -> None:
    from fashion_desktop.model.bundle import load_bundle

    bundle = load_bundle(run / "model.fmodel")
    ev = bundle.evaluation
    assert ev["split"] == "test" and bundle.exclusive_groups == ("colour",)
    targets, scores = ev["targets"].numpy(), ev["scores"].float().numpy()
    th = np.asarray(bundle.thresholds)
    # The bundle is one where the rule matters: a plain score >= threshold tags other colours too.
    plain = compute_metrics(targets, scores, th)["overall"]["f1_micro"]
    rule = compute_metrics(targets, scores, th, exclusive=bundle.exclusive_columns())["overall"]["f1_micro"]
    assert abs(plain - rule) > 0.1

    trained = bundle.metrics["test"]
    stored = (trained["overall"], trained["groups"]["colour"])
    tab = _models_tab(qtbot, str(run / "model.fmodel"))
    evaluated = _evaluate(tmp_path, str(run / "model.fmodel"), run.parent / "data" / "test")
    packaged = _package(tmp_path, run)
    compared = _compare(tmp_path, str(run / "model.fmodel"), [Path(p) for p in ev["paths"]])

    assert stored[0]["f1_micro"] == pytest.approx(rule, abs=1e-9)
    for name, (overall, group) in {
        "Models tab": tab, "fashion evaluate": evaluated,
        "package": (packaged["overall"], packaged["groups"]["colour"]),
    }.items():  # fmt: skip
        for key in OVERALL_KEYS:
            if key in overall:
                assert overall[key] == pytest.approx(stored[0][key], abs=1e-9), (name, key)
        for key in GROUP_KEYS:
            assert group[key] == pytest.approx(stored[1][key], abs=1e-9), (name, "colour", key)
    assert set(tab[0]) >= {"f1_micro", "f1_macro", "exact_match"}
    for key in GROUP_KEYS:
        assert compared[key] == pytest.approx(stored[1][key], abs=1e-9), ("compare", key)


# ---------------------------------------------------------------- nothing else computes F1

METRICS_MODULE = "fashion_desktop/model/metrics.py"
F1_CALLS = {"f1_score", "precision_recall_fscore_support", "fbeta_score", "classification_report"}


def _is_two_times(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mult)
        and any(isinstance(x, ast.Constant) and x.value in (2, 2.0) for x in (node.left, node.right))
    )


def f1_computations(tree: ast.AST) -> list[int]:
    """Lines where ``tree`` computes an F1: ``2 * ... / ...`` (2pr/(p+r), 2tp/(2tp+fp+fn)) or a call of
    scikit-learn's F1 functions."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            # F1 is twice something over a sum: 2pr/(p+r), 2tp/(2tp+fp+fn).
            doubled = any(_is_two_times(n) for n in ast.walk(node.left))
            if doubled and any(
                isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add) for n in ast.walk(node.right)
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in F1_CALLS:
                lines.append(node.lineno)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and any(a.name in F1_CALLS for a in node.names):
            lines.append(node.lineno)
    return lines


def test_the_detector_finds_the_usual_ways_of_writing_f1() -> None:
    for code in (
        "f1 = 2 * p * r / (p + r)",
        "f1 = 2 * tp / (2 * tp + fp + fn)",
        "f1 = tp / (tp + 0.5 * (fp + fn)) if x else 2.0 * prec * rec / (prec + rec)",
        "from sklearn.metrics import f1_score",
        "s = metrics.precision_recall_fscore_support(y, p)",
    ):
        assert f1_computations(ast.parse(code)), code
    assert not f1_computations(ast.parse("half = width / 2\nmid = (a + b) / 2\nx = 2 * w / h"))


def test_only_the_metrics_module_computes_f1() -> None:
    found = []
    for top in ("fashion_desktop", "trainer"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == METRICS_MODULE:
                assert f1_computations(ast.parse(path.read_text(encoding="utf-8")))  # the owner does
                continue
            found += [
                f"{rel}:{line}" for line in f1_computations(ast.parse(path.read_text(encoding="utf-8")))
            ]
    assert not found, f"F1 computed outside {METRICS_MODULE}: {found}"
