"""Models tab: bundle list (broken files included), card, metrics at the current thresholds, compare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.gui.models.metrics_model import BundleInfo, BundleListModel, RowsTableModel
from fashion_desktop.gui.models.models_tab import ModelsTab

LABELS = ["top", "dress", "red"]
# Four evaluation images; -1 = unknown (image 2 has no colour label).
TARGETS = [[1, 0, 1], [0, 1, -1], [1, 0, 0], [0, 1, 1]]
SCORES = [[0.9, 0.2, 0.7], [0.3, 0.8, 0.9], [0.6, 0.4, 0.1], [0.2, 0.55, 0.4]]


def _save(path: Path, labels, **kw) -> str:
    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.bundle import new_bundle, save_bundle

    bundle = new_bundle("cnn", labels, build_model("cnn", len(labels)).state_dict(), **kw)
    return str(save_bundle(bundle, path))


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, str]:
    import torch

    folder = tmp_path_factory.mktemp("models")
    evaluated = _save(
        folder / "evaluated.fmodel",
        LABELS,
        groups={"top": "category", "dress": "category", "red": "colour"},
        thresholds=(0.5, 0.5, 0.5),
        provenance={
            "model_id": "eval-1",
            "name": "Evaluated CNN",
            "created": "2026-11-20",
            # As the trainer records them.
            "data": {
                "images": 120,
                "splits": {"train": 100, "val": 10, "test": 10},
                "sources": {"clothing-small": 120},
                "known_fraction": 0.75,
            },
            "config": {"epochs": 12, "batch_size": 32, "lr": 0.001, "optimizer": "adamw", "data": ["x"]},
        },
        evaluation={
            "split": "test",
            "paths": [f"/photos/{i}.jpg" for i in range(4)],
            "targets": torch.tensor(TARGETS, dtype=torch.int8),
            "scores": torch.tensor(SCORES, dtype=torch.float32),
        },
    )
    stored = _save(
        folder / "stored.fmodel",
        ["top", "dress", "shoe", "hat"],
        provenance={
            "model_id": "stored-1",
            "name": "Stored only",
            # As ``python -m trainer package`` writes a shipped model's card.
            "card": {
                "summary": "Tags one garment per photo.",
                "licences": "clothing-small: CC0 1.0",
                "cannot_recognise": "garment parts, cape, headband",
                "held_out_top1": {"fashion-products": {"category": 0.951, "colour": 0.7}},
                "weights": "fp16; largest score change 0.002 on 300 held-out photos",
            },
        },
        metrics={
            "test": {
                "overall": {"f1_micro": 0.61, "f1_macro": 0.42, "exact_match": 0.3},
                "groups": {"category": {"f1_micro": 0.7, "top1_accuracy": 0.8, "images": 30}},
                "per_label": [
                    {"label": "top", "precision": 0.7, "recall": 0.6, "f1": 0.65, "support": 20},
                    {"label": "dress", "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 10},
                    {"label": "shoe", "precision": 0.1, "recall": 0.2, "f1": 0.13, "support": 3},
                    {"label": "hat", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0},
                ],
            }
        },
    )
    rival = _save(
        folder / "rival.fmodel",
        ["top", "dress"],
        provenance={"model_id": "rival-1", "name": "Rival"},
        evaluation={
            "split": "test",
            "paths": [f"/photos/{i}.jpg" for i in (3, 2, 1, 0)],  # the same photos, in another order
            "targets": torch.tensor([row[:2] for row in TARGETS[::-1]], dtype=torch.int8),
            "scores": torch.tensor([[0.2, 0.9], [0.6, 0.4], [0.7, 0.8], [0.9, 0.1]], dtype=torch.float32),
        },
    )
    broken = folder / "broken.fmodel"
    broken.write_bytes(b"this is not a model at all")
    return {"evaluated": evaluated, "stored": stored, "rival": rival, "broken": str(broken)}


@pytest.fixture
def tab(qtbot, bundles):
    w = ModelsTab()
    qtbot.addWidget(w)
    w.resize(1100, 700)
    w.set_bundle_paths([bundles["evaluated"], bundles["stored"], bundles["broken"]])
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: not w.bundles.unloaded() and not w.is_loading(), timeout=20_000)
    return w


def _overall(tab: ModelsTab) -> dict[str, str]:
    m = tab.overall_model
    return {m.index(r, 0).data(): m.index(r, 1).data() for r in range(m.rowCount())}


def _per_label(tab: ModelsTab, column: str) -> dict[str, str]:
    m = tab.per_label_model
    col = [m.headerData(c, Qt.Orientation.Horizontal) for c in range(m.columnCount())].index(column)
    return {m.index(r, 0).data(): m.index(r, col).data() for r in range(m.rowCount())}


def _groups(tab: ModelsTab) -> dict[str, dict[str, str]]:
    m = tab.groups_model
    heads = [m.headerData(c, Qt.Orientation.Horizontal) for c in range(m.columnCount())]
    return {
        m.index(r, 0).data(): {h: m.index(r, c).data() for c, h in enumerate(heads)}
        for r in range(m.rowCount())
    }


def _click_row(qtbot, tab: ModelsTab, path: str, double: bool = False) -> None:
    index = tab.bundles.index(tab.bundles.paths().index(path), 0)
    pos = tab.list_view.visualRect(index).center()
    qtbot.mouseClick(tab.list_view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    if double:
        qtbot.mouseDClick(tab.list_view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def _apply(qtbot, tab: ModelsTab, policy: ThresholdPolicy) -> None:
    tab.set_policy(policy)
    qtbot.waitUntil(lambda: not tab._recompute_timer.isActive(), timeout=2000)


def test_item_models_pass_qtmodeltester(qtmodeltester, bundles):
    lst = BundleListModel()
    lst.set_paths(["/a.fmodel", "/b.fmodel"])
    lst.set_info(BundleInfo(path="/b.fmodel", error="/b.fmodel: not a model bundle"))
    lst.add_path("/c.fmodel")
    qtmodeltester.check(lst, force_py=True)
    rows = RowsTableModel(("Label", "F1", "Support"))
    rows.set_rows([("top", 0.5, 3), ("dress", float("nan"), 0), ("red", None, None)])
    qtmodeltester.check(rows, force_py=True)


@pytest.mark.slow
def test_importing_the_widgets_does_not_import_torch_pyqtgraph_or_pandas():
    code = (
        "import sys, fashion_desktop.gui.models.models_tab, fashion_desktop.gui.tag.thresholds_panel,"
        " fashion_desktop.gui.tag.export_dialog;"
        "print('torch' in sys.modules, 'pyqtgraph' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_broken_bundle_shows_its_error_instead_of_crashing(qtbot, tab, bundles):
    row = tab.bundles.paths().index(bundles["broken"])
    text = tab.bundles.index(row, 0).data()
    assert "broken.fmodel" in text and "not a model bundle" in text
    _click_row(qtbot, tab, bundles["broken"])
    assert "cannot be used" in tab.card.text()
    assert not tab.use_button.isEnabled()
    with qtbot.assertNotEmitted(tab.model_activated):
        _click_row(qtbot, tab, bundles["broken"], double=True)
    assert tab.per_label_model.rowCount() == 0


def test_card_shows_architecture_labels_groups_provenance_and_path(qtbot, tab, bundles):
    _click_row(qtbot, tab, bundles["evaluated"])
    card = tab.card.text()
    for needle in (
        "Evaluated CNN",
        "cnn",
        "3 — groups: category (2), colour (1)",
        "2026-11-20",
        "120 images; splits: train 100, val 10, test 10; sources: clothing-small 120",
        "epochs 12, batch size 32, lr 0.001, optimizer adamw",
    ):
        assert needle in card
    assert "evaluated.fmodel" in card


def test_a_shipped_models_card_shows_licences_held_out_figures_and_limits(qtbot, tab, bundles):
    _click_row(qtbot, tab, bundles["stored"])
    card = tab.card.text()
    for needle in (
        "Tags one garment per photo.",
        "Held-out top-1",
        "fashion-products: category 0.951, colour 0.700",
        "Licences",
        "clothing-small: CC0 1.0",
        "Cannot recognise",
        "garment parts, cape, headband",
        "fp16; largest score change 0.002",
    ):
        assert needle in card


def test_metrics_are_recomputed_at_the_current_thresholds(qtbot, tab, bundles):
    _click_row(qtbot, tab, bundles["evaluated"])
    assert "Recomputed" in tab.metrics_note.text() and "test split (4 images)" in tab.metrics_note.text()
    # At 0.5: top and dress perfect; red finds 1 of 2 known positives (image 1's colour is unknown).
    overall = _overall(tab)
    assert overall["F1 micro"] == f"{10 / 11:.3f}"
    assert overall["Exact match"] == "0.750"
    assert _per_label(tab, "F1") == {"top": "1.000", "dress": "1.000", "red": f"{2 / 3:.3f}"}
    assert _per_label(tab, "Recall")["red"] == "0.500"
    assert tab.chart_values() == pytest.approx([1.0, 1.0, 2 / 3])

    _apply(qtbot, tab, ThresholdPolicy(global_threshold=0.85))
    overall = _overall(tab)
    assert overall["F1 micro"] == f"{2 / 7:.3f}"
    assert overall["Exact match"] == "0.000"
    assert _per_label(tab, "F1") == {"top": f"{2 / 3:.3f}", "dress": "0.000", "red": "0.000"}
    assert set(_per_label(tab, "Threshold").values()) == {"0.850"}
    assert _per_label(tab, "AP")["red"] == "1.000"  # ranking quality does not depend on thresholds
    assert tab.chart_values() == pytest.approx([2 / 3, 0.0, 0.0])

    _apply(qtbot, tab, ThresholdPolicy(per_label={"red": 0.35}))
    assert _overall(tab)["F1 micro"] == "1.000"
    assert _per_label(tab, "Threshold")["red"] == "0.350"


def test_top_k_cap_is_applied_like_in_the_grid(qtbot, tab, bundles):
    _click_row(qtbot, tab, bundles["evaluated"])
    _apply(qtbot, tab, ThresholdPolicy(top_k=1))
    # Image 0 keeps only "top" (drops red), image 1 keeps "red" over "dress", image 3 keeps "dress".
    assert _per_label(tab, "F1") == {"top": "1.000", "dress": f"{2 / 3:.3f}", "red": "0.000"}
    # Per group: the cap costs "category" one dress; top-1 accuracy only looks at the best score.
    groups = _groups(tab)
    assert groups["category"]["F1 micro"] == f"{6 / 7:.3f}"
    assert groups["category"]["Top-1 accuracy"] == "1.000"


def test_per_group_metrics(qtbot, tab, bundles):
    _click_row(qtbot, tab, bundles["evaluated"])
    groups = _groups(tab)
    assert set(groups) == {"category", "colour"}
    assert groups["category"]["F1 micro"] == "1.000"
    assert groups["colour"]["F1 micro"] == f"{2 / 3:.3f}"
    assert groups["colour"]["Images"] == "3"  # image 1's colour is unknown
    _click_row(qtbot, tab, bundles["stored"])
    assert _groups(tab)["category"]["Top-1 accuracy"] == "0.800"


def test_bundle_without_evaluation_shows_stored_metrics_as_trained(qtbot, tab, bundles):
    _click_row(qtbot, tab, bundles["stored"])
    assert "As trained" in tab.metrics_note.text() and "test split" in tab.metrics_note.text()
    assert _overall(tab)["F1 micro"] == "0.610"
    assert _per_label(tab, "F1")["shoe"] == "0.130"
    # No test example of "hat": its F1 is undefined, not a failure.
    assert _per_label(tab, "F1")["hat"] == "–" and _per_label(tab, "Recall")["hat"] == "–"
    # Thresholds cannot change stored numbers.
    _apply(qtbot, tab, ThresholdPolicy(global_threshold=0.9))
    assert _overall(tab)["F1 micro"] == "0.610"


def test_compare_two_models_side_by_side(qtbot, tab, bundles):
    _click_row(qtbot, tab, bundles["evaluated"])
    combo = tab.compare_combo
    names = [combo.itemText(i) for i in range(combo.count())]
    assert not any("broken" in n for n in names), "a broken bundle cannot be compared"
    combo.setCurrentIndex(combo.findData(bundles["stored"]))
    m = tab.compare_overall_model
    rows = {m.index(r, 0).data(): [m.index(r, c).data() for c in (1, 2, 3)] for r in range(m.rowCount())}
    assert rows["F1 micro"] == [f"{10 / 11:.3f}", "0.610", f"{0.61 - 10 / 11:.3f}"]
    labels = tab.compare_labels_model
    shared = {labels.index(r, 0).data(): labels.index(r, 2).data() for r in range(labels.rowCount())}
    assert shared == {"top": "0.650", "dress": "0.500"}  # "red" and "shoe" are not in both
    assert "Cannot tell whether both were evaluated on the same images" in tab.compare_note.text()


def test_compare_on_the_same_evaluation_images(qtbot, tab, bundles):
    tab.add_bundle(bundles["rival"])
    qtbot.waitUntil(lambda: not tab.is_loading() and tab.current_info() is not None, timeout=20_000)
    _click_row(qtbot, tab, bundles["evaluated"])
    tab.compare_combo.setCurrentIndex(tab.compare_combo.findData(bundles["rival"]))
    note = tab.compare_note.text()
    assert "Rival" in note and "different images" not in note and "Cannot tell" not in note
    labels = tab.compare_labels_model
    rows = {
        labels.index(r, 0).data(): [labels.index(r, c).data() for c in (1, 2, 3)]
        for r in range(labels.rowCount())
    }
    # The rival calls "top" on the dress photo 1 (and misses nothing): top F1 = 2·2 / (2·2 + 1).
    assert rows["top"] == ["1.000", "0.800", "-0.200"]
    assert rows["dress"] == ["1.000", "1.000", "0.000"]


def test_use_for_tagging_by_button_and_double_click(qtbot, tab, bundles):
    _click_row(qtbot, tab, bundles["stored"])
    with qtbot.waitSignal(tab.model_activated) as blocker:
        qtbot.mouseClick(tab.use_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [bundles["stored"]]
    with qtbot.waitSignal(tab.model_activated) as blocker:
        _click_row(qtbot, tab, bundles["evaluated"], double=True)
    assert blocker.args == [bundles["evaluated"]]


def test_add_model_by_file_dialog(qtbot, tab, tiny_bundle_path, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tiny_bundle_path), ""))
    with qtbot.waitSignal(tab.bundle_paths_changed) as blocker:
        qtbot.mouseClick(tab.add_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0][-1] == str(tiny_bundle_path)
    qtbot.waitUntil(lambda: tab.current_info() is not None, timeout=20_000)
    assert tab.selected_path() == str(tiny_bundle_path)
    assert "tiny" in tab.card.text()
    assert "no metrics" in tab.metrics_note.text()
    assert tab.use_button.isEnabled()


def test_policy_set_while_hidden_is_applied_when_the_tab_is_shown(qtbot, tab, bundles):
    _click_row(qtbot, tab, bundles["evaluated"])
    tab.hide()
    tab.set_policy(ThresholdPolicy(global_threshold=0.85))
    assert _overall(tab)["F1 micro"] == f"{10 / 11:.3f}"  # no work while another tab is in front
    tab.show()
    qtbot.waitExposed(tab)
    assert _overall(tab)["F1 micro"] == f"{2 / 7:.3f}"


def test_a_bundle_rewritten_in_place_is_read_again(qtbot, tab, bundles, tmp_path):
    import os
    import shutil

    path = tmp_path / "model.fmodel"
    path.write_bytes(b"half-written")
    tab.add_bundle(str(path))
    qtbot.waitUntil(lambda: tab.current_info() is not None, timeout=20_000)
    assert not tab.current_info().ok
    # The trainer finishes and writes its bundle over the same file.
    shutil.copyfile(bundles["evaluated"], path)
    later = path.stat().st_mtime + 5
    os.utime(path, (later, later))
    _click_row(qtbot, tab, bundles["stored"])
    _click_row(qtbot, tab, str(path))
    qtbot.waitUntil(lambda: tab.current_info() is not None and tab.current_info().ok, timeout=20_000)
    assert "Evaluated CNN" in tab.card.text()
    qtbot.waitUntil(lambda: not tab.is_loading(), timeout=20_000)


def test_metrics_that_cannot_be_computed_show_a_message_not_a_crash(qtbot, tab, bundles, monkeypatch):
    import fashion_desktop.model.metrics

    def broken(*args, **kwargs):
        raise ValueError("targets hold values other than -1, 0 and 1")

    monkeypatch.setattr(fashion_desktop.model.metrics, "compute_metrics", broken)
    _click_row(qtbot, tab, bundles["stored"])
    _click_row(qtbot, tab, bundles["evaluated"])
    assert "Evaluated CNN" in tab.card.text()
    assert "cannot be computed" in tab.metrics_note.text() and "other than -1" in tab.metrics_note.text()
    assert tab.per_label_model.rowCount() == 0


def test_evaluation_of_the_wrong_shape_is_ignored(qtbot, tab, tmp_path):
    import torch

    odd = _save(
        tmp_path / "odd.fmodel",
        LABELS,
        provenance={"model_id": "odd", "name": "Odd evaluation"},
        metrics={"f1_micro": 0.5},
        evaluation={
            "split": "test",
            "targets": torch.zeros(4, 2, dtype=torch.int8),
            "scores": torch.zeros(4, 2),
        },
    )
    tab.add_bundle(odd)
    qtbot.waitUntil(lambda: tab.current_info() is not None, timeout=20_000)
    assert tab.current_info().ok and tab.current_info().evaluation is None
    assert "As trained" in tab.metrics_note.text()
    assert _overall(tab)["F1 micro"] == "0.500"
    qtbot.waitUntil(lambda: not tab.is_loading(), timeout=20_000)


@pytest.mark.slow
def test_an_old_format_bundle_is_offered_conversion_in_a_child_process(
    qtbot, tab, bundles, tmp_path, monkeypatch
):
    import torch
    from PySide6.QtWidgets import QMessageBox

    from fashion_desktop.model.bundle import load_bundle

    d = load_bundle(bundles["evaluated"]).to_dict()
    d["format_version"] = 1  # as older apps wrote it: a torch zip
    old = tmp_path / "old.fmodel"
    torch.save(d, old)
    tab.add_bundle(str(old))
    qtbot.waitUntil(lambda: tab.current_info() is not None, timeout=20_000)
    assert not tab.current_info().ok and tab.current_info().old_format
    assert "old format" in tab.card.text() and "fashion convert" in tab.card.text()
    assert tab.convert_button.isVisible() and not tab.use_button.isEnabled()

    asked: list[str] = []

    def yes(_parent, _title, text, *_a, **_k):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", yes)
    with qtbot.waitSignal(tab.conversion_finished, timeout=60_000) as done:
        qtbot.mouseClick(tab.convert_button, Qt.MouseButton.LeftButton)
    new = done.args[0]
    assert "Convert to the new format?" in asked[0] and new == str(tmp_path / "old-converted.fmodel")
    assert str(old) not in tab.bundles.paths() and tab.selected_path() == new
    qtbot.waitUntil(lambda: tab.current_info() is not None and tab.current_info().ok, timeout=20_000)
    assert tab.current_info().model_id == "eval-1" and not tab.convert_button.isVisible()
    assert "Evaluated CNN" in tab.card.text()
    qtbot.waitUntil(lambda: not tab.is_loading(), timeout=20_000)


@pytest.mark.slow
def test_a_failed_conversion_is_reported(qtbot, tab, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    old = tmp_path / "damaged.fmodel"
    old.write_bytes(b"PK\x03\x04 a damaged zip")
    tab.add_bundle(str(old))
    qtbot.waitUntil(lambda: tab.current_info() is not None, timeout=20_000)
    assert tab.current_info().old_format
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a, **k: warned.append(text))
    with qtbot.waitSignal(tab.conversion_failed, timeout=60_000) as failed:
        tab.convert(str(old), str(tmp_path / "new.fmodel"))
    assert str(old) in failed.args[0] and "not a model bundle" in failed.args[0]
    assert warned and str(old) in tab.bundles.paths() and not (tmp_path / "new.fmodel").exists()
    qtbot.waitUntil(lambda: not tab.is_loading(), timeout=20_000)


def test_the_f1_chart_of_100_labels_scrolls_on_the_wheel_and_writes_each_value(qtbot, tab, tmp_path):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    labels = [f"label_{i:03d}" for i in range(100)]
    path = _save(
        tmp_path / "hundred.fmodel",
        labels,
        provenance={"model_id": "hundred", "name": "Hundred labels"},
        metrics={
            "test": {
                "overall": {"f1_micro": 0.5},
                "per_label": [
                    {"label": lab, "precision": 0.5, "recall": 0.5, "f1": i / 100, "support": 10}
                    for i, lab in enumerate(labels)
                ],
            }
        },
    )
    tab.add_bundle(path)
    qtbot.waitUntil(lambda: not tab.bundles.unloaded() and not tab.is_loading(), timeout=20_000)
    _click_row(qtbot, tab, path)
    tab.detail_tabs.setCurrentWidget(tab.chart_box)
    assert tab.chart_values() == pytest.approx([i / 100 for i in range(100)])
    texts = tab.chart_value_texts()
    assert len(texts) == 100 and texts[37] == "0.37"

    plot = tab._plot
    scroll = tab._chart_scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: scroll.maximum() > 0)
    # A readable bar per label: the chart is taller than its view and scrolls.
    assert plot.height() >= 20 * 100
    y_range = plot.getViewBox().viewRange()[1]
    before = scroll.value()
    centre = QPointF(plot.viewport().rect().center())
    wheel = QWheelEvent(
        centre,
        QPointF(plot.viewport().mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(plot.viewport(), wheel)
    assert scroll.value() > before  # the wheel scrolled down the list of bars
    assert plot.getViewBox().viewRange()[1] == pytest.approx(y_range)  # and zoomed nothing


def test_every_metric_on_the_tab_explains_itself_on_hover(qtbot, tab, bundles):
    from fashion_desktop.gui.models.metrics_model import metric_help

    _click_row(qtbot, tab, bundles["evaluated"])
    tip = Qt.ItemDataRole.ToolTipRole
    overall = tab.overall_model
    for r in range(overall.rowCount()):
        name = overall.index(r, 0).data()
        assert overall.index(r, 0).data(tip), name
    assert "photo" in _row_tip(overall, "F1 samples") and "exactly" in _row_tip(overall, "Exact match")
    for model in (tab.per_label_model, tab.groups_model, tab.compare_labels_model):
        for c in range(model.columnCount()):
            assert model.headerData(c, Qt.Orientation.Horizontal, tip), model.headerData(
                c, Qt.Orientation.Horizontal
            )
    assert "Processes" in metric_help("world size")


def _row_tip(model, name: str) -> str:
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data() == name)
    return model.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)
