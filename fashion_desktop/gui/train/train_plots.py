"""Live training plots (pyqtgraph): bounded point series, redrawn on a timer rather than per event."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QGridLayout, QWidget

from fashion_desktop.gui.appearance import style_plot

MAX_POINTS = 2000  # per curve: a long run keeps at most this many, evenly thinned
RAW_SHARE = 4  # the faint per-batch dots keep a quarter of that (a dot costs pyqtgraph far more)
REDRAW_MS = 500  # at most 2 redraws a second, however fast events come, and none while hidden
NEXT_PLOT_MS = 30  # one plot repaints per turn of the event loop; the next changed one this much later
EMA = 0.8  # smoothing of the per-batch loss line (bias-corrected, so the first points are not pulled to 0)
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
# Group accuracy curves share the F1 plot: colours other than the two F1 lines' (green, orange).
_GROUP_COLOURS = ("#1f77b4", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")


class Series:
    """Points of one curve, never more than ``limit``: every k-th point is kept, and when the list is full
    every second one is dropped and k doubles, so memory stays bounded and the whole run stays covered."""

    def __init__(self, limit: int = MAX_POINTS) -> None:
        self.limit = max(2, limit)
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.every = 1
        self._seen = 0

    def add(self, x: float, y: float) -> None:
        if not (math.isfinite(x) and math.isfinite(y)):
            return
        self._seen += 1
        if (self._seen - 1) % self.every:
            return
        self.xs.append(x)
        self.ys.append(y)
        if len(self.xs) >= self.limit:
            self.xs, self.ys = self.xs[::2], self.ys[::2]
            self.every *= 2

    def clear(self) -> None:
        self.xs, self.ys, self.every, self._seen = [], [], 1, 0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


class TrainPlots(QWidget):
    """Four plots: per-batch loss (raw faint, EMA line), epoch train/val loss, val F1 micro/macro (and
    per-group accuracy), learning rate. ``curve_data(name)`` returns what a curve shows (tests read it)."""

    def __init__(self, parent: QWidget | None = None, limit: int = MAX_POINTS) -> None:
        super().__init__(parent)
        self.limit = limit
        self._plots: list[pg.PlotWidget] = []
        self.series: dict[str, Series] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._plot_of: dict[str, pg.PlotWidget] = {}
        self._dirty: set[str] = set()
        self._ema, self._ema_n = 0.0, 0
        self.redraws = 0
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.batch_plot = self._plot("Training loss per step", "step")
        self.epoch_plot = self._plot("Loss per epoch", "epoch")
        self.f1_plot = self._plot("Validation F1 / group accuracy", "epoch")
        self.lr_plot = self._plot("Learning rate", "epoch")
        self.lr_plot.setLogMode(y=True)  # rates fall by factors; a flat rate still shows its value
        self.f1_plot.getPlotItem().legend.setOffset((-5, -5))  # bottom right: F1 curves climb towards the top
        self.f1_plot.setYRange(0, 1.02)  # F1 and accuracy are fractions: a fixed scale reads at a glance
        self.f1_plot.enableAutoRange(axis="y", enable=False)
        # The step plot redraws all the time: its grid (semi-transparent lines over the whole plot) took two
        # thirds of each repaint. The epoch plots, redrawn once an epoch, keep theirs.
        self.batch_plot.showGrid(x=False, y=False)
        self.plots = (self.batch_plot, self.epoch_plot, self.f1_plot, self.lr_plot)
        for i, p in enumerate(self.plots):
            grid.addWidget(p, i // 2, i % 2)
        self._curve("batch_raw", self.batch_plot, None, symbol="o", brush=(31, 119, 180, 110), size=4)
        self.series["batch_raw"] = Series(max(2, limit // RAW_SHARE))
        self._curve("batch_ema", self.batch_plot, pg.mkPen(_COLOURS[0], width=2), name="smoothed")
        self._curve("train_loss", self.epoch_plot, pg.mkPen(_COLOURS[0], width=2), name="train", symbol="o")
        self._curve("val_loss", self.epoch_plot, pg.mkPen(_COLOURS[1], width=2), name="val", symbol="o")
        self._curve("f1_micro", self.f1_plot, pg.mkPen(_COLOURS[2], width=2), name="F1 micro", symbol="o")
        self._curve("f1_macro", self.f1_plot, pg.mkPen(_COLOURS[3], width=2), name="F1 macro", symbol="o")
        self._curve("lr", self.lr_plot, pg.mkPen(_COLOURS[4], width=2), symbol="o")
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        self._next_plot = QTimer(self)
        self._next_plot.setSingleShot(True)
        self._next_plot.setInterval(NEXT_PLOT_MS)
        self._next_plot.timeout.connect(self._draw_next)
        self._round: list[pg.PlotWidget] = []  # plots with changes, drawn one per turn

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            for plot in self._plots:  # light or dark: the plots follow the window
                style_plot(plot, self.palette())
        super().changeEvent(event)

    def _plot(self, title: str, xlabel: str) -> pg.PlotWidget:
        p = pg.PlotWidget(title=title)
        p.showGrid(x=False, y=True, alpha=0.2)  # values are read across; vertical lines cost a third more
        p.setLabel("bottom", xlabel)
        p.addLegend(offset=(-5, 5))
        style_plot(p, self.palette())
        self._plots.append(p)
        p.setMinimumSize(120, 80)
        return p

    def _curve(self, key: str, plot: pg.PlotWidget, pen: Any, name: str | None = None, **kw: Any) -> None:
        # A symbol drawn in the line's colour: with neither brush nor pen a curve of one point (the first
        # epoch's) showed nothing, so the per-epoch plots stayed blank until a second epoch drew a line.
        brush = kw.pop("brush", None) or (pen.color() if pen is not None else None)
        size = kw.pop("size", 5)
        item = plot.plot([], [], pen=pen, name=name, symbolSize=size, symbolBrush=brush, symbolPen=None, **kw)
        self.curves[key] = item
        self._plot_of[key] = plot
        self.series[key] = Series(self.limit)

    def add(self, key: str, x: float, y: float) -> None:
        self.series[key].add(x, y)
        self._dirty.add(key)

    # -- events ----------------------------------------------------------------------------
    def add_batch_loss(self, step: float, loss: float) -> None:
        if not math.isfinite(loss):
            return
        self._ema_n += 1
        self._ema = EMA * self._ema + (1 - EMA) * loss
        self.add("batch_raw", step, loss)
        self.add("batch_ema", step, self._ema / (1 - EMA**self._ema_n))

    def add_epoch(self, fields: Mapping[str, Any]) -> None:
        """Points of one ``epoch_end`` event (fields missing or not finite are skipped)."""
        epoch = _number(fields.get("epoch"))
        if epoch is None:
            return
        for key, field in (
            ("train_loss", "train_loss"),
            ("val_loss", "val_loss"),
            ("f1_micro", "val_f1_micro"),
            ("f1_macro", "val_f1_macro"),
            ("lr", "lr"),
        ):
            y = _number(fields.get(field))
            if y is not None:
                self.add(key, epoch, y)
        # Top-1 accuracy per label group (``val_groups``, sent by trainers since per-group figures were
        # added; older events have none and plot the rest as before).
        groups = fields.get("val_groups")
        if isinstance(groups, Mapping):
            for group, figures in groups.items():
                y = _number(figures.get("top1_accuracy")) if isinstance(figures, Mapping) else None
                if y is not None:
                    self._group_curve(str(group))
                    self.add(f"group:{group}", epoch, y)

    def _group_curve(self, group: str) -> None:
        key = f"group:{group}"
        if key in self.curves:
            return
        n = sum(k.startswith("group:") for k in self.curves)
        pen = pg.mkPen(_GROUP_COLOURS[n % len(_GROUP_COLOURS)], width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
        self._curve(key, self.f1_plot, pen, name=f"{group} accuracy", symbol="t")

    def groups(self) -> list[str]:
        """The label groups with an accuracy curve, in the order they first came."""
        return [k.removeprefix("group:") for k in self.curves if k.startswith("group:")]

    def clear(self) -> None:
        for key in list(self.curves):
            if key.startswith("group:"):
                self.f1_plot.removeItem(self.curves.pop(key))
                self.series.pop(key)
        for s in self.series.values():
            s.clear()
        self._ema, self._ema_n = 0.0, 0
        self._dirty = set(self.curves)
        self.redraw()

    def _tick(self) -> None:
        """Draw the changed plots one per turn of the event loop, NEXT_PLOT_MS apart: an epoch's end changes
        three plots, and repainting them in one go stalled the window three times as long."""
        if self.isVisible():  # hidden (another tab shown): points pile up in the series, drawn when shown
            self._round = [p for p in self.plots if any(self._plot_of[k] is p for k in self._dirty)]
            self._draw_next()

    def _draw_next(self) -> None:
        while self._round and self.isVisible():
            plot = self._round.pop(0)
            keys = {k for k in self._dirty if self._plot_of[k] is plot}
            if keys:
                self._push(keys)
                break
        if self._round:
            self._next_plot.start()

    def showEvent(self, event: QShowEvent) -> None:
        self.redraw()
        super().showEvent(event)

    def redraw(self) -> None:
        """Push every changed series to its curve now (cheap when nothing changed)."""
        if self._dirty:
            self._push(set(self._dirty))

    def _push(self, keys: set[str]) -> None:
        for key in keys:
            s = self.series[key]
            self.curves[key].setData(s.xs, s.ys)
        self._dirty -= keys
        self.redraws += 1

    def curve_data(self, key: str) -> tuple[list[float], list[float]]:
        """What curve ``key`` draws now (after the last redraw)."""
        item = self.curves[key]
        xs, ys = item.xData, item.yData  # as given (getData is log-transformed on the lr plot)
        return ([] if xs is None else [float(x) for x in xs]), ([] if ys is None else [float(y) for y in ys])
