"""Real end to end, through the window: a tiny run launched from the Train tab becomes the Tag tab's model
and tags photos; a tag created in the review pane is learnt by a run on the library and gets scores."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.gui.main_window import MainWindow
from fashion_desktop.gui.tag.tag_dialogs import OWN_GROUP
from fashion_desktop.gui.train.train_tab import TrainTab, default_child
from fashion_desktop.model.bundle_file import read_bundle_file
from fashion_desktop.model.run_folder import LEARNT_FROM, read_splits
from tests.conftest import TINY_LABELS, make_photo, split_seed
from tests.gui.test_main_window import chips, scan, select
from tests.gui.test_new_tags import _create, _ctrl_click
from tests.gui.test_use_model_trust import answer

pytestmark = pytest.mark.slow  # every test here starts a child process or trains

REPO = Path(__file__).resolve().parents[2]
N = 18  # photos in the library of the new-tag test

pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the trainer and tagging children on a 2-core machine


def tiny_form(tab: TrainTab, out: Path) -> None:
    """cnn from random weights, 32 px, one epoch on the CPU: seconds."""
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("cnn"))
    tab.start_combo.setCurrentIndex(tab.start_combo.findData("random"))
    tab.image_size.setValue(32)
    tab.epochs_spin.setValue(1)
    tab.batch_spin.setValue(8)
    tab.early_spin.setValue(0)
    tab.device_combo.setCurrentText("cpu")
    tab.out_edit.setText(str(out))


def train(qtbot, tab: TrainTab) -> str:
    """Click Start, wait for the run to finish; returns its bundle's path."""
    assert tab.start_button.isEnabled(), tab.problem_label.text()
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy(), timeout=120_000)
    assert tab.state == "finished", tab.banner.text() + tab.log_view.toPlainText()[-3000:]
    bundle = tab.result.get("bundle")
    assert Path(bundle).is_file()
    return bundle


def use_and_retag(qtbot, w: MainWindow, bundle: str):
    """Use this model, then tag the library with it in one click; returns the tagging Summary."""
    tab = w.train_tab
    qtbot.mouseClick(tab.compare.use_button, Qt.MouseButton.LeftButton)
    # Both runs here lack labels of the model in use or rest on too few photos for a verdict: it asks.
    answer(qtbot, tab.compare, yes=True)
    assert w.tag_panel.current_bundle() == bundle
    assert bundle in w.models_tab.bundles.paths()
    assert tab.compare.retag_button.isVisible()
    with qtbot.waitSignal(w.tagging_finished, timeout=60_000) as done:
        qtbot.mouseClick(tab.compare.retag_button, Qt.MouseButton.LeftButton)
    assert done.args[0] is not None, w.tag_panel.rate_label.text()
    return done.args[0]


def test_a_tiny_run_from_the_tab_becomes_the_tag_tabs_model_and_tags_photos(qtbot, window, tmp_path) -> None:
    sys.path.insert(0, str(REPO / "tests" / "trainer"))
    from trainer_helpers import make_class_folders

    w = window
    data = make_class_folders(
        tmp_path / "data", per_class=4, splits=("train", "val"), classes=["red", "blue"]
    )
    photos = tmp_path / "photos"
    for i in range(6):
        make_photo(photos / f"p{i}.jpg", (64, 48), ["red", "blue"][i % 2])
    scan(qtbot, w, photos)
    tab = w.train_tab
    w.tabs.setCurrentWidget(tab)
    tab.sources.clear()
    tab.add_source(str(data))
    tiny_form(tab, tmp_path / "runs" / "tiny")
    bundle = train(qtbot, tab)
    assert tab.lower_tabs.currentWidget() is tab.compare
    # The Tag tab holds the shipped default model (a first launch preselects it): the two can be compared.
    assert w.tag_panel.current_bundle() is not None
    assert tab.compare.problem() is None  # (a comparison may already be running: the button waits for it)
    summary = use_and_retag(qtbot, w, bundle)
    key = read_bundle_file(bundle).model_id
    assert summary.tagged == 6 and not summary.failed
    assert key in [m.key for m in w.catalog.models()]
    assert w.library.model_key == key and set(w.library.labels) == {"red", "blue"}
    scores = w.catalog.scores(key)
    assert len(scores) == 6 and all(s.shape == (2,) and np.isfinite(s).all() for s in scores.values())
    # The run is in the history, finished, with its model.
    with qtbot.waitSignal(tab.history.refreshed, timeout=10_000):
        tab.lower_tabs.setCurrentWidget(tab.history)
    assert tab.history.names() == ["tiny"] and tab.history.runs[0].state == "finished"


@pytest.fixture
def colour_library(tmp_path, tiny_bundle_path) -> Path:
    """N photos tagged by the tiny colour model (its scores stored as a tagging run stores them)."""
    folder = tmp_path / "photos"
    paths = [str(make_photo(folder / f"p{i:02d}.jpg", (48, 40), TINY_LABELS[i % 3])) for i in range(N)]
    cat = Catalog(tmp_path / "lib.ffcat")
    cat.add_folder(str(folder))
    ids = cat.ensure_images(paths)
    groups = {lab: "colour" for lab in TINY_LABELS}
    cat.register_model("tiny-test-model", TINY_LABELS, "tiny", str(tiny_bundle_path), groups, [0.5] * 3)
    scores = [
        np.float32([0.9 if lab == TINY_LABELS[i % 3] else 0.05 for lab in TINY_LABELS]) for i in range(N)
    ]
    cat.add_predictions("tiny-test-model", [(ids[p], s) for p, s in zip(paths, scores, strict=True)])
    cat.close()
    return tmp_path / "lib.ffcat"


def test_a_tag_made_in_the_review_pane_is_learnt_from_the_library_and_scored(
    qtbot, tmp_path, tiny_bundle_path, colour_library
) -> None:
    w = MainWindow(colour_library)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.tag_panel.select_bundle(str(tiny_bundle_path))  # the Tag tab's model, whose scores the library holds
    # A tag the model does not have, on six photos, made in the review pane.
    select(qtbot, w, "p00.jpg")
    for i in range(1, 6):
        _ctrl_click(qtbot, w, f"p{i:02d}.jpg")
    qtbot.mouseClick(w.review.new_tag_button, Qt.MouseButton.LeftButton)
    _create(qtbot, w.review_ctl.tag_dialog, "denim", OWN_GROUP, own="fabric")
    # Every photo reviewed: the tags shown (the model's colours, the person's denim) are settled.
    w.grid.setFocus()
    qtbot.keyClick(w.grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)
    assert chips(w, "p00.jpg") == ["red", "denim"] and chips(w, "p07.jpg") == ["green"]
    decided = w.catalog.all_decisions()
    assert sum(d.get("denim") is True for d in decided.values()) == 6
    assert sum(r.reviewed for r in w.catalog.images()) == N
    # Train on the library from the Train tab.
    tab = w.train_tab
    w.tabs.setCurrentWidget(tab)
    tab.sources.clear()
    qtbot.mouseClick(tab.add_library_button, Qt.MouseButton.LeftButton)
    assert tab.values()["sources"] == [str(tmp_path / "lib.ffcat")]
    tiny_form(tab, tmp_path / "runs" / "lib")
    # A third of the photos for validation: a tenth of 18 photos may by chance be none.
    tab.child_factory = lambda args: default_child([*args, "--set", "val_fraction=0.34"])
    # Where pytest puts tmp_path decides each photo's split: pin a seed that trains on every label.
    tab.dataset.seed_spin.setValue(
        split_seed(
            tab.dataset.data_entries(),
            0.34,
            tab.dataset.test_spin.value(),
            lambda n, t: n["val"] > 0 and not t.dropped,
        )
    )
    with qtbot.waitSignal(tab.compare.compared, timeout=180_000) as compared:
        bundle = train(qtbot, tab)
    desc = read_bundle_file(bundle).description
    assert "denim" in desc.labels and desc.groups["denim"] == "fabric"
    assert set(TINY_LABELS) <= set(desc.labels)
    # Before switching: compared with the colour model on the reviewed photos the run did not learn from.
    result = compared.args[0]
    assert result is not None, tab.compare.note.text()
    learnt = {p for split in LEARNT_FROM for p in read_splits(tmp_path / "runs" / "lib")[split]}
    assert (result.photos, result.excluded) == (N - len(learnt), len(learnt))
    if result.photos:  # which photos land in the test split depends on their paths' hashes
        assert [row[0] for row in tab.compare.rows()] == ["colour", "fabric"]
    else:
        assert "No reviewed photo is left" in tab.compare.note.text()
    summary = use_and_retag(qtbot, w, bundle)
    assert summary.tagged == N
    key = read_bundle_file(bundle).model_id
    assert w.library.model_key == key and "denim" in w.library.labels
    j = list(w.library.labels).index("denim")
    scores = w.catalog.scores(key)
    assert len(scores) == N and all(np.isfinite(s[j]) for s in scores.values())
    w.close()
