"""The Tag tab's left column fits its pane at 1366×768: no button or label is cut on either side."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget


def cut_widgets(window) -> list[str]:
    """The column's visible buttons and labels that do not lie fully inside the pane's viewport."""
    area = window.tag_page.left
    viewport, column = area.viewport(), area.widget()
    inside = viewport.rect()
    cut = []
    for w in column.findChildren(QWidget):
        if isinstance(w, (QAbstractButton, QLabel)) and w.isVisibleTo(column):
            shown = QRect(w.mapTo(viewport, QPoint(0, 0)), w.size())
            if shown.left() < inside.left() or shown.right() > inside.right():
                cut.append(
                    f"{type(w).__name__} {w.text()!r} at x {shown.left()}..{shown.right()} of {inside.right()}"
                )
    return cut


def test_the_left_column_is_not_clipped_at_1366x768_before_and_after_a_run(qtbot, window) -> None:
    window.resize(1366, 768)
    qtbot.waitUntil(lambda: window.width() == 1366)
    assert cut_widgets(window) == []
    panel = window.tag_panel
    panel.set_running(True)
    panel.show_progress(242, 300, 12.3, 75)
    panel.add_failures([("/photos/a rather long file name of a photo that failed.jpg", "cannot be decoded")])
    panel.show_finished("Done: 12,345 tagged, 67,890 already tagged, 12 failed in 1234.5s")
    qtbot.waitUntil(lambda: cut_widgets(window) == [], timeout=2000)
    assert window.tag_page.left.horizontalScrollBar().value() == 0


def test_the_column_widens_when_its_content_needs_more_room(qtbot, window) -> None:
    window.resize(1366, 768)
    qtbot.waitUntil(lambda: window.width() == 1366)
    before = window.tag_page.splitter.sizes()[0]
    window.tag_panel.run_button.setMinimumWidth(before + 60)  # stands for any text that grows
    qtbot.waitUntil(lambda: window.tag_page.splitter.sizes()[0] > before + 60, timeout=2000)
    qtbot.waitUntil(lambda: cut_widgets(window) == [], timeout=2000)
