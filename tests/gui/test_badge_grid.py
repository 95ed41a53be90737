"""The "?" badge a person sees: drawn on the photo most likely wrong (not on a confident one), taken from the
model's bundle when a library opens, and explained on the Models tab."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QStyleOptionViewItem

from fashion_desktop.gui.models.models_tab import ModelsTab
from fashion_desktop.gui.tag.grid import UNCERTAIN_BADGE
from fashion_desktop.gui.tag.library_model import Roles
from fashion_desktop.model.badge import SCORE
from tests.gui.test_grid_and_pane import has_colour, render
from tests.gui.test_main_window import grid_rows, scan

LABELS = ["dress", "shirt", "red", "blue", "green"]
GROUPS = {"dress": "category", "shirt": "category", "red": "colour", "blue": "colour", "green": "colour"}
THRESHOLDS = (0.5, 0.5, 0.2, 0.2, 0.2)
BADGE = {"score": SCORE, "cutoff": 0.3, "flagged": 0.2, "wrong_flagged": 0.6, "wrong_rest": 0.2,
         "caught": 0.5, "photos": 40, "measured_on": "test"}  # fmt: skip


def _bundle(path: Path, **kw) -> str:
    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.bundle import new_bundle, save_bundle

    state = build_model("cnn", len(LABELS)).state_dict()
    bundle = new_bundle(
        "cnn", LABELS, state, groups=GROUPS, exclusive_groups=("colour",), thresholds=THRESHOLDS, **kw
    )
    return str(save_bundle(bundle, path))


@pytest.fixture
def bundle_path(tmp_path) -> str:
    return _bundle(tmp_path / "calibrated.fmodel", badge=BADGE, provenance={"name": "Calibrated"})


@pytest.fixture
def window_library(tmp_path, bundle_path):
    """A library whose model's bundle carries a calibrated badge (the ``window`` fixture opens it)."""
    from fashion_desktop.core.catalog import Catalog

    path = tmp_path / "lib.ffcat"
    cat = Catalog(path)
    from fashion_desktop.model.bundle_file import read_bundle_file

    # Registered by its model id, as tagging registers it: a badge is read only for the model it calibrates.
    key = read_bundle_file(bundle_path).model_id
    cat.register_model(key, LABELS, "Calibrated", bundle_path, GROUPS, THRESHOLDS, ["colour"])
    cat.close()
    return path


def test_the_badge_sits_on_the_photo_most_likely_wrong_and_not_on_a_confident_one(
    qtbot, window, photo_folder
):
    lib = window.library
    assert lib.columns.badge == BADGE  # read from the model's bundle when the library opened
    scan(qtbot, window, photo_folder)
    rows = grid_rows(window)
    tie, sure = lib.id_at(rows["red_0.jpg"]), lib.id_at(rows["green_1.jpg"])
    key = lib.model_key
    window.catalog.add_predictions(
        key,
        [(tie, np.float32([0.9, 0.05, 0.48, 0.47, 0.05])), (sure, np.float32([0.9, 0.05, 0.96, 0.02, 0.02]))],
    )
    lib.refresh_scores()
    view = window.grid.model()
    idx_tie = view.index(grid_rows(window)["red_0.jpg"], 0)
    idx_sure = view.index(grid_rows(window)["green_1.jpg"], 0)
    assert idx_tie.data(Roles.Uncertain) is True and idx_sure.data(Roles.Uncertain) is False

    delegate = window.grid.delegate
    size = delegate.sizeHint(QStyleOptionViewItem(), idx_tie)
    photo = QRect(
        (size.width() - 6 - delegate.thumb_size) // 2 + 3, 6, delegate.thumb_size, delegate.thumb_size
    )
    badge = delegate.uncertain_badge_rect(photo)
    assert has_colour(render(delegate, idx_tie, size), badge, UNCERTAIN_BADGE)
    assert not has_colour(render(delegate, idx_sure, size), badge, UNCERTAIN_BADGE)

    lib.set_active_model(key)  # no calibration: the old margin rule, blind to the colour's near tie
    assert lib.columns.badge is None
    assert view.index(grid_rows(window)["red_0.jpg"], 0).data(Roles.Uncertain) is False


def test_the_models_tab_says_what_the_badge_means(qtbot, tmp_path, bundle_path):
    bare = _bundle(tmp_path / "bare.fmodel", provenance={"name": "Bare"})
    tab = ModelsTab()
    qtbot.addWidget(tab)
    tab.set_bundle_paths([bundle_path, bare])
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.waitUntil(lambda: not tab.bundles.unloaded() and not tab.is_loading(), timeout=20_000)
    tab.select_path(bundle_path)
    line = (
        "? marks the photos most likely to have a wrong tag: about 20% of photos, 3.0× the error rate of "
        "the rest, 50% of the wrongly tagged ones, measured on the model"  # html-escaped apostrophe next
    )
    qtbot.waitUntil(lambda: line in tab.card.text(), timeout=5000)
    assert "test photos" in tab.card.text()
    tab.select_path(bare)
    qtbot.waitUntil(lambda: "? marks photos with a score within 0.05 of its threshold" in tab.card.text())
