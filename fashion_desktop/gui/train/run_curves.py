"""A past run's curves in the Train tab's plots, and a second run drawn over them for comparison."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pyqtgraph as pg
from PySide6.QtCore import Qt

from fashion_desktop.gui.train.train_plots import EMA, TrainPlots
from fashion_desktop.model.run_folder import RunRecord

OVERLAY_COLOURS = {
    "train_loss": "#7f7f7f",
    "val_loss": "#8c564b",
    "f1_micro": "#9467bd",
    "f1_macro": "#e377c2",
}
OVERLAY_COLOUR = "#17becf"
# (key, plot attribute, epoch_end field, legend text) of each epoch curve an overlay draws.
_EPOCH_CURVES = (
    ("train_loss", "epoch_plot", "train_loss", "train"),
    ("val_loss", "epoch_plot", "val_loss", "val"),
    ("f1_micro", "f1_plot", "val_f1_micro", "F1 micro"),
    ("f1_macro", "f1_plot", "val_f1_macro", "F1 macro"),
    ("lr", "lr_plot", "lr", None),
)


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def batch_points(record: RunRecord) -> list[tuple[float, float]]:
    """(step across the run, loss) of each recorded training batch, as the live plot numbered them."""
    out = []
    for b in record.batches:
        loss = b.batch_loss if b.batch_loss is not None else b.mean_loss
        if loss is not None and math.isfinite(loss):
            out.append(((b.epoch - 1) * b.steps + b.step, loss))
    return out


def draw_record(plots: TrainPlots, record: RunRecord) -> None:
    """Replace what ``plots`` shows with run ``record``'s curves, exactly as they were drawn live."""
    plots.clear()
    for step, loss in batch_points(record):
        plots.add_batch_loss(step, loss)
    for row in record.epochs:
        plots.add_epoch(dict(row.fields) or {"epoch": row.epoch, "train_loss": row.train_loss})
    plots.redraw()


def _smoothed(points: Iterable[tuple[float, float]]) -> tuple[list[float], list[float]]:
    xs, ys, ema = [], [], 0.0
    for n, (x, y) in enumerate(points, start=1):
        ema = EMA * ema + (1 - EMA) * y
        xs.append(x)
        ys.append(ema / (1 - EMA**n))
    return xs, ys


class RunOverlay:
    """A second run's curves over the ones ``plots`` shows: dashed, in other colours, and every legend
    entry named after its run ("run1: train", "run2: train")."""

    def __init__(self, plots: TrainPlots) -> None:
        self.plots = plots
        self.items: dict[str, pg.PlotDataItem] = {}
        self.names: tuple[str, str] | None = None  # (shown run, overlaid run)
        self._renamed: list[tuple[pg.LegendItem, pg.PlotDataItem, str]] = []
        self._placed: list[tuple[pg.PlotWidget, pg.PlotDataItem]] = []
        self._added: list[tuple[pg.LegendItem, pg.PlotDataItem]] = []

    def show(self, record: RunRecord, name: str, shown_name: str) -> None:
        """Draw ``record`` (run ``name``) over the curves of run ``shown_name`` already in the plots."""
        self.clear()
        self.names = (shown_name, name)
        for key, plot_name, field, legend in _EPOCH_CURVES:
            pts = [(r.epoch, _finite(r.fields.get(field, getattr(r, field, None)))) for r in record.epochs]
            pts = [(x, y) for x, y in pts if y is not None]
            plot = getattr(self.plots, plot_name)
            self._rename(plot, self.plots.curves[key], f"{shown_name}: {legend or 'lr'}")
            colour = OVERLAY_COLOURS.get(key, OVERLAY_COLOUR)
            pen = pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine)
            self._add(key, plot, [p[0] for p in pts], [p[1] for p in pts], pen, f"{name}: {legend or 'lr'}")
        xs, ys = _smoothed(batch_points(record))
        self._rename(self.plots.batch_plot, self.plots.curves["batch_ema"], f"{shown_name}: smoothed")
        pen = pg.mkPen(OVERLAY_COLOUR, width=2, style=Qt.PenStyle.DashLine)
        self._add("batch_ema", self.plots.batch_plot, xs, ys, pen, f"{name}: smoothed")

    def _add(self, key: str, plot: pg.PlotWidget, xs: list, ys: list, pen, name: str) -> None:
        item = plot.plot(xs, ys, pen=pen, name=name, symbol="x", symbolSize=7, symbolPen=pen.color())
        self.items[key] = item
        self._placed.append((plot, item))

    def _rename(self, plot: pg.PlotWidget, item: pg.PlotDataItem, text: str) -> None:
        """Name the shown run's curve ``item`` in the legend (an entry is added where it had none)."""
        legend = plot.getPlotItem().legend
        if legend is None:
            return
        for sample, label in legend.items:
            if sample.item is item:
                self._renamed.append((legend, item, label.text))
                label.setText(text)
                return
        legend.addItem(item, text)
        self._added.append((legend, item))

    def clear(self) -> None:
        """Take the overlaid run away and give the shown curves their plain legend names back."""
        for plot, item in self._placed:
            plot.removeItem(item)  # from the plot and its legend
        self._placed.clear()
        self.items.clear()
        for legend, item, text in reversed(self._renamed):
            for sample, label in legend.items:
                if sample.item is item:
                    label.setText(text)
        self._renamed.clear()
        for legend, item in self._added:
            legend.removeItem(item)
        self._added.clear()
        self.names = None

    def curve_data(self, key: str) -> tuple[list[float], list[float]]:
        """What the overlaid run's curve ``key`` draws ([] when there is none)."""
        item = self.items.get(key)
        if item is None or item.xData is None:
            return [], []
        return [float(x) for x in item.xData], [float(y) for y in item.yData]


def legend_names(plot: pg.PlotWidget) -> list[str]:
    """The legend's entries of ``plot``, in order (tests and screenshots read them)."""
    legend = plot.getPlotItem().legend
    return [label.text for _sample, label in legend.items] if legend is not None else []
