"""The Train tab's dataset builder: data sources in any mix, split settings, and the labels a run would
learn with their counts per split, counted by the trainer's ``--preview`` in a child process."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.gui import settings
from fashion_desktop.gui.appearance import PROBLEM, problem_colour, problem_style, warning_colour
from fashion_desktop.gui.train.train_process import lower_priority
from fashion_desktop.gui.window_words import for_window
from fashion_desktop.gui.worker import Child, ProcessWorker, trainer_child
from fashion_desktop.model.label_mapping import (
    TARGET_SEPARATOR,
    MappingFileError,
    mapping_key,
    read_mapping_rows,
    write_mapping_csv,
)
from fashion_desktop.model.protocol import DATASET_PREVIEW, TrainEvent

PREVIEW_DELAY_MS = 500  # edits within this long of each other are counted once
SPLITS = ("train", "val", "test")

# Source kinds: how the person added it (the trainer recognises each from the path itself).
KINDS = {
    "library": "Library",
    "folders": "Class folders",
    "spreadsheet": "Spreadsheet",
    "imaterialist": "iMaterialist 2019",
    "fashionpedia": "Fashionpedia",
}
LIBRARY_MODES = (("reviewed", "Reviewed photos only"), ("confident", "Reviewed + confident predictions"))
_CATALOG_SUFFIXES = (".ffcat", ".db", ".sqlite", ".sqlite3", ".fcat", ".catalog")
_SHEET_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xlsm", ".xls")
_ERROR = QColor(PROBLEM[0])  # a problem row's text in the light scheme


def default_preview_child(args: Sequence[str]) -> Child:
    """``python -m trainer train --events ARGS --preview``, below the window's priority like a run."""
    return lower_priority(trainer_child("train", [*args, "--preview"]))


def data_args(entries: Sequence[Any]) -> list[str]:
    """The trainer's options for data ``entries``: ``--data PATH`` each while all are plain paths, else
    one ``--set data=[...]`` (a YAML list, as JSON) that carries the entries' options too."""
    if all(isinstance(e, str) for e in entries):
        return [a for e in entries for a in ("--data", e)]
    return ["--set", "data=" + json.dumps(list(entries))]


def guess_kind(path: str, catalog_path: str | None = None) -> str:
    """The kind of source ``path`` looks like (for a source restored or given as a bare path)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if path == catalog_path or suffix in _CATALOG_SUFFIXES:
        return "library"
    if suffix == ".json":
        return "fashionpedia"
    if p.is_dir():
        if (p / "train.csv").is_file() and (p / "label_descriptions.json").is_file():
            return "imaterialist"
        return "folders"
    if suffix in _SHEET_SUFFIXES:
        if p.name.casefold() == "train.csv" and (p.parent / "label_descriptions.json").is_file():
            return "imaterialist"
        return "spreadsheet"
    return "folders" if not suffix else "spreadsheet"


def rules_text(preview: dict[str, Any]) -> str:
    """What a run on the previewed data keeps and loses, for a person: labels too rare to be learnt at
    all (the trainer leaves them out: the new model will not have them), one-value groups lost for want
    of a second value with training photos, and the group rules it keeps ("" when there is nothing)."""
    lines = []
    dropped = [str(x) for x in preview.get("dropped") or []]
    if dropped:
        need = int(preview.get("min_label_count") or 1)
        it = "it" if len(dropped) == 1 else "them"
        few = f"no training photo has {it}" if need <= 1 else f"fewer than {need} training photos have {it}"
        shown = ", ".join(dropped[:30]) + (f" and {len(dropped) - 30} more" if len(dropped) > 30 else "")
        them = "this label" if len(dropped) == 1 else f"these {len(dropped)} labels"
        lines.append(f"Not learnt ({few}), so the new model will not have {them}: {shown}.")
    lost = [str(g) for g in preview.get("lost_exclusive") or []]
    if lost:
        lines.append(
            "One value per photo is lost for " + ", ".join(lost) + ": fewer than two of its values have "
            "training photos."
        )
    kept = [str(g) for g in preview.get("exclusive_groups") or []]
    if kept:
        lines.append("One value per photo in " + ", ".join(kept) + ".")
    every = [str(g) for g in preview.get("at_least_one_groups") or []]
    if every:
        lines.append("Every photo gets a value in " + ", ".join(every) + ".")
    return "\n".join(lines)


@dataclass
class Source:
    """One data source as the person set it up: kind, path and its options."""

    kind: str
    path: str
    mapping: str = ""  # a label mapping file for this source ("" = its labels as they are)
    confident_predictions: bool = False  # library: unreviewed photos with the model's confident answers
    key_column: str = ""  # spreadsheet: the column whose rows stay together in one split

    def entry(self) -> str | dict[str, Any]:
        """The trainer's data entry: the bare path, or a dict when an option is set."""
        options: dict[str, Any] = {}
        if self.mapping:
            options["mapping"] = self.mapping
        if self.kind == "library" and self.confident_predictions:
            options["confident_predictions"] = True
        if self.kind == "spreadsheet" and self.key_column.strip():
            options["key_column"] = self.key_column.strip()
        return {"path": self.path, **options} if options else self.path

    @classmethod
    def from_entry(cls, entry: Any, catalog_path: str | None = None) -> Source | None:
        """A source from a trainer data entry (path or dict) or a saved state dict; None when unusable."""
        if isinstance(entry, str):
            return cls(guess_kind(entry, catalog_path), entry) if entry else None
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not entry["path"]:
            return None
        path = entry["path"]
        kind = entry.get("kind") if entry.get("kind") in KINDS else guess_kind(path, catalog_path)
        return cls(
            kind,
            path,
            str(entry.get("mapping") or ""),
            entry.get("confident_predictions") is True,
            str(entry.get("key_column") or ""),
        )


class DatasetBuilder(QWidget):
    """Sources (kind, path, photos, mapping, options), split settings, and the preview: the labels with
    positives per split and the trainer's warnings, or its error when a source cannot be read.

    ``preview_factory(args) -> Child`` makes the preview command (tests may inject a fake). The preview
    runs while the builder is shown, PREVIEW_DELAY_MS after the last change; a change while it runs
    stops it and counts again. ``changed`` is emitted when the person changes the sources or splits.
    """

    changed = Signal()
    preview_changed = Signal()  # a preview answered, failed or started counting
    SOURCE, PHOTOS, MAPPING, OPTIONS = range(4)  # the source table's columns

    def __init__(
        self,
        preview_factory: Callable[[Sequence[str]], Child] = default_preview_child,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.preview_factory = preview_factory
        self.catalog_path: str | None = None
        self.sources: list[Source] = []
        self.preview: dict[str, Any] | None = None  # the last answer's fields
        self.preview_error: str | None = None
        self.worker: ProcessWorker | None = None
        self.mapping_dialog: MappingDialog | None = None
        self.previews_started = 0
        self._dirty = True
        self._quiet = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._run_preview)
        self._build()
        self._show_idle()

    # -- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._build_sources(layout)
        self._build_add_buttons(layout)
        self._build_splits(layout)
        self._build_preview(layout)

    def _build_sources(self, layout: QVBoxLayout) -> None:
        title = QHBoxLayout()
        title.addWidget(QLabel("<b>Data sources</b>"))
        title.addStretch(1)
        self.remove_source_button = QPushButton("Remove")
        self.remove_source_button.setToolTip("Remove the selected sources")
        title.addWidget(self.remove_source_button)
        layout.addLayout(title)
        self.source_table = QTableWidget(0, 4)
        self.source_table.setHorizontalHeaderLabels(["Source", "Photos", "Mapping", "Options"])
        self.source_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.source_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.source_table.verticalHeader().setVisible(False)
        self.source_table.setWordWrap(False)
        header = self.source_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.SOURCE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(self.OPTIONS, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(self.OPTIONS, 125)  # a library's mode or a sheet's group column
        self.source_table.setMinimumHeight(90)
        self.source_table.setMaximumHeight(170)
        layout.addWidget(self.source_table)

    def _build_add_buttons(self, layout: QVBoxLayout) -> None:
        row = QHBoxLayout()
        row.addWidget(QLabel("Add"))
        self.add_folder_button = QPushButton("&Folder…")
        self.add_folder_button.setToolTip(
            "A folder of class folders (folder/<label>/*.jpg, optionally under train/val/test)"
        )
        self.add_sheet_button = QPushButton("&Spreadsheet…")
        self.add_sheet_button.setToolTip(
            "A spreadsheet in the original study's layout (ImageId, CategoryName, Split) or image, tags"
        )
        self.add_dataset_button = QPushButton("&Dataset…")
        self.add_dataset_button.setToolTip("iMaterialist 2019 (train.csv) or Fashionpedia / COCO (.json)")
        self.add_library_button = QPushButton("&Library")
        self.add_library_button.setToolTip("The open library's reviewed photos")
        self.add_library_button.setEnabled(False)
        for b in (
            self.add_folder_button,
            self.add_sheet_button,
            self.add_dataset_button,
            self.add_library_button,
        ):
            row.addWidget(b)
        layout.addLayout(row)
        self.add_folder_button.clicked.connect(self._add_folder)
        self.add_sheet_button.clicked.connect(self._add_sheet)
        self.add_dataset_button.clicked.connect(self._add_dataset)
        self.add_library_button.clicked.connect(self.add_library)
        self.remove_source_button.clicked.connect(self.remove_selected)

    def _build_splits(self, layout: QVBoxLayout) -> None:
        split = QFormLayout()
        self.val_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.9, singleStep=0.05, value=0.1)
        self.test_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.9, singleStep=0.05, value=0.1)
        self.seed_spin = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed_spin.setToolTip("Which photos land in which split (the same seed gives the same split)")
        fractions = QHBoxLayout()
        fractions.addWidget(QLabel("validation"))
        fractions.addWidget(self.val_spin)
        fractions.addWidget(QLabel("test"))
        fractions.addWidget(self.test_spin)
        fractions.addWidget(QLabel("seed"))
        fractions.addWidget(self.seed_spin)
        split.addRow("Split", fractions)
        layout.addLayout(split)
        for spin in (self.val_spin, self.test_spin, self.seed_spin):
            spin.valueChanged.connect(self._edited)

    def _build_preview(self, layout: QVBoxLayout) -> None:
        """The preview's answer: its status line, the labels with positives per split, its warnings."""
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status_label)
        self.labels_table = QTableWidget(0, 5)
        self.labels_table.setHorizontalHeaderLabels(["Label", "Group", "Train", "Val", "Test"])
        self.labels_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.labels_table.verticalHeader().setVisible(False)
        lh = self.labels_table.horizontalHeader()
        lh.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the trainer's order until a header is clicked
        self.labels_table.setSortingEnabled(True)
        lh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        lh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.labels_table.setMinimumHeight(140)
        layout.addWidget(self.labels_table)
        self.warnings_label = QLabel()
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings_label.setStyleSheet(f"color: {warning_colour().name()};")
        # What the model would keep and lose, in words, before Start (labels too rare to learn at all,
        # group rules kept or lost).
        self.rules_label = QLabel()
        self.rules_label.setWordWrap(True)
        self.rules_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.rules_label)
        layout.addWidget(self.warnings_label)

    # -- sources -----------------------------------------------------------------------------
    def set_catalog_path(self, path: str | os.PathLike | None) -> None:
        """The open library's catalog (the "Add library" source; the trainer reads it read-only)."""
        self.catalog_path = str(path) if path else None
        self.add_library_button.setEnabled(self.catalog_path is not None)

    def add_source(self, path: str, kind: str | None = None) -> bool:
        """Add ``path`` as a source of ``kind`` (guessed from the path when None); False when it is empty
        or already a source."""
        if not path or any(s.path == path for s in self.sources):
            return False
        self.sources.append(Source(kind if kind in KINDS else guess_kind(path, self.catalog_path), path))
        self._sources_changed()
        return True

    @Slot()
    def add_library(self) -> bool:
        return bool(self.catalog_path) and self.add_source(str(self.catalog_path), "library")

    @Slot()
    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.source_table.selectedIndexes()}, reverse=True)
        for r in rows:
            del self.sources[r]
        if rows:
            self._sources_changed()

    def clear(self) -> None:
        """Remove every source."""
        self.sources = []
        self._sources_changed()

    def set_library_mode(self, row: int, confident: bool) -> None:
        """Library source ``row``: reviewed photos only, or with the model's confident predictions."""
        combo = self.source_table.cellWidget(row, self.OPTIONS)
        if isinstance(combo, QComboBox):
            combo.setCurrentIndex(1 if confident else 0)

    def set_mapping(self, row: int, path: str) -> None:
        """Use mapping file ``path`` for source ``row`` ("" = none)."""
        self.sources[row].mapping = path
        self._sources_changed()

    def data_entries(self) -> list[Any]:
        """The trainer's ``data`` entries, in order (bare paths, or dicts with options)."""
        return [s.entry() for s in self.sources]

    def split_overrides(self) -> dict[str, Any]:
        return {
            "val_fraction": round(self.val_spin.value(), 4),
            "test_fraction": round(self.test_spin.value(), 4),
            "seed": self.seed_spin.value(),
        }

    def state(self) -> dict[str, Any]:
        """Sources with their kinds and options, and the split settings (what the settings remember)."""
        return {"sources": [dataclasses.asdict(s) for s in self.sources], **self.split_overrides()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Set sources and splits from ``state()`` keys (unknown or bad values are skipped)."""
        self._quiet = True
        try:
            if isinstance(state.get("sources"), list):
                self.set_entries(state["sources"])
            for key, spin in (("val_fraction", self.val_spin), ("test_fraction", self.test_spin)):
                if isinstance(state.get(key), (int, float)) and not isinstance(state.get(key), bool):
                    spin.setValue(float(state[key]))
            if isinstance(state.get("seed"), int) and not isinstance(state.get("seed"), bool):
                self.seed_spin.setValue(state["seed"])
        finally:
            self._quiet = False
        self._edited()

    def set_entries(self, entries: Sequence[Any]) -> None:
        """Set the sources from data entries or saved sources; a path already listed keeps its options."""
        known = {s.path: s for s in self.sources}
        out: list[Source] = []
        for entry in entries:
            source = Source.from_entry(entry, self.catalog_path)
            if source is None or any(s.path == source.path for s in out):
                continue
            if isinstance(entry, str) and entry in known:
                source = known[entry]
            out.append(source)
        self.sources = out
        self._sources_changed()

    def _add_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder of class folders")
        if path:
            self.add_source(path, "folders")

    def _add_sheet(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Spreadsheet", "", "Spreadsheets (*.csv *.tsv *.xlsx *.xlsm *.xls)"
        )
        if path:
            self.add_source(path, "spreadsheet")

    def _add_dataset(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "iMaterialist 2019 train.csv or Fashionpedia annotations",
            "",
            "iMaterialist train.csv or Fashionpedia json (*.csv *.json)",
        )
        if path:
            self.add_source(path, "fashionpedia" if path.lower().endswith(".json") else "imaterialist")

    def _sources_changed(self) -> None:
        self._fill_sources()
        self._edited()

    def _fill_sources(self) -> None:
        """Rebuild the source rows (after adding, removing or restoring sources)."""
        t = self.source_table
        t.setRowCount(0)  # deletes the rows' widgets: a row's options follow its source, not its place
        t.setRowCount(len(self.sources))
        for r, s in enumerate(self.sources):
            button = QPushButton()
            name = Path(s.mapping).name if s.mapping else "Edit…"
            button.setText(button.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, 110))
            button.setToolTip(
                s.mapping or "Map this source's labels to the labels to train (or leave some out)"
            )
            button.setFlat(True)
            button.clicked.connect(lambda _=False, row=r: self.edit_mapping(row))
            t.setCellWidget(r, self.MAPPING, button)
            options = self._options_widget(s)
            if options is not None:
                t.setCellWidget(r, self.OPTIONS, options)
        self._update_source_items()

    def _update_source_items(self) -> None:
        """Each row's kind and name (the full path as tooltip) and photos, in red where the preview's
        error names its path or mapping file (option widgets stay as they are: a group column being
        typed keeps its focus)."""
        inputs = (self.preview or {}).get("inputs")
        inputs = inputs if isinstance(inputs, list) and len(inputs) == len(self.sources) else None
        error = self.preview_error or ""
        for r, s in enumerate(self.sources):
            source = QTableWidgetItem(f"{KINDS.get(s.kind, s.kind)}: {Path(s.path).name or s.path}")
            source.setToolTip(s.path)
            photos = QTableWidgetItem("")
            if inputs is not None and isinstance(inputs[r], dict):
                photos.setText(str(inputs[r].get("images", "")))
                photos.setToolTip(f"read by the trainer as {inputs[r].get('source', '')}")
            photos.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            named = error and (s.path in error or (s.mapping and Path(s.mapping).name in error))
            for c, item in ((self.SOURCE, source), (self.PHOTOS, photos)):
                if named:
                    item.setForeground(QBrush(problem_colour()))
                    item.setToolTip(f"{s.path}\n{error}")
                self.source_table.setItem(r, c, item)

    def _options_widget(self, s: Source) -> QWidget | None:
        if s.kind == "library":
            combo = QComboBox()
            for key, text in LIBRARY_MODES:
                combo.addItem(text, key)
            combo.setCurrentIndex(1 if s.confident_predictions else 0)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)  # the column stays narrow; the list shows the whole text
            combo.setToolTip(
                "Confident predictions: unreviewed photos count too, with only the labels the model is "
                "sure about (far from its threshold)"
            )
            combo.currentIndexChanged.connect(lambda i, src=s: self._library_mode_chosen(src, i))
            return combo
        if s.kind == "spreadsheet":
            edit = QLineEdit(s.key_column)
            edit.setPlaceholderText("group column (optional)")
            edit.setToolTip("Rows with the same value in this column stay in one split (e.g. a product id)")
            edit.textChanged.connect(lambda text, src=s: self._key_column_edited(src, text))
            return edit
        return None

    def _library_mode_chosen(self, source: Source, index: int) -> None:
        source.confident_predictions = LIBRARY_MODES[index][0] == "confident"
        self._edited()

    def _key_column_edited(self, source: Source, text: str) -> None:
        source.key_column = text
        self._edited()

    # -- the mapping dialog ------------------------------------------------------------------------
    def source_labels(self, row: int) -> list[str]:
        """Source ``row``'s own label names as the last preview read them (empty before one answered)."""
        inputs = (self.preview or {}).get("inputs")
        if isinstance(inputs, list) and len(inputs) == len(self.sources) and isinstance(inputs[row], dict):
            labels = inputs[row].get("labels")
            same = os.path.normpath(str(inputs[row].get("path"))) == os.path.normpath(self.sources[row].path)
            if isinstance(labels, list) and same:
                return [str(x) for x in labels]
        return []

    def edit_mapping(self, row: int) -> MappingDialog:
        """Open the mapping table of source ``row`` (not modal to the app: the builder stays live)."""
        s = self.sources[row]
        stem = "library" if s.kind == "library" else Path(s.path).stem or "source"
        dialog = MappingDialog(self.source_labels(row), s.mapping, _free_mapping_path(stem), self)
        dialog.setWindowTitle(f"Label mapping: {Path(s.path).name}")
        dialog.finished.connect(lambda _result, d=dialog, src=s: self._mapping_done(d, src))
        self.mapping_dialog = dialog
        dialog.open()
        return dialog

    def _mapping_done(self, dialog: MappingDialog, source: Source) -> None:
        rows = [r for r, s in enumerate(self.sources) if s is source]  # still listed (not removed meanwhile)
        if dialog.chosen is not None and rows:
            self.set_mapping(rows[0], dialog.chosen)
        dialog.deleteLater()
        if self.mapping_dialog is dialog:
            self.mapping_dialog = None

    # -- the preview ---------------------------------------------------------------------------
    def _edited(self, *_: Any) -> None:
        if self._quiet:
            return
        self.refresh()
        self.changed.emit()

    def refresh(self) -> None:
        """Count again, PREVIEW_DELAY_MS after the last call (while the builder is shown)."""
        self._dirty = True
        if self.isVisible():
            self._timer.start(PREVIEW_DELAY_MS)

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._dirty:
            self._timer.start(PREVIEW_DELAY_MS)

    def preview_args(self) -> list[str]:
        """The trainer options the preview runs with: the data entries and the split settings."""
        args = data_args(self.data_entries())
        for key, value in self.split_overrides().items():
            args += ["--set", f"{key}={json.dumps(value)}"]
        return args

    def busy(self) -> bool:
        """True while a preview is counting (or one is due)."""
        return self.worker is not None or self._timer.isActive()

    def _run_preview(self) -> None:
        if self.worker is not None:  # out of date: stop it; its end starts the next one
            self.worker.cancel()
            return
        if not self._dirty or not self.isVisible():
            return
        self._dirty = False
        if not self.sources:
            self.preview, self.preview_error = None, None
            self._show_idle()
            return
        problem = self._split_problem()
        if problem:
            self._show_error(problem, "")
            return
        worker = ProcessWorker(self.preview_factory(self.preview_args()), name="dataset preview", parent=self)
        worker.wired(
            lambda _event: None, lambda result: self._answered(worker, result), self._failed_with(worker)
        )
        self.worker = worker
        self.previews_started += 1
        self.status_label.setStyleSheet("")
        self.status_label.setText("Counting…")
        self.labels_table.setEnabled(False)
        self.preview_changed.emit()
        worker.start()

    def _split_problem(self) -> str | None:
        if self.val_spin.value() + self.test_spin.value() >= 1:
            return "The validation and test fractions must add up to less than 1."
        return None

    def _failed_with(self, worker: ProcessWorker) -> Callable[[str], None]:
        return lambda message: self._answered(worker, None, message)

    def _answered(self, worker: ProcessWorker, result: Any, message: str | None = None) -> None:
        if worker is not self.worker:
            return
        self.worker = None
        worker.deleteLater()
        if self._dirty or worker.cancelled:  # the sources changed meanwhile: this answer is stale
            self._dirty = True
            self._timer.start(0)
            return
        if message is not None:
            self._show_error(for_window(message))
        elif isinstance(result, TrainEvent) and result.name == DATASET_PREVIEW:
            self._show_preview(dict(result.fields))
        else:
            self._show_error("the trainer ended without counting the data")

    def _show_idle(self) -> None:
        self.status_label.setStyleSheet("")
        self.status_label.setText("Add a source to see its labels and how many photos each split gets.")
        self.labels_table.setRowCount(0)
        self.warnings_label.setText("")
        self.rules_label.setText("")
        self._update_source_items()
        self.preview_changed.emit()

    def _show_error(self, message: str, prefix: str = "Cannot read the data: ") -> None:
        self.preview, self.preview_error = None, message
        self.status_label.setStyleSheet(problem_style())
        self.status_label.setText(prefix + message)
        self.labels_table.setRowCount(0)
        self.labels_table.setEnabled(True)
        self.warnings_label.setText("")
        self.rules_label.setText("")
        self._update_source_items()
        self.preview_changed.emit()

    def _show_preview(self, p: dict[str, Any]) -> None:
        self.preview, self.preview_error = p, None
        labels = [str(x) for x in p.get("labels") or []]
        counts = p.get("counts") if isinstance(p.get("counts"), dict) else {}
        groups = p.get("groups") if isinstance(p.get("groups"), dict) else {}
        images = p.get("images") if isinstance(p.get("images"), dict) else {}
        rare = set(p.get("rare") or [])
        t = self.labels_table
        t.setSortingEnabled(False)
        t.setRowCount(len(labels))
        for r, lab in enumerate(labels):
            name = QTableWidgetItem(("⚠ " if lab in rare else "") + lab)
            cells = [name, QTableWidgetItem(str(groups.get(lab, "")))]
            for split in SPLITS:
                n = (counts.get(split) or {}).get(lab, 0)
                item = QTableWidgetItem()
                item.setData(Qt.ItemDataRole.DisplayRole, int(n) if isinstance(n, int) else 0)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                cells.append(item)
            for c, item in enumerate(cells):
                if lab in rare:
                    item.setForeground(QBrush(warning_colour()))
                    item.setToolTip("few training examples: this label will be learnt poorly")
                t.setItem(r, c, item)
        t.setSortingEnabled(True)
        t.setEnabled(True)
        total = sum(int(images.get(s, 0) or 0) for s in SPLITS)
        per = " · ".join(f"{s} {int(images.get(s, 0) or 0)}" for s in SPLITS)
        self.status_label.setStyleSheet("")
        self.status_label.setText(f"{total} photos, {len(labels)} labels: {per}")
        warnings = [for_window(str(w)) for w in p.get("warnings") or []]
        self.warnings_label.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.rules_label.setText(rules_text(p))
        self._update_source_items()
        self.preview_changed.emit()

    def label_counts(self) -> dict[str, tuple[int, int, int]]:
        """What the label table shows: label -> positives in train, val, test (from the last preview)."""
        counts = (self.preview or {}).get("counts") or {}

        def n(split: str, lab: str) -> int:
            return int((counts.get(split) or {}).get(lab, 0))

        return {
            lab: (n("train", lab), n("val", lab), n("test", lab))
            for lab in (self.preview or {}).get("labels") or []
        }

    def shutdown(self, msecs: int = 5_000) -> None:
        """Stop a preview that is counting (closing the window); nothing is lost."""
        self._timer.stop()
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.cancel()
            if not worker.wait(msecs):
                worker.kill()


def _free_mapping_path(stem: str) -> str:
    """``<data dir>/mappings/<stem>-mapping.csv``, numbered when that file exists already."""
    folder = settings.data_dir() / "mappings"
    path = folder / f"{stem}-mapping.csv"
    n = 2
    while path.exists():
        path = folder / f"{stem}-mapping-{n}.csv"
        n += 1
    return str(path)


class MappingDialog(QDialog):
    """A source's labels in a table: source label -> target label(s) (``|`` between several), or
    excluded. Saving writes the CSV mapping file the trainer reads; ``chosen`` is then the file to use
    ("" for "no mapping"), None when cancelled.

    Rows: the mapping file's own rows first, then the source's labels it does not list (each as
    itself when there is no file yet; left out, as the trainer does, when the file does not list it).
    """

    COLUMNS = ("Source label", f"Target label(s), {TARGET_SEPARATOR} between several", "Leave out")

    def __init__(
        self,
        source_labels: Sequence[str],
        mapping_path: str,
        default_path: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.chosen: str | None = None
        self.resize(560, 460)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.table)
        rows_box = QHBoxLayout()
        self.add_row_button = QPushButton("Add row")
        self.remove_row_button = QPushButton("Remove row")
        rows_box.addWidget(self.add_row_button)
        rows_box.addWidget(self.remove_row_button)
        rows_box.addStretch(1)
        layout.addLayout(rows_box)
        self.add_row_button.clicked.connect(lambda: self.add_row("", "", False))
        self.remove_row_button.clicked.connect(self._remove_rows)
        path_box = QHBoxLayout()
        path_box.addWidget(QLabel("Saved as"))
        self.path_edit = QLineEdit(mapping_path or default_path)
        path_box.addWidget(self.path_edit, 1)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        path_box.addWidget(self.browse_button)
        layout.addLayout(path_box)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(problem_style())
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = buttons.addButton("Save and use", QDialogButtonBox.ButtonRole.AcceptRole)
        self.no_mapping_button = buttons.addButton("Use no mapping", QDialogButtonBox.ButtonRole.ResetRole)
        self.save_button.clicked.connect(self.save)
        self.no_mapping_button.clicked.connect(self._no_mapping)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._fill(source_labels, mapping_path)

    def _fill(self, source_labels: Sequence[str], mapping_path: str) -> None:
        listed: set[str] = set()
        if mapping_path:
            try:
                for row in read_mapping_rows(mapping_path):
                    self.add_row(row.source, f" {TARGET_SEPARATOR} ".join(row.targets), not row.targets)
                    listed.add(mapping_key(row.source))
            except MappingFileError as exc:
                self.error_label.setText(str(exc))
        for lab in source_labels:
            if mapping_key(lab) not in listed:
                listed.add(mapping_key(lab))
                left_out = bool(mapping_path)  # a file that does not list a label leaves it out
                self.add_row(lab, "" if left_out else lab, left_out)

    def add_row(self, source: str, targets: str, excluded: bool) -> int:
        r = self.table.rowCount()
        self.table.insertRow(r)
        self.table.setItem(r, 0, QTableWidgetItem(source))
        self.table.setItem(r, 1, QTableWidgetItem(targets))
        check = QTableWidgetItem()
        check.setFlags(
            Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        )
        check.setCheckState(Qt.CheckState.Checked if excluded else Qt.CheckState.Unchecked)
        self.table.setItem(r, 2, check)
        return r

    def row_of(self, source: str) -> int:
        """The table row of source label ``source`` (-1 when absent)."""
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None and mapping_key(item.text()) == mapping_key(source):
                return r
        return -1

    def rows(self) -> list[tuple[str, list[str]]]:
        """(source label, targets) per row with a source label; a left-out row has no targets."""
        out: list[tuple[str, list[str]]] = []
        for r in range(self.table.rowCount()):
            src = (self.table.item(r, 0).text() if self.table.item(r, 0) else "").strip()
            if not src:
                continue
            excluded = self.table.item(r, 2).checkState() == Qt.CheckState.Checked
            text = self.table.item(r, 1).text() if self.table.item(r, 1) else ""
            targets = [] if excluded else [t.strip() for t in text.split(TARGET_SEPARATOR) if t.strip()]
            out.append((src, targets))
        return out

    def _remove_rows(self) -> None:
        for r in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(r)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Label mapping", self.path_edit.text(), "CSV (*.csv)")
        if path:
            self.path_edit.setText(path)

    @Slot()
    def save(self) -> bool:
        """Write the table to the chosen file and close; False (with the reason shown) when it cannot."""
        path = self.path_edit.text().strip()
        if not path:
            self.error_label.setText("Choose where to save the mapping file.")
            return False
        if Path(path).suffix.lower() != ".csv":
            self.error_label.setText(f"{path}: the mapping is saved as CSV; end the name with .csv")
            return False
        try:
            write_mapping_csv(path, self.rows())
        except MappingFileError as exc:
            self.error_label.setText(str(exc))
            return False
        self.chosen = path
        self.accept()
        return True

    def _no_mapping(self) -> None:
        self.chosen = ""
        self.accept()
