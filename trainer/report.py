"""What ``fashion train``/``evaluate`` show: JSON events on stdout for the app (``--events``), else a
progress bar on stderr and a readable summary (per-group table) for a person at a terminal."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

from fashion_desktop.model.progress_text import TerminalBar, bar_text
from fashion_desktop.model.protocol import RUN_FINISHED, EventWriter, guard_stdout
from fashion_desktop.model.run_folder import untuned_note

PLAIN_LINE_EVERY_S = 15.0  # without a terminal (a log file, CI), a progress line at most this often
BAR_WIDTH = 24


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}" if math.isfinite(value) else "-"


class ProgressBar(TerminalBar):
    """The trainer's progress line: redrawn in place on a terminal, occasional plain lines elsewhere."""

    def __init__(self, stream: IO[str] | None = None, tty: bool | None = None) -> None:
        super().__init__(stream, tty, PLAIN_LINE_EVERY_S)
        self._last_phase: str | None = None

    def update(self, fields: Mapping[str, Any]) -> None:
        """Show a trainer ``progress`` event (phase, step, steps; epoch, loss, rate when training)."""
        phase = f"{fields.get('phase', '')} {fields.get('epoch', '')}"
        # Off a terminal, a new phase and the end of one always get their line.
        force = phase != self._last_phase or fields.get("step") == fields.get("steps")
        if not self.tty:
            self._last_phase = phase
        self.show(self.describe(fields), force=force)

    @staticmethod
    def describe(fields: Mapping[str, Any]) -> str:
        """The bar's text for one ``progress`` event."""
        phase = str(fields.get("phase") or "working")
        step, steps = fields.get("step"), fields.get("steps")
        label = phase
        if fields.get("epoch") is not None and phase == "train":
            label = f"epoch {fields['epoch']}/{fields.get('epochs', '?')} train"
        parts = [f"{label:<18}"]
        if isinstance(step, (int, float)) and isinstance(steps, (int, float)) and steps > 0:
            frac = min(max(step / steps, 0.0), 1.0)
            parts.append(f"{bar_text(frac, BAR_WIDTH)} {int(step)}/{int(steps)} {frac:4.0%}")
        if isinstance(fields.get("loss"), (int, float)):
            parts.append(f"loss {fields['loss']:.4f}")
        if isinstance(fields.get("samples_per_s"), (int, float)):
            parts.append(f"{fields['samples_per_s']:.1f} img/s")
        return " ".join(parts)


class BarAwareHandler(logging.StreamHandler):
    """A log handler that lifts the progress bar out of the way of each log line."""

    def __init__(self, stream: IO[str], bar: ProgressBar | None) -> None:
        super().__init__(stream)
        self.bar = bar

    def emit(self, record: logging.LogRecord) -> None:
        if self.bar is not None:
            self.bar.hide()
        super().emit(record)
        if self.bar is not None:
            self.bar.redraw()


def group_table(
    overall: Mapping[str, Any] | None, groups: Mapping[str, Mapping[str, Any]] | None
) -> list[str]:
    """Lines of a table: one row for all labels, then one per group (images, F1 micro, F1 macro, top-1,
    and balanced accuracy where an exclusive group has it)."""
    rows: list[tuple[str, Mapping[str, Any]]] = []
    if overall:
        rows.append(("all labels", overall))
    rows += [(str(g), m) for g, m in (groups or {}).items() if g != "all labels"]
    if not rows:
        return []
    width = max(12, *(len(name) for name, _ in rows))
    top1 = any("top1_accuracy" in m for _, m in rows)
    head = f"  {'group':<{width}}  {'images':>6}  {'F1 micro':>8}  {'F1 macro':>8}"
    balanced = any("balanced_accuracy" in m for _, m in rows)
    head += f"  {'top-1':>6}" if top1 else ""
    lines = [head + (f"  {'balanced':>8}" if balanced else "")]
    for name, m in rows:
        line = f"  {name:<{width}}  {_num(m.get('images')):>6}  {_num(m.get('f1_micro')):>8}"
        line += f"  {_num(m.get('f1_macro')):>8}"
        if top1:
            line += f"  {_num(m.get('top1_accuracy')) if 'top1_accuracy' in m else '':>6}"
        if balanced:
            line += f"  {_num(m.get('balanced_accuracy')) if 'balanced_accuracy' in m else '':>8}"
        lines.append(line.rstrip())
    return lines


def summary_lines(fields: Mapping[str, Any]) -> list[str]:
    """The readable end of a run from its ``run_finished`` fields (training or evaluation)."""
    metrics = fields.get("metrics") or {}
    lines: list[str] = []
    if "bundle" in fields:  # training
        best = metrics.get("best_epoch")
        lines.append(f"Model saved: {fields['bundle']}" + (f" (best epoch {best})" if best else ""))
        for title, key in (("Validation", "val"), ("Test", "test")):
            table = group_table(metrics.get(key), metrics.get(f"{key}_groups"))
            if table:
                lines += ["", f"{title} (at the model's thresholds):", *table]
        untuned = untuned_note(metrics)
        if untuned:
            lines += ["", untuned]
    else:  # evaluation
        table = group_table(metrics.get("overall"), metrics.get("groups"))
        lines += ["Evaluation (at the model's thresholds):", *table]
        if fields.get("unreadable"):
            lines.append(f"  {fields['unreadable']} photos could not be read")
        if fields.get("out"):
            lines += ["", f"Tables and per-photo scores: {fields['out']}"]
    return lines


class TerminalReport:
    """Listens to a run's events and shows them to a person: progress bar on stderr, summary on stdout."""

    def __init__(self, out: IO[str] | None = None, bar: ProgressBar | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.bar = bar if bar is not None else ProgressBar()

    def __call__(self, name: str, fields: Mapping[str, Any]) -> None:
        if name == "progress":
            self.bar.update(fields)
            return
        self.bar.close()
        if name == RUN_FINISHED:
            self.out.write("\n".join(summary_lines(fields)) + "\n")
            self.out.flush()


def setup_logging(verbose: bool = True, bar: ProgressBar | None = None) -> None:
    """Human-readable logs on stderr (stdout carries JSON events or the summary), out of the bar's way."""
    handler = BarAwareHandler(sys.stderr, bar)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("trainer")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


@contextmanager
def event_output(json_events: bool, max_progress_per_s: float = 2.0) -> Iterator[EventWriter]:
    """The EventWriter of a command-line run, with logging set up to match.

    ``json_events``: JSON lines on the real stdout, everything else printed there goes to stderr (the
    app reads stdout). Otherwise no JSON: a progress bar on stderr and a summary on stdout.
    """
    if json_events:
        with guard_stdout() as stream:
            setup_logging()
            yield EventWriter(stream, max_progress_per_s=max_progress_per_s)
        return
    report = TerminalReport()
    setup_logging(bar=report.bar)
    try:
        yield EventWriter(max_progress_per_s=max_progress_per_s, to_stream=False, listeners=[report])
    finally:
        report.bar.close()
