"""Models tab: known bundles, the selected one's card and metrics at the current thresholds, and a comparison."""

from __future__ import annotations

import html
import logging
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QProcess,
    QProcessEnvironment,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QFontMetrics, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.core.tag_process import child_environment
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.gui.appearance import good_colour, problem_colour, style_plot
from fashion_desktop.gui.models.metrics_model import (
    OVERALL_KEYS,
    SORT_ROLE,
    BundleInfo,
    BundleListModel,
    MetricsView,
    RowsTableModel,
    metrics_at_policy,
    read_bundle_info,
)
from fashion_desktop.gui.widgets import WrapLabel
from fashion_desktop.gui.worker import Worker
from fashion_desktop.model.badge import badge_line

PER_LABEL_HEADERS = ("Label", "Group", "Precision", "Recall", "F1", "Support", "Threshold", "AP")
GROUP_HEADERS = (
    "Group",
    "F1 micro",
    "F1 macro",
    "Precision",
    "Recall",
    "Exact match",
    "Top-1 accuracy",
    "Balanced accuracy",
    "Images",
)
_GROUP_KEYS = (
    "f1_micro",
    "f1_macro",
    "precision_micro",
    "recall_micro",
    "exact_match",
    "top1_accuracy",
    "balanced_accuracy",  # one-value groups: the mean recall of their values (a 62 % prior earns nothing)
    "images",
)
log = logging.getLogger(__name__)

BUNDLE_FILTER = "Model bundles (*.fmodel);;All files (*)"
_NAN = float("nan")
BAR_PX = 22  # height of one label's row in the F1 chart
_HIDDEN_PROVENANCE = {"model_id", "name", "created", "date"}


def _table(model, sortable: bool = True) -> tuple[QTableView, QSortFilterProxyModel | None]:
    view = QTableView()
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    proxy = None
    if sortable:
        proxy = QSortFilterProxyModel(view)
        proxy.setSourceModel(model)
        proxy.setSortRole(SORT_ROLE)
        view.setModel(proxy)
        view.setSortingEnabled(True)
        view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
    else:
        view.setModel(model)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return view, proxy


def _counts(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


_CARD_FIELDS = (
    ("summary", "About"), ("data", "Data"), ("licences", "Licences"),
    ("cannot_recognise", "Cannot recognise"), ("weights", "Weights"),
)  # fmt: skip


def _card_rows(card: dict[str, Any]) -> list[tuple[str, str]]:
    """The model card's rows (``python -m trainer package`` writes it): what it is, its data and licences,
    held-out top-1 accuracy per source and group, and what it cannot recognise."""
    rows = [(title, str(card[key])) for key, title in _CARD_FIELDS if card.get(key)]
    held = card.get("held_out_top1")
    if isinstance(held, dict) and held:
        lines = [
            f"{src}: " + ", ".join(f"{g} {float(v):.3f}" for g, v in dict(groups).items())
            for src, groups in held.items()
            if isinstance(groups, dict)
        ]
        rows.insert(min(2, len(rows)), ("Held-out top-1", "; ".join(lines)))
    return rows


def _provenance_rows(info: BundleInfo) -> list[tuple[str, str]]:
    """Card rows for training data and recipe, from what the trainer records (other keys shown plainly)."""
    prov = dict(info.provenance)
    rows: list[tuple[str, str]] = []
    card = prov.pop("card", None)
    if isinstance(card, dict):
        rows += _card_rows(card)
    data = prov.pop("data", None)
    if isinstance(data, dict):
        parts = []
        if "images" in data:
            parts.append(f"{data['images']} images")
        if data.get("splits"):
            parts.append("splits: " + _counts(data["splits"]))
        if data.get("sources"):
            parts.append("sources: " + _counts(data["sources"]))
        if isinstance(data.get("known_fraction"), (int, float)):
            parts.append(f"{100 * float(data['known_fraction']):.0f}% of label states known")
        rows.append(("Training data", "; ".join(parts) or _counts(data)))
    elif data:
        rows.append(("Training data", str(data)))
    config = prov.pop("config", None)
    if isinstance(config, dict):
        recipe = [
            f"{k.replace('_', ' ')} {config[k]}"
            for k in ("epochs", "batch_size", "lr", "optimizer", "loss", "sampler", "pretrained", "precision")
            if config.get(k) not in (None, "")
        ]
        best = info.metrics.get("best_epoch")
        if best is not None:
            recipe.append(f"best epoch {best}")
        rows.append(("Training", ", ".join(recipe)))
    for key, value in prov.items():
        if key in _HIDDEN_PROVENANCE or value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            text = _counts(value)
        elif isinstance(value, (list, tuple)):
            text = ", ".join(map(str, value))
        else:
            text = str(value)
        rows.append((key.replace("_", " ").capitalize(), text))
    return [(html.escape(k), html.escape(v[:800])) for k, v in rows]


def _safe_metrics(info: BundleInfo, policy: ThresholdPolicy) -> MetricsView:
    """``metrics_at_policy``, but odd evaluation data in a bundle becomes a message, never a crash."""
    try:
        return metrics_at_policy(info, policy)
    except Exception as exc:
        log.warning("metrics of %s cannot be computed", info.path, exc_info=True)
        return MetricsView({}, [], "none", f"Metrics cannot be computed for {info.path}: {exc}")


def _converted_name(path: str) -> str:
    """A free file name next to ``path`` for its converted bundle."""
    stem, _ext = os.path.splitext(path)
    candidate, n = f"{stem}-converted.fmodel", 2
    while os.path.exists(candidate):
        candidate, n = f"{stem}-converted-{n}.fmodel", n + 1
    return candidate


def _same_images(a: BundleInfo, b: BundleInfo) -> bool | None:
    """Whether both bundles were evaluated on the same set of images (None: they do not say)."""
    ea, eb = a.evaluation, b.evaluation
    if ea is None or eb is None or not ea.paths or not eb.paths:
        return None
    return set(ea.paths) == set(eb.paths)


def _delta(a: Any, b: Any) -> float | None:
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(fa) or math.isnan(fb) else fb - fa


def _delta_colour(d: float | None) -> QColor | None:
    if d is None or abs(d) < 1e-9:
        return None
    return good_colour() if d > 0 else problem_colour()


class ModelsTab(QWidget):
    """Known model bundles with card, metrics (recomputed at the current thresholds when possible) and compare.

    Bundles are read in a worker the first time the tab is shown, so torch is not imported at start-up.
    """

    model_activated = Signal(str)
    bundle_paths_changed = Signal(list)
    conversion_finished = Signal(str)  # the converted bundle's path
    conversion_failed = Signal(str)  # why

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._policy = ThresholdPolicy()
        self._loader: Worker | None = None
        self._shown = False
        self._stale = False
        self._plot = None
        self._bars = None
        self._value_items: list = []  # pyqtgraph TextItems: each bar's value
        self._view: MetricsView | None = None
        self._converter: QProcess | None = None
        self._recompute_timer = QTimer(self)
        self._recompute_timer.setSingleShot(True)
        self._recompute_timer.setInterval(40)  # coalesce live slider drags into one recompute
        self._recompute_timer.timeout.connect(self._refresh_metrics)

        self._build_list_and_card()
        self._build_tables()
        left = self._build_left()
        self._build_detail_tabs()
        self._lay_out(left)
        self._connect()
        self._show_selected()

    def _build_list_and_card(self) -> None:
        """The list of model files with its buttons, and the model's card."""
        self.bundles = BundleListModel(self)
        self.list_view = QListView()
        self.list_view.setModel(self.bundles)
        self.list_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list_view.setWordWrap(True)
        self.list_view.setSpacing(2)
        self.add_button = QPushButton("Add model…")
        self.remove_button = QPushButton("Remove from list")
        self.use_button = QPushButton("Use for tagging")
        self.use_button.setDefault(True)
        self.convert_button = QPushButton("Convert to the new format…")
        self.convert_button.setVisible(False)

        self.card = QLabel()
        self.card.setTextFormat(Qt.TextFormat.RichText)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.card.setWordWrap(True)
        self.card.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.metrics_note = WrapLabel()

    def _build_tables(self) -> None:
        """The metric tables, the F1 chart's box and the comparison's widgets."""
        self.overall_model = RowsTableModel(("Metric", "Value"), self)
        self.overall_view, _ = _table(self.overall_model, sortable=False)
        self.per_label_model = RowsTableModel(PER_LABEL_HEADERS, self)
        self.per_label_view, self.per_label_proxy = _table(self.per_label_model)
        self.groups_model = RowsTableModel(GROUP_HEADERS, self)
        self.groups_view, _ = _table(self.groups_model)

        self.chart_box = QWidget()
        chart_layout = QVBoxLayout(self.chart_box)
        chart_layout.setContentsMargins(0, 0, 0, 0)
        self._chart_scroll = QScrollArea()
        self._chart_scroll.setWidgetResizable(True)
        chart_layout.addWidget(self._chart_scroll)

        self.compare_combo = QComboBox()
        self.compare_combo.setAccessibleName("Compare with")
        # A long model name is cut in the box (the list shows it whole): it must not widen the window.
        adjust = QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        self.compare_combo.setSizeAdjustPolicy(adjust)
        self.compare_combo.setMinimumContentsLength(16)
        self.compare_overall_model = RowsTableModel(("Metric", "A", "B", "Δ (B − A)"), self)
        self.compare_overall_view, _ = _table(self.compare_overall_model, sortable=False)
        self.compare_labels_model = RowsTableModel(("Label", "F1 A", "F1 B", "Δ (B − A)"), self)
        self.compare_labels_view, _ = _table(self.compare_labels_model)
        self.compare_note = WrapLabel()

    def _build_left(self) -> QWidget:
        """The list of models above its buttons."""
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list_view, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.use_button)
        left_layout.addWidget(self.convert_button)
        return left

    def _build_detail_tabs(self) -> None:
        """Per label, per group, F1 chart and Compare, as tabs."""
        compare_page = QWidget()
        cl = QVBoxLayout(compare_page)
        row = QHBoxLayout()
        row.addWidget(QLabel("Compare with:"))
        row.addWidget(self.compare_combo, 1)
        cl.addLayout(row)
        cl.addWidget(self.compare_note)
        cl.addWidget(self.compare_overall_view, 1)
        cl.addWidget(self.compare_labels_view, 2)

        self.detail_tabs = QTabWidget()
        self.detail_tabs.addTab(self.per_label_view, "Per label")
        self.detail_tabs.addTab(self.groups_view, "Per group")
        self.detail_tabs.addTab(self.chart_box, "F1 chart")
        self.detail_tabs.addTab(compare_page, "Compare")

    def _lay_out(self, left: QWidget) -> None:
        """The list on the left; on the right the card and overall metrics above the detail tabs."""
        top = QHBoxLayout()
        card_scroll = QScrollArea()
        card_scroll.setWidgetResizable(True)
        card_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        card_scroll.setWidget(self.card)
        top.addWidget(card_scroll, 3)
        overall_box = QVBoxLayout()
        overall_box.addWidget(self.metrics_note)
        overall_box.addWidget(self.overall_view)
        top.addLayout(overall_box, 2)
        top_box = QWidget()
        top_box.setLayout(top)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top_box)
        right.addWidget(self.detail_tabs)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)
        right.setSizes([330, 470])

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    def _connect(self) -> None:
        self.add_button.clicked.connect(self._add_clicked)
        self.remove_button.clicked.connect(self._remove_clicked)
        self.use_button.clicked.connect(self._use_clicked)
        self.convert_button.clicked.connect(self._convert_clicked)
        self.list_view.doubleClicked.connect(self._double_clicked)
        self.list_view.selectionModel().currentChanged.connect(self._current_changed)
        self.compare_combo.currentIndexChanged.connect(self._refresh_compare)

    # -- public API -------------------------------------------------------------------------
    def set_bundle_paths(self, paths: list[str]) -> None:
        """Replace the list of known bundle files; they are read (in the background) once the tab is shown."""
        current = self.selected_path()
        self.bundles.set_paths([os.fspath(p) for p in paths])
        if current in self.bundles.paths():
            self.select_path(current)
        elif self.bundles.rowCount():
            self.list_view.setCurrentIndex(self.bundles.index(0, 0))
        self._update_compare_choices()
        self._show_selected()
        if self._shown:
            self._load_pending()

    def add_bundle(self, path: str) -> None:
        """Add ``path`` to the list (if new), select it and read it."""
        row = self.bundles.add_path(os.fspath(path))
        self.bundles.forget_stale(os.fspath(path))
        self.list_view.setCurrentIndex(self.bundles.index(row, 0))
        self._update_compare_choices()
        self.bundle_paths_changed.emit(self.bundles.paths())
        self._load_pending()

    def set_policy(self, policy: ThresholdPolicy) -> None:
        """Recompute the shown metrics at ``policy`` (coalesced, so calling it on every drag step is cheap)."""
        self._policy = policy
        if self.isVisible():
            self._recompute_timer.start()
        else:
            self._stale = True  # a drag on the Tag tab costs nothing here; recompute when shown

    def selected_path(self) -> str | None:
        idx = self.list_view.currentIndex()
        return self.bundles.path_at(idx.row()) if idx.isValid() else None

    def select_path(self, path: str) -> None:
        if path in self.bundles.paths():
            self.list_view.setCurrentIndex(self.bundles.index(self.bundles.paths().index(path), 0))

    def current_info(self) -> BundleInfo | None:
        path = self.selected_path()
        return self.bundles.info(path) if path else None

    def is_loading(self) -> bool:
        return self._loader is not None

    # -- loading ----------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            self._load_pending()
        else:
            path = self.selected_path()
            if path and self.bundles.forget_stale(path):
                self._load_pending()
        if self._stale:
            self._stale = False
            self._refresh_metrics()

    def _load_pending(self) -> None:
        if self._loader is not None:
            return  # the running loader picks up the rest when it finishes
        paths = self.bundles.unloaded()
        if not paths:
            return

        def job(cancel):
            for path in paths:
                if cancel.is_set():
                    return
                try:
                    yield read_bundle_info(path)
                except Exception as exc:  # one odd file must not stop the others loading
                    yield BundleInfo(
                        path=path, error=f"{path}: cannot be shown ({type(exc).__name__}: {exc})"
                    )

        self._loader = Worker(job, name="bundle-loader").wired(
            self._bundle_loaded, self._loader_done, self._loader_failed
        )
        self._loader.start()

    @Slot(object)
    def _bundle_loaded(self, info: BundleInfo) -> None:
        self.bundles.set_info(info)
        self._update_compare_choices()
        if info.path == self.selected_path():
            self._show_selected()
        elif info.path == self.compare_combo.currentData():
            self._refresh_compare()

    @Slot(str)
    def _loader_failed(self, message: str) -> None:
        self._loader = None
        for path in self.bundles.unloaded():  # shown as broken rather than retried forever
            self.bundles.set_info(BundleInfo(path=path, error=f"{path}: cannot be read ({message})"))
        self._show_selected()

    def _loader_done(self, *_args: object) -> None:
        worker, self._loader = self._loader, None
        if worker is not None and worker.cancelled:
            return  # the app is closing (or a test tearing down): start nothing new
        if self.bundles.unloaded():
            self._load_pending()

    # -- user actions -----------------------------------------------------------------------
    @Slot()
    def _add_clicked(self) -> None:
        start = os.path.dirname(self.selected_path() or "") or os.path.expanduser("~")
        path, _ = QFileDialog.getOpenFileName(self, "Add model bundle", start, BUNDLE_FILTER)
        if path:
            self.add_bundle(path)

    @Slot()
    def _remove_clicked(self) -> None:
        idx = self.list_view.currentIndex()
        if idx.isValid():
            self.bundles.remove_row(idx.row())
            self._update_compare_choices()
            self.bundle_paths_changed.emit(self.bundles.paths())
            self._show_selected()

    @Slot()
    def _use_clicked(self) -> None:
        info = self.current_info()
        if info is not None and info.ok:
            self.model_activated.emit(info.path)

    @Slot(QModelIndex)
    def _double_clicked(self, index: QModelIndex) -> None:
        info = self.bundles.info(self.bundles.path_at(index.row())) if index.isValid() else None
        if info is not None and info.ok:
            self.model_activated.emit(info.path)

    @Slot()
    def _convert_clicked(self) -> None:
        info = self.current_info()
        if info is None or not info.old_format or self._converter is not None:
            return
        new = _converted_name(info.path)
        answer = QMessageBox.question(
            self,
            "Old model format",
            f"{os.path.basename(info.path)} is in the old model format, which the app no longer opens.\n\n"
            f"Convert to the new format? The converted model is written to {os.path.basename(new)} "
            "next to it; the old file is kept.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.convert(info.path, new)

    def convert(self, old: str, new: str) -> None:
        """Convert the old-format bundle ``old`` to ``new`` in a child process (torch stays out of the app);
        on success ``new`` replaces ``old`` in the list and is selected (``conversion_finished``)."""
        proc = QProcess(self)
        env = QProcessEnvironment()
        for k, v in child_environment().items():
            env.insert(k, v)
        proc.setProcessEnvironment(env)
        proc.setProgram(sys.executable)
        proc.setArguments(["-m", "fashion_desktop", "convert", old, new])
        proc.finished.connect(lambda code, status: self._converted(proc, old, new, code, status))
        proc.errorOccurred.connect(
            lambda error: (
                self._converted(proc, old, new, -1, None)
                if error == QProcess.ProcessError.FailedToStart
                else None
            )
        )
        self._converter = proc
        self.convert_button.setEnabled(False)
        self.convert_button.setText("Converting…")
        proc.start()

    def _converted(self, proc: QProcess, old: str, new: str, code: int, status: object) -> None:
        if self._converter is not proc:
            return  # already handled (a failed start also reports finished)
        self._converter = None
        self.convert_button.setEnabled(True)
        self.convert_button.setText("Convert to the new format…")
        if code == 0 and status == QProcess.ExitStatus.NormalExit:
            if old in self.bundles.paths():
                self.bundles.remove_row(self.bundles.paths().index(old))
            self.add_bundle(new)
            self.conversion_finished.emit(new)
        else:
            lines = bytes(proc.readAllStandardError()).decode("utf-8", "replace").strip().splitlines()
            why = lines[-1].removeprefix("fashion: error: ") if lines else proc.errorString()
            log.warning("converting %s failed: %s", old, why)
            self.conversion_failed.emit(why)
            QMessageBox.warning(self, "Conversion failed", f"{old} could not be converted:\n{why}")
        proc.deleteLater()

    def _current_changed(self, *_args: object) -> None:
        path = self.selected_path()
        if path and self.bundles.forget_stale(path):  # retrained into the same file, or fixed
            self._load_pending()
        self._update_compare_choices()
        self._show_selected()

    # -- display ----------------------------------------------------------------------------
    def _show_selected(self) -> None:
        info = self.current_info()
        path = self.selected_path()
        self.use_button.setEnabled(bool(info and info.ok))
        self.remove_button.setEnabled(path is not None)
        self.convert_button.setVisible(bool(info and info.old_format))
        if path is None:
            self.card.setText(
                "<i>No model selected. Add a model bundle (.fmodel) to see its card and metrics.</i>"
            )
        elif info is None:
            self.card.setText(f"<b>{html.escape(os.path.basename(path))}</b><br>Loading…")
        elif not info.ok:
            self.card.setText(
                f"<b>{html.escape(os.path.basename(path))}</b><br>"
                f"<span style='color:#b41e1e'>This file cannot be used: {html.escape(info.error or '')}</span>"
            )
        else:
            self.card.setText(self._card_html(info))
        self._refresh_metrics()

    @staticmethod
    def _card_html(info: BundleInfo) -> str:
        groups = info.group_names()
        if groups:
            counts = {g: sum(1 for lab in info.labels if info.groups.get(lab) == g) for g in groups}
            group_text = ", ".join(f"{html.escape(g)} ({n})" for g, n in counts.items())
        else:
            group_text = "none"
        rows = [
            ("Architecture", html.escape(info.arch)),
            ("Labels", f"{len(info.labels)} — groups: {group_text}"),
            ("Input size", f"{info.input_size} × {info.input_size} px"),
            ("Created", html.escape(info.created())),
            ("Badge", html.escape(badge_line(info.badge))),
        ]
        rows += _provenance_rows(info)
        rows.append(("File", html.escape(info.path)))
        body = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
        return f"<h3>{html.escape(info.name)}</h3><table>{body}</table>"

    @Slot()
    def _refresh_metrics(self) -> None:
        info = self.current_info()
        if info is None or not info.ok:
            self._view = None
            self.metrics_note.setText("")
            self.overall_model.set_rows([])
            self.per_label_model.set_rows([])
            self.groups_model.set_rows([])
            self._draw_chart([], [])
        else:
            view = _safe_metrics(info, self._policy)
            self._view = view
            self.metrics_note.setText(view.note)
            self.overall_model.set_rows(
                [(name, view.overall[key]) for key, name in OVERALL_KEYS if key in view.overall]
                + [
                    (k.replace("_", " "), v)
                    for k, v in view.overall.items()
                    if k not in dict(OVERALL_KEYS)
                    and isinstance(v, (int, float))
                    and view.source == "as trained"
                ]
            )
            rows, names, f1 = [], [], []
            for r in view.per_label:
                # No positive examples: recall and F1 are undefined (and left out of F1 macro), not 0.
                empty = r.get("support") == 0
                rows.append(
                    (
                        r.get("label"),
                        r.get("group", ""),
                        r.get("precision"),
                        _NAN if empty else r.get("recall"),
                        _NAN if empty else r.get("f1"),
                        r.get("support"),
                        r.get("threshold"),
                        r.get("ap"),
                    )
                )
                names.append(f"{r.get('label')} (no examples)" if empty else str(r.get("label")))
                f1.append(None if empty else r.get("f1"))
            self.per_label_model.set_rows(rows)
            self.groups_model.set_rows(
                [(g, *(values.get(k) for k in _GROUP_KEYS)) for g, values in view.groups.items()]
            )
            self._draw_chart(names, f1)
        self._refresh_compare()

    def _ensure_plot(self):
        if self._plot is None:
            import pyqtgraph as pg  # ~0.3 s; only paid when a chart is first drawn

            self._plot = pg.PlotWidget()
            # Bars keep a fixed height and the scroll area scrolls them: no zoom that squashes 80 bars.
            self._plot.setMouseEnabled(x=False, y=False)
            self._plot.setMenuEnabled(False)
            self._plot.hideButtons()
            self._plot.setLabel("bottom", "F1")
            self._plot.getViewBox().invertY(True)
            # Every label gets its name: never thin out tick labels as pyqtgraph does by default.
            self._plot.getAxis("left").setStyle(textFillLimits=[(0, 1.0)], hideOverlappingLabels=False)
            style_plot(self._plot, self.palette())
            self._plot.viewport().installEventFilter(self)
            self._chart_scroll.setWidget(self._plot)
        return self._plot

    def changeEvent(self, event: QEvent) -> None:
        if self._plot is not None and event.type() == QEvent.Type.PaletteChange:  # light or dark
            style_plot(self._plot, self.palette())
            for text in self._value_items:
                text.setColor(self.palette().color(QPalette.ColorRole.Text))
        super().changeEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The wheel over the chart scrolls the list of bars (pyqtgraph would take it for itself).
        if event.type() == QEvent.Type.Wheel and self._plot is not None and watched is self._plot.viewport():
            QApplication.sendEvent(self._chart_scroll.verticalScrollBar(), event)
            return True
        return super().eventFilter(watched, event)

    def _draw_chart(self, labels: Sequence[str], f1: Sequence[Any]) -> None:
        if not labels and self._plot is None:
            return
        import pyqtgraph as pg

        plot = self._ensure_plot()
        plot.clear()
        self._value_items = []
        values = [0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in f1]
        self._bars = None
        if labels:
            self._bars = pg.BarGraphItem(
                x0=[0.0] * len(values),
                y=list(range(len(values))),
                height=0.7,
                width=values,
                brush=pg.mkBrush(60, 110, 200),
            )
            plot.addItem(self._bars)
            for i, (v, raw) in enumerate(zip(values, f1, strict=True)):
                missing = raw is None or (isinstance(raw, float) and math.isnan(raw))
                fg = self.palette().color(QPalette.ColorRole.Text)
                text = pg.TextItem("–" if missing else f"{v:.2f}", color=fg, anchor=(0, 0.5))
                text.setPos(v + 0.01, i)
                plot.addItem(text)
                self._value_items.append(text)
            axis = plot.getAxis("left")
            axis.setTicks([[(i, lab) for i, lab in enumerate(labels)]])
            # Size the axis for the longest name up front; pyqtgraph drops labels that do not fit.
            metrics = QFontMetrics(axis.font() if hasattr(axis, "font") else self.font())
            axis.setWidth(min(260, max(metrics.horizontalAdvance(lab) for lab in labels) + 24))
            plot.setXRange(0, 1.12, padding=0.02)  # room right of a full bar for its value
            plot.setYRange(-0.5, len(labels) - 0.5, padding=0)
            # A fixed height per bar: 100 labels stay readable and the scroll area scrolls them.
            plot.setMinimumHeight(max(240, BAR_PX * len(labels) + 60))
        else:
            plot.getAxis("left").setTicks(None)

    def chart_values(self) -> list[float]:
        """The bar widths now drawn (per-label F1), for checks and screenshots."""
        if self._bars is None:
            return []
        return [float(w) for w in self._bars.opts["width"]]

    def chart_value_texts(self) -> list[str]:
        """The numbers written beside the bars, top to bottom."""
        return [item.toPlainText() for item in self._value_items]

    def _update_compare_choices(self) -> None:
        current = self.compare_combo.currentData()
        selected = self.selected_path()
        self.compare_combo.blockSignals(True)
        self.compare_combo.clear()
        self.compare_combo.addItem("— choose a second model —", None)
        for path in self.bundles.paths():
            if path == selected:
                continue
            info = self.bundles.info(path)
            if info is not None and not info.ok:
                continue
            text = (
                f"{info.name} ({info.arch})" if info is not None else f"{os.path.basename(path)} (loading…)"
            )
            self.compare_combo.addItem(text, path)
        idx = self.compare_combo.findData(current) if current else 0
        self.compare_combo.setCurrentIndex(max(idx, 0))
        self.compare_combo.blockSignals(False)
        self._refresh_compare()

    def _refresh_compare(self, *_args: object) -> None:
        a = self.current_info()
        other = self.compare_combo.currentData()
        b = self.bundles.info(other) if other else None
        if a is None or not a.ok or b is None or not b.ok:
            self.compare_overall_model.set_rows([])
            self.compare_labels_model.set_rows([])
            self.compare_note.setText(
                "Choose a second model to compare." if not other else "Loading the second model…"
            )
            return
        va = self._view if self._view is not None else _safe_metrics(a, self._policy)
        vb = _safe_metrics(b, self._policy)
        note = f"A: {a.name} — {va.note}\nB: {b.name} — {vb.note}"
        same = _same_images(a, b)
        if same is False:
            note += "\n⚠ The two models were evaluated on different images: differences mix model and data."
        elif same is None:
            note += "\nCannot tell whether both were evaluated on the same images."
        self.compare_note.setText(note)
        rows, colours = [], []
        for key, name in OVERALL_KEYS:
            if key in va.overall or key in vb.overall:
                x, y = va.overall.get(key), vb.overall.get(key)
                d = _delta(x, y)
                rows.append((name, x, y, d))
                colours.append(_delta_colour(d))
        self.compare_overall_model.set_rows(rows, colours=colours)
        fa = {str(r.get("label")): _NAN if r.get("support") == 0 else r.get("f1") for r in va.per_label}
        fb = {str(r.get("label")): _NAN if r.get("support") == 0 else r.get("f1") for r in vb.per_label}
        shared = [lab for lab in a.labels if lab in fa and lab in fb]
        label_rows, label_colours = [], []
        for lab in shared:
            d = _delta(fa[lab], fb[lab])
            label_rows.append((lab, fa[lab], fb[lab], d))
            label_colours.append(_delta_colour(d))
        self.compare_labels_model.set_rows(label_rows, colours=label_colours)
