"""The window behaves (issue 19 §5): long texts never widen it, the wheel scrolls forms past their fields, the
Model box shows the chosen model's tags at once, the Tags menu opens beside its button."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, Qt, QTimer
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QWidget

from fashion_desktop.core.demo import save_colour_bundle
from fashion_desktop.gui.tag.filter_bar import FilterBar
from fashion_desktop.gui.tag.review_pane import LABEL_KEYS, assign_keys
from fashion_desktop.gui.train.train_tab import TrainTab
from fashion_desktop.model.bundle_file import read_bundle_file
from tests.gui.test_main_window import chips, grid_rows, scan


def settle() -> None:
    """Let posted layout requests run (a label's new text re-lays the window out on the next turn)."""
    for _ in range(3):
        QApplication.processEvents()


def scroll_area_of(widget: QWidget) -> QAbstractScrollArea:
    """The scroll area a form sits in."""
    parent = widget.parentWidget()
    while not isinstance(parent, QAbstractScrollArea):
        parent = parent.parentWidget()
    return parent


def inside(widget: QWidget, window: QWidget) -> bool:
    return window.rect().contains(QRect(widget.mapTo(window, QPoint(0, 0)), widget.size()))


def test_a_long_finished_line_wraps_and_never_widens_the_window(qtbot, window, tiny_bundle_path, tmp_path):
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: window.width() == 1600)
    tab = window.train_tab
    window.tabs.setCurrentWidget(tab)
    tab.compare.set_run(str(tmp_path / "run-7"), str(tiny_bundle_path))
    tab.lower_tabs.setCurrentWidget(tab.compare)
    tab.model_used(str(tiny_bundle_path), 250)  # the offer to tag the library with the run's model
    settle()
    form = scroll_area_of(tab.form)
    form_width = form.width()
    groups = ("colour", "gender", "season", "usage", "articleType", "subCategory", "baseColour", "pattern")
    path = "/home/merchandiser/Fashion Finder/runs/" + "quick-look-on-the-reviewed-phone-photos-" * 5
    line = (
        "Finished. val F1 micro 0.7145, macro 0.3610; "
        + "; ".join(f"{g} accuracy 0.{i}123" for i, g in enumerate(groups))
        + f"; model: {path}/model.fmodel"
    )
    assert len(line) >= 400
    tab.run.status_changed.emit(line)  # what the run control says when a run finishes
    settle()
    assert tab.status_label.text() == line
    assert window.width() == 1600 and window.minimumWidth() <= 1600
    assert form.width() >= form_width  # the form keeps its room
    button = tab.compare.retag_button
    assert button.isVisible() and inside(button, window), "Tag the library with it is off screen"
    assert tab.status_label.toolTip() == line  # the cut path is there whole

    # The status bar: a folder's long name ends in "…", whole in the tooltip.
    long_name = "Scanning " + "Summer-catalogue-from-the-other-shop-" * 12 + "…"
    window.scan_label.setText(long_name)
    settle()
    assert window.width() == 1600 and inside(window.scan_label, window)
    assert window.scan_label.text() == long_name and window.scan_label.toolTip() == long_name


def wheel_down(widget: QWidget) -> None:
    centre = widget.rect().center()
    event = QWheelEvent(
        QPointF(centre),
        QPointF(widget.mapToGlobal(centre)),
        QPoint(0, 0),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_train_form_past_an_unfocused_field(qtbot):
    tab = TrainTab()
    qtbot.addWidget(tab)
    tab.resize(1000, 360)
    tab.show()
    qtbot.waitExposed(tab)
    bar = scroll_area_of(tab.form).verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == 0
    combo = tab.start_combo
    chosen = combo.currentIndex()
    assert not combo.hasFocus()
    wheel_down(combo)
    assert combo.currentIndex() == chosen, f"the wheel changed Start from to {combo.currentText()!r}"
    assert bar.value() > 0  # the form scrolled instead
    spin = tab.epochs_spin
    epochs, scrolled = spin.value(), bar.value()
    wheel_down(spin)
    assert spin.value() == epochs and bar.value() > scrolled
    # Clicked into (focused), a field takes the wheel as before.
    tab.activateWindow()
    combo.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(combo.hasFocus)
    wheel_down(combo)
    assert combo.currentIndex() != chosen


def test_the_wheel_scrolls_the_tag_tabs_column_past_an_unfocused_box(qtbot, window):
    window.resize(1400, 560)  # the column (720 px high at least) scrolls
    settle()
    bar = window.tag_page.left.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == 0
    sort = window.filters.sort_combo
    before = sort.currentIndex()
    wheel_down(sort)
    assert sort.currentIndex() == before and bar.value() > 0


def colour_scores(name: str) -> list[float]:
    """Scores like the colour bundle's: the photo's colour high, the others low."""
    return [0.95 if name.startswith(colour) else 0.05 for colour in ("red", "green", "blue")]


def four_label_bundle(path: Path, model_id: str, name: str) -> Path:
    """A tiny bundle whose first label is one the colour bundles lack (a retrained model's new label)."""
    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.bundle import new_bundle, save_bundle

    labels = ("pink", "red", "green", "blue")
    bundle = new_bundle(
        "cnn",
        labels,
        build_model("cnn", len(labels)).state_dict(),
        input_size=32,
        groups={lab: "colour" for lab in labels},
        provenance={"model_id": model_id, "name": name},
    )
    return save_bundle(bundle, path)


def record_tagging(window, bundle: Path, scores) -> None:
    """The library tagged by ``bundle`` (as ``fashion tag`` would have): its scores stored in the catalog."""
    b = read_bundle_file(bundle)
    d = b.description
    catalog = window.catalog
    catalog.register_model(b.model_id, d.labels, d.provenance["name"], str(bundle), dict(d.groups))
    ids = {name: window.library.id_at(row) for name, row in grid_rows(window).items()}
    catalog.add_predictions(b.model_id, [(i, np.asarray(scores(n), np.float32)) for n, i in ids.items()])


def test_choosing_a_model_shows_its_stored_tags_at_once_and_keeps_the_keys(
    qtbot, window, photo_folder, tmp_path
):
    scan(qtbot, window, photo_folder)
    for sub in ("a", "b", "c"):
        (tmp_path / sub).mkdir()
    a = save_colour_bundle(tmp_path / "a" / "model.fmodel", model_id="model-a", name="Model A")
    b = four_label_bundle(tmp_path / "b" / "model.fmodel", "model-b", "Model B")
    never = save_colour_bundle(tmp_path / "c" / "model.fmodel", model_id="model-c", name="Model C")
    record_tagging(window, a, colour_scores)
    record_tagging(window, b, lambda name: [0.9, 0.05, 0.05, 0.9])  # every photo: pink and blue
    panel, combo = window.tag_panel, window.tag_panel.model_combo
    panel.set_bundles([str(a), str(b), str(never)])  # the recent models, in the Model box
    combo.setCurrentIndex(combo.findData(str(a)))
    assert window.library.model_key == "model-a"
    assert chips(window, "green_1.jpg") == ["green"] and chips(window, "red_0.jpg") == ["red"]
    keys = dict(window.review.keys)

    combo.setCurrentIndex(combo.findData(str(b)))  # as a person picks it: no Tag photos, no run
    assert window.tag_worker is None
    assert window.library.model_key == "model-b"
    assert chips(window, "green_1.jpg") == ["pink", "blue"] and chips(window, "red_0.jpg") == ["pink", "blue"]
    assert not panel.untagged_row.isVisible()
    new_keys = window.review.keys
    assert {lab: new_keys[lab] for lab in ("red", "green", "blue")} == keys  # learned keys stay
    assert new_keys["pink"] not in keys.values()

    combo.setCurrentIndex(combo.findData(str(never)))
    assert window.library.model_key == "model-b"  # nothing to show: the grid keeps B's tags, and says so
    assert chips(window, "green_1.jpg") == ["pink", "blue"]
    assert panel.untagged_row.isVisible()
    assert panel.untagged_label.text() == (
        "This model has not tagged these photos yet. Until then the grid shows the tags of Model B."
    )

    combo.setCurrentIndex(combo.findData(str(a)))
    assert window.library.model_key == "model-a" and chips(window, "green_1.jpg") == ["green"]
    assert not panel.untagged_row.isVisible()
    assert dict(window.review.keys) == keys


def test_keys_follow_labels_across_models():
    first = assign_keys(["red", "green", "blue"])
    assert first == {"red": "1", "green": "2", "blue": "3"}
    again = assign_keys(["pink", "blue", "red"], first)
    assert again == {"pink": "2", "blue": "3", "red": "1"}
    assert list(again) == ["pink", "blue", "red"]  # label order
    many = [f"l{i}" for i in range(80)]
    assert list(assign_keys(many).values()) == LABEL_KEYS  # as many labels as there are keys


def click_tags_button(qtbot, bar: FilterBar) -> QRect:
    """Click the Tags button; return where its menu opened (then close it)."""
    seen: dict[str, QRect] = {}

    def look() -> None:
        if bar.tags_menu.isVisible():
            seen["menu"] = bar.tags_menu.geometry()
            bar.tags_menu.close()

    # A timer: a menu that runs its own event loop on the press (as the old popup did) is looked at too.
    QTimer.singleShot(0, look)
    qtbot.mouseClick(bar.tags_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "menu" in seen)
    return seen["menu"]


def test_the_tags_menu_opens_beside_its_button_not_under_the_pointer(qtbot):
    bar = FilterBar()
    qtbot.addWidget(bar)
    bar.show()
    qtbot.waitExposed(bar)
    button = bar.tags_button
    pointer = button.mapToGlobal(button.rect().center())
    bar.set_labels(["shirt", "shorts", "dress"])
    menu = click_tags_button(qtbot, bar)
    below = button.mapToGlobal(QPoint(0, button.height()))
    assert menu.left() == below.x() and abs(menu.top() - below.y()) <= 1  # at the button's bottom-left
    assert not menu.contains(pointer) and bar.selected_tags() == []
    # A list taller than the screen above and below the button opens beside it, still not under the pointer.
    bar.set_labels(["shorts"] + [f"label {i:02d}" for i in range(60)])
    menu = click_tags_button(qtbot, bar)
    assert not menu.contains(pointer), "the menu opened under the pointer"
    assert bar.selected_tags() == []
