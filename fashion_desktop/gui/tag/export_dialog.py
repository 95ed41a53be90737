"""Export dialog: CSV, XLSX, the original study's layout, XMP sidecars or keywords inside the photos."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop import __version__
from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.exiftool import find_exiftool
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.gui import settings
from fashion_desktop.gui.appearance import problem_style
from fashion_desktop.gui.worker import Worker


@dataclass(frozen=True)
class ExportFormat:
    key: str
    title: str
    suffix: str  # "" for sidecars (no single output file)
    file_filter: str


FORMATS: tuple[ExportFormat, ...] = (
    ExportFormat("csv", "CSV (one row per photo)", ".csv", "CSV files (*.csv)"),
    ExportFormat("xlsx", "Excel workbook (.xlsx)", ".xlsx", "Excel workbooks (*.xlsx)"),
    ExportFormat(
        "seed",
        "The original Fashion Finder study's spreadsheet (ImageId, Category, CategoryName, Split columns)",
        ".xlsx",
        "Excel workbooks (*.xlsx);;CSV files (*.csv)",
    ),
    ExportFormat("xmp", "XMP sidecars beside each photo (Lightroom, digiKam, Bridge)", "", ""),
    ExportFormat(
        "keywords", "Keywords into the photos (Lightroom, Finder, Windows; raw and HEIC get sidecars)", "", ""
    ),
)
SIDECAR_FORMATS = ("xmp", "keywords")  # no output file; the sidecar naming applies
KEYWORDS_HINT = (
    "Keywords go into the photos themselves (JPEG, TIFF, PNG, DNG), where Lightroom, Finder and Windows show"
    " them; raw and HEIC photos get a .xmp file beside them. Pixels, other details and keywords set in other"
    " programs stay as they are; read-only photos and photos changed since the last scan are left alone."
)
NO_EXIFTOOL_HINT = (
    "Writing keywords into photos needs ExifTool, which is not installed. Install it from exiftool.org (on"
    " Debian or Ubuntu the libimage-exiftool-perl package, on a Mac Homebrew's exiftool), then open this"
    " window again. XMP sidecars work without it."
)
_BY_KEY = {f.key: f for f in FORMATS}

SCOPES = ("all", "filtered", "selected")


@dataclass(frozen=True)
class ExportOutcome:
    """How an export run ended, as the dialog reports it."""

    ok: bool
    message: str
    rows: int = 0
    path: str = ""
    cancelled: bool = False
    problems: list[str] = field(default_factory=list)


class _Relay(QObject):
    """Carries progress callbacks from the worker thread to the dialog (queued across threads)."""

    progressed = Signal(int, int)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _write_keywords(
    catalog, model_key, policy, image_ids, defaults, naming, progress, cancel
) -> ExportOutcome:
    """The photos' final tags written as keywords into them (raw and HEIC: sidecars), as an outcome."""
    from fashion_desktop.core.exiftool import ExifToolMissing
    from fashion_desktop.core.photo_keywords import write_catalog_keywords

    try:
        report = write_catalog_keywords(
            catalog, model_key, policy, image_ids, defaults=defaults, naming=naming, progress=progress,
            cancel=cancel,
        )  # fmt: skip
    except ExifToolMissing:
        return ExportOutcome(False, NO_EXIFTOOL_HINT)
    msg = f"Wrote keywords into {_plural(len(report.written), 'photo')}"
    if report.sidecars:
        msg += f" and {_plural(len(report.sidecars), 'XMP sidecar')}"
    if report.unchanged:
        msg += f"; {len(report.unchanged)} already had them"
    problems = [f"{p}: {reason}" for p, reason in report.skipped]
    if problems:
        msg += f"; {_plural(len(problems), 'photo')} skipped"
    if report.cancelled:
        return ExportOutcome(False, f"Stopped. {msg}; the other photos were left as they were.")
    return ExportOutcome(True, msg, len(report.written) + len(report.sidecars), "", problems=problems)


class ExportDialog(QDialog):
    """Choose format, scope, columns and file; the export runs in a worker and can be cancelled.

    ``exported(message)`` is emitted after a successful export with the row count and path, for the
    status bar; the dialog then closes (it stays open to list per-photo sidecar problems).
    ``defaults`` are the model's tuned per-label thresholds; when omitted the export uses the ones
    the catalog recorded for ``model_key``.
    """

    exported = Signal(str)

    def __init__(
        self,
        catalog: Catalog,
        model_key: str | None,
        policy: ThresholdPolicy,
        filtered_ids: list[int],
        selected_ids: list[int],
        parent: QWidget | None = None,
        *,
        defaults: Sequence[float] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export tags")
        self.setModal(True)
        self._catalog = catalog
        self._model_key = model_key
        self._policy = policy
        self._ids = {"filtered": list(filtered_ids), "selected": list(selected_ids)}
        self._defaults = list(defaults) if defaults is not None else None
        self._model = catalog.model(model_key) if model_key else None
        self._worker: Worker | None = None
        self._close_when_done = False
        self._outcome: ExportOutcome | None = None
        self._relay = _Relay(self)
        self._relay.progressed.connect(self._on_progress)

        self.format_combo = QComboBox()
        for fmt in FORMATS:
            self.format_combo.addItem(fmt.title, fmt.key)
        scope_box = self._build_scope_box(catalog.count())
        self.columns_box = self._build_columns_box()
        path_row = self._build_path_row()
        self._build_progress_and_buttons()
        self._lay_out(path_row, scope_box)
        self._last_format = "csv"
        self.path_edit.setText(str(self._default_path(_BY_KEY["csv"])))
        remembered = settings.get_str(settings.EXPORT_FORMAT, "csv")
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        if remembered in _BY_KEY and remembered != "csv":
            self.format_combo.setCurrentIndex(self.format_combo.findData(remembered))
        self._apply_format()
        self.browse_button.clicked.connect(self._browse)
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self.reject)

    def _build_scope_box(self, total: int) -> QGroupBox:
        """All / filtered / selected photos, each with its count (a scope with none is disabled)."""
        scope_box = QGroupBox("Photos")
        scope_layout = QVBoxLayout(scope_box)
        self.scope_group = QButtonGroup(self)
        self.scope_buttons: dict[str, QRadioButton] = {}
        counts = {"all": total, **{k: len(v) for k, v in self._ids.items()}}
        titles = {
            "all": "All photos",
            "filtered": "Photos shown by the current filter",
            "selected": "Selected photos",
        }
        for i, scope in enumerate(SCOPES):
            button = QRadioButton(f"{titles[scope]} ({counts[scope]})")
            button.setEnabled(counts[scope] > 0)
            self.scope_group.addButton(button, i)
            self.scope_buttons[scope] = button
            scope_layout.addWidget(button)
        self.scope_buttons["all"].setChecked(True)
        return scope_box

    def _build_columns_box(self) -> QGroupBox:
        """The optional columns; those that need a model are disabled without one."""
        columns_box = QGroupBox("Columns")
        columns_layout = QVBoxLayout(columns_box)
        columns_layout.addWidget(QLabel("Path and final tags are always included."))
        group_names = self._group_names()
        self.groups_check = QCheckBox(
            f"One column per label group ({', '.join(group_names)})"
            if group_names
            else "One column per label group"
        )
        self.groups_check.setChecked(bool(group_names))
        self.groups_check.setEnabled(bool(group_names))
        self.scores_check = QCheckBox("Model scores (one column per label)")
        self.scores_check.setEnabled(self._model is not None)
        self.review_check = QCheckBox("Review state")
        self.review_check.setChecked(True)
        self.split_check = QCheckBox("Dataset split")
        self.files_check = QCheckBox("File name and folder (beside the full path)")
        self.files_check.setChecked(True)
        self.provenance_check = QCheckBox("Who decided each tag, and its score (person or model)")
        self.provenance_check.setToolTip(
            "Two columns per label: decided_by:<label> says “yes (person)”, “no (model)”, …; "
            "score:<label> is the model's score. Filter on them in a spreadsheet."
        )
        self.provenance_check.setEnabled(self._model is not None)
        for box in (
            self.files_check,
            self.groups_check,
            self.scores_check,
            self.review_check,
            self.split_check,
            self.provenance_check,
        ):
            columns_layout.addWidget(box)
        return columns_box

    def _build_path_row(self) -> QHBoxLayout:
        """The output file with its Browse button, and the sidecar naming choice."""
        self.path_edit = QLineEdit()
        self.path_edit.setAccessibleName("Output file")
        self.browse_button = QPushButton("Browse…")
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        self.naming_combo = QComboBox()
        self.naming_combo.addItem("photo.xmp (Adobe; digiKam compatible mode)", "adobe")
        self.naming_combo.addItem("photo.jpg.xmp (digiKam, darktable default)", "appended")
        return path_row

    def _build_progress_and_buttons(self) -> None:
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setVisible(False)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.export_button.setDefault(True)

    def _lay_out(self, path_row: QHBoxLayout, scope_box: QGroupBox) -> None:
        """The form on top, the two boxes side by side, then progress, status and buttons (the tab order)."""
        form = QFormLayout()
        form.addRow("Format", self.format_combo)
        self.path_label = QLabel("Save to")
        form.addRow(self.path_label, path_row)
        self.naming_label = QLabel("Sidecar names")
        form.addRow(self.naming_label, self.naming_combo)
        self.xmp_hint = QLabel(
            "Keywords go into dc:subject (and group|keyword into lr:hierarchicalSubject) of a .xmp file"
            " beside each photo; photos are never modified."
        )
        self.xmp_hint.setWordWrap(True)
        form.addRow("", self.xmp_hint)
        self.keywords_hint = QLabel(KEYWORDS_HINT if find_exiftool() else NO_EXIFTOOL_HINT)
        self.keywords_hint.setWordWrap(True)
        form.addRow("", self.keywords_hint)
        model_text = (
            f"{self._model.name or self._model.key} ({len(self._model.labels)} labels)"
            if self._model
            else "none: people's decisions only"
        )
        form.addRow("Model", QLabel(model_text))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        boxes = QHBoxLayout()
        boxes.addWidget(scope_box)
        boxes.addWidget(self.columns_box)
        layout.addLayout(boxes)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)

    # -- public -----------------------------------------------------------------------------
    def format_key(self) -> str:
        return str(self.format_combo.currentData())

    def scope(self) -> str:
        return SCOPES[max(self.scope_group.checkedId(), 0)]

    def image_ids(self) -> list[int] | None:
        """The image ids in scope (None: every photo of the library)."""
        scope = self.scope()
        return None if scope == "all" else list(self._ids[scope])

    def output_path(self) -> str:
        return os.path.expanduser(self.path_edit.text().strip())

    def outcome(self) -> ExportOutcome | None:
        """How the last export ended (None before the first)."""
        return self._outcome

    def is_running(self) -> bool:
        return self._worker is not None

    @Slot()
    def start_export(self) -> None:
        """Validate the choices and run the export in a worker."""
        if self._worker is not None:
            return
        fmt = _BY_KEY[self.format_key()]
        path = self.output_path()
        if fmt.suffix:
            if not path:
                self._show_error("Choose a file to save to.")
                return
            allowed = (".csv", ".xlsx") if fmt.key == "seed" else (fmt.suffix,)
            suffix = Path(path).suffix.lower()
            if not suffix:
                path += fmt.suffix
                self.path_edit.setText(path)
            elif suffix not in allowed:
                self._show_error(f"{path}: this format is saved as {' or '.join(allowed)}, not {suffix}")
                return
        settings.set_value(settings.EXPORT_FORMAT, fmt.key)
        job = self._make_job(fmt, path)
        worker = Worker(job, name="export")
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        self._worker = worker
        self._set_running(True)
        scope_n = len(self.image_ids()) if self.image_ids() is not None else self._catalog.count()
        self.status_label.setStyleSheet("")
        self.status_label.setText(f"Exporting {scope_n} photos…")
        worker.start()

    def reject(self) -> None:
        """Cancel a running export (closing once it has stopped), else close."""
        if self._worker is not None:
            self._close_when_done = True
            self._worker.cancel()
            self.status_label.setText("Cancelling…")
            return
        super().reject()

    def closeEvent(self, event) -> None:
        if self._worker is not None:
            self.reject()
            event.ignore()
            return
        super().closeEvent(event)

    # -- internals --------------------------------------------------------------------------
    def _label_groups(self) -> dict[str, str]:
        """The model's groups and those of labels a person created (the model's wins for its labels)."""
        model_groups = dict(self._model.groups) if self._model is not None else {}
        return {**self._catalog.person_labels(), **model_groups}

    def _group_names(self) -> list[str]:
        groups = self._label_groups()
        labels = [*(self._model.labels if self._model is not None else ()), *self._catalog.person_labels()]
        seen: dict[str, None] = {}
        for label in labels:
            g = groups.get(label)
            if g:
                seen.setdefault(g, None)
        return list(seen)

    def _default_path(self, fmt: ExportFormat) -> Path:
        folders = [Path(f) for f in self._catalog.folders()]
        base = next((f for f in folders if f.parent.is_dir()), None)
        if base is not None:
            folder, stem = base.parent, base.name or "photos"
        else:
            folder, stem = Path.home(), self._catalog.path.stem
        today = _dt.date.today().isoformat()
        kind = "seed" if fmt.key == "seed" else "tags"
        return folder / f"{stem}-{kind}-{today}{fmt.suffix}"

    @Slot(int)
    def _format_changed(self, _index: int) -> None:
        fmt = _BY_KEY[self.format_key()]
        if fmt.suffix:
            # The path field keeps its text while sidecars are chosen; compare with the last file format.
            old = _BY_KEY[self._last_format]
            self._last_format = fmt.key
            current = self.path_edit.text().strip()
            if not current or current == str(self._default_path(old)):
                self.path_edit.setText(str(self._default_path(fmt)))
            elif Path(current).suffix.lower() != fmt.suffix and not (
                fmt.key == "seed" and Path(current).suffix.lower() == ".csv"
            ):
                self.path_edit.setText(str(Path(current).with_suffix(fmt.suffix)))
        self._apply_format()

    def _apply_format(self) -> None:
        fmt = _BY_KEY[self.format_key()]
        file_based = bool(fmt.suffix)
        for w in (self.path_label, self.path_edit, self.browse_button):
            w.setVisible(file_based)
        for w in (self.naming_label, self.naming_combo):
            w.setVisible(fmt.key in SIDECAR_FORMATS)
        self.xmp_hint.setVisible(fmt.key == "xmp")
        self.keywords_hint.setVisible(fmt.key == "keywords")
        self.export_button.setEnabled(self._can_export())
        self.columns_box.setEnabled(fmt.key in ("csv", "xlsx"))

    def _can_export(self) -> bool:
        return self.format_key() != "keywords" or self.keywords_hint.text() == KEYWORDS_HINT

    @Slot()
    def _browse(self) -> None:
        fmt = _BY_KEY[self.format_key()]
        path, _ = QFileDialog.getSaveFileName(self, "Export tags to", self.output_path(), fmt.file_filter)
        if path:
            if not Path(path).suffix:
                path += fmt.suffix
            self.path_edit.setText(path)

    def _make_job(self, fmt: ExportFormat, path: str):
        from fashion_desktop.core.export import ExportColumns, export_file
        from fashion_desktop.core.spreadsheet import ExportCancelled, ExportError

        catalog, model_key, policy = self._catalog, self._model_key, self._policy
        image_ids = self.image_ids()
        defaults = self._defaults
        relay = self._relay
        columns = ExportColumns(
            groups=self.groups_check.isChecked(),
            scores=self.scores_check.isChecked(),
            review=self.review_check.isChecked(),
            split=self.split_check.isChecked(),
            files=self.files_check.isChecked(),
            provenance=self.provenance_check.isChecked() and self._model is not None,
        )
        naming = str(self.naming_combo.currentData())
        scope = {
            "all": "all photos",
            "filtered": "the photos the filter showed",
            "selected": "the selection",
        }[self.scope()]
        groups = self._label_groups()

        def progress(done: int, total: int) -> None:
            relay.progressed.emit(int(done), int(total))

        def job(cancel):
            yield "started"
            try:
                if fmt.key == "keywords":
                    return _write_keywords(
                        catalog, model_key, policy, image_ids, defaults, naming, progress, cancel
                    )
                if fmt.key == "xmp":
                    from fashion_desktop.core.export import iter_final_tags, iter_rows_for_sidecars
                    from fashion_desktop.core.xmp import write_xmp_sidecars

                    items = iter_final_tags(catalog, model_key, policy, image_ids, defaults, cancel)
                    report = write_xmp_sidecars(
                        iter_rows_for_sidecars(items), naming, progress, cancel, groups=groups
                    )
                    problems = [f"{p}: {reason}" for p, reason in report.errors]
                    n = len(report.written)
                    msg = f"Wrote {_plural(n, 'XMP sidecar')} beside the photos"
                    if problems:
                        msg += f"; {_plural(len(problems), 'photo')} failed"
                    return ExportOutcome(True, msg, n, "", problems=problems)
                n = export_file(
                    catalog,
                    path,
                    model_key,
                    policy,
                    image_ids,
                    layout="seed" if fmt.key == "seed" else "app",
                    defaults=defaults,
                    columns=columns,
                    progress=progress,
                    cancel=cancel,
                    scope=scope,
                    app_version=__version__,
                )
                return ExportOutcome(True, f"Exported {_plural(n, 'row')} to {path}", n, path)
            except ExportCancelled as exc:
                return ExportOutcome(False, f"Export cancelled; {exc}", cancelled=True, path=path)
            except ExportError as exc:
                return ExportOutcome(False, str(exc), path=path)

        return job

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(True)
        if running:
            self.progress.setRange(0, 0)  # busy until the first real count arrives
        for w in (self.format_combo, self.path_edit, self.browse_button, self.naming_combo):
            w.setEnabled(not running)
        self.export_button.setEnabled(not running and self._can_export())
        for scope, button in self.scope_buttons.items():
            button.setEnabled(not running and (scope == "all" or bool(self._ids[scope])))
        self.columns_box.setEnabled(not running and self.format_key() in ("csv", "xlsx"))

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if self._worker is None or total <= 0:
            return
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * min(done, total) / total))

    def _show_error(self, message: str) -> None:
        self.status_label.setStyleSheet(problem_style())
        self.status_label.setText(message)

    def _end(self, outcome: ExportOutcome) -> None:
        self._worker = None
        self._outcome = outcome
        self._set_running(False)
        if outcome.ok:
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
        else:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        if self._close_when_done:
            self._close_when_done = False
            super().reject()
            return
        if not outcome.ok:
            self._show_error(
                outcome.message if not outcome.cancelled else "Export cancelled; nothing was written."
            )
            return
        self.exported.emit(outcome.message)
        if outcome.problems:
            shown = "\n".join(outcome.problems[:20])
            more = f"\n… and {len(outcome.problems) - 20} more" if len(outcome.problems) > 20 else ""
            self._show_error(f"{outcome.message}:\n{shown}{more}")
            return
        self.status_label.setStyleSheet("")
        self.status_label.setText(outcome.message)
        self.accept()

    @Slot(object)
    def _on_finished(self, outcome: object) -> None:
        if isinstance(outcome, ExportOutcome):
            self._end(outcome)
        else:  # the worker was cancelled before the job produced an outcome
            self._end(ExportOutcome(False, "Export cancelled; nothing was written.", cancelled=True))

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._end(ExportOutcome(False, f"Export failed: {message}"))
