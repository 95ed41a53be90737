"""The Train tab: run settings, launching the trainer as a child process, live plots, stop/resume, failures."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.gui import settings
from fashion_desktop.gui.job_queue import JobQueue
from fashion_desktop.gui.train.dataset_builder import DatasetBuilder, data_args
from fashion_desktop.gui.train.model_compare import ModelCompare
from fashion_desktop.gui.train.run_curves import RunOverlay, draw_record
from fashion_desktop.gui.train.runs_history import RunsHistory
from fashion_desktop.gui.train.train_plots import TrainPlots
from fashion_desktop.gui.worker import Child, ProcessWorker, Worker, trainer_child
from fashion_desktop.model.arch_table import ARCH_HINTS, ARCH_INPUT_SIZES, ARCH_NAMES
from fashion_desktop.model.progress_text import format_duration
from fashion_desktop.model.protocol import (
    CHECKPOINT_SAVED,
    EPOCH_END,
    LOG,
    PROGRESS,
    RUN_STARTED,
    RUN_STOPPED,
    TrainEvent,
    Unreadable,
)
from fashion_desktop.model.run_folder import BUNDLE, RunFolderState, RunRecord, check_run_folder, read_run
from fashion_desktop.model.train_config import (
    ConfigError,
    TrainConfig,
    config_from_run_dir,
    make_config,
    resume_changes,
    unfreeze_plan,
)

NICENESS = 10  # the trainer runs below the window's priority: the window stays responsive
STOP_GRACE_S = 30  # a stopped trainer saves its checkpoint; after this long it is killed
LOG_LINES = 5000
PROGRESS_PER_S = 10  # the trainer's progress events a second (its default 2 leaves the step plot sparse)
STATUS_MS = 100  # the bar and status line follow progress at most this often (a bar repaints on each value)

# Run the child's module or script after lowering its priority (os.nice is POSIX; elsewhere it runs as is).
_NICE_CODE = (
    "import os,runpy,sys\n"
    "n=int(os.environ.get('FASHION_TRAIN_NICE','0'))\n"
    "if n and hasattr(os,'nice'): os.nice(n)\n"
    "m=sys.argv[1]; sys.argv=sys.argv[1:]\n"
    "runpy.run_path(m,run_name='__main__') if m.endswith('.py') else "
    "runpy.run_module(m,run_name='__main__',alter_sys=True)\n"
)


def lower_priority(child: Child, niceness: int = NICENESS) -> Child:
    """``child`` (a Python ``-m MODULE ...`` or ``SCRIPT.py ...`` command) started at lower CPU priority."""
    if getattr(sys, "frozen", False):  # no -c there: the executable's --train-process entry reads the env
        return dataclasses.replace(child, env={**child.env, "FASHION_TRAIN_NICE": str(niceness)})
    args = list(child.args)
    target = args[1] if args[:1] == ["-m"] else args[0]
    rest = args[2:] if args[:1] == ["-m"] else args[1:]
    env = {**child.env, "FASHION_TRAIN_NICE": str(niceness)}
    return Child(
        child.program, ("-c", _NICE_CODE, target, *rest), child.events, child.stdin,
        child.cancel_line, child.exit_codes, env,
    )  # fmt: skip


def default_child(args: Sequence[str]) -> Child:
    return lower_priority(trainer_child("train", args))


# Presets: form values they set (the rest stay as they are).
PRESETS: dict[str, dict[str, Any]] = {
    "Quick look": {
        "arch": "mobilenet_v3_large", "start": "imagenet", "image_size": 160, "epochs": 3, "batch_size": 32,
        "lr": 1e-3, "loss": "bce", "freeze": True, "unfreeze_epoch": 1, "scheduler": "plateau",
        "early_stopping": 0, "time_limit_min": 10.0,
    },
    "Seed ViT-B/16 recipe": {
        "arch": "vit_b_16", "start": "imagenet", "image_size": 224, "epochs": 15, "batch_size": 32,
        "lr": 1e-4, "loss": "bce", "sampler": True, "freeze": True, "unfreeze_epoch": 1,
        "scheduler": "plateau", "early_stopping": 3, "time_limit_min": 0.0,
    },
    "Best quality": {
        "arch": "convnext_tiny", "start": "imagenet", "image_size": 224, "epochs": 30, "batch_size": 32,
        "lr": 3e-4, "loss": "focal", "focal_alpha": 0.25, "focal_gamma": 2.0, "sampler": True,
        "freeze": True, "unfreeze_epoch": 2, "scheduler": "cosine", "early_stopping": 5,
        "time_limit_min": 0.0,
    },
    "Fine-tune this model on my corrections": {
        "start": "bundle", "epochs": 5, "lr": 1e-4, "freeze": True, "unfreeze_epoch": 1,
        "scheduler": "plateau", "early_stopping": 2,
    },
}  # fmt: skip

FINE_TUNE = "Fine-tune this model on my corrections"
_CONFIG_KEYS = frozenset(f.name for f in dataclasses.fields(TrainConfig))
_STARTS = (("imagenet", "ImageNet weights"), ("random", "Random weights"), ("bundle", "An existing model"))


class TrainTab(QWidget):
    """Settings form on the left; progress, plots, log and the failure banner on the right.

    ``child_factory(args) -> Child`` makes the trainer command (tests inject a fake trainer);
    ``ask_run_folder(state) -> "resume" | "overwrite" | "new" | "cancel"`` asks what to do with an output
    folder that holds a run (a dialog by default).
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
        self.child_factory = child_factory
        self.ask_run_folder: Callable[[RunFolderState], str] = self._ask_run_folder
        # Shown before a resume that cannot take some of the form's changes; True goes on with the run's own.
        self.confirm_resume: Callable[[str], bool] = self._confirm_resume
        self.current_model: Callable[[], str | None] = lambda: (
            None
        )  # the Tag tab's model (MainWindow sets it)
        self.worker: ProcessWorker | None = None
        self.jobs: JobQueue | None = None  # the window's: a run waits its turn while tagging runs
        self.state = "idle"  # idle | queued | running | stopping | finished | stopped | failed | killed
        self.catalog_path: str | None = None
        self.run_out: str | None = None
        self.last_args: list[str] = []
        self.result: TrainEvent | None = None
        self.epoch = 0
        self.epochs = 0
        self._pace_from: tuple[float, int] | None = None  # (time, steps done) at the first training step
        self._restoring = False
        self._killed = False
        self.stop_timer = QTimer(self)
        self.stop_timer.setSingleShot(True)
        self.stop_timer.timeout.connect(self._stop_timed_out)
        self._progress_view: tuple[tuple[int, int] | None, int, str] | None = None  # not yet shown
        self.status_timer = QTimer(self)
        self.status_timer.setSingleShot(True)
        self.status_timer.setInterval(STATUS_MS)
        self.status_timer.timeout.connect(self._apply_progress_view)
        self._build()
        self._restore()
        self.validate()

    # -- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        split = QSplitter(Qt.Orientation.Horizontal, self)
        QVBoxLayout(self).addWidget(split)
        form_box = QWidget()
        left = QVBoxLayout(form_box)
        self.preset_combo = QComboBox()
        self.preset_combo.addItem("Presets…")
        self.preset_combo.addItems(list(PRESETS))
        self.preset_combo.activated.connect(self._preset_chosen)
        left.addWidget(self.preset_combo)

        # Sources, splits and the labels they give (counted by the trainer's --preview).
        self.dataset = DatasetBuilder()
        self.sources = self.dataset  # the data sources (``clear()``, ``add_source(path)``)
        self.add_folder_button = self.dataset.add_folder_button
        self.add_sheet_button = self.dataset.add_sheet_button
        self.add_library_button = self.dataset.add_library_button
        self.remove_source_button = self.dataset.remove_source_button
        left.addWidget(self.dataset)
        self.dataset.changed.connect(self._changed)

        form = QFormLayout()
        self.arch_combo = QComboBox()
        for name in ARCH_NAMES:
            self.arch_combo.addItem(name, name)
            self.arch_combo.setItemData(
                self.arch_combo.count() - 1, ARCH_HINTS[name], Qt.ItemDataRole.ToolTipRole
            )
        self.arch_hint = QLabel()
        self.arch_hint.setWordWrap(True)
        self.start_combo = QComboBox()
        for key, text in _STARTS:
            self.start_combo.addItem(text, key)
        self.bundle_edit = QLineEdit()
        self.bundle_edit.setPlaceholderText("model file (.fmodel) to start from")
        self.image_size = QSpinBox(minimum=0, maximum=1024, singleStep=16, specialValueText="architecture's")
        self.epochs_spin = QSpinBox(minimum=0, maximum=1000, value=10)
        self.batch_spin = QSpinBox(minimum=0, maximum=4096, value=32)
        self.lr_spin = QDoubleSpinBox(decimals=6, minimum=0.0, maximum=10.0, singleStep=1e-4, value=1e-3)
        self.loss_combo = QComboBox()
        self.loss_combo.addItems(["bce", "focal"])
        self.alpha_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05, value=0.25)
        self.gamma_spin = QDoubleSpinBox(decimals=1, minimum=0.0, maximum=10.0, singleStep=0.5, value=2.0)
        self.sampler_check = QCheckBox("class-weighted sampler")
        self.freeze_check = QCheckBox("freeze the backbone, unfreeze at epoch")
        self.freeze_check.setChecked(True)
        self.unfreeze_spin = QSpinBox(minimum=0, maximum=1000, value=1)
        self.scheduler_combo = QComboBox()
        self.scheduler_combo.addItems(["plateau", "cosine", "none"])
        self.early_spin = QSpinBox(minimum=0, maximum=1000, value=3, specialValueText="off")
        self.time_spin = QDoubleSpinBox(
            decimals=1, minimum=0.0, maximum=100000.0, specialValueText="none", suffix=" min"
        )
        self.device_combo = QComboBox()
        self.device_combo.addItems(["auto", "cpu", "cuda"])
        self.workers_spin = QSpinBox(minimum=0, maximum=64)
        self.out_edit = QLineEdit(str(Path(settings.data_dir()) / "runs" / "run1"))
        freeze_row = QHBoxLayout()
        freeze_row.addWidget(self.freeze_check)
        freeze_row.addWidget(self.unfreeze_spin)
        focal_row = QHBoxLayout()
        focal_row.addWidget(QLabel("α"))
        focal_row.addWidget(self.alpha_spin)
        focal_row.addWidget(QLabel("γ"))
        focal_row.addWidget(self.gamma_spin)
        form.addRow("Architecture", self.arch_combo)
        form.addRow("", self.arch_hint)
        form.addRow("Start from", self.start_combo)
        form.addRow("", self.bundle_edit)
        form.addRow("Image size", self.image_size)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Loss", self.loss_combo)
        form.addRow("Focal", focal_row)
        form.addRow("Sampler", self.sampler_check)
        form.addRow("Schedule", freeze_row)
        form.addRow("Scheduler", self.scheduler_combo)
        form.addRow("Early stopping", self.early_spin)
        form.addRow("Time limit", self.time_spin)
        form.addRow("Device", self.device_combo)
        form.addRow("Workers", self.workers_spin)
        form.addRow("Output folder", self.out_edit)
        left.addLayout(form)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #b00020;")
        left.addWidget(self.problem_label)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("&Start training")
        self.stop_button = QPushButton("S&top")
        self.resume_button = QPushButton("&Resume")
        for b in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)
        left.addLayout(buttons)
        left.addStretch(1)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume)
        # The form scrolls, so the tab never raises the window's minimum size.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_box)
        split.addWidget(scroll)

        right_box = QWidget()
        right = QVBoxLayout(right_box)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setVisible(False)
        right.addWidget(self.banner)
        self.status_label = QLabel("No run yet.")
        right.addWidget(self.status_label)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        right.addWidget(self.progress)
        self.plots = TrainPlots()
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setMaximumBlockCount(LOG_LINES)
        self.log_view.setPlaceholderText("The trainer's log appears here.")
        plots_and_log = QSplitter(Qt.Orientation.Vertical)
        plots_and_log.addWidget(self.plots)
        plots_and_log.addWidget(self._build_history())
        plots_and_log.setStretchFactor(0, 3)
        plots_and_log.setStretchFactor(1, 1)
        right.addWidget(plots_and_log, 1)
        split.addWidget(right_box)
        split.setStretchFactor(1, 1)

        for w in (
            self.arch_combo,
            self.start_combo,
            self.loss_combo,
            self.scheduler_combo,
            self.device_combo,
        ):
            w.currentIndexChanged.connect(self._changed)
        for w in (
            self.image_size,
            self.epochs_spin,
            self.batch_spin,
            self.unfreeze_spin,
            self.early_spin,
            self.workers_spin,
        ):
            w.valueChanged.connect(self._changed)
        for w in (self.lr_spin, self.alpha_spin, self.gamma_spin, self.time_spin):
            w.valueChanged.connect(self._changed)
        for w in (self.sampler_check, self.freeze_check):
            w.toggled.connect(self._changed)
        for w in (self.bundle_edit, self.out_edit):
            w.textChanged.connect(self._changed)
        self._update_buttons()

    # -- form values -------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The form as plain values (what presets set and the settings remember)."""
        return {
            "sources": self.dataset.data_entries(),  # the trainer's data entries (paths, or dicts)
            "dataset": self.dataset.state(),  # the same with each source's kind, and the splits
            "arch": self.arch_combo.currentData(),
            "start": self.start_combo.currentData(),
            "bundle": self.bundle_edit.text().strip(),
            "image_size": self.image_size.value(),
            "epochs": self.epochs_spin.value(),
            "batch_size": self.batch_spin.value(),
            "lr": self.lr_spin.value(),
            "loss": self.loss_combo.currentText(),
            "focal_alpha": self.alpha_spin.value(),
            "focal_gamma": self.gamma_spin.value(),
            "sampler": self.sampler_check.isChecked(),
            "freeze": self.freeze_check.isChecked(),
            "unfreeze_epoch": self.unfreeze_spin.value(),
            "scheduler": self.scheduler_combo.currentText(),
            "early_stopping": self.early_spin.value(),
            "time_limit_min": self.time_spin.value(),
            "device": self.device_combo.currentText(),
            "workers": self.workers_spin.value(),
            "out": self.out_edit.text().strip(),
        }

    def set_values(self, v: dict[str, Any]) -> None:
        """Set the form from ``values()``-style keys (unknown or bad values are skipped)."""
        self._restoring = True
        try:
            if isinstance(v.get("dataset"), dict):
                self.dataset.set_state(v["dataset"])
            elif isinstance(v.get("sources"), list):
                self.dataset.set_entries(v["sources"])
            for key, combo in (("arch", self.arch_combo), ("start", self.start_combo)):
                if key in v and combo.findData(v[key]) >= 0:
                    combo.setCurrentIndex(combo.findData(v[key]))
            for key, combo in (
                ("loss", self.loss_combo),
                ("scheduler", self.scheduler_combo),
                ("device", self.device_combo),
            ):
                if key in v and combo.findText(str(v[key])) >= 0:
                    combo.setCurrentIndex(combo.findText(str(v[key])))
            for key, spin in (
                ("image_size", self.image_size), ("epochs", self.epochs_spin), ("batch_size", self.batch_spin),
                ("unfreeze_epoch", self.unfreeze_spin), ("early_stopping", self.early_spin),
                ("workers", self.workers_spin), ("lr", self.lr_spin), ("focal_alpha", self.alpha_spin),
                ("focal_gamma", self.gamma_spin), ("time_limit_min", self.time_spin),
            ):  # fmt: skip
                if isinstance(v.get(key), (int, float)) and not isinstance(v.get(key), bool):
                    spin.setValue(v[key])
            for key, check in (("sampler", self.sampler_check), ("freeze", self.freeze_check)):
                if isinstance(v.get(key), bool):
                    check.setChecked(v[key])
            for key, edit in (("bundle", self.bundle_edit), ("out", self.out_edit)):
                if isinstance(v.get(key), str):
                    edit.setText(v[key])
        finally:
            self._restoring = False
        self._changed()

    def overrides(self) -> dict[str, Any]:
        """The trainer settings the form stands for (TrainConfig keys; ``init_from`` for a bundle start)."""
        v = self.values()
        out: dict[str, Any] = {
            "data": v["sources"],
            "arch": v["arch"],
            "pretrained": v["start"] == "imagenet",
            "allow_random_init": v["start"] == "random",
            "epochs": v["epochs"],
            "batch_size": v["batch_size"],
            "lr": v["lr"],
            "loss": v["loss"],
            "sampler": "weighted" if v["sampler"] else "shuffle",
            "freeze_backbone": v["freeze"],
            "unfreeze": [f"{v['unfreeze_epoch']}:all"] if v["freeze"] else [],
            "scheduler": v["scheduler"],
            "early_stopping": v["early_stopping"],
            "time_limit_min": v["time_limit_min"],
            "device": v["device"],
            "num_workers": v["workers"],
            "out": v["out"],
            "progress_per_s": PROGRESS_PER_S,
            **self.dataset.split_overrides(),
        }
        if v["image_size"]:
            out["image_size"] = v["image_size"]
        if v["loss"] == "focal":
            out["focal_alpha"], out["focal_gamma"] = v["focal_alpha"], v["focal_gamma"]
        if v["start"] == "bundle":
            out["init_from"] = v["bundle"]
        return out

    def problem(self) -> str | None:
        """Why the form cannot start a run (one line), or None; uses the trainer's own validation."""
        o = self.overrides()
        if not o["data"]:
            return "Add a data source: a folder of class folders, a spreadsheet or the library."
        if not o["out"]:
            return "Choose an output folder."
        if o.get("init_from") is not None:
            if not o["init_from"]:
                return "Choose the model file to start from (or start from ImageNet or random weights)."
            if not Path(o["init_from"]).is_file():
                return f"{o['init_from']}: no such model file."
        if o["lr"] <= 0:
            return "The learning rate must be above 0."
        if o["arch"] == "cnn" and o["pretrained"]:
            return "The cnn architecture has no ImageNet weights: start from random weights."
        try:  # init_from joins the trainer's own checks once TrainConfig knows it
            make_config(None, {k: val for k, val in o.items() if k in _CONFIG_KEYS})
        except ConfigError as exc:
            return str(exc)
        return None

    def validate(self) -> str | None:
        """Show the form's problem (if any) and enable Start accordingly; returns the problem."""
        problem = self.problem()
        self.problem_label.setText(problem or "")
        self._update_buttons()
        return problem

    def _changed(self, *_: Any) -> None:
        arch = self.arch_combo.currentData() or ""
        size = ARCH_INPUT_SIZES.get(arch, 224)
        self.arch_hint.setText(f"{ARCH_HINTS.get(arch, '')}; {size} px by default")
        self.bundle_edit.setVisible(self.start_combo.currentData() == "bundle")
        focal = self.loss_combo.currentText() == "focal"
        self.alpha_spin.setEnabled(focal)
        self.gamma_spin.setEnabled(focal)
        self.unfreeze_spin.setEnabled(self.freeze_check.isChecked())
        if self._restoring:
            return
        self.validate()
        settings.set_value(settings.TRAIN_FORM, json.dumps(self.values()))

    def _restore(self) -> None:
        try:
            saved = json.loads(settings.get_str(settings.TRAIN_FORM, "") or "{}")
        except ValueError:
            saved = {}
        # A first launch shows the trainer's own defaults (EfficientNet-Lite0 from ImageNet weights),
        # with the architecture's hint filled in, not the first registry entry.
        defaults = {"arch": TrainConfig().arch}
        self.set_values({**defaults, **(saved if isinstance(saved, dict) else {})})
        self._changed()

    def _preset_chosen(self, index: int) -> None:
        name = self.preset_combo.itemText(index)
        if name in PRESETS:
            self.apply_preset(name)
        self.preset_combo.setCurrentIndex(0)

    def apply_preset(self, name: str) -> None:
        """Set the form to preset ``name``; fine-tuning starts from the Tag tab's model on the library."""
        values = dict(PRESETS[name])
        if name == FINE_TUNE:
            model = self.current_model()
            if model:
                values["bundle"] = model
            if self.catalog_path:
                values["sources"] = [*self.values()["sources"], self.catalog_path]  # kept once
        self.set_values(values)

    def set_catalog_path(self, path: str | os.PathLike | None) -> None:
        """The current library's catalog (the "Add library" source; the trainer reads it read-only)."""
        self.catalog_path = str(path) if path else None
        self.dataset.set_catalog_path(self.catalog_path)

    def add_source(self, path: str) -> None:
        self.dataset.add_source(path)

    # -- launching ------------------------------------------------------------------------------
    def args(self) -> list[str]:
        """The trainer's command-line arguments for the form (after ``train --events``)."""
        o = self.overrides()
        args = data_args(o.pop("data"))
        args += ["--out", o.pop("out"), "--arch", o.pop("arch")]
        for key, value in o.items():
            args += ["--set", f"{key}={json.dumps(value)}"]
        return args

    def busy(self) -> bool:
        """A run is in progress or waits its turn."""
        return self.worker is not None or self.state == "queued"

    def start(self) -> bool:
        """Start a run with the form's settings (asking first when the output folder holds a run)."""
        if self.busy() or self.validate():
            return False
        out = self.out_edit.text().strip()
        state = check_run_folder(out)
        extra: list[str] = []
        if state.kind in ("not_a_folder", "foreign"):
            what = (
                "is a file"
                if state.kind == "not_a_folder"
                else "already holds other files and no training run"
            )
            self._show_failure(
                f"{out} {what}: it is not usable as a run folder; choose a new or empty folder.",
                "Cannot start",
            )
            return False
        if state.holds_run:
            answer = self.ask_run_folder(state)
            if answer == "resume":
                return self.resume(out)
            if answer == "overwrite":
                extra = ["--overwrite"]
            elif answer == "new":
                self.out_edit.setText(_free_folder(out))
            else:
                return False
        self._launch(self.args() + extra)
        return True

    def resume(self, out: str | None = None) -> bool:
        """Continue a stopped (or earlier) run in ``out`` (default: the last run's folder) with the form's
        changes that a resume can make; changes it cannot make are explained first (``confirm_resume``)."""
        out = out or self.run_out
        if self.busy() or not out:
            return False
        applies, refused = self.resume_plan(out)
        if refused and not self.confirm_resume(resume_explanation(out, applies, refused)):
            return False
        args = ["--resume", out]
        for key, value in applies.items():
            args += ["--set", f"{key}={json.dumps(value)}"]
        self._launch(args, out)
        return True

    def _launch(self, args: list[str], out: str | None = None) -> None:
        self.last_args = list(args)
        self.run_out = out or self.out_edit.text().strip()
        self.result = None
        self.epoch = self.epochs = 0
        self.banner.setVisible(False)
        self.plots.clear()
        if self.jobs is None:
            self._spawn(args)
        elif not self.jobs.submit("training", lambda: self._spawn(args)):
            waits = " and ".join(self.jobs.blocked_by("training")).lower()
            self._set_state("queued", f"Waiting for {waits} to finish (Run now anyway: status bar)…")

    def _spawn(self, args: list[str]) -> None:
        if self.worker is not None:
            return
        self.log_view.appendPlainText(f"--- {time.strftime('%H:%M:%S')} trainer {' '.join(args)}")
        self.progress.setRange(0, 0)
        worker = ProcessWorker(self.child_factory(args), name="training", parent=self)
        worker.wired(self._on_event, self._on_finished, self._on_failed)
        worker.stderr_line.connect(self._on_stderr)
        self.worker = worker
        self._pace_from = None
        self._set_state("running", "Starting the trainer…")
        worker.start()

    def stop(self) -> None:
        """Ask the trainer to stop cleanly (it saves its last checkpoint); killed after STOP_GRACE_S.

        A run that waits its turn is dropped."""
        if self.state == "queued" and self.jobs is not None:
            self.jobs.withdraw("training")
            self._set_state("idle", "Not started: stopped while it waited.")
            return
        if self.worker is None or self.state != "running":
            return
        self._set_state("stopping", "Stopping: the trainer is saving its last checkpoint…")
        self.worker.cancel()
        self.stop_timer.start(STOP_GRACE_S * 1000)

    def _stop_timed_out(self) -> None:
        if self.worker is not None:
            self.log_view.appendPlainText(f"The trainer did not stop within {STOP_GRACE_S} s: killed.")
            self._killed = True
            self.worker.kill()

    def running_job(self) -> str:
        """ "Training is running (epoch 3 of 10)" while a run is in progress, else ""."""
        if self.worker is None:
            return ""
        where = f" (epoch {self.epoch} of {self.epochs})" if self.epoch and self.epochs else " (starting)"
        return f"Training is running{where}"

    def shutdown(self, msecs: int = 30_000) -> None:
        """Stop a run and wait for it (closing the window): the trainer keeps its last checkpoint."""
        self.dataset.shutdown()
        self.compare.stop()
        self.history.stop()
        if self.worker is not None:
            self.worker.cancel()
            if not self.worker.wait(msecs):
                self.worker.kill()

    # -- events -----------------------------------------------------------------------------------
    def _on_stderr(self, line: str) -> None:
        self.log_view.appendPlainText(line)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, Unreadable):
            self.log_view.appendPlainText(f"(unreadable trainer line: {event})")
            return
        if not isinstance(event, TrainEvent):
            return
        f = event.fields
        if event.name == RUN_STARTED:
            cfg = f.get("config") if isinstance(f.get("config"), dict) else {}
            self.epochs = int(cfg.get("epochs") or 0)
            ds = f.get("dataset")
            self.log_view.appendPlainText(f"run started: {len(f.get('labels') or [])} labels; dataset {ds}")
            self._set_state("running", "Preparing the data…")
        elif event.name == PROGRESS:
            self._on_progress(f, event.time)
        elif event.name == EPOCH_END:
            self.epoch = int(f["epoch"])
            self.epochs = int(f.get("epochs") or self.epochs)
            self.plots.add_epoch(f)  # the trainer's own epoch line comes on stderr
        elif event.name == CHECKPOINT_SAVED:
            self.log_view.appendPlainText(f"checkpoint saved: {f['path']}")
        elif event.name == LOG:
            self.log_view.appendPlainText(f"{f.get('level', 'note')}: {f['message']}")

    def _on_progress(self, f: dict[str, Any], sent: float | None = None) -> None:
        phase = f.get("phase")
        step, steps = f.get("step"), f.get("steps")
        if not (isinstance(step, int) and isinstance(steps, int) and steps > 0):
            return
        if phase != "train":
            if self.epochs:  # validation inside an epoch: the bar keeps showing the whole run
                self._show_progress(
                    None, 0, f"Epoch {self.epoch} of {self.epochs} · {phase}: {step} of {steps}"
                )
            else:
                self._show_progress((0, steps), min(step, steps), f"{phase}: {step} of {steps}")
            return
        epoch = int(f.get("epoch") or 1)
        epochs = int(f.get("epochs") or self.epochs or 1)
        self.epoch, self.epochs = epoch, epochs
        done, total = (epoch - 1) * steps + step, epochs * steps
        # ``batch_loss`` is the batch's own loss (``loss`` is the epoch's running mean, from older trainers).
        loss = f.get("batch_loss", f.get("loss"))
        if isinstance(loss, (int, float)) and not isinstance(loss, bool):
            self.plots.add_batch_loss(done, float(loss))
        rate = f.get("samples_per_s")
        # The pace since this launch's first training step, on the trainer's clock (when the event was sent,
        # not when the window got to it): data caching before it and the epochs a resumed run skips do not
        # count; the validation passes between epochs do, as they will again.
        now = sent if sent is not None else time.time()
        if self._pace_from is None or done < self._pace_from[1]:
            self._pace_from = (now, done)
        t_first, done_first = self._pace_from
        eta = (now - t_first) * (total - done) / (done - done_first) if done > done_first else math.inf
        parts = [f"Epoch {epoch} of {epochs}, step {step} of {steps}"]
        if isinstance(rate, (int, float)):
            parts.append(f"{rate:.1f} samples/s")
        epoch_eta = f.get("eta_s")  # the trainer's estimate for this epoch, until the pace is known
        if math.isfinite(eta):
            parts.append(f"about {format_duration(eta, bare_seconds=False)} left")
        elif isinstance(epoch_eta, (int, float)) and not isinstance(epoch_eta, bool) and epoch_eta >= 0:
            parts.append(f"about {format_duration(epoch_eta, bare_seconds=False)} left in this epoch")
        self._show_progress((0, total), min(done, total), " · ".join(parts))

    def _show_progress(self, bar: tuple[int, int] | None, value: int, text: str) -> None:
        """The bar (range ``bar`` and ``value``; None: left as it is) and the status line: at once, then at
        most every STATUS_MS with the latest, however fast events come."""
        self._progress_view = (bar, value, text)
        if not self.status_timer.isActive():
            self._apply_progress_view()

    def _apply_progress_view(self) -> None:
        view, self._progress_view = self._progress_view, None
        if view is None:
            return
        bar, value, text = view
        if bar is not None:
            self.progress.setRange(*bar)
            self.progress.setValue(value)
        self.status_label.setText(text)
        self.status_timer.start()

    def _on_finished(self, result: Any) -> None:
        self.stop_timer.stop()
        killed = getattr(self, "_killed", False)
        self._killed = False
        self.worker = None
        self.result = result if isinstance(result, TrainEvent) else None
        self.progress.setRange(0, 1)
        if self.result is not None and self.result.name == RUN_STOPPED:
            self.progress.setValue(0)
            self._set_state("stopped", f"Stopped: {self.result['message']}. Resume continues it.")
        elif killed or self.result is None:
            self._set_state("killed", "The trainer was killed; Resume continues from its last saved epoch.")
        else:
            self.progress.setValue(1)
            self._set_state("finished", "Finished. " + _metrics_line(self.result))
        self.log_view.appendPlainText(self.status_label.text())

    def _on_failed(self, message: str) -> None:
        self.stop_timer.stop()
        self._killed = False
        self.worker = None
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._show_failure(message)
        self._set_state("failed", "The run failed.")
        self.log_view.appendPlainText(f"FAILED: {message}")

    def _show_failure(self, message: str, title: str = "Training failed") -> None:
        self.banner.setText(f"{title}: {message}")
        self.banner.setStyleSheet(
            "background: #fde7e9; color: #7a0010; padding: 6px; border: 1px solid #e0a0a8;"
        )
        self.banner.setVisible(True)

    def _set_state(self, state: str, text: str) -> None:
        self.status_timer.stop()  # progress not yet shown is older than this
        self._progress_view = None
        self.state = state
        self.status_label.setText(text)
        self._update_buttons()
        self.state_changed.emit(state)

    def _update_buttons(self) -> None:
        busy = self.busy()
        problem = self.problem_label.text() if hasattr(self, "problem_label") else ""
        self.start_button.setEnabled(not busy and not problem)
        self.start_button.setToolTip("A run is in progress." if busy else problem or "Start a new run")
        self.stop_button.setEnabled(busy and self.state in ("running", "queued"))
        self.resume_button.setEnabled(
            not busy and self.state in ("stopped", "killed", "failed") and bool(self.run_out)
        )
        self.preset_combo.setEnabled(not busy)

    def _ask_run_folder(self, state: RunFolderState) -> str:
        box = QMessageBox(
            QMessageBox.Icon.Question, "Train", f"{state.path} holds {state.describe()}.", parent=self
        )
        buttons = {
            box.addButton("Resume it", QMessageBox.ButtonRole.AcceptRole): "resume",
            box.addButton(
                "Move it aside and start afresh", QMessageBox.ButtonRole.DestructiveRole
            ): "overwrite",
            box.addButton("Use a new folder", QMessageBox.ButtonRole.ActionRole): "new",
        }
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return buttons.get(box.clickedButton(), "cancel")

    # -- resuming with the form's changes ---------------------------------------------------------
    def resume_plan(self, out: str) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
        """What resuming run ``out`` with the form would change: (the settings ``--resume`` applies,
        {setting: (the run's value, the form's)} for those it cannot change). Both empty when the run's
        config cannot be read (the trainer then says why)."""
        try:
            saved = config_from_run_dir(Path(out))
        except ConfigError:
            return {}, {}
        form = {k: v for k, v in self.overrides().items() if k in _CONFIG_KEYS and k != "out"}
        if form.get("init_from"):  # a bundle's architecture and size were taken from it at the start
            form.pop("arch", None)
            form.pop("image_size", None)
        try:  # the form spells the schedule out ("1:all"); a run that left it to the default has the same
            same = unfreeze_plan(
                saved.replace(freeze_backbone=form["freeze_backbone"], unfreeze=tuple(form["unfreeze"]))
            ) == unfreeze_plan(saved)
        except (ConfigError, KeyError):
            same = False
        if same:
            form.pop("freeze_backbone", None)
            form.pop("unfreeze", None)
        try:
            return resume_changes(saved, form)
        except ConfigError:
            return {}, {}

    def _confirm_resume(self, text: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Information, "Resume", text, parent=self)
        go = box.addButton("Resume with the run's settings", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is go

    # -- runs history, comparing a run's model, switching to it ---------------------------------
    def _build_history(self) -> QTabWidget:
        """Log | Runs | Compare, under the plots."""
        self.lower_tabs = QTabWidget()
        self.lower_tabs.setDocumentMode(True)
        self.history = RunsHistory()
        self.compare = ModelCompare()
        self.compare.catalog_path = lambda: self.catalog_path
        self.compare.current_model = lambda: self.current_model()
        self.compare.device = lambda: self.device_combo.currentText()
        self.overlay = RunOverlay(self.plots)
        self.shown_run: str | None = None  # the run whose curves the plots show
        self._run_loader: Worker | None = None
        self.lower_tabs.addTab(self.log_view, "&Log")
        self.lower_tabs.addTab(self.history, "R&uns")
        self.lower_tabs.addTab(self.compare, "Com&pare")
        self.lower_tabs.currentChanged.connect(self._lower_tab_changed)
        self.history.show_requested.connect(self.show_run)
        self.history.overlay_requested.connect(self.overlay_run)
        self.history.compare_requested.connect(self.compare_run)
        self.history.resume_requested.connect(self.resume)
        self.history.folder_opened.connect(self.open_runs_folder)
        self.compare.use_requested.connect(self.use_model_requested)
        self.compare.retag_requested.connect(self.retag_requested)
        self.state_changed.connect(self._history_state)
        return self.lower_tabs

    def runs_folders(self) -> list[str]:
        """Where the history looks: the output folder's parent, then folders runs went to or were opened."""
        out = self.out_edit.text().strip()
        here = [str(Path(out).parent)] if out else []
        return list(dict.fromkeys(here + settings.recent(settings.TRAIN_RUN_FOLDERS)))

    def refresh_history(self) -> None:
        self.history.set_folders(self.runs_folders())

    def open_runs_folder(self, folder: str) -> None:
        """List the runs of ``folder`` (or the run it is) in the history, from now on."""
        settings.push_recent(settings.TRAIN_RUN_FOLDERS, str(Path(folder)))
        self.lower_tabs.setCurrentWidget(self.history)
        self.refresh_history()

    def _lower_tab_changed(self, index: int) -> None:
        if self.lower_tabs.widget(index) is self.history:
            self.refresh_history()
        elif self.lower_tabs.widget(index) is self.compare:
            self.compare.refresh()

    def _history_state(self, state: str) -> None:
        running = state in ("running", "stopping")
        self.history.set_busy(running)
        if state == "running" and self.run_out:
            self.overlay.clear()
            self.shown_run = self.history.shown_path = str(Path(self.run_out))
            settings.push_recent(settings.TRAIN_RUN_FOLDERS, str(Path(self.run_out).parent))
        if running:
            return
        self.refresh_history()
        bundle = self.result.get("bundle") if state == "finished" and self.result is not None else None
        if self.run_out and isinstance(bundle, str):
            self.compare.set_run(self.run_out, bundle if Path(bundle).is_file() else None)
            if self.compare.problem() is None:
                self.compare.start()  # before switching models: how the new one does on held-out photos
            self.lower_tabs.setCurrentWidget(self.compare)

    def _read_run_then(self, path: str, then: Callable[[RunRecord], None]) -> None:
        """Read run ``path`` (its events may be long) off the GUI thread, then call ``then`` with it."""
        if self._run_loader is not None:
            self._run_loader.cancel()

        def job(_cancel):
            return read_run(path)
            yield  # a generator: the worker sends what it returns with ``finished``

        worker = Worker(job, "read-run", self)

        def done(record: Any) -> None:
            if self._run_loader is worker:
                self._run_loader = None
                if isinstance(record, RunRecord) and not self.busy():
                    then(record)

        def failed(message: str) -> None:
            if self._run_loader is worker:
                self._run_loader = None
                self.status_label.setText(f"{path}: cannot be read ({message})")

        worker.wired(lambda _x: None, done, failed)
        self._run_loader = worker
        worker.start()

    def show_run(self, path: str) -> None:
        """Draw past run ``path``'s curves in the plots (not while a run is training)."""
        if self.busy():
            return

        def draw(record: RunRecord) -> None:
            self.overlay.clear()
            draw_record(self.plots, record)
            self.shown_run = self.history.shown_path = str(Path(path))
            self.history.update_buttons()
            info = record.info
            self.status_label.setText(
                f"Showing run {info.name}: {info.state}, {info.epochs_done} epoch{'s' * (info.epochs_done != 1)}"
            )
            self.run_shown.emit(path)

        self._read_run_then(path, draw)

    def overlay_run(self, path: str) -> None:
        """Draw run ``path``'s curves over the shown run's (dashed, other colours, legends name the runs)."""
        shown = self.shown_run
        if self.busy() or shown is None or Path(path) == Path(shown):
            return

        def draw(record: RunRecord) -> None:
            self.overlay.show(record, record.info.name, Path(shown).name)
            self.status_label.setText(f"Run {Path(shown).name} (solid) with run {record.info.name} (dashed)")
            self.run_shown.emit(path)

        self._read_run_then(path, draw)

    def compare_run(self, path: str) -> None:
        """Show run ``path``'s model on the Compare page and start comparing it with the Tag tab's."""
        bundle = Path(path) / BUNDLE
        self.compare.set_run(path, str(bundle) if bundle.is_file() else None)
        self.lower_tabs.setCurrentWidget(self.compare)
        if self.compare.problem() is None:
            self.compare.start()
        else:
            self.compare.note.setText(self.compare.problem() or "")

    def model_used(self, bundle: str, photos: int) -> None:
        """``bundle`` became the Tag tab's model (the window did it): offer to tag the library with it."""
        self.compare.model_used(bundle, photos)


def _free_folder(out: str) -> str:
    """``out-2``, ``out-3``… : the first that does not exist."""
    n = 2
    while os.path.lexists(f"{out}-{n}"):
        n += 1
    return f"{out}-{n}"


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def _metrics_line(result: TrainEvent) -> str:
    m = result.get("metrics") if isinstance(result.get("metrics"), dict) else {}
    val = m.get("val") if isinstance(m.get("val"), dict) else {}
    parts = [f"val F1 micro {_fmt(val.get('f1_micro'))}, macro {_fmt(val.get('f1_macro'))}"]
    groups = m.get("val_groups")
    if isinstance(groups, dict):
        for g, gm in groups.items():
            if isinstance(gm, dict):
                parts.append(f"{g} accuracy {_fmt(gm.get('top1_accuracy'))}")
    if result.get("bundle"):
        parts.append(f"model: {result['bundle']}")
    return "; ".join(parts)


# The form's names of the settings a resume may be asked to change.
_SETTING_NAMES = {
    "data": "data sources", "arch": "architecture", "image_size": "image size", "init_from": "model to start from",
    "pretrained": "ImageNet weights", "allow_random_init": "random weights allowed", "epochs": "epochs",
    "batch_size": "batch size", "lr": "learning rate", "loss": "loss", "focal_alpha": "focal α",
    "focal_gamma": "focal γ", "sampler": "sampler", "freeze_backbone": "frozen backbone",
    "unfreeze": "unfreeze schedule", "scheduler": "scheduler", "early_stopping": "early stopping",
    "time_limit_min": "time limit (min)", "device": "device", "num_workers": "workers",
}  # fmt: skip


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(_shown, value)) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def resume_explanation(out: str, applies: dict[str, Any], refused: dict[str, tuple[Any, Any]]) -> str:
    """Plain words for a resume of ``out``: what it changes, and what it keeps although the form differs."""
    lines = [f"Resuming {Path(out).name} continues the same model on the same data."]
    changed = [k for k in applies if k in _SETTING_NAMES]
    if changed:
        lines.append(
            "It takes these changes: "
            + "; ".join(f"{_SETTING_NAMES[k]} {_shown(applies[k])}" for k in changed)
            + "."
        )
    lines.append("These settings cannot change when a run resumes; it keeps its own:")
    for key, (old, new) in refused.items():
        lines.append(f"  • {_SETTING_NAMES.get(key, key)}: stays {_shown(old)} (the form says {_shown(new)})")
    lines.append("To train with them, start a new run instead.")
    return "\n".join(lines)
