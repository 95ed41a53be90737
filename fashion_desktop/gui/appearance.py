"""Light and dark: the system's colour scheme or the person's choice (View ▸ Appearance), applied by palette."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QMenu

from fashion_desktop.gui import settings

MODES = {"system": "&System", "light": "&Light", "dark": "&Dark"}
PROBLEM = ("#b00020", "#ff8a80")  # a problem's red text: light scheme, dark scheme
_ROLE = QPalette.ColorRole


def relative_luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance of an opaque colour (0 black .. 1 white)."""

    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())
    )


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio of two colours (1 .. 21; text wants 4.5 or more)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether ``palette`` (default: the application's) paints light text on a dark window."""
    pal = palette if palette is not None else QGuiApplication.palette()
    return pal.color(_ROLE.Window).lightness() < 128


def pick(light: QColor | str, dark: QColor | str, palette: QPalette | None = None) -> QColor:
    """``light`` or ``dark`` as the palette is, as a QColor (for colours that carry a meaning: red problems)."""
    return QColor(dark if is_dark(palette) else light)


def problem_colour(palette: QPalette | None = None) -> QColor:
    """The red of a problem's text, readable on the window's background in either scheme."""
    return pick(*PROBLEM, palette)


def dark_palette() -> QPalette:
    """A dark palette for the Fusion style (Qt's own styles have no dark palette of their own)."""
    pal = QPalette()
    window, base, text = QColor(45, 45, 48), QColor(30, 30, 32), QColor(230, 230, 230)
    for role, colour in (
        (_ROLE.Window, window),
        (_ROLE.WindowText, text),
        (_ROLE.Base, base),
        (_ROLE.AlternateBase, QColor(40, 40, 43)),
        (_ROLE.ToolTipBase, QColor(60, 60, 64)),
        (_ROLE.ToolTipText, text),
        (_ROLE.PlaceholderText, QColor(150, 150, 150)),
        (_ROLE.Text, text),
        (_ROLE.Button, QColor(55, 55, 58)),
        (_ROLE.ButtonText, text),
        (_ROLE.BrightText, QColor(255, 90, 90)),
        (_ROLE.Light, QColor(75, 75, 78)),
        (_ROLE.Midlight, QColor(62, 62, 65)),
        (_ROLE.Mid, QColor(40, 40, 42)),
        (_ROLE.Dark, QColor(20, 20, 22)),
        (_ROLE.Shadow, QColor(0, 0, 0)),
        (_ROLE.Highlight, QColor(38, 110, 200)),
        (_ROLE.HighlightedText, QColor(255, 255, 255)),
        (_ROLE.Link, QColor(120, 170, 250)),
        (_ROLE.LinkVisited, QColor(180, 140, 250)),
    ):
        pal.setColor(role, colour)
    for role in (_ROLE.WindowText, _ROLE.Text, _ROLE.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(125, 125, 125))
    return pal


class Appearance(QObject):
    """Applies the scheme chosen (``mode``: system, light or dark; remembered) to the whole application and
    follows the system's scheme while the mode is "system". Widgets read their colours from the palette
    (``is_dark``, ``pick``), so a palette change repaints them; ``changed(dark)`` follows each change."""

    changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        app = QApplication.instance()
        self._native_style = app.style().name()
        self._forced = False  # a palette of ours is in use (else the platform's)
        mode = settings.get_str(settings.APPEARANCE, "system")
        self.mode = mode if mode in MODES else "system"
        self.actions: dict[str, QAction] = {}
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._system_changed)
        self.apply()

    def fill_menu(self, menu: QMenu) -> None:
        """System / Light / Dark, one checked, in ``menu`` (View ▸ Appearance)."""
        group = QActionGroup(menu)
        for mode, text in MODES.items():
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(mode == self.mode)
            action.triggered.connect(lambda _checked=False, m=mode: self.set_mode(m))
            group.addAction(action)
            self.actions[mode] = action
        self.actions["system"].setStatusTip("Light or dark as the system is set")

    @Slot(str)
    def set_mode(self, mode: str) -> None:
        self.mode = mode
        settings.set_value(settings.APPEARANCE, mode)
        if mode in self.actions:
            self.actions[mode].setChecked(True)
        self.apply()

    @Slot(Qt.ColorScheme)
    def _system_changed(self, _scheme) -> None:
        if self.mode == "system":
            self.apply()

    def wants_dark(self) -> bool:
        if self.mode != "system":
            return self.mode == "dark"
        return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark

    def apply(self) -> None:
        """Put the scheme of ``mode`` on the application (and tell the platform, where Qt can)."""
        app = QApplication.instance()
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "setColorScheme"):  # Qt 6.8+: native title bars and dialogs follow too
            if self.mode == "system":
                hints.unsetColorScheme()
            else:
                hints.setColorScheme(Qt.ColorScheme.Dark if self.mode == "dark" else Qt.ColorScheme.Light)
        dark = self.wants_dark()
        if self._forced:  # back to the platform's style and palette first: they may be right now
            app.setStyle(self._native_style)
            app.setPalette(QPalette())  # no roles of ours: the platform's palette
            self._forced = False
        if is_dark(app.palette()) != dark:
            app.setStyle("Fusion")  # a palette of ours needs a style that paints with it
            app.setPalette(dark_palette() if dark else app.style().standardPalette())
            self._forced = True
        self.changed.emit(is_dark(app.palette()))


def style_plot(plot, palette: QPalette | None = None) -> None:
    """A pyqtgraph PlotWidget in the palette's colours: background, axes, title and legend text."""
    pal = palette if palette is not None else QGuiApplication.palette()
    fg = pal.color(_ROLE.Text)
    plot.setBackground(pal.color(_ROLE.Base))
    item = plot.getPlotItem()
    for side in ("left", "bottom"):
        axis = item.getAxis(side)
        axis.setPen(fg)
        axis.setTextPen(fg)
    if item.titleLabel.text:
        item.setTitle(item.titleLabel.text, color=fg)
    if item.legend is not None:
        item.legend.setLabelTextColor(fg)


def good_colour(palette: QPalette | None = None) -> QColor:
    """The green of a better number (a metric that rose), readable in either scheme."""
    return pick("#14822a", "#7bd88f", palette)


def warning_colour(palette: QPalette | None = None) -> QColor:
    """The amber of a warning's text, readable in either scheme."""
    return pick("#a05a00", "#f0b050", palette)


def problem_style() -> str:
    """A style sheet for a label that states a problem, in the scheme shown now."""
    return f"color: {problem_colour().name()};"
