"""Light and dark: View ▸ Appearance switches the scheme, remembered; chips, badges, the pane and plots follow."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from fashion_desktop.gui import settings
from fashion_desktop.gui.appearance import Appearance, contrast_ratio, is_dark
from fashion_desktop.gui.tag.grid import (
    BADGE_COLOURS,
    CONFIRMED_CHIP,
    PREDICTED_CHIP,
    UNCERTAIN_BADGE,
    cell_colours,
)
from fashion_desktop.gui.tag.review_pane import SOURCE_COLOUR
from fashion_desktop.gui.train.train_plots import TrainPlots
from tests.gui.test_main_window import select
from tests.gui.test_one_value import make_library

Role = QPalette.ColorRole


@pytest.fixture
def window_library(tmp_path):
    return make_library(tmp_path)


@pytest.fixture
def back_to_system(window):
    yield
    window.appearance.set_mode("system")  # the palette is the application's: later tests get the default
    assert not is_dark()


def _grid_image(w):
    w.grid.viewport().repaint()
    return w.grid.viewport().grab().toImage()


def test_the_scheme_switch_repaints_chips_badges_pane_and_plots_readably(qtbot, window, back_to_system):
    w = window
    select(qtbot, w, "p1.jpg")
    plots = w.train_tab.findChildren(TrainPlots)
    assert plots
    for mode in ("dark", "light", "dark"):
        w.appearance_menu.actions()[list(w.appearance.actions).index(mode)].trigger()
        dark = mode == "dark"
        assert settings.get_str(settings.APPEARANCE) == mode and w.appearance.actions[mode].isChecked()
        assert is_dark(QApplication.palette()) == dark
        qtbot.waitUntil(lambda d=dark: is_dark(w.grid.viewport().palette()) == d)  # Qt posts the change
        pal = w.grid.viewport().palette()
        colours = cell_colours(pal)
        for fill in (CONFIRMED_CHIP, PREDICTED_CHIP):
            assert contrast_ratio(fill, colours.chip_text) >= 4.5
        for fill in BADGE_COLOURS.values():
            assert contrast_ratio(fill, colours.badge_text) >= 4.5
        assert contrast_ratio(UNCERTAIN_BADGE, colours.uncertain_text) >= 4.5
        assert contrast_ratio(colours.more_chip, colours.more_text) >= 4.5
        assert contrast_ratio(colours.placeholder, colours.failure_text) >= 4.5
        # The grid repainted on the scheme's background, with the photo's chips in it.
        img = _grid_image(w)
        assert img.pixelColor(1, 1) == pal.color(Role.Base)
        assert any(
            img.pixelColor(x, y) == PREDICTED_CHIP
            for x in range(img.width())
            for y in range(0, img.height(), 2)
        )
        # The review pane says who decided in a colour readable on its window.
        row = w.review.rows["Men"]
        shown = row.source_label.palette().color(Role.WindowText)
        assert contrast_ratio(shown, w.review.palette().color(Role.Window)) >= 4.5
        assert (shown.name() == SOURCE_COLOUR["model"]) == (not dark)
        # The Train tab's plots take the window's colours.
        for plot in plots[0]._plots:
            assert plot.backgroundBrush().color() == plots[0].palette().color(Role.Base)
        assert is_dark(plots[0].palette()) == dark
    assert Appearance().mode == "dark"  # remembered for the next start


def test_system_follows_the_platform_and_takes_our_palette_away(qtbot, window, back_to_system):
    w = window
    before = QApplication.palette().color(Role.Window)
    w.appearance.set_mode("dark")
    assert is_dark()
    w.appearance.set_mode("system")  # offscreen: no scheme reported, so the platform's light palette
    assert QApplication.palette().color(Role.Window) == before and not is_dark()
    assert w.appearance.actions["system"].isChecked()
