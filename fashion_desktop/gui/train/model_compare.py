"""Before switching models: a run's model beside the Tag tab's, per group, on reviewed photos it did not
learn from, with a verdict only when the photos are enough; then "Use this model" (asking first when the
switch would lose labels or rules, or is not shown to be better) and one click to tag the library with it."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from fashion_desktop.core.compare_verdict import (
    BETTER,
    CURRENT,
    INTERVAL,
    NEITHER,
    NEW,
    NO_CLEAR,
    TOO_FEW,
    UNDECIDED,
    WORSE,
    ModelChanges,
    model_changes,
    reasons_to_ask,
)
from fashion_desktop.gui.about import APP_NAME
from fashion_desktop.gui.appearance import good_colour, problem_colour
from fashion_desktop.gui.models.metrics_model import RowsTableModel
from fashion_desktop.gui.tag.tag_panel import bundle_title
from fashion_desktop.gui.worker import ProcessWorker
from fashion_desktop.model.bundle_file import read_header
from fashion_desktop.model.bundle_format import BundleError
from fashion_desktop.model.protocol import Comparison, ImageError, Notice, Progress
from fashion_desktop.model.run_folder import trained_on, untuned_note

HEADERS = (
    "Group", "Photos", "Top-1 current", "Top-1 new", "F1 macro current", "F1 macro new",
    "Right: new − current", "Better",
)  # fmt: skip
WINNER_TEXT = {
    NEW: "new model",
    CURRENT: "current model",
    NEITHER: "no clear winner",
    TOO_FEW: "too few photos",
}


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def _points(share: float) -> str:
    return f"{100 * share:+.0f}".replace("-", "−")


def _difference(v: Mapping[str, Any]) -> str:
    """The verdict's difference for one group in points with its interval ("" when there is none)."""
    if not v or v.get("winner") == TOO_FEW:
        return ""
    low, high = _num(v.get("low")), _num(v.get("high"))
    return f"{_points(_num(v.get('difference')))} pts ({_points(low)} to {_points(high)})"


def comparison_rows(result: Comparison) -> tuple[list[list[Any]], list[QColor | None]]:
    """One row per label group (the new model's groups first), with the photo count each model was
    measured on (``a / b`` when they differ), the difference in photos each gets right with its interval
    and the group's winner; the colour says who wins (by F1 when the comparison has no verdict)."""
    current, new = (dict(m.get("groups") or {}) for m in result.models[:2])
    verdicts = dict((result.verdict or {}).get("groups") or {})
    rows, colours = [], []
    for group in dict.fromkeys([*new, *current]):
        a: Mapping[str, Any] = current.get(group) or {}
        b: Mapping[str, Any] = new.get(group) or {}
        v: Mapping[str, Any] = verdicts.get(group) or {}
        na, nb = a.get("images"), b.get("images")
        photos = na if nb is None else nb if na is None or na == nb else f"{na} / {nb}"
        fa, fb = _num(a.get("f1_macro")), _num(b.get("f1_macro"))
        winner = str(v.get("winner") or "")
        rows.append([
            group, photos, _num(a.get("top1_accuracy")), _num(b.get("top1_accuracy")), fa, fb,
            _difference(v), WINNER_TEXT.get(winner, ""),
        ])  # fmt: skip
        if v:
            colours.append(
                good_colour() if winner == NEW else problem_colour() if winner == CURRENT else None
            )
        else:
            better = None if math.isnan(fa) or math.isnan(fb) or fa == fb else fb > fa
            colours.append(None if better is None else good_colour() if better else problem_colour())
    return rows, colours


def verdict_text(result: Comparison) -> str:
    """The comparison's verdict in one sentence (no verdict below the minimum of photos: how many more)."""
    v = result.verdict or {}
    overall = v.get("overall")
    groups = dict(v.get("groups") or {})

    def won_by(who: str) -> str:
        return ", ".join(g for g, x in groups.items() if x.get("winner") == who)

    if overall == UNDECIDED:
        return (
            f"No verdict: a verdict needs {v.get('min_photos')} photos the run did not learn from. "
            f"Review {v.get('needs')} more photos (new ones, say), then compare again."
        )
    if overall == WORSE:
        return f"Verdict: the current model does better on {won_by(CURRENT)}."
    if overall == BETTER:
        return f"Verdict: the new model does better on {won_by(NEW)}, and no worse on the rest."
    if overall == NO_CLEAR:
        return "Verdict: no clear difference between the two models on these photos."
    return ""


def _some(items: tuple[str, ...], what: str) -> str:
    return f"{len(items)} {what}{'s' * (len(items) != 1)}: {', '.join(items)}"


def changes_text(changes: ModelChanges) -> str:
    """What the new model would lose and add against the current one, in words ("" when nothing)."""
    parts = []
    if changes.lost:
        parts.append(f"It would lose {_some(changes.lost, 'label')}.")
    if changes.lost_exclusive:
        parts.append(f"It would no longer keep one value per photo in {', '.join(changes.lost_exclusive)}.")
    if changes.lost_at_least_one:
        every = ", ".join(changes.lost_at_least_one)
        parts.append(f"It would no longer give every photo a value in {every}.")
    if changes.added:
        parts.append(f"It adds {_some(changes.added, 'label')}.")
    return " ".join(parts)


def _read_changes(current: str, bundle: str) -> tuple[ModelChanges, str]:
    """(what ``bundle`` loses and adds against ``current``, its note on thresholds it could not tune),
    read from the bundles' headers; nothing for a path that is empty or cannot be read."""
    try:
        new = read_header(bundle)[0] if bundle else None
    except (BundleError, OSError):
        return ModelChanges(), ""
    if new is None:
        return ModelChanges(), ""
    untuned = untuned_note(new.metrics)
    if not current or os.path.abspath(current) == os.path.abspath(bundle):
        return ModelChanges(), untuned
    try:
        return model_changes(read_header(current)[0], new), untuned
    except (BundleError, OSError):
        return ModelChanges(), untuned


class ModelCompare(QWidget):
    """A run's model (``set_run``) scored beside the Tag tab's model (``current_model()``) on the library's
    (``catalog_path()``) reviewed photos the run did not learn from, in the tagging process.

    "Use this model" asks first (``question``, a box that does not block) when the run's model would lose
    labels or one-value rules of the Tag tab's model, or is not shown to be better; answered No, nothing
    changes. Signals: ``use_requested(bundle)`` (make it the library's and the Tag tab's model),
    ``retag_requested(bundle)`` (tag the library with it), ``compared(Comparison | None)`` after each
    comparison (None: it failed or was cancelled).
    """

    use_requested = Signal(str)
    retag_requested = Signal(str)
    compared = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog_path: Callable[[], str | None] = lambda: None
        self.current_model: Callable[[], str | None] = lambda: None
        self.device: Callable[[], str] = lambda: "auto"
        self.run_path: str | None = None
        self.bundle: str | None = None
        self.worker: ProcessWorker | None = None
        self.result: Comparison | None = None
        self.question: QMessageBox | None = None  # "Use this model?" while it waits for an answer
        self._changes: tuple[tuple[str, str], ModelChanges, str] | None = None  # read from the two files
        self.title = QLabel("Finish a run, or pick one under Runs, to compare its model with the Tag tab's.")
        self.title.setWordWrap(True)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.verdict_label = QLabel()
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setToolTip(f"Right: new − current is the {INTERVAL}.")
        self.changes_label = QLabel()
        self.changes_label.setWordWrap(True)
        self.compare_button = QPushButton("&Compare with the Tag tab's model")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.table_model = RowsTableModel(HEADERS, self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip(f"Right: new − current is the {INTERVAL}.")
        self.use_button = QPushButton("&Use this model")
        self.use_button.setToolTip(
            "Add it to the library and the Models tab and make it the Tag tab's model (nothing is re-tagged yet)"
        )
        self.retag_label = QLabel()
        self.retag_label.setWordWrap(True)
        self.retag_button = QPushButton("&Tag the library with it")
        buttons = QHBoxLayout()
        for b in (self.compare_button, self.cancel_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        retag = QHBoxLayout()
        retag.addWidget(self.retag_label, 1)
        retag.addWidget(self.retag_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.note)
        lay.addWidget(self.verdict_label)
        lay.addWidget(self.changes_label)
        lay.addWidget(self.table, 1)
        lay.addLayout(retag)
        self.compare_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(self._use_clicked)
        self.retag_button.clicked.connect(self._retag_clicked)
        self._show_retag(None)
        self._update_buttons()

    # -- which run ------------------------------------------------------------------------------
    def set_run(self, run_path: str, bundle: str | None) -> None:
        """Show run folder ``run_path`` whose model is ``bundle`` (None: it has none yet)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None
            self.progress.setRange(0, 1)
        self.run_path, self.bundle, self.result = run_path, bundle, None
        self.table_model.set_rows([])
        self.note.setText("")
        self.verdict_label.setText("")
        self._show_retag(None)
        name = os.path.basename(os.path.normpath(run_path))
        if bundle:
            text, _tip = bundle_title(bundle)
            self.title.setText(f"Run {name}: its model is {text}.")
        else:
            self.title.setText(f"Run {name} has no model yet (it did not finish).")
        self._update_buttons()

    # -- comparing ------------------------------------------------------------------------------
    def problem(self) -> str | None:
        """Why a comparison cannot start now (one line), or None."""
        if not self.bundle or not os.path.isfile(self.bundle):
            return "The run has no model to compare."
        if not self.catalog_path():
            return "Open a library first: the comparison uses its reviewed photos."
        current = self.current_model()
        if not current:
            return "The Tag tab has no model to compare with: you can use this one directly."
        if os.path.abspath(current) == os.path.abspath(self.bundle):
            return "This run's model is already the Tag tab's model."
        return None

    @Slot()
    def start(self) -> bool:
        """Start the comparison in the tagging process (the window stays responsive); False when it cannot."""
        problem = self.problem()
        if problem or self.worker is not None:
            if problem:
                self.note.setText(problem)
            return False
        catalog, current = self.catalog_path(), self.current_model()
        assert catalog is not None and current is not None and self.run_path and self.bundle
        left_out = trained_on(self.run_path, catalog)
        job = {
            "catalog": catalog,
            "models": [{"name": "current", "bundle": current}, {"name": "new", "bundle": self.bundle}],
            "exclude": left_out.to_job(),
            "device": self.device(),
        }
        self.result = None
        self.verdict_label.setText("")
        self.table_model.set_rows([])
        self.note.setText(f"Comparing on the library's reviewed photos; {left_out.describe()}…")
        self.progress.setRange(0, 0)
        worker = ProcessWorker("compare", job, "comparison", self)
        # A comparison replaced by another (set_run cancels it) says nothing more.
        worker.wired(
            lambda e: self._progressed(e) if self.worker is worker else None,
            lambda r: self._finished(r) if self.worker is worker else None,
            lambda m: self._failed(m) if self.worker is worker else None,
        )
        self.worker = worker
        worker.start()
        self._update_buttons()
        return True

    @Slot()
    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def busy(self) -> bool:
        return self.worker is not None

    def _progressed(self, event: Any) -> None:
        if isinstance(event, Progress) and event.total > 0:
            self.progress.setRange(0, event.total)
            self.progress.setValue(min(event.done, event.total))
        elif isinstance(event, (Notice, ImageError)):
            self.note.setText(
                str(event.message if isinstance(event, Notice) else f"{event.path}: {event.reason}")
            )

    def _finished(self, result: Any) -> None:
        self.worker = None
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if isinstance(result, Comparison) else 0)
        if not isinstance(result, Comparison):
            self.note.setText("Comparison cancelled.")
            self._update_buttons()
            self.compared.emit(None)
            return
        self.result = result
        current = bundle_title(str(result.models[0].get("bundle", "")))[0]
        if result.photos == 0:
            self.note.setText(
                f"No reviewed photo is left that the run did not learn from ({result.excluded} left out): "
                "review more photos (new ones, say) to compare the two models."
            )
        else:
            extra = f", {result.unreadable} unreadable" if result.unreadable else ""
            s = "s" * (result.photos != 1)
            self.note.setText(
                f"Current: {current}. New: this run's model. The comparison rests on {result.photos} photo{s}: "
                f"reviewed ones the run did not learn from ({result.excluded} left out{extra}), each model at "
                "its own thresholds."
            )
        self.verdict_label.setText(verdict_text(result))
        rows, colours = comparison_rows(result)
        self.table_model.set_rows(rows, colours=colours)
        self._update_buttons()
        self.compared.emit(result)

    def _failed(self, message: str) -> None:
        self.worker = None
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.note.setText(f"The comparison failed: {message}")
        self._update_buttons()
        self.compared.emit(None)

    def rows(self) -> list[list[str]]:
        """The table as shown (tests read it)."""
        m = self.table_model
        return [[m.index(r, c).data() for c in range(m.columnCount())] for r in range(m.rowCount())]

    # -- switching ------------------------------------------------------------------------------
    def _use_clicked(self) -> None:
        if not self.bundle or not os.path.isfile(self.bundle):
            return
        reasons = self.switch_reasons()
        if not reasons:
            self.use_requested.emit(self.bundle)
            return
        if self.question is not None:
            self.question.raise_()
            return
        yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
        box = QMessageBox(
            QMessageBox.Icon.Question,
            APP_NAME,
            "Make this run's model the Tag tab's model instead of the current one?",
            yes | no,
            self,
        )
        box.setInformativeText("\n".join(f"• {r}" for r in reasons))
        box.button(yes).setText("Use it anyway")
        box.button(no).setText("Keep the current model")
        box.setDefaultButton(no)
        bundle = self.bundle
        box.finished.connect(lambda _result: self._answered(box, bundle))
        self.question = box
        box.open()  # the window (and a comparison still running) carries on meanwhile

    def _answered(self, box: QMessageBox, bundle: str) -> None:
        use = box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)
        if self.question is box:
            self.question = None
        box.deleteLater()
        if use and bundle == self.bundle:
            self.use_requested.emit(bundle)

    def switch_reasons(self) -> list[str]:
        """Why "Use this model" asks first (one line each; empty: it does not): the labels and one-value
        rules the Tag tab's model has and this one lacks, and a comparison that is worse, undecided or
        not made yet. Nothing to ask without a Tag tab model (nothing would be lost)."""
        current = self.current_model()
        if not current or not self.bundle or os.path.abspath(current) == os.path.abspath(self.bundle):
            return []
        done = self.result is not None and str(self.result.models[-1].get("bundle")) == self.bundle
        return reasons_to_ask(self.changes(), dict(self.result.verdict) if done and self.result else None)

    def changes(self) -> ModelChanges:
        """What the run's model would lose and add against the Tag tab's, read from the two files (nothing
        when there is no Tag tab model or a file cannot be read)."""
        key = (self.current_model() or "", self.bundle or "")
        if self._changes is None or self._changes[0] != key:
            self._changes = (key, *_read_changes(*key))
        return self._changes[1]

    def _show_changes(self) -> None:
        self.changes()
        assert self._changes is not None
        text = " ".join(t for t in (changes_text(self._changes[1]), self._changes[2]) if t)
        self.changes_label.setText(text)
        self.changes_label.setVisible(bool(text))

    def model_used(self, bundle: str, photos: int) -> None:
        """``bundle`` is now the Tag tab's model: offer to tag the library's ``photos`` with it."""
        if bundle != self.bundle:
            return
        self._show_retag(f"It is now the Tag tab's model. Tag the library's {photos:,} photos with it?")

    def _show_retag(self, text: str | None) -> None:
        self.retag_label.setText(text or "")
        self.retag_label.setVisible(text is not None)
        self.retag_button.setVisible(text is not None)

    def _retag_clicked(self) -> None:
        if self.bundle:
            self._show_retag(None)
            self.retag_requested.emit(self.bundle)

    def _update_buttons(self) -> None:
        busy = self.worker is not None
        self.compare_button.setEnabled(not busy and self.problem() is None)
        self.compare_button.setToolTip(self.problem() or "Score both models on the held-out reviewed photos")
        self.cancel_button.setEnabled(busy)
        self.use_button.setEnabled(bool(self.bundle) and os.path.isfile(self.bundle or ""))
        self._show_changes()

    def refresh(self) -> None:
        """The Tag tab's model or the library changed: say whether a comparison can run."""
        self._update_buttons()

    def stop(self, msecs: int = 10_000) -> None:
        """Stop every comparison still running (closing the window) and wait for it."""
        self.worker = None
        for worker in self.findChildren(ProcessWorker):
            worker.cancel()
            if not worker.wait(msecs):
                worker.kill()
