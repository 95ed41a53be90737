"""Grid and review pane a person can trust: hidden chips counted, live scores, uncertainty, exact captions,
full width, filters that stay put, a red "✘ you", model names, removing a folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

from fashion_desktop.gui.tag.filter_bar import FilterBar
from fashion_desktop.gui.tag.grid import MORE_CHIP, UNCERTAIN_BADGE, GridDelegate, GridView
from fashion_desktop.gui.tag.library_model import Roles
from fashion_desktop.gui.tag.tag_panel import TagPanel
from fashion_desktop.gui.tag.thumbnails import Thumbnailer
from tests.conftest import make_photo
from tests.gui.test_main_window import grid_rows, scan, select, tag

MANY = [f"long_label_{i:02d}" for i in range(24)]


def render(delegate: GridDelegate, index, size) -> QImage:
    """The cell as the grid paints it."""
    img = QImage(size, QImage.Format.Format_ARGB32)
    img.fill(QColor("white"))
    option = QStyleOptionViewItem()
    option.rect = QRect(QPoint(0, 0), size)
    option.state = QStyle.StateFlag.State_Enabled
    painter = QPainter(img)
    delegate.paint(painter, option, index)
    painter.end()
    return img


def has_colour(img: QImage, rect: QRect, colour: QColor) -> bool:
    return any(
        img.pixelColor(x, y) == colour
        for x in range(max(0, rect.left()), min(img.width(), rect.right() + 1))
        for y in range(max(0, rect.top()), min(img.height(), rect.bottom() + 1))
    )


def test_overflowing_chips_draw_plus_n_and_the_tooltip_lists_every_tag(qtbot, window, photo_folder):  # noqa: F811
    scan(qtbot, window, photo_folder)
    lib = window.library
    lib.set_active_model("many", MANY, {lab: "attribute" for lab in MANY})
    select(qtbot, window, "red_0.jpg")
    image = window.review_ctl.selected_ids()[0]
    lib.write_decisions([(image, lab, True) for lab in MANY])
    index = window.grid.model().index(grid_rows(window)["red_0.jpg"], 0)
    tags = index.data(Roles.FinalTags)
    assert tags == MANY

    delegate = window.grid.delegate
    size = delegate.sizeHint(QStyleOptionViewItem(), index)
    area = QRect(0, 0, size.width() - 10, 40)
    placed, more = delegate.chip_layout(tags, area)
    assert 0 < len(placed) < len(tags) and more is not None
    assert more.right() <= area.right()  # the "+N" chip is inside the cell, after the last shown chip
    assert [t for t, _ in placed] == tags[: len(placed)]
    img = render(delegate, index, size)
    assert has_colour(img, QRect(0, 0, size.width(), size.height()), MORE_CHIP)

    tip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert all(lab in tip for lab in MANY) and f"Tags ({len(MANY)})" in tip


def test_chips_that_fit_draw_no_plus_n():
    delegate = GridDelegate(Thumbnailer(disk_cache=False))
    placed, more = delegate.chip_layout(["red", "top"], QRect(0, 0, 170, 40))
    assert [t for t, _ in placed] == ["red", "top"] and more is None


@pytest.mark.slow
def test_the_review_pane_shows_scores_as_soon_as_the_current_photo_is_tagged(
    qtbot,
    window,  # noqa: F811
    photo_folder,
    tiny_bundle_path,
):
    scan(qtbot, window, photo_folder)
    select(qtbot, window, "red_0.jpg")
    tag(qtbot, window, tiny_bundle_path)  # never reselected: the pane must follow the run by itself
    pane = window.review
    qtbot.waitUntil(lambda: pane.rows.get("red") is not None and pane.rows["red"].score_label.text() != "")
    assert float(pane.rows["red"].score_label.text()) > 0.9
    assert pane.rows["red"].box.isChecked()


def test_photos_with_a_score_near_a_threshold_carry_a_badge(qtbot, window, photo_folder):  # noqa: F811
    scan(qtbot, window, photo_folder)
    cat, lib = window.catalog, window.library
    labels = ["red", "green", "blue"]
    cat.register_model("m", labels, thresholds=[0.5, 0.5, 0.5])
    rows = grid_rows(window)
    near, sure = lib.id_at(rows["red_0.jpg"]), lib.id_at(rows["green_1.jpg"])
    cat.add_predictions(
        "m", [(near, np.array([0.53, 0.1, 0.0], np.float32)), (sure, np.array([0.0, 0.99, 0.01], np.float32))]
    )
    lib.set_active_model("m")
    view = window.grid.model()
    idx_near = view.index(grid_rows(window)["red_0.jpg"], 0)
    idx_sure = view.index(grid_rows(window)["green_1.jpg"], 0)
    assert idx_near.data(Roles.Uncertain) is True and idx_sure.data(Roles.Uncertain) is False
    assert "red 0.53 (threshold 0.50)" in idx_near.data(Qt.ItemDataRole.ToolTipRole)

    delegate = window.grid.delegate
    size = delegate.sizeHint(QStyleOptionViewItem(), idx_near)
    photo = QRect(
        (size.width() - 6 - delegate.thumb_size) // 2 + 3, 6, delegate.thumb_size, delegate.thumb_size
    )
    badge = delegate.uncertain_badge_rect(photo)
    assert has_colour(render(delegate, idx_near, size), badge, UNCERTAIN_BADGE)
    assert not has_colour(render(delegate, idx_sure, size), badge, UNCERTAIN_BADGE)

    lib.write_decisions([(near, "red", True)])  # a person settled the doubtful label
    assert view.index(grid_rows(window)["red_0.jpg"], 0).data(Roles.Uncertain) is False


def _caption_image(name: str) -> QImage:
    model = QStandardItemModel()
    model.appendRow(QStandardItem(name))
    delegate = GridDelegate(Thumbnailer(disk_cache=False))
    return render(delegate, model.index(0, 0), delegate.cell_size())


def test_captions_show_underscores(qapp):
    # An underscore is drawn just below the line box of small fonts: a caption of one underscore must
    # not look like a caption of one space (nothing drawn). Glyph widths differ, so compare a lone glyph.
    assert _caption_image("_") != _caption_image(" ")


def test_the_grid_uses_the_whole_width(qtbot):
    model = QStandardItemModel()
    for i in range(60):
        model.appendRow(QStandardItem(f"p{i}.jpg"))
    view = GridView(Thumbnailer(disk_cache=False))
    qtbot.addWidget(view)
    view.setModel(model)
    view.show()
    for width in (520, 700, 911):
        view.resize(width, 600)
        qtbot.waitUntil(lambda w=width: view.width() == w)
        view.executeDelayedItemsLayout()
        right = max(view.visualRect(model.index(r, 0)).right() for r in range(12))
        bar = view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, view.verticalScrollBar())
        assert view.viewport().width() - 1 - right <= bar + 2, width


def test_the_tags_popup_stays_open_while_ticking_and_clear_filters_shows_everything(qtbot):
    bar = FilterBar()
    qtbot.addWidget(bar)
    bar.show()
    bar.set_labels(["red", "green", "blue"])
    assert not bar.clear_button.isEnabled()
    menu = bar.tags_menu
    menu.popup(bar.mapToGlobal(QPoint(0, 0)))
    qtbot.waitExposed(menu)
    acts = {a.text(): a for a in menu.actions()}
    with qtbot.waitSignal(bar.spec_changed):
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(acts["red"]).center())
    assert menu.isVisible(), "the popup closed after one tick"
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(acts["blue"]).center())
    assert menu.isVisible() and bar.selected_tags() == ["red", "blue"]
    menu.close()
    # The score range says what it filters on.
    assert bar.score_label.text() == "Score of tags" and "chosen under Tags" in bar.score_label.toolTip()

    bar.search.setText("shirt")
    bar.score_min.setValue(0.3)
    bar.set_review("unreviewed")
    assert bar.clear_button.isEnabled()
    bar.sort_combo.setCurrentIndex(bar.sort_combo.findData("date"))
    with qtbot.waitSignal(bar.spec_changed) as blocker:
        qtbot.mouseClick(bar.clear_button, Qt.MouseButton.LeftButton)
    spec = blocker.args[0]
    assert (spec.tags, spec.text, spec.review, spec.score_min, spec.score_max) == ((), "", "all", 0.0, 1.0)
    assert spec.sort == "date"  # the order is not a filter: it stays
    assert bar.score_label.text() == "Top score" and not bar.clear_button.isEnabled()


def test_a_persons_rejection_is_drawn_red_and_a_confirmation_green(qtbot, window, photo_folder):  # noqa: F811
    scan(qtbot, window, photo_folder)
    window.library.set_active_model("m", ["red", "green"], {"red": "colour", "green": "colour"})
    select(qtbot, window, "red_0.jpg")
    qtbot.keyClick(window.grid, "1")  # red: yes
    qtbot.keyClick(window.grid, "2")
    qtbot.keyClick(window.grid, "2")  # green: yes, then no
    rows = window.review.rows
    yes = rows["red"].source_label.palette().color(QPalette.ColorRole.WindowText)
    no = rows["green"].source_label.palette().color(QPalette.ColorRole.WindowText)
    assert rows["red"].source_label.text() == "✔ you" and rows["green"].source_label.text() == "✘ you"
    assert yes.green() > yes.red() and no.red() > 2 * no.green()


def test_the_model_box_names_each_bundle_by_its_name_date_and_id(qtbot, tmp_path):
    from fashion_desktop.core.demo import save_colour_bundle

    a = save_colour_bundle(
        _folder(tmp_path / "run1") / "model.fmodel", model_id="aaaa1111bbbb", name="Spring run"
    )
    b = save_colour_bundle(
        _folder(tmp_path / "run2") / "model.fmodel", model_id="cccc2222dddd", name="Summer run"
    )
    broken = tmp_path / "run3" / "model.fmodel"
    _folder(broken.parent)
    broken.write_bytes(b"not a model")
    panel = TagPanel()
    qtbot.addWidget(panel)
    panel.set_bundles([str(a), str(b), str(broken)])
    texts = [panel.model_combo.itemText(i) for i in range(panel.model_combo.count())]
    assert texts[0].startswith("Spring run — ") and texts[0].endswith("aaaa1111")
    assert texts[1].startswith("Summer run — ") and texts[1].endswith("cccc2222")
    assert texts[2] == "run3/model.fmodel"  # unreadable: told apart by its folder, the reason on hover
    assert "not a model bundle" in panel.model_combo.itemData(2, Qt.ItemDataRole.ToolTipRole)
    panel.select_bundle(str(b))
    assert panel.current_bundle() == str(b) and "cccc2222dddd" in panel.model_combo.toolTip()


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_remove_a_folder_from_the_library_keeps_the_decisions(qtbot, window, tmp_path):  # noqa: F811
    keep, drop = tmp_path / "keep", tmp_path / "drop"
    for i in range(3):
        make_photo(keep / f"k_{i}.jpg", (40, 30), "red")
        make_photo(drop / f"d_{i}.jpg", (40, 30), "blue")
    scan(qtbot, window, keep)
    scan(qtbot, window, drop)
    lib = window.library
    assert lib.rowCount() == 6
    decided = lib.id_at(grid_rows(window)["d_1.jpg"])
    lib.write_decisions([(decided, "blue", True)])

    dlg = window.library_ctl.remove_folder_dialog()
    items = [dlg.folder_list.item(i).text() for i in range(dlg.folder_list.count())]
    assert items == [str(keep), str(drop)] and not dlg.remove_button.isEnabled()
    dlg.folder_list.setCurrentRow(1)
    assert "3 photos will leave the grid" in dlg.details.text()
    assert "on 1 of them stay in the library" in dlg.details.text()
    qtbot.mouseClick(dlg.remove_button, Qt.MouseButton.LeftButton)

    assert sorted(grid_rows(window)) == ["k_0.jpg", "k_1.jpg", "k_2.jpg"]
    assert window.catalog.folders() == [str(keep)]
    assert window.catalog.decisions(decided) == {"blue": True}
    assert "1 folder" in window.status_label.text()
    assert all(p.exists() for p in drop.iterdir())  # nothing on disk is touched

    scan(qtbot, window, drop)  # added again: the decision is back on its photo
    assert window.library.decision(decided, "blue") is True and window.library.rowCount() == 6


def test_the_threshold_table_elides_long_labels_in_the_middle(qtbot):
    from fashion_desktop.gui.tag.thresholds_panel import ThresholdPanel

    panel = ThresholdPanel()
    qtbot.addWidget(panel)
    long = "top, t-shirt, sweatshirt"
    panel.set_model([long, "red"], [0.5, 0.5], {long: "category", "red": "colour"})
    assert panel.table.textElideMode() == Qt.TextElideMode.ElideMiddle
    index = panel.table.model().index(0, 0)
    assert long in index.data(Qt.ItemDataRole.ToolTipRole)
