""" "Use this model" must not quietly make tagging worse (issue 19 §2), through the window: a quick run on
reviewed photos that lack two of the model's labels is compared without a verdict, and using it asks first,
naming what would be lost; a model that loses nothing and wins is used without a question."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.gui.main_window import MainWindow
from fashion_desktop.gui.train.model_compare import ModelCompare
from fashion_desktop.model.bundle_file import read_header
from tests.conftest import TINY_LABELS, make_photo, split_seed

pytestmark = pytest.mark.slow  # each test starts trainer and comparison processes


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the trainer and comparison children on a 2-core machine


def answer(qtbot, compare: ModelCompare, yes: bool) -> str:
    """Answer the "Use this model?" question as a person would; returns what it said."""
    box = compare.question
    assert box is not None and box.isVisible()
    said = f"{box.text()}\n{box.informativeText()}"
    button = box.button(QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.No)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: compare.question is None, timeout=5000)
    return said


def one_value_colour_model(path: Path) -> tuple[Path, str]:
    """The demo colour model with colour as one value per photo; (its path, its model id)."""
    from fashion_desktop.core.demo import colour_bundle
    from fashion_desktop.model.bundle import save_bundle

    model = colour_bundle(model_id="colours-one-value", name="colours")
    return save_bundle(dataclasses.replace(model, exclusive_groups=("colour",)), path), "colours-one-value"


def open_window(qtbot, library: Path, model: Path) -> MainWindow:
    w = MainWindow(library)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.tag_panel.select_bundle(str(model))  # the model in use
    return w


@pytest.fixture
def red_library(tmp_path) -> tuple[Path, Path]:
    """20 reviewed photos, all red, tagged by the one-value colour model: green and blue have no example.
    Returns (library, the model in use)."""
    model, key = one_value_colour_model(tmp_path / "colours.fmodel")
    folder = tmp_path / "photos"
    paths = [str(make_photo(folder / f"p{i:02d}.jpg", (48, 40), "red")) for i in range(20)]
    with Catalog(tmp_path / "lib.ffcat") as cat:
        cat.add_folder(str(folder))
        ids = cat.ensure_images(paths)
        groups = {lab: "colour" for lab in TINY_LABELS}
        cat.register_model(key, TINY_LABELS, "colours", str(model), groups, [0.5] * 3, exclusive=("colour",))
        cat.add_predictions(key, [(ids[p], np.float32([0.9, 0.05, 0.05])) for p in paths])
        cat.set_reviewed(list(ids.values()), True)
    return tmp_path / "lib.ffcat", model


def test_a_run_that_loses_labels_gets_no_verdict_and_using_it_asks_first(
    qtbot, tmp_path, red_library
) -> None:
    pytest.importorskip("torch")
    from fashion_desktop.core.compare_verdict import MIN_PHOTOS
    from tests.gui.test_train_end_to_end import tiny_form, train

    lib, model = red_library
    w = open_window(qtbot, lib, model)
    models_before = [m.key for m in w.catalog.models()]
    tab = w.train_tab
    w.tabs.setCurrentWidget(tab)
    tab.sources.clear()
    qtbot.mouseClick(tab.add_library_button, Qt.MouseButton.LeftButton)
    tab.dataset.val_spin.setValue(0.25)
    tab.dataset.test_spin.setValue(0.3)  # photos the run does not learn from: the comparison's
    # Where pytest puts tmp_path decides each photo's split: pin a seed that gives test photos to compare
    # on, and validation photos but too few (under 10) to tune a threshold on.
    tab.dataset.seed_spin.setValue(
        split_seed(tab.dataset.data_entries(), 0.25, 0.3, lambda n, _t: n["test"] > 0 and 0 < n["val"] < 10)
    )
    # Before Start, in words: what the run cannot learn and the rule it loses.
    qtbot.waitUntil(lambda: "green" in tab.dataset.rules_label.text(), timeout=60_000)
    rules = tab.dataset.rules_label.text()
    assert "the new model will not have these 2 labels: blue, green" in rules
    assert "One value per photo is lost for colour" in rules
    tiny_form(tab, tmp_path / "runs" / "red")
    with qtbot.waitSignal(tab.compare.compared, timeout=180_000) as compared:
        bundle = train(qtbot, tab)
    assert read_header(bundle)[0].labels == ("red",)
    result = compared.args[0]
    assert result is not None, tab.compare.note.text()
    n = result.photos
    assert 0 < n < MIN_PHOTOS
    # The comparison says what it rests on and gives no verdict.
    assert f"rests on {n} photos" in tab.compare.note.text()
    assert tab.compare.verdict_label.text().startswith("No verdict")
    assert f"Review {MIN_PHOTOS - n} more photos" in tab.compare.verdict_label.text()
    assert [row[-1] for row in tab.compare.rows()] == ["too few photos"]
    assert "It would lose 2 labels: green, blue." in tab.compare.changes_label.text()
    # Its one label's threshold was not tuned on the few validation photos, and the page says so.
    assert "red use 0.5" in tab.compare.changes_label.text()
    assert "1 label had fewer than 10 validation photos each" in tab.compare.changes_label.text()
    # Use this model: it asks, naming the lost labels and groups; No leaves the model in use unchanged.
    qtbot.mouseClick(tab.compare.use_button, Qt.MouseButton.LeftButton)
    said = answer(qtbot, tab.compare, yes=False)
    assert "It does not have 2 of the current model's labels: green, blue." in said
    assert "It no longer keeps one value per photo in colour" in said
    assert f"The comparison rests on {n} photos, too few for a verdict" in said
    assert w.tag_panel.current_bundle() == str(model)
    assert [m.key for m in w.catalog.models()] == models_before
    assert not tab.compare.retag_button.isVisible()
    w.close()


def test_a_model_that_loses_nothing_and_wins_is_used_without_a_question(qtbot, tmp_path) -> None:
    from tests.core.test_compare import swapped_colour_bundle
    from tests.gui.test_train_history import fake_factory, run_to_end, setup_form

    folder = tmp_path / "photos"
    paths = [str(make_photo(folder / f"c{i:02d}.jpg", (40, 32), TINY_LABELS[i % 3])) for i in range(36)]
    with Catalog(tmp_path / "lib.ffcat") as cat:
        cat.add_folder(str(folder))
        ids = cat.ensure_images(paths)
        decided = [
            (ids[p], lab, lab == TINY_LABELS[i % 3]) for i, p in enumerate(paths) for lab in TINY_LABELS
        ]
        cat.set_reviewed(list(ids.values()), True, decided)
    wrong = swapped_colour_bundle(tmp_path / "swapped.fmodel")  # the model in use: always wrong
    right, key = one_value_colour_model(tmp_path / "right.fmodel")
    w = open_window(qtbot, tmp_path / "lib.ffcat", wrong)
    tab = w.train_tab
    tab.child_factory = fake_factory(tmp_path, right)  # a run that learnt from none of the 36 photos
    w.tabs.setCurrentWidget(tab)
    setup_form(tab, folder, tmp_path / "runs" / "right")
    with qtbot.waitSignal(tab.compare.compared, timeout=60_000) as compared:
        run_to_end(qtbot, tab)
    result = compared.args[0]
    assert result is not None and result.photos == 36, tab.compare.note.text()
    assert "rests on 36 photos" in tab.compare.note.text()
    assert (
        tab.compare.verdict_label.text()
        == "Verdict: the new model does better on colour, and no worse on the rest."
    )
    (row,) = tab.compare.rows()
    assert row[-2:] == ["+100 pts (+100 to +100)", "new model"]
    assert tab.compare.changes_label.text() == ""
    qtbot.mouseClick(tab.compare.use_button, Qt.MouseButton.LeftButton)
    assert tab.compare.question is None  # nothing to ask
    bundle = str(tmp_path / "runs" / "right" / "model.fmodel")
    assert w.tag_panel.current_bundle() == bundle
    # Registered with its rule: the library's tag rule keeps one colour per photo for it.
    assert w.catalog.model(key).exclusive == ("colour",)
    w.close()
