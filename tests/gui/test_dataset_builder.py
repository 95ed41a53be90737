"""The Train tab's dataset builder driven like a person would: sources, splits, mappings, and the labels
with their counts per split as the trainer's --preview counts them (real, or a fake where timing matters)."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from fashion_desktop.gui.train import dataset_builder as db
from fashion_desktop.gui.train.dataset_builder import DatasetBuilder
from fashion_desktop.gui.train.train_tab import TrainTab
from fashion_desktop.gui.worker import Child
from fashion_desktop.model.protocol import TRAINING
from tests.conftest import make_photo

REPO = Path(__file__).resolve().parents[2]
WAIT_MS = 60_000  # a real preview takes about a second; the machine may be busy


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_FINDER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(db, "PREVIEW_DELAY_MS", 50)


def class_folders(root: Path, sizes: dict[str, int]) -> Path:
    for label, n in sizes.items():
        for i in range(n):
            make_photo(root / label / f"{label}_{i}.jpg", (12, 12))
    return root


def tags_sheet(path: Path, label: str, n: int) -> Path:
    rows = ["image,tags"]
    for i in range(n):
        make_photo(path.parent / "sheet_photos" / f"{label}_{i}.jpg", (12, 12), "blue")
        rows.append(f"sheet_photos/{label}_{i}.jpg,{label}")
    path.write_text("\n".join(rows) + "\n")
    return path


def shown(qtbot, widget):
    qtbot.addWidget(widget)
    widget.show()
    return widget


def wait_answered(qtbot, b: DatasetBuilder) -> None:
    qtbot.waitUntil(
        lambda: not b.busy() and (b.preview is not None or bool(b.preview_error)), timeout=WAIT_MS
    )


def table_rows(b: DatasetBuilder) -> dict[str, list[str]]:
    """The label table as a person reads it: label -> [group, train, val, test]."""
    t = b.labels_table
    return {t.item(r, 0).text(): [t.item(r, c).text() for c in range(1, 5)] for r in range(t.rowCount())}


def test_folders_and_a_spreadsheet_show_their_labels_with_counts_per_split(qtbot, tmp_path, monkeypatch):
    folders = tmp_path / "folders"  # split folders: exact counts; the sheet's rows are split by the seed
    class_folders(folders / "train", {"red": 12, "green": 2})
    class_folders(folders / "val", {"red": 3, "green": 1})
    class_folders(folders / "test", {"red": 2})
    sheet = tags_sheet(tmp_path / "sheet.csv", "coat", 8)
    b = shown(qtbot, DatasetBuilder())
    statuses: list[str] = []
    b.preview_changed.connect(lambda: statuses.append(b.status_label.text()))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folders)))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(sheet), "")))
    qtbot.mouseClick(b.add_folder_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(b.add_sheet_button, Qt.MouseButton.LeftButton)
    b.val_spin.setValue(0.15)
    wait_answered(qtbot, b)
    assert b.preview_error is None, b.preview_error
    assert b.previews_started == 1  # three quick edits, one count
    assert "Counting…" in statuses
    rows = table_rows(b)
    assert rows["red"] == ["category", "12", "3", "2"]
    assert rows["⚠ green"] == ["category", "2", "1", "0"]  # few examples: marked
    assert sum(int(x) for x in rows["⚠ coat"][1:]) == 8 and int(rows["⚠ coat"][1]) > 0
    images = b.preview["images"]
    assert images["val"] >= 4 and images["test"] >= 2
    assert b.status_label.text() == (
        f"28 photos, 3 labels: train {images['train']} · val {images['val']} · test {images['test']}"
    )
    assert "fewer than 10 training examples" in b.warnings_label.text()
    assert "green (" in b.warnings_label.text() and "red (" not in b.warnings_label.text()
    assert [b.source_table.item(r, b.SOURCE).text() for r in range(2)] == [
        "Class folders: folders",
        "Spreadsheet: sheet.csv",
    ]
    assert b.source_table.item(0, b.SOURCE).toolTip() == str(folders)
    assert [b.source_table.item(r, b.PHOTOS).text() for r in range(2)] == ["20", "8"]  # per source
    # A new seed is a new split of the sheet's rows: counted again.
    b.seed_spin.setValue(5)
    assert b.busy()
    wait_answered(qtbot, b)
    assert b.previews_started == 2 and table_rows(b)["red"] == ["category", "12", "3", "2"]


def test_a_missing_source_is_explained_plainly_and_the_tab_stays_usable(qtbot, tmp_path):
    tab = shown(qtbot, TrainTab())
    missing = tmp_path / "unplugged drive" / "photos"
    tab.add_source(str(missing))
    b = tab.dataset
    wait_answered(qtbot, b)
    assert b.status_label.text() == f"Cannot read the data: image folder not found: {missing}"
    assert b.labels_table.rowCount() == 0
    assert b.source_table.item(0, b.SOURCE).foreground().color() == db._ERROR  # the row it is about
    b.source_table.selectRow(0)
    qtbot.mouseClick(b.remove_source_button, Qt.MouseButton.LeftButton)
    assert b.sources == []
    b.val_spin.setValue(0)  # all in train: no label of these few photos can miss the count
    b.test_spin.setValue(0)
    tab.add_source(str(class_folders(tmp_path / "ok", {"red": 4, "blue": 4})))
    wait_answered(qtbot, b)
    assert b.preview_error is None and set(b.label_counts()) == {"red", "blue"}
    assert "Cannot read" not in b.status_label.text()
    tab.out_edit.setText(str(tmp_path / "run"))
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("cnn"))
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("random"))
    assert tab.start_button.isEnabled(), tab.problem_label.text()


def _library(path: Path, photos: Path) -> Path:
    from fashion_desktop.core.catalog import Catalog

    files = [make_photo(photos / f"{i}.jpg", (12, 12)) for i in range(6)]
    with Catalog(path) as cat:
        ids = cat.ensure_images(files)
        cat.register_model("m", ["dress", "coat"], thresholds=[0.5, 0.5])
        sure, unsure = np.float32([0.95, 0.02]), np.float32([0.55, 0.45])
        cat.add_predictions("m", [(ids[str(f)], sure if i < 5 else unsure) for i, f in enumerate(files)])
        cat.set_reviewed([ids[str(f)] for f in files[:2]])
    return path


def test_the_library_is_reviewed_only_unless_confident_predictions_are_chosen(qtbot, tmp_path):
    from trainer.cli import resolve_train_config

    lib = _library(tmp_path / "library.ffcat", tmp_path / "photos")
    tab = shown(qtbot, TrainTab())
    tab.set_catalog_path(lib)
    tab.out_edit.setText(str(tmp_path / "run"))
    b = tab.dataset
    b.val_spin.setValue(0)  # six photos: all in train, so none can fall out of the count
    b.test_spin.setValue(0)
    qtbot.mouseClick(tab.add_library_button, Qt.MouseButton.LeftButton)
    assert b.source_table.item(0, b.SOURCE).text() == "Library: library.ffcat"
    mode = b.source_table.cellWidget(0, b.OPTIONS)
    assert mode.currentText() == "Reviewed photos only"
    assert tab.args()[:2] == ["--data", str(lib)]
    assert resolve_train_config(tab.args())[0].data == (str(lib),)
    wait_answered(qtbot, b)
    assert b.preview_error is None, b.preview_error
    assert b.source_table.item(0, b.PHOTOS).text() == "2"  # the two reviewed photos
    mode.setCurrentIndex(mode.findText("Reviewed + confident predictions"))
    cfg = resolve_train_config(tab.args())[0]
    assert cfg.data == ({"path": str(lib), "confident_predictions": True},)
    wait_answered(qtbot, b)
    assert b.source_table.item(0, b.PHOTOS).text() == "5"  # and three unreviewed the model is sure about
    assert sum(b.label_counts()["dress"]) == 5


def test_a_mapping_edited_in_the_dialog_is_saved_and_used(qtbot, tmp_path):
    folders = class_folders(tmp_path / "shop", {"Red_Shirts": 4, "blue": 3})
    b = shown(qtbot, DatasetBuilder())
    b.val_spin.setValue(0)  # all in train: no label of these few photos can miss the count
    b.test_spin.setValue(0)
    b.add_source(str(folders))
    wait_answered(qtbot, b)
    assert set(b.label_counts()) == {"Red_Shirts", "blue"}
    qtbot.mouseClick(b.source_table.cellWidget(0, b.MAPPING), Qt.MouseButton.LeftButton)
    dialog = b.mapping_dialog
    assert dialog is not None and dialog.isVisible()
    shirts, blue = dialog.row_of("Red_Shirts"), dialog.row_of("blue")
    assert dialog.table.item(shirts, 1).text() == "Red_Shirts"  # no file yet: each label as itself
    dialog.table.item(shirts, 1).setText("jacket")
    dialog.table.item(blue, 2).setCheckState(Qt.CheckState.Checked)  # leave out
    saved = Path(dialog.path_edit.text())
    assert saved.parent == tmp_path / "home" / "data" / "mappings"
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    with open(saved, newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [["source", "target"], ["blue", ""], ["Red_Shirts", "jacket"]]
    assert b.data_entries() == [{"path": str(folders), "mapping": str(saved)}]
    assert b.source_table.cellWidget(0, b.MAPPING).text() == saved.name
    wait_answered(qtbot, b)
    assert b.preview_error is None, b.preview_error
    assert list(table_rows(b)) == ["⚠ jacket"]
    assert sum(b.label_counts()["jacket"]) == 4
    # Opening it again shows the file as saved; the left-out label stays left out.
    qtbot.mouseClick(b.source_table.cellWidget(0, b.MAPPING), Qt.MouseButton.LeftButton)
    again = b.mapping_dialog
    assert again.rows() == [("blue", []), ("Red_Shirts", ["jacket"])]
    qtbot.mouseClick(again.no_mapping_button, Qt.MouseButton.LeftButton)
    assert b.data_entries() == [str(folders)]
    wait_answered(qtbot, b)


FAKE_PREVIEW = r"""
import json, os, sys, time
from fashion_desktop.model import protocol as p

args = sys.argv[1:]
with open(os.environ["FAKE_ARGV"], "a") as fh:
    fh.write(json.dumps(args) + "\n")
time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
paths = [args[i + 1] for i, a in enumerate(args) if a == "--data"]
labels = [os.path.basename(x) for x in paths]
counts = {s: {lab: 1 for lab in labels} for s in ("train", "val", "test")}
print(p.encode(p.DATASET_PREVIEW, labels=labels, groups={}, images={"train": len(labels)}, counts=counts,
               known=counts, warnings=[], sources={}, rare=labels,
               inputs=[{"path": x, "source": "fake", "images": 1, "labels": []} for x in paths]), flush=True)
"""


def fake_preview(tmp_path: Path, sleep: float = 0.0):
    script = tmp_path / "fake_preview.py"
    script.write_text(FAKE_PREVIEW)
    argv = tmp_path / "preview_argv.jsonl"
    env = dict(os.environ, PYTHONPATH=str(REPO), FAKE_ARGV=str(argv), FAKE_SLEEP=str(sleep))

    def factory(args):
        return Child(sys.executable, (str(script), *args), TRAINING, b"", None, (0, 143), env)

    factory.argv = lambda: [json.loads(x) for x in argv.read_text().splitlines()] if argv.exists() else []
    return factory


@pytest.mark.slow
def test_a_change_while_counting_counts_again_and_the_stale_answer_is_dropped(qtbot, tmp_path, monkeypatch):
    factory = fake_preview(tmp_path, sleep=2.0)
    b = shown(qtbot, DatasetBuilder(preview_factory=factory))
    b.add_source(str(tmp_path / "first"))
    qtbot.waitUntil(lambda: b.worker is not None, timeout=5_000)
    assert b.status_label.text() == "Counting…" and not b.labels_table.isEnabled()
    b.add_source(str(tmp_path / "second"))  # while the first count runs
    wait_answered(qtbot, b)
    assert b.previews_started == 2
    assert list(table_rows(b)) == ["⚠ first", "⚠ second"]
    assert b.labels_table.isEnabled()
    assert factory.argv()[-1][:4] == ["--data", str(tmp_path / "first"), "--data", str(tmp_path / "second")]
    assert "val_fraction=0.1" in factory.argv()[-1] and "seed=0" in factory.argv()[-1]
    # Edits a moment apart are still counted once after a restart (the delay is kept, not zeroed).
    monkeypatch.setattr(db, "PREVIEW_DELAY_MS", 500)
    for seed in (1, 2, 3):
        b.seed_spin.setValue(seed)
        qtbot.wait(20)
    wait_answered(qtbot, b)
    assert b.previews_started == 3 and "seed=3" in factory.argv()[-1]


@pytest.mark.slow
def test_nothing_is_counted_while_hidden_and_fractions_that_leave_no_training_are_refused(qtbot, tmp_path):
    factory = fake_preview(tmp_path)
    b = DatasetBuilder(preview_factory=factory)
    qtbot.addWidget(b)
    b.add_source(str(tmp_path / "a"))
    qtbot.wait(200)
    assert b.previews_started == 0  # the Train tab is not shown: no child process
    b.show()
    wait_answered(qtbot, b)
    assert b.previews_started == 1
    b.val_spin.setValue(0.5)
    b.test_spin.setValue(0.5)
    wait_answered(qtbot, b)
    assert b.previews_started == 1
    assert b.status_label.text() == "The validation and test fractions must add up to less than 1."


def test_the_dataset_is_remembered_with_kinds_options_mappings_and_splits(qtbot, tmp_path):
    lib = _library(tmp_path / "library.ffcat", tmp_path / "photos")
    sheet = tags_sheet(tmp_path / "s.csv", "coat", 2)
    mapping = tmp_path / "m.csv"
    mapping.write_text("source,target\ncoat,coat\n")
    tab = TrainTab()
    qtbot.addWidget(tab)
    tab.set_catalog_path(lib)
    b = tab.dataset
    b.add_library()
    b.add_source(str(sheet), "spreadsheet")
    b.add_source(str(tmp_path / "imat" / "train.csv"), "imaterialist")
    b.set_library_mode(0, confident=True)
    b.source_table.cellWidget(1, b.OPTIONS).setText("product_id")
    b.set_mapping(1, str(mapping))
    b.val_spin.setValue(0.25)
    b.seed_spin.setValue(7)
    again = TrainTab()
    qtbot.addWidget(again)
    assert again.dataset.state() == b.state()
    assert [again.dataset.source_table.item(r, b.SOURCE).text() for r in range(3)] == [
        "Library: library.ffcat",
        "Spreadsheet: s.csv",
        "iMaterialist 2019: train.csv",
    ]
    assert again.values()["sources"] == [
        {"path": str(lib), "confident_predictions": True},
        {"path": str(sheet), "mapping": str(mapping), "key_column": "product_id"},
        str(tmp_path / "imat" / "train.csv"),
    ]
    o = again.overrides()
    assert (o["val_fraction"], o["test_fraction"], o["seed"]) == (0.25, 0.1, 7)
    assert again.args()[:2] == ["--set", "data=" + json.dumps(again.values()["sources"])]


def test_before_start_it_says_in_words_what_a_run_on_the_library_keeps_and_cannot_learn(qtbot, tmp_path):
    from fashion_desktop.core.catalog import Catalog

    colours = ("red", "green", "blue")
    photos = [make_photo(tmp_path / "photos" / f"{i}.jpg", (12, 12)) for i in range(6)]
    with Catalog(tmp_path / "library.ffcat") as cat:  # its model: one colour per photo; no blue reviewed
        ids = cat.ensure_images(photos)
        groups = {c: "colour" for c in colours}
        cat.register_model("m", colours, "colours", None, groups, [0.5] * 3, exclusive=("colour",))
        scores = [np.float32([0.9, 0.1, 0.1] if i % 2 else [0.1, 0.9, 0.1]) for i in range(6)]
        cat.add_predictions("m", [(ids[str(p)], s) for p, s in zip(photos, scores, strict=True)])
        cat.set_reviewed(list(ids.values()))
    b = shown(qtbot, DatasetBuilder())
    b.set_catalog_path(tmp_path / "library.ffcat")
    b.val_spin.setValue(0)  # six photos: all in train
    b.test_spin.setValue(0)
    qtbot.mouseClick(b.add_library_button, Qt.MouseButton.LeftButton)
    wait_answered(qtbot, b)
    assert b.preview_error is None, b.preview_error
    assert b.rules_label.text() == (
        "Not learnt (no training photo has it), so the new model will not have this label: blue.\n"
        "One value per photo in colour."
    )
    assert "blue" not in table_rows(b) and "labels dropped" not in b.warnings_label.text()
