"""Thin Qt list model over a library's columns (``core.library_columns``): rows, roles and signals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.ma  # noqa: F401  np.unique imports it on first use: pay that at start-up, not mid-run
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.catalog_reader import CatalogReader, ImageColumns
from fashion_desktop.core.library_columns import (
    GROW_AHEAD_FROM,
    REVIEW_FILTER_TEXT,
    REVIEW_FILTERS,
    SORT_KEYS,
    STATES,
    Changes,
    LibraryColumns,
    ViewSpec,
    extend_rows,
    grow_ahead,
    name_ranks,
)
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.gui.tag.view_jobs import ASYNC_VIEW_PHOTOS, ViewJobs, ViewRequest

# Names the grid, filter bar and library session import from here.
__all__ = [
    "REVIEW_FILTER_TEXT",
    "REVIEW_FILTERS",
    "SORT_KEYS",
    "STATES",
    "LibraryModel",
    "Roles",
    "ViewSpec",
    "name_ranks",
]

_Index = QModelIndex | QPersistentModelIndex


class Roles(IntEnum):
    """Custom roles, declared once; views and delegates read these."""

    Id = Qt.ItemDataRole.UserRole + 1
    Path = Qt.ItemDataRole.UserRole + 2
    ThumbKey = Qt.ItemDataRole.UserRole + 3  # (path, size, mtime, when its picture changed)
    FinalTags = Qt.ItemDataRole.UserRole + 4  # list[str], label order then extra decided labels
    Confirmed = Qt.ItemDataRole.UserRole + 5  # {label: bool}: what a person decided
    Scores = Qt.ItemDataRole.UserRole + 6  # {label: float} or {} when not tagged by the active model
    State = Qt.ItemDataRole.UserRole + 7  # one of STATES
    Error = Qt.ItemDataRole.UserRole + 8
    Reviewed = Qt.ItemDataRole.UserRole + 9
    Uncertain = Qt.ItemDataRole.UserRole + 10  # bool: the "?" badge (LibraryColumns.uncertain)


class LibraryModel(QAbstractListModel):
    """One row per visible photo over a ``LibraryColumns`` (``columns``); ``_view`` maps rows to its slots.

    Writes go to the catalog first (committed at once) and then to the columns, so the grid always
    shows what is saved; this class turns what changed into Qt's signals.
    """

    counts_changed = Signal()
    labels_changed = Signal()
    decided = Signal()  # a person's decisions or reviews changed (the adapter learns from them)

    def __init__(self, catalog: Catalog, parent=None) -> None:
        super().__init__(parent)
        self.columns = LibraryColumns(catalog)
        self.spec = ViewSpec()
        self._view = np.zeros(0, np.int64)
        self._row_of: np.ndarray | None = None
        self.view_jobs = ViewJobs(self)  # a big library's views, computed off the GUI thread
        self.view_jobs.ready.connect(self._view_ready)

    # -- what the columns know, as other code reads it ----------------------------------------
    @property
    def catalog(self) -> Catalog:
        return self.columns.catalog

    @property
    def reader(self) -> CatalogReader:
        return self.columns.reader

    @property
    def model_key(self) -> str | None:
        return self.columns.model_key

    @property
    def labels(self) -> tuple[str, ...]:
        return self.columns.labels

    @property
    def groups(self) -> dict[str, str]:
        return self.columns.groups

    @property
    def person_groups(self) -> dict[str, str]:
        return self.columns.person_groups

    @property
    def defaults(self) -> np.ndarray:
        return self.columns.defaults

    @property
    def policy(self) -> ThresholdPolicy:
        return self.columns.policy

    @property
    def exclusive(self) -> tuple[str, ...]:
        return self.columns.exclusive

    @property
    def at_least_one(self) -> tuple[str, ...]:
        return self.columns.at_least_one

    # -- Qt model interface ---------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._view)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._view):
            return None
        slot = int(self._view[index.row()])
        c, s = self.columns, self.columns.slots
        if role == Qt.ItemDataRole.DisplayRole:
            return s.names[slot]
        if role == Roles.Id:
            return int(s.ids[slot])
        if role == Roles.Path:
            return s.paths[slot]
        if role == Roles.ThumbKey:
            return c.thumb_key(slot)
        if role == Roles.FinalTags:
            return c.final_tags(slot)
        if role == Roles.Confirmed:
            return dict(c.decided.get(slot, {}))
        if role == Roles.Scores:
            return c.scores_at(slot)
        if role == Roles.State:
            return c.state(slot)
        if role == Roles.Error:
            return s.errors.get(slot)
        if role == Roles.Reviewed:
            return bool(s.reviewed[slot])
        if role == Roles.Uncertain:
            return c.uncertain(slot)
        if role == Qt.ItemDataRole.ToolTipRole:
            return c.tooltip(slot)
        return None

    def roleNames(self) -> dict[int, bytes]:
        names = super().roleNames()
        for r in Roles:
            names[int(r)] = r.name.encode()
        return names

    # -- per-image facts --------------------------------------------------------------------
    def final_tags(self, slot: int) -> list[str]:
        return self.columns.final_tags(slot)

    def row_of_id(self, image_id: int) -> int:
        slot = self.columns.slot(image_id)
        return -1 if slot is None else int(self._rows()[slot])

    def id_at(self, row: int) -> int:
        return int(self.columns.slots.ids[self._view[row]])

    def ids_at(self, rows: Iterable[int]) -> list[int]:
        return self.columns.ids(self._view[r] for r in rows)

    def decision(self, image_id: int, label: str) -> bool | None:
        slot = self.columns.slot(image_id)
        return None if slot is None else self.columns.decided.get(slot, {}).get(label)

    def is_reviewed(self, image_id: int) -> bool:
        slot = self.columns.slot(image_id)
        return slot is not None and bool(self.columns.slots.reviewed[slot])

    def is_to_confirm(self, image_id: int) -> bool:
        """Whether the photo's picture changed after a person decided on it (its decisions wait)."""
        slot = self.columns.slot(image_id)
        return slot is not None and bool(self.columns.slots.to_confirm[slot])

    def has_tag(self, image_id: int, label: str) -> bool:
        return label in self.tags_of(image_id)

    def tags_of(self, image_id: int) -> list[str]:
        """Final tags of an image (a decision wins, else the score against its threshold)."""
        slot = self.columns.slot(image_id)
        return [] if slot is None else self.columns.final_tags(slot)

    def scores_of(self, image_id: int) -> dict[str, float]:
        slot = self.columns.slot(image_id)
        return {} if slot is None else self.columns.scores_at(slot)

    def thumb_key(self, image_id: int) -> tuple[str, int, float, float] | None:
        slot = self.columns.slot(image_id)
        return None if slot is None else self.columns.thumb_key(slot)

    def path_of(self, image_id: int) -> str | None:
        slot = self.columns.slot(image_id)
        return None if slot is None else self.columns.slots.paths[slot]

    def error_of(self, image_id: int) -> str | None:
        slot = self.columns.slot(image_id)
        return None if slot is None else self.columns.slots.errors.get(slot)

    def predicted(self, image_id: int, label: str) -> bool:
        """The model's opinion alone (no decision applied)."""
        return self.columns.predicted(image_id, label)

    def all_ids(self) -> list[int]:
        return self.columns.slots.ids.tolist()

    def next_unreviewed(self, row: int, step: int = 1) -> int:
        """The next (step 1) or previous (step -1) unreviewed row after ``row``, wrapping; -1 if none. Under
        Needs attention: the next row that still needs attention (a photo just reviewed no longer does)."""
        return self.columns.next_unreviewed(self._view, row, step, self.spec.review == "attention")

    def attention_count(self) -> int:
        """How many photos of the library need attention (``core.review_queue``)."""
        return self.columns.attention_count()

    def unreviewed_shown(self) -> int:
        """How many photos of the view (the rows shown now) are not reviewed."""
        return int(len(self._view) - np.count_nonzero(self.columns.slots.reviewed[self._view]))

    def image_count(self) -> int:
        return len(self.columns)

    def untagged_count(self) -> int:
        """Photos the active model has not scored yet and that did not fail (0 without a model)."""
        return self.columns.untagged_count()

    def all_labels(self) -> list[str]:
        """The active model's labels, then labels people created, then other labels people used."""
        return self.columns.all_labels()

    def label_groups(self) -> dict[str, str]:
        """Every label's group as shown (``LibraryColumns.label_groups``)."""
        return self.columns.label_groups()

    def thresholds(self) -> dict[str, float]:
        return {lab: float(t) for lab, t in zip(self.labels, self.columns.thresholds, strict=True)}

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Per label: images whose final tag is on, and images where a person confirmed it on."""
        return self.columns.counts()

    def max_id(self) -> int:
        return self.columns.max_id()

    def _rows(self) -> np.ndarray:
        if self._row_of is None or len(self._row_of) != len(self.columns):
            self._row_of = np.full(len(self.columns), -1, np.int64)
            self._row_of[self._view] = np.arange(len(self._view))
        return self._row_of

    # -- loading ---------------------------------------------------------------------------
    def release(self) -> None:
        """Show and hold no photo (the library was closed): its columns' memory goes now, not whenever
        Python gets to the closed library's objects."""
        self.beginResetModel()
        self.view_jobs.cancel()
        self.columns.release()
        self._view = np.zeros(0, np.int64)
        self._row_of = None
        self.endResetModel()

    def reload(self) -> None:
        """Read everything from the catalog again (opening a library, after a scan removed files)."""
        self.beginResetModel()
        self.view_jobs.cancel()
        self.columns.reload()
        self._view = self.columns.view(self.spec)
        self._row_of = None
        self.endResetModel()
        self.counts_changed.emit()

    def adopt(self, columns: LibraryColumns, view: np.ndarray, spec: ViewSpec) -> None:
        """Show columns a worker loaded (a big library opening), with ``view``, their view under ``spec``:
        one reset, then the label list and the counts as after ``set_active_model``."""
        self.beginResetModel()
        self.view_jobs.cancel()
        old, self.columns = self.columns, columns
        self._view = view
        self._row_of = None
        self.endResetModel()
        old.reader.close()
        if spec != self.spec:  # the filters changed while it loaded
            self.resort()
        self.labels_changed.emit()
        self.counts_changed.emit()

    def append_new_images(self, cols: ImageColumns | None = None) -> int:
        """Add images the catalog gained (read here, or already read by the scan worker); return how many.

        New rows that pass the filter are inserted at the end of the view in one batch; the order is
        fixed up by ``sync_finished`` when the scan ends.
        """
        cols, coming_back = self.columns.new_photos(cols)
        if not len(cols):
            return 0
        if coming_back:
            self.reload()
            return len(cols)
        slots = self.columns.append(cols)
        keep = slots[self.columns.filter_mask(slots, self.spec)]
        first = len(self._view)
        if self._row_of is not None:  # the chunk's rows only, not the library's again
            self._row_of = extend_rows(self._row_of, len(slots), -1)
        if len(keep):
            self.beginInsertRows(QModelIndex(), first, first + len(keep) - 1)
            self._view = extend_rows(self._view, len(keep), keep)
            if self._row_of is not None:
                self._row_of[keep] = np.arange(first, first + len(keep))
            self.endInsertRows()
        if len(self.columns) >= GROW_AHEAD_FROM:
            grow_ahead([(self, "_row_of"), (self, "_view")], 4 * len(slots))
        self.counts_changed.emit()
        return len(cols)

    def resort(self) -> None:
        """Re-apply filter and order, keeping selection and current item (persistent indexes). A big
        library's view is computed off the GUI thread and shown when ready (``view_pending``)."""
        if (
            len(self.columns) >= ASYNC_VIEW_PHOTOS
            and self.spec.review != "attention"
            and not self.spec.similar
        ):
            # (Needs attention reads the queue's caches, which only the GUI thread keeps; similar is small.)
            self.view_jobs.submit(self.columns.view, self.spec, len(self.columns))
            return
        self.view_jobs.cancel()
        self._show_view(self.columns.view(self.spec))

    def view_pending(self) -> bool:
        """Whether a new view is being computed (the grid still shows the one before)."""
        return self.view_jobs.pending is not None

    def _view_ready(self, request: ViewRequest, view: np.ndarray | None) -> None:
        if view is None:  # it raced an edit: compute it here
            view = self.columns.view(request.spec, request.photos)
        photos = len(self.columns)
        if photos > request.photos:  # photos a scan added meanwhile, filtered as a chunk of the scan is
            added = np.arange(request.photos, photos, dtype=np.int64)
            view = np.concatenate([view, added[self.columns.filter_mask(added, request.spec)]])
        self._show_view(view)

    def _show_view(self, new_view: np.ndarray) -> None:
        if np.array_equal(new_view, self._view):
            return
        if len(new_view) != len(self._view) or not np.array_equal(
            self._membership(new_view), self._membership(self._view)
        ):
            self.beginResetModel()
            self._view = new_view
            self._row_of = None
            self.endResetModel()
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        old_slots = [int(self._view[p.row()]) if p.isValid() else -1 for p in persistent]
        self._view = new_view
        self._row_of = None
        new_rows = self._rows()
        self.changePersistentIndexList(
            persistent, [self.index(int(new_rows[s]), 0) if s >= 0 else QModelIndex() for s in old_slots]
        )
        self.layoutChanged.emit()

    def _membership(self, view: np.ndarray) -> np.ndarray:
        mask = np.zeros(len(self.columns), bool)
        mask[view] = True
        return mask

    def sync_finished(self, present: ImageColumns | None = None, ranks: np.ndarray | None = None) -> None:
        """After a scan: pick up changed files, drop files that went away, fix the order.

        ``present`` (every present image) and ``ranks`` (their name order) come from the scan worker,
        so the GUI thread does no big read or sort; without them they are read here.
        """
        if present is None:
            present = self.reader.images()
            ranks = None
        self.append_new_images(present)
        if len(present) != len(self.columns):  # files went away (or came back): rare, start over
            self.reload()
            return
        self.columns.sync(present, ranks)
        self._all_changed()

    def _all_changed(self) -> None:
        """Order again, then every row's data may differ (no reset: the grid keeps its scroll
        position, current photo and selection)."""
        self.resort()
        if len(self._view):
            self.dataChanged.emit(self.index(0), self.index(len(self._view) - 1))
        self.counts_changed.emit()

    # -- the active model and its scores -----------------------------------------------------
    def set_active_model(
        self,
        key: str | None,
        labels: Sequence[str] = (),
        groups: dict[str, str] | None = None,
        defaults: Sequence[float] | None = None,
        exclusive: Sequence[str] | None = None,
        at_least_one: Sequence[str] | None = None,
        badge: Mapping[str, Any] | None = None,
    ) -> None:
        """Show scores of this model (``LibraryColumns.set_active_model``)."""
        self.columns.set_active_model(key, labels, groups, defaults, exclusive, at_least_one, badge)
        self.resort()
        if len(self._view):
            self.dataChanged.emit(self.index(0), self.index(len(self._view) - 1))
        self.labels_changed.emit()
        self.counts_changed.emit()

    def refresh_scores(self) -> int:
        """Pick up scores a running tagging job has written; update only the rows that changed."""
        slots, changed_err = self.columns.refresh_scores()
        if not len(slots) and not changed_err:
            return 0
        self._emit_changed(np.concatenate([slots, np.fromiter(changed_err, np.int64, len(changed_err))]))
        self.counts_changed.emit()
        return len(slots)

    def apply_scores(self, image_ids: np.ndarray, scores: np.ndarray) -> int:
        """Show scores a tagging run reported (it saved them already) without reading the catalog."""
        if not len(image_ids) or scores.ndim != 2 or scores.shape[1] != len(self.labels):
            return 0
        slots = self.columns.apply_scores(image_ids, scores)
        self._emit_changed(slots)
        self.counts_changed.emit()
        return len(slots)

    def apply_errors(self, errors: Sequence[tuple[str, str]]) -> int:
        """Show photos a tagging run could not read, with the reason (by path)."""
        slots = self.columns.apply_errors(errors)
        self._emit_changed(slots)
        return len(slots)

    def set_policy(self, policy: ThresholdPolicy) -> None:
        """New thresholds: chips, filter results and counts follow at once."""
        if not self.columns.set_policy(policy):
            return  # nothing moved: spare 100,000 rows a recount
        spec = self.spec  # the views that depend on the thresholds
        if (
            spec.tags
            or spec.search
            or spec.review in ("predicted", "untagged", "attention")
            or spec.sort == "uncertain"
        ):
            self.resort()
        if len(self._view):
            self.dataChanged.emit(
                self.index(0), self.index(len(self._view) - 1), [Roles.FinalTags, Roles.State]
            )
        self.counts_changed.emit()

    # -- edits (committed to the catalog before the columns change) ---------------------------
    def write_decisions(self, changes: Changes) -> None:
        """Apply (image id, label, value-or-None) decisions: catalog first, then the grid."""
        self._decided(*self.columns.write_decisions(changes))

    def review_changes(self, image_ids: Sequence[int]) -> list[tuple[int, str, bool | None]]:
        """The decisions marking these photos reviewed records now (``LibraryColumns.review_changes``)."""
        return self.columns.review_changes(image_ids)

    def create_label(self, label: str, group: str, changes: Changes) -> None:
        """A person's new label in ``group`` with its first decisions: catalog first (one transaction;
        raises ValueError for a refused name), then the grid; ``labels_changed`` follows."""
        self._decided(self.columns.create_label(label, group, changes), True)

    def forget_label(self, label: str, changes: Changes) -> None:
        """Undo ``create_label``: the label and the given decisions go (catalog first, then the grid)."""
        self._decided(self.columns.forget_label(label, changes), True)

    def create_labels(self, labels: Mapping[str, str], changes: Changes) -> None:
        """``create_label`` for many ``{label: group}`` at once (an import's new tags), one transaction."""
        self._decided(self.columns.create_labels(labels, changes), True)

    def forget_labels(self, labels: Sequence[str], changes: Changes) -> None:
        """Undo ``create_labels``: the labels and the given decisions go (catalog first, then the grid)."""
        self._decided(self.columns.forget_labels(labels, changes), True)

    def _decided(self, slots: list[int], labels_changed: bool) -> None:
        """Signal decisions the columns took: the label list first when it changed."""
        if labels_changed:
            self.labels_changed.emit()
        self._emit_changed(np.asarray(slots, np.int64))
        self.counts_changed.emit()
        self.decided.emit()

    def apply_adapted(
        self,
        image_ids: np.ndarray,
        scores: np.ndarray,
        person: tuple[Sequence[str], np.ndarray, np.ndarray] = (),
    ) -> int:
        """Show the library adapter's scores of these photos (reviewed ones never change) and its suggestions
        of the person's own labels: ``person`` = (labels, scores [n, P], thresholds [P])."""
        slots = self.columns.set_adapted(image_ids, scores)
        if person and len(person[0]):
            slots = np.union1d(slots, self.columns.set_suggested(image_ids, *person))
        self._emit_changed(slots)
        return len(slots)  # the caller emits counts_changed once every block is shown

    def set_tuned_thresholds(self, tuned: np.ndarray | None, recompute: bool = True) -> bool:
        """The library adapter's thresholds (NaN: the model's) in place of the defaults; None: the model's.
        Without ``recompute`` the caller shows the new tags with ``recompute_rows``, a block at a time.
        Returns whether a threshold in effect moved."""
        if not self.columns.set_tuned_thresholds(tuned, recompute):
            return False
        if not recompute:
            return True
        if len(self._view):
            self.dataChanged.emit(
                self.index(0), self.index(len(self._view) - 1), [Roles.FinalTags, Roles.State]
            )
        self.counts_changed.emit()
        return True

    def recompute_rows(self, start: int, stop: int) -> None:
        """The tags of photos (slots ``start``..``stop``) under the thresholds now in effect."""
        self._emit_changed(self.columns.recompute_slots(start, stop))

    def drop_suggestions(self) -> int:
        """Forget the adapter's suggestions of the person's own labels (the adapter switched off)."""
        slots = self.columns.drop_suggestions()
        self._emit_changed(slots)
        if len(slots):
            self.counts_changed.emit()
        return len(slots)

    def restore_model_scores(self, image_ids: np.ndarray, scores: np.ndarray) -> int:
        """The model's own scores (a chunk read back from the catalog) in place of adapted ones; the caller
        emits counts_changed once every chunk is shown."""
        slots = self.columns.restore_model_scores(image_ids, scores)
        self._emit_changed(slots)
        return len(slots)

    def write_reviewed(self, image_ids: Sequence[int], reviewed: bool, decisions: Changes = ()) -> None:
        """Mark photos reviewed or not, with the ``decisions`` that goes with it: catalog first, in one
        transaction, then the grid."""
        self._decided(*self.columns.write_reviewed(image_ids, reviewed, decisions))

    def mirror_written(self, image_ids: Sequence[int], reviewed: bool, decisions: Changes) -> None:
        """Show what another connection already wrote to the catalog (an import recorded in a worker):
        ``image_ids`` marked ``reviewed`` (none: decisions only) and ``decisions``."""
        if image_ids:
            self._decided(*self.columns.mirror_reviewed(image_ids, reviewed, decisions))
        else:
            self._decided(*self.columns.mirror_decisions(decisions))

    def _emit_changed(self, slots: np.ndarray) -> None:
        """dataChanged over contiguous row ranges (few signals even for thousands of rows)."""
        if not len(slots):
            return
        rows = self._rows()[slots]
        rows = np.unique(rows[rows >= 0])
        if not len(rows):
            return
        breaks = np.flatnonzero(np.diff(rows) > 1)
        starts = np.concatenate([[rows[0]], rows[breaks + 1]])
        ends = np.concatenate([rows[breaks], [rows[-1]]])
        if len(starts) > 64:  # scattered rows: one span is cheaper than hundreds of signals
            starts, ends = starts[:1], ends[-1:]
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            self.dataChanged.emit(self.index(a), self.index(b))

    # -- filtering and sorting ---------------------------------------------------------------
    def set_spec(self, spec: ViewSpec) -> None:
        """Filter and sort again. Edits alone never move rows (a photo does not vanish while being
        reviewed); applying a filter again picks them up."""
        self.spec = spec
        self.resort()
