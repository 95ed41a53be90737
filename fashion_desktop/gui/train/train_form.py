"""The Train tab's settings form: presets, data sources, the run's options, why Start is disabled."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.gui import settings
from fashion_desktop.gui.appearance import problem_style
from fashion_desktop.gui.train.dataset_builder import DatasetBuilder, data_args
from fashion_desktop.model.arch_table import ARCH_HINTS, ARCH_INPUT_SIZES, ARCH_NAMES, download_needed_mb
from fashion_desktop.model.train_config import ConfigError, TrainConfig, make_config

PROGRESS_PER_S = 10  # the trainer's progress events a second (its default 2 leaves the step plot sparse)
FINE_TUNE = "Fine-tune this model on my corrections"
VIT_STUDY = "ViT-B/16, as the original study trained it"

# Presets: form values they set (the rest stay as they are). ``extra``: trainer settings the form has no
# field for; they go with every run (listed under the settings) until another preset replaces them.
PRESETS: dict[str, dict[str, Any]] = {
    # EfficientNet-Lite0: its ImageNet weights ship with the app, so a quick look works offline.
    "Quick look": {
        "arch": "efficientnet_lite0", "start": "imagenet", "image_size": 160, "epochs": 3, "batch_size": 32,
        "lr": 1e-3, "loss": "bce", "freeze": True, "unfreeze_epoch": 1, "scheduler": "plateau",
        "early_stopping": 0, "time_limit_min": 10.0, "extra": {},
    },
    VIT_STUDY: {
        "arch": "vit_b_16", "start": "imagenet", "image_size": 224, "epochs": 15, "batch_size": 32,
        "lr": 1e-4, "loss": "bce", "sampler": True, "freeze": True, "unfreeze_epoch": 1,
        "scheduler": "plateau", "early_stopping": 3, "time_limit_min": 0.0, "extra": {},
    },
    # The default model v2's recipe (resources/models/default-v2.yaml) without its data and split: the
    # whole network fine-tuned after a 1-epoch head warm-up, the backbone at a tenth of the rate.
    "Best quality": {
        "arch": "efficientnet_lite0", "start": "imagenet", "image_size": 160, "epochs": 10, "batch_size": 32,
        "lr": 1e-3, "loss": "bce", "sampler": False, "freeze": True, "unfreeze_epoch": 1,
        "scheduler": "cosine", "early_stopping": 0, "time_limit_min": 0.0,
        "extra": {
            "backbone_lr_mult": 0.1, "warmup_epochs": 2, "augment": "phone", "select_metric": "balanced",
            "exclusive_groups": ["colour", "gender", "season", "usage"], "label_smoothing": 0.1,
        },
    },
    FINE_TUNE: {
        "start": "bundle", "epochs": 5, "lr": 1e-4, "freeze": True, "unfreeze_epoch": 1,
        "scheduler": "plateau", "early_stopping": 2, "extra": {},
    },
}  # fmt: skip

FINE_TUNE_DRAWS = 2000  # photos drawn in all when fine-tuning: a few corrections get more passes, many fewer
CONFIG_KEYS = frozenset(f.name for f in dataclasses.fields(TrainConfig))
_STARTS = (("imagenet", "ImageNet weights"), ("random", "Random weights"), ("bundle", "An existing model"))


def fine_tune_epochs(photos: int) -> int:
    """Epochs for fine-tuning on ``photos`` reviewed photos: about FINE_TUNE_DRAWS draws, 3 to 15 epochs."""
    return max(3, min(15, round(FINE_TUNE_DRAWS / max(photos, 1))))


def arch_title(arch: str) -> str:
    """The architecture's name for a person ("ViT-B/16"), from its hint."""
    return ARCH_HINTS.get(arch, arch).split(":", 1)[0]


def download_mb(arch: str, start: str) -> int:
    """MB of weights a run of ``arch`` from ``start`` (imagenet, random, bundle) must download first."""
    return download_needed_mb(arch) if start == "imagenet" else 0


def download_note(arch: str, start: str) -> str:
    """Why a run of ``arch`` from ``start`` needs the internet ("" when it works offline)."""
    mb = download_mb(arch, start)
    if not mb:
        return ""
    return (
        f"{arch_title(arch)}'s ImageNet weights ({mb} MB) are not on this computer: Start downloads them "
        "first, which needs an internet connection."
    )


def preset_title(name: str) -> str:
    """``name`` as the preset list shows it: said when it cannot start without downloading weights."""
    preset = PRESETS[name]
    mb = download_mb(preset.get("arch", ""), preset.get("start", ""))
    return f"{name} (needs a {mb} MB download)" if mb else name


def preset_tip(name: str) -> str:
    """The preset list's tooltip: what needs the internet, or that it works offline."""
    preset = PRESETS[name]
    if preset.get("start") == "bundle":
        return "Starts from the Tag tab's model: works offline."
    note = download_note(preset.get("arch", ""), preset.get("start", ""))
    arch = arch_title(preset.get("arch", ""))
    return note or f"Works offline: {arch}'s ImageNet weights are on this computer."


class TrainForm(QWidget):
    """Presets, the data sources, the run's settings, the problem that keeps Start disabled, and the
    Start / Stop / Resume buttons (whose clicks are requests: the run control acts on them).

    ``current_model() -> bundle path | None`` is the Tag tab's model (the fine-tuning preset starts from it).
    """

    start_requested = Signal()
    stop_requested = Signal()
    resume_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.current_model = lambda: None
        self.catalog_path: str | None = None
        self._restoring = False
        self._busy = self._can_stop = self._can_resume = False
        self.extra: dict[str, Any] = {}  # the last preset's settings that have no field in the form
        self._scale_fine_tune = False  # a fine-tuning preset waits for the library's photo count
        layout = QVBoxLayout(self)
        self._build_presets(layout)
        # Sources, splits and the labels they give (counted by the trainer's --preview).
        self.dataset = DatasetBuilder()
        layout.addWidget(self.dataset)
        self.dataset.changed.connect(self._changed)
        self._build_fields()
        layout.addLayout(self._build_rows())
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(problem_style())
        layout.addWidget(self.problem_label)
        layout.addLayout(self._build_buttons())
        layout.addStretch(1)
        self._connect_changes()
        self._update_buttons()
        self._restore()
        self.validate()

    # -- construction ------------------------------------------------------------------------
    def _build_presets(self, layout: QVBoxLayout) -> None:
        self.preset_combo = QComboBox()
        self.preset_combo.addItem("Presets…")
        for name in PRESETS:
            self.preset_combo.addItem(preset_title(name), name)
            self.preset_combo.setItemData(
                self.preset_combo.count() - 1, preset_tip(name), Qt.ItemDataRole.ToolTipRole
            )
        self.preset_combo.activated.connect(self._preset_chosen)
        layout.addWidget(self.preset_combo)

    def _build_fields(self) -> None:
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
        self.extra_label = QLabel()
        self.extra_label.setWordWrap(True)

    def _build_rows(self) -> QFormLayout:
        form = QFormLayout()
        freeze_row = QHBoxLayout()
        freeze_row.addWidget(self.freeze_check)
        freeze_row.addWidget(self.unfreeze_spin)
        focal_row = QHBoxLayout()
        focal_row.addWidget(QLabel("α"))
        focal_row.addWidget(self.alpha_spin)
        focal_row.addWidget(QLabel("γ"))
        focal_row.addWidget(self.gamma_spin)
        rows: tuple[tuple[str, QWidget | QHBoxLayout], ...] = (
            ("Architecture", self.arch_combo), ("", self.arch_hint), ("Start from", self.start_combo),
            ("", self.bundle_edit), ("Image size", self.image_size), ("Epochs", self.epochs_spin),
            ("Batch size", self.batch_spin), ("Learning rate", self.lr_spin), ("Loss", self.loss_combo),
            ("Focal", focal_row), ("Sampler", self.sampler_check), ("Schedule", freeze_row),
            ("Scheduler", self.scheduler_combo), ("Early stopping", self.early_spin),
            ("Time limit", self.time_spin), ("Device", self.device_combo), ("Workers", self.workers_spin),
            ("Output folder", self.out_edit), ("", self.extra_label),
        )  # fmt: skip
        for label, field in rows:
            form.addRow(label, field)
        return form

    def _build_buttons(self) -> QHBoxLayout:
        buttons = QHBoxLayout()
        self.start_button = QPushButton("&Start training")
        self.stop_button = QPushButton("S&top")
        self.resume_button = QPushButton("&Resume")
        for b in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)
        self.start_button.clicked.connect(self.start_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self.resume_button.clicked.connect(self.resume_requested)
        return buttons

    def _connect_changes(self) -> None:
        for w in (
            self.arch_combo,
            self.start_combo,
            self.loss_combo,
            self.scheduler_combo,
            self.device_combo,
        ):
            w.currentIndexChanged.connect(self._changed)
        for w in (
            self.image_size, self.epochs_spin, self.batch_spin, self.unfreeze_spin, self.early_spin,
            self.workers_spin, self.lr_spin, self.alpha_spin, self.gamma_spin, self.time_spin,
        ):  # fmt: skip
            w.valueChanged.connect(self._changed)
        for w in (self.sampler_check, self.freeze_check):
            w.toggled.connect(self._changed)
        for w in (self.bundle_edit, self.out_edit):
            w.textChanged.connect(self._changed)
        self.epochs_spin.valueChanged.connect(self._epochs_edited)
        self.dataset.preview_changed.connect(self._scale_fine_tune_epochs)

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
            "extra": dict(self.extra),
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
            if isinstance(v.get("extra"), dict):
                self.extra = {k: val for k, val in v["extra"].items() if k in CONFIG_KEYS}
        finally:
            self._restoring = False
        self._changed()

    def overrides(self) -> dict[str, Any]:
        """The trainer settings the form stands for (TrainConfig keys; ``init_from`` for a bundle start)."""
        v = self.values()
        out: dict[str, Any] = {
            **v["extra"],  # the fields below win: they are what the form shows
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

    def args(self) -> list[str]:
        """The trainer's command-line arguments for the form (after ``train --events``)."""
        o = self.overrides()
        args = data_args(o.pop("data"))
        args += ["--out", o.pop("out"), "--arch", o.pop("arch")]
        for key, value in o.items():
            args += ["--set", f"{key}={json.dumps(value)}"]
        return args

    def out_folder(self) -> str:
        """The output folder the form names (may be empty)."""
        return self.out_edit.text().strip()

    def set_out_folder(self, out: str) -> None:
        self.out_edit.setText(out)

    def device(self) -> str:
        return self.device_combo.currentText()

    # -- validation --------------------------------------------------------------------------
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
            make_config(None, {k: val for k, val in o.items() if k in CONFIG_KEYS})
        except ConfigError as exc:
            return str(exc)
        return None

    def download_question(self) -> str | None:
        """What Start asks before a run that must download weights first (None: it works offline)."""
        arch, start = self.arch_combo.currentData() or "", self.start_combo.currentData() or ""
        mb = download_mb(arch, start)
        if not mb:
            return None
        return (
            f"This run needs an internet connection: it first downloads {arch_title(arch)}'s ImageNet "
            f"weights ({mb} MB), which are not on this computer yet. Without a connection it stops before "
            "learning anything.\n\nTo train offline, choose EfficientNet-Lite0 (its weights come with the "
            "app), random weights, or an existing model."
        )

    def validate(self) -> str | None:
        """Show the form's problem (if any) and enable Start accordingly; returns the problem."""
        problem = self.problem()
        self.problem_label.setText(problem or "")
        self._update_buttons()
        return problem

    def set_run_state(self, busy: bool, can_stop: bool, can_resume: bool) -> None:
        """What the run control allows now: the buttons and presets follow it."""
        self._busy, self._can_stop, self._can_resume = busy, can_stop, can_resume
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self._busy
        problem = self.problem_label.text()
        self.start_button.setEnabled(not busy and not problem)
        self.start_button.setToolTip("A run is in progress." if busy else problem or "Start a new run")
        self.stop_button.setEnabled(self._can_stop)
        self.resume_button.setEnabled(self._can_resume)
        self.preset_combo.setEnabled(not busy)

    def _changed(self, *_: Any) -> None:
        arch = self.arch_combo.currentData() or ""
        size = ARCH_INPUT_SIZES.get(arch, 224)
        hint = f"{ARCH_HINTS.get(arch, '')}; {size} px by default"
        note = download_note(arch, self.start_combo.currentData() or "")
        self.arch_hint.setText(f"{hint}. {note}" if note else hint)
        self.bundle_edit.setVisible(self.start_combo.currentData() == "bundle")
        focal = self.loss_combo.currentText() == "focal"
        self.alpha_spin.setEnabled(focal)
        self.gamma_spin.setEnabled(focal)
        self.unfreeze_spin.setEnabled(self.freeze_check.isChecked())
        shown = ", ".join(f"{k} {_setting_text(v)}" for k, v in self.extra.items())
        self.extra_label.setText(
            f"The preset also sets: {shown} (another preset replaces them)" if shown else ""
        )
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

    # -- presets and sources ---------------------------------------------------------------------
    @Slot(int)
    def _preset_chosen(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
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
        self._scale_fine_tune = name == FINE_TUNE
        self._scale_fine_tune_epochs()

    def _epochs_edited(self, *_: Any) -> None:
        if not self._restoring:  # a person chose the epochs: a photo count that arrives later leaves them
            self._scale_fine_tune = False

    @Slot()
    def _scale_fine_tune_epochs(self) -> None:
        """After the fine-tuning preset: its epochs for the library's photos, once a preview counted them."""
        photos = self.library_photos()
        if self._scale_fine_tune and photos:
            self._scale_fine_tune = False
            self.set_values({"epochs": fine_tune_epochs(photos)})

    def library_photos(self) -> int | None:
        """How many of the library's photos a run learns from (the reviewed ones), as the data preview last
        counted them; None when it has not counted the library."""
        inputs = (self.dataset.preview or {}).get("inputs")
        for item in inputs if self.catalog_path and isinstance(inputs, list) else []:
            if isinstance(item, dict) and _same_file(item.get("path"), self.catalog_path):
                images = item.get("images")
                return images if isinstance(images, int) and not isinstance(images, bool) else None
        return None

    def set_catalog_path(self, path: str | os.PathLike | None) -> None:
        """The current library's catalog (the "Add library" source; the trainer reads it read-only)."""
        self.catalog_path = str(path) if path else None
        self.dataset.set_catalog_path(self.catalog_path)

    def add_source(self, path: str) -> None:
        self.dataset.add_source(path)


def _setting_text(value: Any) -> str:
    return "/".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _same_file(a: Any, b: Any) -> bool:
    """True when paths ``a`` and ``b`` name the same file (spelled alike once made absolute)."""
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))
