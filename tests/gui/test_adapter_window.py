"""The library's adapter in the real window: reviews that correct one look move the other photos of that look."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from fashion_desktop.core.adapter_library import adapter_enabled, stored_adapter
from tests.conftest import save_pink_blind_bundle
from tests.gui.test_main_window import scan, tag

LOOKS = {"red": (215, 25, 30), "pink": (250, 150, 185), "blue": (30, 40, 215)}


@pytest.fixture(scope="module")
def pink_blind_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_pink_blind_bundle(tmp_path_factory.mktemp("bundles") / "pink-blind.fmodel")


def _photos(folder: Path, per_look: int = 12) -> None:
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True)
    for look, rgb in LOOKS.items():
        for i in range(per_look):
            pixels = np.clip(np.array(rgb) + rng.integers(-20, 21, (40, 40, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{look}{i:02d}.png")


def _ids(w, prefix: str) -> list[int]:
    m = w.library
    return sorted((i for i in m.all_ids() if Path(m.path_of(i)).name.startswith(prefix)), key=m.path_of)


def _adapt_folders() -> set[str]:
    import tempfile

    return {p.name for p in Path(tempfile.gettempdir()).glob("fashion-adapt-*")}


def _top(w, image_id: int) -> str:
    scores = w.library.scores_of(image_id)
    return max(("Red", "Pink", "Blue"), key=lambda k: scores[k])


def test_reviews_that_move_a_look_from_red_to_pink_move_its_unreviewed_photos_and_the_switch_restores(
    qtbot, window, tmp_path, pink_blind_bundle
) -> None:
    w = window
    folders_before = _adapt_folders()
    _photos(tmp_path / "photos")
    scan(qtbot, w, tmp_path / "photos")
    tag(qtbot, w, pink_blind_bundle)
    pinks, reds, blues = _ids(w, "pink"), _ids(w, "red"), _ids(w, "blue")
    assert all(_top(w, i) == "Red" for i in pinks)  # the model calls every pink photo Red
    assert w.tag_panel.adapter_row.isVisible() and "reviewed 10" in w.tag_panel.adapter_label.text()

    # The person reviews eight of each look, correcting the pink ones: Pink, not Red.
    m = w.library
    corrected = pinks[:8]
    m.write_decisions([(i, "Pink", True) for i in corrected] + [(i, "Red", False) for i in corrected])
    reviewed = corrected + reds[:8] + blues[:8]
    before_reviewed = {i: dict(m.scores_of(i)) for i in reviewed}
    m.write_reviewed(reviewed, True, m.review_changes(reviewed))
    assert w.adapter_ctl.busy  # it learns a moment later, in the background
    qtbot.waitUntil(lambda: not w.adapter_ctl.busy, timeout=60_000)

    adapter = w.adapter_ctl.adapter
    assert adapter is not None and adapter.useful and adapter.reviewed == 24
    assert all(_top(w, i) == "Pink" for i in pinks[8:])  # unreviewed pink photos now say Pink
    assert all("Pink" in m.tags_of(i) for i in pinks[8:])
    assert all(_top(w, i) == "Red" for i in reds[8:]) and all(_top(w, i) == "Blue" for i in blues[8:])
    assert {i: dict(m.scores_of(i)) for i in reviewed} == before_reviewed  # reviewed photos never change
    text = w.tag_panel.adapter_label.text()
    assert "Pink-blind · adapted to 24 reviewed photos (colour)" in text
    assert "colour: 24 photos; model top-1" in w.tag_panel.adapter_label.toolTip()
    assert stored_adapter(w.library_ctl.catalog, m.model_key) is not None  # kept in the library

    # Off: the model's own scores again, and the library remembers the switch.
    with qtbot.waitSignal(w.adapter_ctl.shown, timeout=10_000):
        w.tag_panel.adapter_box.setChecked(False)
    assert all(_top(w, i) == "Red" for i in pinks[8:])
    assert "Off" in w.tag_panel.adapter_label.text()
    assert not adapter_enabled(w.library_ctl.catalog, m.model_key)
    with qtbot.waitSignal(w.adapter_ctl.shown, timeout=30_000):
        w.tag_panel.adapter_box.setChecked(True)
    assert all(_top(w, i) == "Pink" for i in pinks[8:])
    # Off and straight back on: the model's scores read back for "off" never land over the adapter's again.
    w.tag_panel.adapter_box.setChecked(False)
    w.tag_panel.adapter_box.setChecked(True)
    qtbot.waitUntil(lambda: not w.adapter_ctl.busy, timeout=30_000)
    assert (
        all(_top(w, i) == "Pink" for i in pinks[8:]) and "adapted to 24" in w.tag_panel.adapter_label.text()
    )
    # Every scores file the adapter's runs wrote is removed once shown or dropped (in the thread pool)
    qtbot.waitUntil(lambda: _adapt_folders() <= folders_before, timeout=10_000)


def test_thresholds_the_adapter_tuned_are_in_effect_and_the_threshold_view_says_which(
    qtbot, window, tmp_path, tiny_bundle_path
) -> None:
    from fashion_desktop.core.demo import DEMO_LABELS
    from fashion_desktop.gui.tag.thresholds_panel import ThresholdTableModel

    w = window
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 40), LOOKS["red"]).save(folder / f"red{i}.png")
    scan(qtbot, w, folder)
    tag(qtbot, w, tiny_bundle_path)
    m = w.library
    red = _ids(w, "red")
    assert all("red" in m.tags_of(i) for i in red)
    tuned = np.full(len(DEMO_LABELS), np.nan, np.float32)
    tuned[DEMO_LABELS.index("red")] = 0.999  # what an adapter would tune on a library where red is rare
    w.adapter_ctl._show_thresholds(type("A", (), {"thresholds": tuned})())
    assert not any("red" in m.tags_of(i) for i in red)  # the tuned threshold is in effect
    panel = w.threshold_panel
    table = panel.model
    row = next(r for r in range(table.rowCount()) if table.index(r, 0).data() == "red")
    assert table.index(row, ThresholdTableModel.DEFAULT).data() == "1.00*"
    assert "Tuned on your reviewed photos" in table.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert panel.tuned_note.isVisibleTo(panel) and "1 label uses a threshold tuned" in panel.tuned_note.text()
    w.adapter_ctl._show_thresholds(None)
    assert all("red" in m.tags_of(i) for i in red) and not panel.tuned_note.isVisibleTo(panel)


def test_a_persons_own_tag_gets_suggestions_once_it_has_a_handful_of_yes_and_no(
    qtbot, window, tmp_path, pink_blind_bundle
) -> None:
    w = window
    _photos(tmp_path / "photos")
    scan(qtbot, w, tmp_path / "photos")
    tag(qtbot, w, pink_blind_bundle)
    pinks, reds, blues = _ids(w, "pink"), _ids(w, "red"), _ids(w, "blue")
    m = w.library
    # "blush": a tag the model does not have; the person says yes on six pink photos, no on six others.
    yes, no = pinks[:6], reds[:3] + blues[:3]
    m.create_label("blush", "mood", [(i, "blush", True) for i in yes] + [(i, "blush", False) for i in no])
    m.write_reviewed(yes + no, True, m.review_changes(yes + no))
    qtbot.waitUntil(lambda: not w.adapter_ctl.busy, timeout=60_000)
    assert w.adapter_ctl.adapter is not None and w.adapter_ctl.adapter.person_labels == ("blush",)
    assert all("blush" in m.tags_of(i) and m.predicted(i, "blush") for i in pinks[6:])  # suggested
    assert not any("blush" in m.tags_of(i) for i in reds[3:] + blues[3:])
    assert all(m.decision(i, "blush") is None for i in pinks[6:])  # a suggestion, not a decision
    # Reviewing a photo that shows the suggestion records it as the person's yes.
    m.write_reviewed([pinks[6]], True, m.review_changes([pinks[6]]))
    assert m.decision(pinks[6], "blush") is True
    with qtbot.waitSignal(w.adapter_ctl.shown, timeout=10_000):
        w.tag_panel.adapter_box.setChecked(False)
    assert not any("blush" in m.tags_of(i) for i in pinks[7:])  # off: no suggestions
