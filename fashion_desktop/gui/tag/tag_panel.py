"""Tagging controls: model, device, batch size, run/cancel, progress with speed and ETA, failed files."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.gui.models.metrics_model import BundleInfo
from fashion_desktop.gui.tag.first_launch import NO_MODEL_TEXT
from fashion_desktop.gui.widgets import WrapLabel
from fashion_desktop.gui.worker import ProcessWorker
from fashion_desktop.model.bundle_file import read_bundle_file
from fashion_desktop.model.bundle_format import BundleError
from fashion_desktop.model.progress_text import format_duration, percent
from fashion_desktop.model.protocol import Devices

DEVICES = (("Auto", "auto"), ("CUDA (NVIDIA GPU)", "cuda"), ("MPS (Apple GPU)", "mps"), ("CPU", "cpu"))
DEFAULT_MODEL_TEXT = "Default model"


def bundle_title(path: str) -> tuple[str, str]:
    """(text, tooltip) for a bundle in the Model box: its name, creation date and short id, so two
    training runs that both wrote "model.fmodel" look different. Reads only the header (no torch)."""
    p = Path(path)
    try:
        description = read_bundle_file(p).description
    except BundleError as exc:  # also an old-format bundle: shown by file name, the reason on hover
        return f"{p.parent.name}/{p.name}", f"{p}\n{exc}"
    except OSError as exc:
        return f"{p.parent.name}/{p.name}", f"{p}\ncannot be read ({exc.strerror or exc})"
    prov = description.provenance
    name = str(prov.get("name") or f"{p.parent.name}/{p.name}")
    created = BundleInfo(path=str(p), provenance=dict(prov)).created()
    model_id = description.stored_model_id or ""
    short_id = model_id.removeprefix("sha256:")[:8]
    details = " · ".join(x for x in (created.removesuffix(" (file)"), short_id) if x)
    text = f"{name} — {details}" if details else name
    tip = "\n".join(
        [f"{name}", f"{description.arch}, {len(description.labels)} labels"]
        + ([f"Created {created}"] if created else [])
        + ([f"Model id {model_id}"] if model_id else [])
        + [str(p)]
    )
    return text, tip


class _DeviceCombo(QComboBox):
    popup_about_to_show = Signal()

    def showPopup(self) -> None:
        self.popup_about_to_show.emit()
        super().showPopup()


class TagPanel(QWidget):
    """Emits ``run_requested`` / ``cancel_requested``; the window runs the engine and reports back here."""

    run_requested = Signal(str, str, int, bool)  # bundle path, device, batch size (0: auto), re-tag all
    cancel_requested = Signal()
    resume_requested = Signal()  # "Tag them" on the notice of photos the model has not tagged yet
    retag_default_requested = Signal()  # "Re-tag with the new default" on the default-changed notice
    fill_embeddings_requested = Signal()  # "Re-tag them" on the notice of photos without an embedding
    adapter_switched = Signal(bool)  # the "Adapt to this library" switch
    devices_found = Signal(object)  # Devices: what torch sees, from the device check or a tagging run
    progress_shown = Signal()  # the bar moved: the status bar's job line follows it at once

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(16)
        self.model_combo.setPlaceholderText(NO_MODEL_TEXT)  # shown while there is no model to choose
        self.model_combo.currentIndexChanged.connect(
            lambda i: self.model_combo.setToolTip(
                self.model_combo.itemData(i, Qt.ItemDataRole.ToolTipRole) or ""
            )
        )
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        self.device_combo = _DeviceCombo()
        for text, value in DEVICES:
            self.device_combo.addItem(text, value)
        # Accelerators stay disabled until torch has said they exist.
        for i in (1, 2):
            self.device_combo.model().item(i).setEnabled(False)
        self.device_combo.popup_about_to_show.connect(self.probe)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(0, 1024)
        self.batch_spin.setSpecialValueText("auto")
        self.batch_spin.setValue(0)
        self.force_box = QCheckBox("Re-tag photos this model already tagged")
        self.run_button = QPushButton("Tag photos")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.rate_label = WrapLabel("")  # "Tagging stopped: /a/long/path…" must not widen the column
        self.failed_list = QListWidget()
        # Photos the active model has not tagged yet (a run cancelled, the app quit mid-run, new photos):
        # said after opening, with the one click that finishes the job.
        self.untagged_label = WrapLabel("")
        self.resume_button = QPushButton("Tag them")
        self.resume_button.setToolTip("Tag the photos this model has not tagged yet (the others are skipped)")
        self.resume_button.clicked.connect(self.resume_requested)
        self.untagged_row = QWidget()
        notice = QHBoxLayout(self.untagged_row)
        notice.setContentsMargins(0, 0, 0, 0)
        notice.addWidget(self.untagged_label, 1)
        notice.addWidget(self.resume_button)
        self.untagged_row.setVisible(False)
        # The library was tagged with an earlier default model than the one this version ships: said,
        # with the one click that re-tags (a person's own tags and reviews are kept; they are not scores).
        self.default_changed_label = WrapLabel("")
        self.retag_default_button = QPushButton("Re-tag with the new default")
        self.retag_default_button.setToolTip(
            "Tag every photo with the default model this version ships; your own tags and reviews stay"
        )
        self.retag_default_button.clicked.connect(self.retag_default_requested)
        self.default_changed_row = QWidget()
        changed = QVBoxLayout(self.default_changed_row)
        changed.setContentsMargins(0, 0, 0, 0)
        changed.addWidget(self.default_changed_label)
        changed.addWidget(self.retag_default_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.default_changed_row.setVisible(False)
        self._build_embeddings_row()
        self._build_adapter_row()
        self.failed_list.setMaximumHeight(110)
        self.failed_label = QLabel("Failed files")
        self._lay_out()
        self.failed_label.setVisible(False)
        self.failed_list.setVisible(False)
        self.run_button.clicked.connect(self.request_run)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.devices: Devices | None = None
        self._probe: ProcessWorker | None = None
        self.preferred_device = "auto"  # the last choice; an accelerator is selected once torch confirms it
        self.running = False
        self.unavailable = ""  # why tagging cannot start now (no photos yet); "" when it can
        self.last_progress: tuple[int, int] | None = None  # (done, total) of the run going on
        self._untagged = (0, "")  # photos the grid's model has not tagged, and its name
        self._chosen_untagged: str | None = None  # the chosen model has not tagged them: the grid's model
        self._default_changed = False

    def _build_embeddings_row(self) -> None:
        """The notice of photos the model tagged before this version stored embeddings: Find similar
        cannot use them yet; its button re-tags just those."""
        self.embeddings_label = WrapLabel("")
        self.fill_embeddings_button = QPushButton("Re-tag them")
        self.fill_embeddings_button.setToolTip(
            "Tag these photos again so that Find similar knows them; your own tags and reviews stay"
        )
        self.fill_embeddings_button.clicked.connect(self.fill_embeddings_requested)
        self.embeddings_row = QWidget()
        missing = QHBoxLayout(self.embeddings_row)
        missing.setContentsMargins(0, 0, 0, 0)
        missing.addWidget(self.embeddings_label, 1)
        missing.addWidget(self.fill_embeddings_button)
        self.embeddings_row.setVisible(False)

    def _build_adapter_row(self) -> None:
        """The library's adapter under the model: its switch and what it learnt (``show_adapter``)."""
        self.adapter_box = QCheckBox("Adapt to this library")
        self.adapter_box.setToolTip(
            "Learn from your reviews: the suggestions of photos you have not reviewed follow your corrections "
            "(reviewed photos never change). Off: the model's own scores."
        )
        self.adapter_box.setChecked(True)
        self.adapter_box.toggled.connect(self.adapter_switched)
        self.adapter_label = WrapLabel("")
        self.adapter_row = QWidget()
        lay = QVBoxLayout(self.adapter_row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.adapter_box)
        lay.addWidget(self.adapter_label)
        self.adapter_row.setVisible(False)

    def show_adapter(self, text: str, on: bool, visible: bool = True) -> None:
        """The adapter's line ("Default model · adapted to 312 reviewed photos") and its switch."""
        self.adapter_label.setText(text)
        with QSignalBlocker(self.adapter_box):
            self.adapter_box.setChecked(on)
        self.adapter_row.setVisible(visible)

    def _lay_out(self) -> None:
        """The form, the buttons, the progress and the failures, top to bottom."""
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.model_combo, 1)
        row.addWidget(self.browse_button)
        form.addRow("Model", row)
        form.addRow("Device", self.device_combo)
        form.addRow("Batch size", self.batch_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(form)
        lay.addWidget(self.adapter_row)
        lay.addWidget(self.force_box)
        lay.addLayout(buttons)
        lay.addWidget(self.untagged_row)
        lay.addWidget(self.default_changed_row)
        lay.addWidget(self.embeddings_row)
        lay.addWidget(self.progress)
        lay.addWidget(self.rate_label)
        lay.addWidget(self.failed_label)
        lay.addWidget(self.failed_list)

    # -- model choice -------------------------------------------------------------------------
    def set_bundles(self, paths: list[str], default: str | None = None, preferred: str | None = None) -> None:
        """Recent bundle files (most recent first), plus the default model when this build ships one.

        The choice shown stays; with none yet, ``preferred`` (the model the library was tagged with) is
        chosen, else the most recent bundle, else the default model.
        """
        current = self.current_bundle()
        self.model_combo.clear()
        if default:
            self.model_combo.addItem(DEFAULT_MODEL_TEXT, default)
            self.model_combo.setItemData(0, bundle_title(default)[1], Qt.ItemDataRole.ToolTipRole)
        for p in paths:
            if p != default:
                self._add_bundle(self.model_combo.count(), p)
        # Explicit, also for the default: with a placeholder text the box adds items without selecting one.
        choice = current or preferred or next((p for p in paths if p != default), None) or default
        if choice:
            self.select_bundle(choice)
        self.model_combo.setToolTip(self.model_combo.currentData(Qt.ItemDataRole.ToolTipRole) or "")

    def _add_bundle(self, row: int, path: str) -> None:
        text, tip = bundle_title(path)
        self.model_combo.insertItem(row, text, path)
        self.model_combo.setItemData(row, tip, Qt.ItemDataRole.ToolTipRole)

    def select_bundle(self, path: str) -> None:
        i = self.model_combo.findData(path)
        if i < 0:
            self._add_bundle(0, path)
            i = 0
        self.model_combo.setCurrentIndex(i)

    def current_bundle(self) -> str | None:
        data = self.model_combo.currentData()
        return str(data) if data else None

    @Slot()
    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a model bundle", "", "Model bundles (*.fmodel);;All files (*)"
        )
        if path:
            self.select_bundle(path)

    # -- devices ----------------------------------------------------------------------------
    @Slot()
    def probe(self) -> None:
        """Ask torch (in a child process: torch never loads in the app) which devices exist; enable those."""
        if self.devices is not None or self._probe is not None:
            return
        self._probe = ProcessWorker("probe", {}, "device check", self)
        self._probe.finished.connect(self.set_devices)
        self._probe.failed.connect(lambda msg: self.rate_label.setText(f"Cannot check devices: {msg}"))
        self._probe.start()

    @Slot(object)
    def set_devices(self, found: Devices | None) -> None:
        """What the device check (or a tagging run, which reports it first) found."""
        if found is None:
            return
        self.devices = found
        self.device_combo.model().item(1).setEnabled(found.cuda)
        self.device_combo.model().item(2).setEnabled(found.mps)
        if found.cuda_names:
            self.device_combo.setItemData(1, "\n".join(found.cuda_names), Qt.ItemDataRole.ToolTipRole)
        if self.device() == "auto":
            self.set_device(self.preferred_device)
        self.devices_found.emit(found)

    def device(self) -> str:
        return str(self.device_combo.currentData())

    def set_device(self, value: str) -> None:
        """Select a device if it is known to exist (accelerators only after the probe); remember it."""
        self.preferred_device = value
        i = self.device_combo.findData(value)
        if i >= 0 and self.device_combo.model().item(i).isEnabled():
            self.device_combo.setCurrentIndex(i)
        elif value in ("cuda", "mps") and self.devices is None:
            self.probe()

    # -- the run ----------------------------------------------------------------------------
    def set_unavailable(self, reason: str) -> None:
        """Disable *Tag photos* with ``reason`` as its tooltip ("" enables it again)."""
        self.unavailable = reason
        self.run_button.setEnabled(not self.running and not reason)
        self.run_button.setToolTip(reason or "Tag the library's photos with the chosen model")

    @Slot()
    def request_run(self) -> None:
        """What *Tag photos* does: ask to run with the choices shown (browsing for a model if none)."""
        if self.unavailable or self.running:
            return
        path = self.current_bundle()
        if not path:
            self._browse()
            path = self.current_bundle()
        if path:
            self.run_requested.emit(path, self.device(), self.batch_spin.value(), self.force_box.isChecked())

    def set_running(self, running: bool) -> None:
        self.running = running
        self.last_progress = None
        self.progress_shown.emit()
        if running:
            self._chosen_untagged = None  # the run tags them with the chosen model
            self.untagged_row.setVisible(False)
            self.default_changed_row.setVisible(False)
            self.embeddings_row.setVisible(False)
        self.run_button.setEnabled(not running and not self.unavailable)
        self.cancel_button.setEnabled(running)
        for w in (self.model_combo, self.browse_button, self.device_combo, self.batch_spin, self.force_box):
            w.setEnabled(not running)
        if running:
            self.failed_list.clear()
            self.failed_label.setVisible(False)
            self.failed_list.setVisible(False)
            self.progress.setRange(0, 0)
            self.progress.setFormat("%p%")
            self.rate_label.setText("Loading the model…")

    def show_progress(self, done: int, total: int, img_per_s: float, eta_s: float | None) -> None:
        """The bar and the line below it, from the same two numbers (the bar's percentage is written
        out, not left to the style, so "80 %" always stands beside "242 / 300")."""
        done, total = max(0, int(done)), max(0, int(total))
        self.last_progress = (done, total)
        pct = percent(done, total)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(min(done, max(1, total)))
        self.progress.setFormat(f"{pct} %")
        self.rate_label.setText(
            f"{done:,} / {total:,} photos ({pct} %) — {img_per_s:.1f} img/s — ETA {format_duration(eta_s)}"
        )
        self.progress_shown.emit()

    def progress_text(self) -> str:
        """How far the run is, for a question about stopping it ("242 of 300 done")."""
        if self.last_progress is None:
            return "starting"
        done, total = self.last_progress
        return f"{done:,} of {total:,} done, {percent(done, total)} %"

    def show_untagged(self, count: int, model: str = "") -> None:
        """Say how many photos the active model has not tagged yet, with a button that tags them."""
        self._untagged = (count, model)
        self._show_untagged_row()

    def show_chosen_untagged(self, grid_model: str | None) -> None:
        """Say that the model chosen in the Model box has not tagged these photos, with the button that tags
        them; ``grid_model`` names the model whose tags the grid shows meanwhile ("": none). None: it has."""
        self._chosen_untagged = grid_model
        self._show_untagged_row()

    def _show_untagged_row(self) -> None:
        count, model = self._untagged
        chosen = self._chosen_untagged
        if chosen is not None and not self._default_changed:  # that notice already offers the re-tag
            meanwhile = f" Until then the grid shows the tags of {chosen}." if chosen else ""
            self.untagged_label.setText(f"This model has not tagged these photos yet.{meanwhile}")
            shown = not self.running
        else:
            shown = count > 0 and not self.running
            if shown:
                photos = "1 photo is" if count == 1 else f"{count:,} photos are"
                by = f" by {model}" if model else ""
                self.untagged_label.setText(f"{photos} not tagged yet{by}")
        self.untagged_row.setVisible(shown)

    def show_default_changed(self, photos: int, new_name: str = "") -> None:
        """Say that the library's photos were tagged with an earlier default model (``photos`` of them;
        0 hides the notice), with the button that re-tags them with ``new_name``, the shipped one."""
        shown = photos > 0 and not self.running
        self._default_changed = shown
        if shown:
            which = f" ({new_name})" if new_name else ""
            self.default_changed_label.setText(
                f"The default model has changed{which}. This library's {photos:,} "
                f"photo{'' if photos == 1 else 's'} still show the earlier default's tags. "
                "Re-tag to get the new one's; your own tags and reviews stay as they are."
            )
        self.default_changed_row.setVisible(shown)
        self._show_untagged_row()

    def show_missing_embeddings(self, photos: int) -> None:
        """Say how many photos the model tagged before similar-photo search existed (0 hides the notice),
        with the button that re-tags just those."""
        shown = photos > 0 and not self.running
        if shown:
            were = "1 photo was" if photos == 1 else f"{photos:,} photos were"
            self.embeddings_label.setText(
                f"{were} tagged before similar-photo search existed: re-tag them to find similar photos and "
                "let the library's adapter learn from them"
            )
        self.embeddings_row.setVisible(shown)

    def add_failures(self, failures: list[tuple[str, str]]) -> None:
        for path, reason in failures:
            item = QListWidgetItem(f"{os.path.basename(str(path))}: {reason}")
            item.setToolTip(f"{path}\n{reason}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            self.failed_list.addItem(item)
        shown = self.failed_list.count() > 0
        self.failed_label.setText(f"Failed files ({self.failed_list.count()})")
        self.failed_label.setVisible(shown)
        self.failed_list.setVisible(shown)

    def say(self, text: str) -> None:
        """A line under the progress bar ("Waiting for training to finish…")."""
        self.rate_label.setText(text)

    def show_finished(self, text: str) -> None:
        self.set_running(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        self.rate_label.setText(text)

    def stop(self) -> None:
        if self._probe is not None and not self._probe.wait(10_000):
            self._probe.kill()
