"""The Train tab: run settings, launching the trainer as a child process, live plots, stop/resume, failures."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QPlainTextEdit,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.gui.train.run_control import RunControl, resume_explanation
from fashion_desktop.gui.train.runs_panel import RunsPanel
from fashion_desktop.gui.train.train_form import FINE_TUNE, PRESETS, VIT_STUDY, TrainForm
from fashion_desktop.gui.train.train_plots import TrainPlots
from fashion_desktop.gui.train.train_process import NICENESS, default_child, lower_priority
from fashion_desktop.gui.widgets import WrapLabel, guard_wheel
from fashion_desktop.gui.worker import Child
from fashion_desktop.model.progress_text import percent

# Names importable from here as before the split; the tunables (STOP_GRACE_S, STATUS_MS, PROGRESS_PER_S) are
# read where they are used, run_control and train_form, so patch them there.
__all__ = [
    "FINE_TUNE",
    "NICENESS",
    "PRESETS",
    "VIT_STUDY",
    "TrainTab",
    "default_child",
    "lower_priority",
    "resume_explanation",
]

LOG_LINES = 5000

# The form's widgets, reachable as the tab's attributes (tests and the benchmark fill the form through them).
_FORM_WIDGETS = (
    "preset_combo", "dataset", "arch_combo", "arch_hint", "start_combo", "bundle_edit", "image_size",
    "epochs_spin", "batch_spin", "lr_spin", "loss_combo", "alpha_spin", "gamma_spin", "sampler_check",
    "freeze_check", "unfreeze_spin", "scheduler_combo", "early_spin", "time_spin", "device_combo",
    "workers_spin", "out_edit", "problem_label", "start_button", "stop_button", "resume_button",
)  # fmt: skip


def _delegated(part: str, name: str) -> property:
    """The tab's attribute ``name`` that is ``self.<part>.<name>`` (read and written there)."""
    return property(
        lambda self: getattr(getattr(self, part), name),
        lambda self, value: setattr(getattr(self, part), name, value),
        doc=f"``{part}.{name}``",
    )


class TrainTab(QWidget):
    """Settings form on the left; progress, plots, log and the failure banner on the right.

    It composes the form (``form``), the run control (``run``), the live plots (``plots``) and the
    log | runs | compare tabs (``lower_tabs``), and wires them. ``child_factory(args) -> Child`` makes the
    trainer command (tests inject a fake trainer); ``ask_run_folder`` and ``confirm_resume`` are the run
    control's questions (dialogs by default). The parts' attributes the window and tests use are the tab's
    too (``_DELEGATED`` below; the form's widgets as ``_FORM_WIDGETS``).
    """

    state_changed = Signal(str)
    use_model_requested = Signal(str)  # a run's bundle: make it the library's and the Tag tab's model
    retag_requested = Signal(str)  # a bundle: tag the library with it
    run_shown = Signal(str)  # a past run's curves (or an overlay) are drawn: its folder

    def __init__(
        self,
        child_factory: Callable[[Sequence[str]], Child] = default_child,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        # The Tag tab's model (MainWindow sets it): the fine-tuning preset and the comparison start from it.
        self.current_model: Callable[[], str | None] = lambda: None
        self.form = TrainForm()
        self.form.current_model = lambda: self.current_model()
        for name in _FORM_WIDGETS:
            setattr(self, name, getattr(self.form, name))
        self.sources = self.form.dataset  # the data sources (``clear()``, ``add_source(path)``)
        self.add_folder_button = self.form.dataset.add_folder_button
        self.add_sheet_button = self.form.dataset.add_sheet_button
        self.add_library_button = self.form.dataset.add_library_button
        self.remove_source_button = self.form.dataset.remove_source_button
        self.run = RunControl(self.form, child_factory, self)
        self._build()
        self._wire()

    def _build(self) -> None:
        split = QSplitter(Qt.Orientation.Horizontal, self)
        QVBoxLayout(self).addWidget(split)
        # The form scrolls, so the tab never raises the window's minimum size.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        split.addWidget(scroll)
        guard_wheel(self.form)  # scrolling the form must not change its settings
        right_box = QWidget()
        right = QVBoxLayout(right_box)
        # Long texts (a finished run's metrics and model path, a failure) wrap: they never widen the window.
        self.banner = WrapLabel()
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setVisible(False)
        right.addWidget(self.banner)
        self.status_label = WrapLabel(self.run.status)
        right.addWidget(self.status_label)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        right.addWidget(self.progress)
        self.plots = TrainPlots()
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setMaximumBlockCount(LOG_LINES)
        self.log_view.setPlaceholderText("The trainer's log appears here.")
        self.lower_tabs = RunsPanel(self.log_view, self.plots, self.busy, self.form.out_folder)
        compare = self.lower_tabs.compare
        compare.catalog_path = lambda: self.form.catalog_path
        compare.current_model = lambda: self.current_model()
        compare.device = self.form.device
        plots_and_log = QSplitter(Qt.Orientation.Vertical)
        plots_and_log.addWidget(self.plots)
        plots_and_log.addWidget(self.lower_tabs)
        plots_and_log.setStretchFactor(0, 3)
        plots_and_log.setStretchFactor(1, 1)
        right.addWidget(plots_and_log, 1)
        split.addWidget(right_box)
        split.setStretchFactor(1, 1)

    def _wire(self) -> None:
        form, run, panel = self.form, self.run, self.lower_tabs
        form.start_requested.connect(self.start)
        form.stop_requested.connect(self.stop)
        form.resume_requested.connect(self.resume)
        run.launched.connect(self._launched)
        run.status_changed.connect(self.status_label.setText)
        run.bar_changed.connect(self._show_bar)
        run.failure_shown.connect(self._show_failure)
        run.logged.connect(self.log_view.appendPlainText)
        run.epoch_ended.connect(self.plots.add_epoch)
        run.batch_loss_measured.connect(self.plots.add_batch_loss)
        run.state_changed.connect(self._run_state_changed)
        panel.status_changed.connect(self.status_label.setText)
        panel.run_shown.connect(self.run_shown)
        panel.resume_requested.connect(self.resume)
        panel.use_model_requested.connect(self.use_model_requested)
        panel.retag_requested.connect(self.retag_requested)

    # -- the parts' facts on screen ----------------------------------------------------------------
    @Slot()
    def _launched(self) -> None:
        self.banner.setVisible(False)
        self.plots.clear()

    @Slot(int, int, object)
    def _show_bar(self, low: int, high: int, value: int | None) -> None:
        self.progress.setRange(low, high)
        if value is not None:
            self.progress.setValue(value)
            # written out, as the Tag tab's bar does: the status bar's and the quit question's percentage
            self.progress.setFormat(f"{percent(value - low, high - low)} %")

    @Slot(str)
    def _show_failure(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setStyleSheet(
            "background: #fde7e9; color: #7a0010; padding: 6px; border: 1px solid #e0a0a8;"
        )
        self.banner.setVisible(True)

    @Slot(str)
    def _run_state_changed(self, state: str) -> None:
        self.form.set_run_state(self.run.busy(), self.run.can_stop(), self.run.can_resume())
        self.lower_tabs.run_state(state, self.run.run_out, self.run.result)
        self.state_changed.emit(state)

    # -- the form -----------------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The form as plain values (what presets set and the settings remember)."""
        return self.form.values()

    def set_values(self, v: dict[str, Any]) -> None:
        self.form.set_values(v)

    def overrides(self) -> dict[str, Any]:
        return self.form.overrides()

    def args(self) -> list[str]:
        return self.form.args()

    def problem(self) -> str | None:
        return self.form.problem()

    def validate(self) -> str | None:
        return self.form.validate()

    def apply_preset(self, name: str) -> None:
        self.form.apply_preset(name)

    def set_catalog_path(self, path: str | os.PathLike | None) -> None:
        """The current library's catalog (the "Add library" source; the trainer reads it read-only)."""
        self.form.set_catalog_path(path)

    def add_source(self, path: str) -> None:
        self.form.add_source(path)

    # -- the run ------------------------------------------------------------------------------------
    def busy(self) -> bool:
        """A run is in progress or waits its turn."""
        return self.run.busy()

    @Slot()
    def start(self) -> bool:
        """Start a run with the form's settings (asking first when the output folder holds a run)."""
        return self.run.start()

    def resume(self, out: str | None = None) -> bool:
        """Continue a stopped (or earlier) run in ``out`` (default: the last run's folder)."""
        return self.run.resume(out)

    def resume_plan(self, out: str) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
        return self.run.resume_plan(out)

    @Slot()
    def stop(self) -> None:
        """Ask the trainer to stop cleanly (a run that waits its turn is dropped)."""
        self.run.stop()

    def running_job(self) -> str:
        """ "Training is running (epoch 3 of 10)" while a run is in progress, else ""."""
        return self.run.running_job()

    def shutdown(self, msecs: int = 30_000) -> None:
        """Stop a run and wait for it (closing the window): the trainer keeps its last checkpoint."""
        self.form.dataset.shutdown()
        self.lower_tabs.stop()
        self.run.shutdown(msecs)

    # -- runs history, comparing a run's model ------------------------------------------------------
    def runs_folders(self) -> list[str]:
        return self.lower_tabs.runs_folders()

    def refresh_history(self) -> None:
        self.lower_tabs.refresh_history()

    def open_runs_folder(self, folder: str) -> None:
        self.lower_tabs.open_runs_folder(folder)

    def show_run(self, path: str) -> None:
        self.lower_tabs.show_run(path)

    def overlay_run(self, path: str) -> None:
        self.lower_tabs.overlay_run(path)

    def compare_run(self, path: str) -> None:
        self.lower_tabs.compare_run(path)

    def model_used(self, bundle: str, photos: int) -> None:
        """``bundle`` became the Tag tab's model (the window did it): offer to tag the library with it."""
        self.lower_tabs.compare.model_used(bundle, photos)


# The parts' attributes that the tab answers for (the window, tests and the benchmark use them), read and
# written on the part: the run and its hooks, the form's library, the history's pieces.
_DELEGATED = {
    "run": ("child_factory", "ask_run_folder", "confirm_resume", "confirm_download", "jobs", "worker", "state",
            "run_out", "last_args", "result", "epoch", "epochs"),
    "form": ("catalog_path",),
    "lower_tabs": ("history", "compare", "overlay", "shown_run"),
}  # fmt: skip
for _part, _names in _DELEGATED.items():
    for _name in _names:
        setattr(TrainTab, _name, _delegated(_part, _name))
