"""The Tag tab: filters, tagging controls and thresholds | grid (or the first-launch page) | review pane."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from fashion_desktop.gui.tag.filter_bar import FilterBar
from fashion_desktop.gui.tag.first_launch import FirstLaunchPage
from fashion_desktop.gui.tag.grid import GridPanel
from fashion_desktop.gui.tag.photo_view import PhotoView
from fashion_desktop.gui.tag.review_pane import ReviewPane
from fashion_desktop.gui.tag.tag_panel import TagPanel
from fashion_desktop.gui.tag.thumbnails import Thumbnailer
from fashion_desktop.gui.widgets import guard_wheel


class ColumnArea(QScrollArea):
    """A column that scrolls up and down only, so it is never narrower than its content needs: its minimum
    width follows the content's (a longer text, a button shown) and the splitter makes room."""

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setWidget(content)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content.installEventFilter(self)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        content = self.widget()
        if content is None:
            return hint
        extra = self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()
        return QSize(content.minimumSizeHint().width() + extra, hint.height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the content's minimum width may have changed: the splitter asks again
        return super().eventFilter(watched, event)


class TagPage(QWidget):
    """Filters, tagging controls and thresholds | grid (the first-launch page while there are no photos)
    | review pane."""

    def __init__(self, thumbs: Thumbnailer, threshold_panel: QWidget, parent=None) -> None:
        super().__init__(parent)
        self.filters = FilterBar()
        self.tag_panel = TagPanel()
        self.thresholds = threshold_panel
        column = QWidget()
        lay = QVBoxLayout(column)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.filters)
        lay.addWidget(self.tag_panel)
        lay.addWidget(self.thresholds, 1)
        column.setMinimumHeight(720)  # below that the column scrolls rather than squashing the table
        self.left = ColumnArea(column)
        guard_wheel(column)  # scrolling the column must not change a box under the pointer
        self.grid = GridPanel(thumbs)
        self.first_launch = FirstLaunchPage()
        self.middle = QStackedWidget()
        self.middle.addWidget(self.first_launch)
        self.middle.addWidget(self.grid)
        self.photo_view = PhotoView()  # the larger look, in the grid's place
        self.middle.addWidget(self.photo_view)
        self.review = ReviewPane(thumbs)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(self.middle)
        self.splitter.addWidget(self.review)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setSizes([390, 760, 400])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.splitter)

    def show_first_launch(self, shown: bool) -> None:
        """The first-launch page (no photos yet) or the grid in the middle."""
        self.middle.setCurrentWidget(self.first_launch if shown else self.grid)

    def first_launch_shown(self) -> bool:
        return self.middle.currentWidget() is self.first_launch
