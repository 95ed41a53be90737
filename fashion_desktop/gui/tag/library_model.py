"""Thin Qt list model over a catalog's images, the active model's scores and people's decisions."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.ma  # noqa: F401  np.unique imports it on first use: pay that at start-up, not mid-run
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.catalog_reader import CatalogReader, ImageColumns
from fashion_desktop.core.tags import (
    UNDECIDED,
    UNTUNED_THRESHOLD,
    YES,
    apply_decisions,
    default_thresholds,
    predicted_matrix,
    review_decisions,
    settled_labels,
    tag_lists,
)
from fashion_desktop.core.thresholds import UNCERTAIN_MARGIN, ThresholdPolicy, uncertainty
from fashion_desktop.model.groups import exclusive_columns, exclusive_labels

_Index = QModelIndex | QPersistentModelIndex


class Roles(IntEnum):
    """Custom roles, declared once; views and delegates read these."""

    Id = Qt.ItemDataRole.UserRole + 1
    Path = Qt.ItemDataRole.UserRole + 2
    ThumbKey = Qt.ItemDataRole.UserRole + 3  # (path, size, mtime)
    FinalTags = Qt.ItemDataRole.UserRole + 4  # list[str], label order then extra decided labels
    Confirmed = Qt.ItemDataRole.UserRole + 5  # {label: bool}: what a person decided
    Scores = Qt.ItemDataRole.UserRole + 6  # {label: float} or {} when not tagged by the active model
    State = Qt.ItemDataRole.UserRole + 7  # one of STATES
    Error = Qt.ItemDataRole.UserRole + 8
    Reviewed = Qt.ItemDataRole.UserRole + 9
    Uncertain = Qt.ItemDataRole.UserRole + 10  # bool: an undecided label's score is near its threshold


STATES = ("reviewed", "predicted", "untagged", "failed")
REVIEW_FILTERS = ("all", "unreviewed", "reviewed", "predicted", "untagged", "failed")
SORT_KEYS = ("name", "date", "confidence", "uncertain")


@dataclass(frozen=True)
class ViewSpec:
    """What the grid shows and in which order."""

    tags: tuple[str, ...] = ()
    tag_mode: str = "any"  # any / all / none
    score_min: float = 0.0
    score_max: float = 1.0
    review: str = "all"  # one of REVIEW_FILTERS
    sort: str = "name"  # one of SORT_KEYS ("uncertain": scores nearest a threshold first)
    descending: bool = False
    text: str = ""


@dataclass
class _Store:
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    paths: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    mtimes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    reviewed: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    rank: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # position in name order
    errors: dict[int, str] = field(default_factory=dict)  # slot -> reason

    def __len__(self) -> int:
        return len(self.paths)


def name_ranks(paths: Sequence[str]) -> np.ndarray:
    """Each path's position when sorted by file name (case-insensitive), then by folder."""
    keys = [(os.path.basename(p).lower(), p) for p in paths]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    ranks = np.empty(len(keys), np.int64)
    ranks[np.asarray(order, np.int64)] = np.arange(len(keys))
    return ranks


def _drop_known(cols: ImageColumns, known_ids: np.ndarray) -> ImageColumns:
    """The photos of ``cols`` whose id is not in ``known_ids``."""
    if not len(cols) or not len(known_ids):
        return cols
    keep = ~np.isin(cols.ids, known_ids)
    if keep.all():
        return cols
    if not keep.any():
        return ImageColumns(cols.ids[:0], [], cols.mtimes[:0], cols.sizes[:0], cols.reviewed[:0], {}, [])
    ids = cols.ids[keep]
    wanted = set(ids.tolist())
    return ImageColumns(
        ids,
        [p for p, k in zip(cols.paths, keep.tolist(), strict=True) if k],
        cols.mtimes[keep],
        cols.sizes[keep],
        cols.reviewed[keep],
        {i: e for i, e in cols.errors.items() if i in wanted},
        None if cols.names is None else [n for n, k in zip(cols.names, keep.tolist(), strict=True) if k],
    )


class LibraryModel(QAbstractListModel):
    """One row per visible image. Data lives in column arrays (slots); ``_view`` maps rows to slots.

    Writes go to the catalog first (committed at once) and then to these caches, so the grid always
    shows what is saved.
    """

    counts_changed = Signal()
    labels_changed = Signal()

    def __init__(self, catalog: Catalog, parent=None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.reader = CatalogReader(catalog.path)
        self.model_key: str | None = None
        self.labels: tuple[str, ...] = ()
        self.groups: dict[str, str] = {}  # the active model's groups
        self.person_groups: dict[str, str] = {}  # labels people created -> their group (creation order)
        self.defaults: np.ndarray = np.zeros(0, np.float32)
        self.policy = ThresholdPolicy()
        self.spec = ViewSpec()
        self._s = _Store()
        self._slot_of: dict[int, int] = {}
        self._scores = np.zeros((0, 0), np.float32)  # NaN where the active model has not scored
        self._scored = np.zeros(0, bool)
        self._pred = np.zeros((0, 0), bool)  # the model's opinion alone (core.tags.predicted_matrix)
        self._dec = np.zeros((0, 0), np.int8)  # decisions on the model's labels: -1 none, 0 no, 1 yes
        self._decisions: dict[int, dict[str, bool]] = {}  # slot -> {label: value}
        self._thresholds = np.zeros(0, np.float32)
        self.exclusive: tuple[str, ...] = ()  # the active model's exclusive groups
        self._exclusive: tuple[np.ndarray, ...] = ()
        self._floors: set[str] = set()
        self._scores_since = -1.0
        self._view = np.zeros(0, np.int64)
        self._row_of: np.ndarray | None = None
        self._label_index: dict[str, int] = {}
        self._slot_of_path: dict[str, int] | None = None
        self._known_max = 0  # the largest image id the catalog held at the last reload

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
        s = self._s
        if role == Qt.ItemDataRole.DisplayRole:
            return s.names[slot]
        if role == Roles.Id:
            return int(s.ids[slot])
        if role == Roles.Path:
            return s.paths[slot]
        if role == Roles.ThumbKey:
            return (s.paths[slot], int(s.sizes[slot]), float(s.mtimes[slot]))
        if role == Roles.FinalTags:
            return self.final_tags(slot)
        if role == Roles.Confirmed:
            return dict(self._decisions.get(slot, {}))
        if role == Roles.Scores:
            if not self._scored[slot]:
                return {}
            return {lab: float(v) for lab, v in zip(self.labels, self._scores[slot], strict=True)}
        if role == Roles.State:
            return self._state(slot)
        if role == Roles.Error:
            return s.errors.get(slot)
        if role == Roles.Reviewed:
            return bool(s.reviewed[slot])
        if role == Roles.Uncertain:
            return bool(self._near_threshold(slot))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(slot)
        return None

    def _tooltip(self, slot: int) -> str:
        """Path, every tag (the grid shows two rows of chips at most), labels near their threshold."""
        lines = [self._s.paths[slot]]
        tags = self.final_tags(slot)
        lines.append(f"Tags ({len(tags)}): {', '.join(tags)}" if tags else "No tags")
        near = self._near_threshold(slot)
        if near:
            lines.append(
                "Near the threshold: "
                + ", ".join(
                    f"{self.labels[i]} {self._scores[slot, i]:.2f} (threshold {self._thresholds[i]:.2f})"
                    for i in near
                )
            )
        err = self._s.errors.get(slot)
        if err:
            lines.append(err)
        return "\n".join(lines)

    def _near_threshold(self, slot: int) -> list[int]:
        """Labels (indexes) of an unreviewed photo whose score is within UNCERTAIN_MARGIN of its threshold
        and that no person decided: the ones worth a look."""
        if self._s.reviewed[slot] or not self._scored[slot] or not len(self.labels):
            return []
        distance = np.abs(self._scores[slot] - self._thresholds)
        return np.flatnonzero((self._dec[slot] == UNDECIDED) & (distance < UNCERTAIN_MARGIN)).tolist()

    def roleNames(self) -> dict[int, bytes]:
        names = super().roleNames()
        for r in Roles:
            names[int(r)] = r.name.encode()
        return names

    # -- per-image facts --------------------------------------------------------------------
    def _state(self, slot: int) -> str:
        if self._s.reviewed[slot]:
            return "reviewed"
        if slot in self._s.errors:
            return "failed"
        if self._scored[slot] or slot in self._decisions:
            return "predicted"
        return "untagged"

    def final_tags(self, slot: int) -> list[str]:
        final = apply_decisions(self._pred[slot : slot + 1], self._dec[slot : slot + 1])
        return tag_lists(self.labels, final, [self._decisions.get(slot, {})])[0]

    def row_of_id(self, image_id: int) -> int:
        slot = self._slot_of.get(int(image_id))
        if slot is None:
            return -1
        return int(self._rows()[slot])

    def id_at(self, row: int) -> int:
        return int(self._s.ids[self._view[row]])

    def ids_at(self, rows: Iterable[int]) -> list[int]:
        return [int(self._s.ids[self._view[r]]) for r in rows]

    def decision(self, image_id: int, label: str) -> bool | None:
        slot = self._slot_of.get(int(image_id))
        return None if slot is None else self._decisions.get(slot, {}).get(label)

    def is_reviewed(self, image_id: int) -> bool:
        slot = self._slot_of.get(int(image_id))
        return slot is not None and bool(self._s.reviewed[slot])

    def has_tag(self, image_id: int, label: str) -> bool:
        return label in self.tags_of(image_id)

    def tags_of(self, image_id: int) -> list[str]:
        """Final tags of an image (a decision wins, else the score against its threshold)."""
        slot = self._slot_of.get(int(image_id))
        return [] if slot is None else self.final_tags(slot)

    def scores_of(self, image_id: int) -> dict[str, float]:
        slot = self._slot_of.get(int(image_id))
        if slot is None or not self._scored[slot]:
            return {}
        return {lab: float(v) for lab, v in zip(self.labels, self._scores[slot], strict=True)}

    def thumb_key(self, image_id: int) -> tuple[str, int, float] | None:
        slot = self._slot_of.get(int(image_id))
        if slot is None:
            return None
        return (self._s.paths[slot], int(self._s.sizes[slot]), float(self._s.mtimes[slot]))

    def path_of(self, image_id: int) -> str | None:
        slot = self._slot_of.get(int(image_id))
        return None if slot is None else self._s.paths[slot]

    def error_of(self, image_id: int) -> str | None:
        slot = self._slot_of.get(int(image_id))
        return None if slot is None else self._s.errors.get(slot)

    def predicted(self, image_id: int, label: str) -> bool:
        """The model's opinion alone (no decision applied)."""
        slot = self._slot_of.get(int(image_id))
        i = self._label_index.get(label)
        return slot is not None and i is not None and bool(self._pred[slot, i])

    def all_ids(self) -> list[int]:
        return self._s.ids.tolist()

    def next_unreviewed(self, row: int, step: int = 1) -> int:
        """The next (step 1) or previous (step -1) unreviewed row after ``row``, wrapping; -1 if none."""
        n = len(self._view)
        if not n:
            return -1
        rows = np.flatnonzero(~self._s.reviewed[self._view])
        if not len(rows):
            return -1
        if step > 0:
            after = rows[rows > row]
            return int(after[0] if len(after) else rows[0])
        before = rows[rows < row]
        return int(before[-1] if len(before) else rows[-1])

    def image_count(self) -> int:
        return len(self._s)

    def untagged_count(self) -> int:
        """Photos the active model has not scored yet and that did not fail (0 without a model)."""
        if not self.model_key or not len(self._scored):
            return 0
        unscored = ~self._scored
        failed = sum(1 for slot in self._s.errors if slot < len(unscored) and unscored[slot])
        return int(unscored.sum()) - failed

    def all_labels(self) -> list[str]:
        """The active model's labels, then labels people created (in creation order; a new one comes last,
        so no other label's key moves), then other labels only people have used (sorted)."""
        created = [lab for lab in self.person_groups if lab not in self._label_index]
        known = set(created)
        extra = {
            lab
            for d in self._decisions.values()
            for lab in d
            if lab not in self._label_index and lab not in known
        }
        return list(self.labels) + created + sorted(extra)

    def label_groups(self) -> dict[str, str]:
        """Every label's group as shown: the active model's, and the group of each label a person
        created (the model's wins for a label it has)."""
        return {**self.person_groups, **self.groups}

    def _rows(self) -> np.ndarray:
        if self._row_of is None or len(self._row_of) != len(self._s):
            self._row_of = np.full(len(self._s), -1, np.int64)
            self._row_of[self._view] = np.arange(len(self._view))
        return self._row_of

    # -- loading ---------------------------------------------------------------------------
    def reload(self) -> None:
        """Read everything from the catalog again (opening a library, after a scan removed files)."""
        self.beginResetModel()
        self._s = _Store()
        self._slot_of = {}
        self._decisions = {}
        self.person_groups = self.catalog.person_labels()
        self._known_max = self.reader.max_image_id()  # ids above it are new photos: nothing to load
        cols = self.reader.images()
        self._append_columns(cols)
        self._s.rank = name_ranks(cols.paths)
        self._slot_of_path = None
        self._scores_since = -1.0
        self._load_scores()
        self._load_decisions()
        self._recompute_pred(np.arange(len(self._s)))
        self._view = self._compute_view()
        self._row_of = None
        self.endResetModel()
        self.counts_changed.emit()

    def _append_columns(self, cols: ImageColumns) -> np.ndarray:
        s = self._s
        start = len(s)
        n = len(cols)
        s.ids = np.concatenate([s.ids, cols.ids])
        s.paths.extend(cols.paths)
        s.names.extend(cols.names if cols.names is not None else (os.path.basename(p) for p in cols.paths))
        s.mtimes = np.concatenate([s.mtimes, cols.mtimes])
        s.sizes = np.concatenate([s.sizes, cols.sizes])
        s.reviewed = np.concatenate([s.reviewed, cols.reviewed])
        # Until the scan ends (and ranks are computed off the GUI thread) new photos sort last.
        top = int(s.rank.max()) + 1 if len(s.rank) else 0
        s.rank = np.concatenate([s.rank, np.arange(top, top + n, dtype=np.int64)])
        self._slot_of_path = None
        for k, i in enumerate(cols.ids.tolist()):
            self._slot_of[i] = start + k
        for image_id, err in cols.errors.items():
            s.errors[self._slot_of[image_id]] = err
        nl = len(self.labels)
        self._scores = np.concatenate([self._scores, np.full((n, nl), np.nan, np.float32)])
        self._scored = np.concatenate([self._scored, np.zeros(n, bool)])
        self._pred = np.concatenate([self._pred, np.zeros((n, nl), bool)])
        self._dec = np.concatenate([self._dec, np.full((n, nl), UNDECIDED, np.int8)])
        return np.arange(start, start + n)

    def max_id(self) -> int:
        return int(self._s.ids.max()) if len(self._s) else 0

    def append_new_images(self, cols: ImageColumns | None = None) -> int:
        """Add images the catalog gained (read here, or already read by the scan worker); return how many.

        New rows that pass the filter are inserted at the end of the view in one batch; the order is
        fixed up by ``sync_finished`` when the scan ends.
        """
        if cols is None:
            cols = self.reader.images(after_id=self.max_id())
        cols = _drop_known(cols, self._s.ids)
        if not len(cols):
            return 0
        if int(cols.ids.min()) <= self._known_max:
            # Photos coming back (a folder added again) have scores and decisions in the catalog.
            self.reload()
            return len(cols)
        self._known_max = int(cols.ids.max())
        slots = self._append_columns(cols)
        self._row_of = None
        keep = slots[self._filter_mask(slots)]
        if len(keep):
            first = len(self._view)
            self.beginInsertRows(QModelIndex(), first, first + len(keep) - 1)
            self._view = np.concatenate([self._view, keep])
            self._row_of = None
            self.endInsertRows()
        self.counts_changed.emit()
        return len(cols)

    def resort(self) -> None:
        """Re-apply filter and order, keeping selection and current item (persistent indexes)."""
        new_view = self._compute_view()
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
        old_rows = self._rows()
        persistent = self.persistentIndexList()
        old_slots = [int(self._view[p.row()]) if p.isValid() else -1 for p in persistent]
        self._view = new_view
        self._row_of = None
        new_rows = self._rows()
        self.changePersistentIndexList(
            persistent, [self.index(int(new_rows[s]), 0) if s >= 0 else QModelIndex() for s in old_slots]
        )
        del old_rows
        self.layoutChanged.emit()

    def _membership(self, view: np.ndarray) -> np.ndarray:
        mask = np.zeros(len(self._s), bool)
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
        if len(present) != len(self._s):  # files went away (or came back): rare, start over
            self.reload()
            return
        s = self._s
        if np.array_equal(s.ids, present.ids):
            slots = np.arange(len(present), dtype=np.int64)
        else:
            slots = np.fromiter((self._slot_of[i] for i in present.ids.tolist()), np.int64, len(present))
        changed = slots[(s.mtimes[slots] != present.mtimes) | (s.sizes[slots] != present.sizes)]
        s.mtimes[slots] = present.mtimes
        s.sizes[slots] = present.sizes
        s.reviewed[slots] = present.reviewed
        s.errors = {self._slot_of[i]: e for i, e in present.errors.items()}
        s.rank[slots] = ranks if ranks is not None else name_ranks(present.paths)
        if len(changed):  # a changed file's old scores were dropped by the catalog
            self._scores[changed] = np.nan
            self._scored[changed] = False
            self._pred[changed] = False
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
    ) -> None:
        """Show scores of this model (labels from the catalog when not given; ``defaults``, the
        model's own thresholds, and ``exclusive``, its exclusive groups, from the catalog when not given:
        a tagging run's first event names them before the catalog has the model)."""
        rec = self.catalog.model(key) if key else None
        if key and not labels:
            labels = self.reader.model_labels(key) or ()
            groups = groups or (rec.groups if rec else {})
        self.model_key = key
        self.labels = tuple(labels)
        self.groups = dict(groups or {})
        self._label_index = {lab: i for i, lab in enumerate(self.labels)}
        # Exclusive groups (one value per photo) as the catalog recorded them for this model's labels.
        if exclusive is None:
            same_labels = rec is not None and rec.labels == self.labels
            exclusive = rec.exclusive if same_labels and rec is not None else ()
        self.exclusive = tuple(exclusive)
        self._exclusive = exclusive_columns(self.labels, self.groups, self.exclusive)
        self._floors = exclusive_labels(self.labels, self.groups, self.exclusive)
        if defaults is None:
            same = rec is not None and rec.labels == self.labels
            defaults = default_thresholds(rec) if same else np.full(len(self.labels), UNTUNED_THRESHOLD)
        self.defaults = np.asarray(defaults, np.float32)
        n, nl = len(self._s), len(self.labels)
        self._scores = np.full((n, nl), np.nan, np.float32)
        self._scored = np.zeros(n, bool)
        self._pred = np.zeros((n, nl), bool)
        self._scores_since = -1.0
        self._load_scores()
        self._load_decisions()
        self._thresholds = self.policy.thresholds(self.labels, self.defaults, self._floors)
        self._recompute_pred(np.arange(n))
        # No reset: the grid keeps its scroll position, current photo and selection.
        self.resort()
        if len(self._view):
            self.dataChanged.emit(self.index(0), self.index(len(self._view) - 1))
        self.labels_changed.emit()
        self.counts_changed.emit()

    def _load_scores(self) -> np.ndarray:
        """Read scores written since the last read; return the slots that changed."""
        if not self.model_key:
            return np.zeros(0, np.int64)
        ids, mat, self._scores_since = self.reader.scores_since(self.model_key, self._scores_since)
        if not len(ids) or mat.shape[1] != len(self.labels):
            return np.zeros(0, np.int64)
        slots = np.fromiter((self._slot_of.get(int(i), -1) for i in ids), np.int64, len(ids))
        ok = slots >= 0
        slots, mat = slots[ok], mat[ok]
        self._scores[slots] = mat
        self._scored[slots] = True
        return slots

    def _load_decisions(self) -> None:
        self._decisions = {}
        nl = len(self.labels)
        self._dec = np.full((len(self._s), nl), UNDECIDED, np.int8)
        for image_id, label, value in self.reader.decisions():
            slot = self._slot_of.get(image_id)
            if slot is not None:
                self._set_decision_cache(slot, label, value)

    def _set_decision_cache(self, slot: int, label: str, value: bool | None) -> None:
        d = self._decisions.setdefault(slot, {})
        if value is None:
            d.pop(label, None)
            if not d:
                del self._decisions[slot]
        else:
            d[label] = value
        i = self._label_index.get(label)
        if i is not None:
            self._dec[slot, i] = UNDECIDED if value is None else int(bool(value))

    def _recompute_pred(self, slots: np.ndarray) -> None:
        if not len(self.labels) or not len(slots):
            return
        self._pred[slots] = predicted_matrix(
            self._scores[slots], self._thresholds, self.policy, self._exclusive
        )

    def refresh_scores(self) -> int:
        """Pick up scores a running tagging job has written; update only the rows that changed."""
        slots = self._load_scores()
        # Load errors recorded by the job too (cheap: only failed images are stored with a reason).
        errs = self.reader.errors()
        changed_err = set()
        new_errors = {self._slot_of[i]: e for i, e in errs.items() if i in self._slot_of}
        if new_errors != self._s.errors:
            changed_err = set(new_errors) ^ set(self._s.errors)
            self._s.errors = new_errors
        if not len(slots) and not changed_err:
            return 0
        self._recompute_pred(slots)
        self._emit_changed(np.concatenate([slots, np.fromiter(changed_err, np.int64, len(changed_err))]))
        self.counts_changed.emit()
        return len(slots)

    def apply_scores(self, image_ids: np.ndarray, scores: np.ndarray) -> int:
        """Show scores a tagging run reported (it saved them already) without reading the catalog."""
        if not len(image_ids) or scores.ndim != 2 or scores.shape[1] != len(self.labels):
            return 0
        slots = np.fromiter(
            (self._slot_of.get(int(i), -1) for i in image_ids.tolist()), np.int64, len(image_ids)
        )
        ok = slots >= 0
        slots = slots[ok]
        self._scores[slots] = scores[ok]
        self._scored[slots] = True
        self._recompute_pred(slots)
        for i in slots.tolist():
            self._s.errors.pop(i, None)
        self._emit_changed(slots)
        self.counts_changed.emit()
        return len(slots)

    def apply_errors(self, errors: Sequence[tuple[str, str]]) -> int:
        """Show photos a tagging run could not read, with the reason (by path)."""
        if self._slot_of_path is None:
            self._slot_of_path = {p: i for i, p in enumerate(self._s.paths)}
        slots = [self._slot_of_path[p] for p, _ in errors if p in self._slot_of_path]
        for p, reason in errors:
            if p in self._slot_of_path:
                self._s.errors[self._slot_of_path[p]] = reason
        self._emit_changed(np.asarray(slots, np.int64))
        return len(slots)

    def set_policy(self, policy: ThresholdPolicy) -> None:
        """New thresholds: chips, filter results and counts follow at once."""
        thresholds = policy.thresholds(self.labels, self.defaults, self._floors)
        if policy == self.policy and np.array_equal(thresholds, self._thresholds):
            return  # nothing moved: spare 100,000 rows a recount
        self.policy = policy
        self._thresholds = thresholds
        self._recompute_pred(np.arange(len(self._s)))
        if self.spec.tags or self.spec.review in ("predicted", "untagged") or self.spec.sort == "uncertain":
            self.resort()
        if len(self._view):
            self.dataChanged.emit(
                self.index(0), self.index(len(self._view) - 1), [Roles.FinalTags, Roles.State]
            )
        self.counts_changed.emit()

    def thresholds(self) -> dict[str, float]:
        return {lab: float(t) for lab, t in zip(self.labels, self._thresholds, strict=True)}

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Per label: images whose final tag is on, and images where a person confirmed it on."""
        if not self.labels:
            return {}, {}
        pred = apply_decisions(self._pred, self._dec).sum(axis=0)
        conf = (self._dec == YES).sum(axis=0)
        return (
            {lab: int(v) for lab, v in zip(self.labels, pred, strict=True)},
            {lab: int(v) for lab, v in zip(self.labels, conf, strict=True)},
        )

    # -- edits (committed to the catalog before the caches change) ---------------------------
    def _mirror_decisions(
        self, changes: Sequence[tuple[int, str, bool | None]], labels_changed: bool = False
    ) -> list[int]:
        """Mirror decisions already in the catalog into the grid's cache; the slots they touched.
        The label list changes when asked or when a label is new to the grid (a person's new tag)."""
        slots = []
        for image_id, label, value in changes:
            slot = self._slot_of.get(int(image_id))
            if slot is not None:
                self._set_decision_cache(slot, label, value)
                slots.append(slot)
        if labels_changed or any(lab not in self._label_index for _, lab, _ in changes):
            self.labels_changed.emit()
        return slots

    def write_decisions(self, changes: Sequence[tuple[int, str, bool | None]]) -> None:
        """Apply (image id, label, value-or-None) decisions: catalog first, then the grid."""
        self.catalog.set_decisions(changes)
        slots = self._mirror_decisions(changes)
        self._emit_changed(np.asarray(slots, np.int64))
        self.counts_changed.emit()

    def review_changes(self, image_ids: Sequence[int]) -> list[tuple[int, str, bool | None]]:
        """The decisions marking these photos reviewed records now (``core.tags.review_decisions``) over
        the model's labels and the labels people created (``core.tags.settled_labels``)."""
        settled = settled_labels(self.labels, self.person_groups)
        return [
            (i, label, value)
            for i in image_ids
            for label, value in review_decisions(
                settled, self.tags_of(i), self._decisions.get(self._slot_of.get(int(i), -1), {})
            ).items()
        ]

    def create_label(self, label: str, group: str, changes: Sequence[tuple[int, str, bool | None]]) -> None:
        """A person's new label in ``group`` with its first decisions: catalog first (one transaction;
        raises ValueError for a refused name), then the grid; ``labels_changed`` follows."""
        self.catalog.add_person_label(label, group, changes)
        self.person_groups = self.catalog.person_labels()
        self._cache_decisions(changes)

    def forget_label(self, label: str, changes: Sequence[tuple[int, str, bool | None]]) -> None:
        """Undo ``create_label``: the label and the given decisions go (catalog first, then the grid)."""
        self.catalog.remove_person_label(label, changes)
        self.person_groups = self.catalog.person_labels()
        self._cache_decisions(changes)

    def _cache_decisions(self, changes: Sequence[tuple[int, str, bool | None]]) -> None:
        slots = self._mirror_decisions(changes, labels_changed=True)
        self._emit_changed(np.asarray(slots, np.int64))
        self.counts_changed.emit()

    def write_reviewed(
        self,
        image_ids: Sequence[int],
        reviewed: bool,
        decisions: Sequence[tuple[int, str, bool | None]] = (),
    ) -> None:
        """Mark photos reviewed or not, with the ``decisions`` that goes with it: catalog first, in one
        transaction, then the grid."""
        self.catalog.set_reviewed(list(image_ids), reviewed, decisions)
        slots = [self._slot_of[i] for i in image_ids if i in self._slot_of]
        slots += self._mirror_decisions(decisions)
        self._s.reviewed[slots] = reviewed
        self._emit_changed(np.asarray(slots, np.int64))
        self.counts_changed.emit()

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

    def _final_matrix(self, slots: np.ndarray) -> np.ndarray:
        return apply_decisions(self._pred[slots], self._dec[slots])

    def _filter_mask(self, slots: np.ndarray) -> np.ndarray:
        spec = self.spec
        keep = np.ones(len(slots), bool)
        if not len(slots):
            return keep
        reviewed = self._s.reviewed[slots]
        if spec.review != "all":
            failed = np.fromiter((int(s) in self._s.errors for s in slots), bool, len(slots))
            has_dec = np.fromiter((int(s) in self._decisions for s in slots), bool, len(slots))
            predicted = ~reviewed & ~failed & (self._scored[slots] | has_dec)
            keep &= {
                "reviewed": reviewed,
                "unreviewed": ~reviewed,
                "failed": failed,
                "predicted": predicted,
                "untagged": ~reviewed & ~failed & ~predicted,
            }[spec.review]
        idx = [self._label_index[t] for t in spec.tags if t in self._label_index]
        if spec.tags:
            if idx:
                final = self._final_matrix(slots)[:, idx]
                hit = {"all": final.all(axis=1), "none": ~final.any(axis=1)}.get(
                    spec.tag_mode, final.any(axis=1)
                )
            else:  # labels only people used: look them up in the decisions
                hit = np.zeros(len(slots), bool)
            extra = [t for t in spec.tags if t not in self._label_index]
            if extra:
                ext = np.array(
                    [[self._decisions.get(int(s), {}).get(t, False) for t in extra] for s in slots], bool
                )
                if spec.tag_mode == "all":
                    hit = (hit if idx else True) & ext.all(axis=1)
                elif spec.tag_mode == "none":
                    hit = (hit if idx else True) & ~ext.any(axis=1)
                else:
                    hit = hit | ext.any(axis=1)
            keep &= hit
        if (spec.score_min > 0.0 or spec.score_max < 1.0) and self.labels:
            cols = idx or list(range(len(self.labels)))
            best = self._scores[slots][:, cols].max(axis=1)
            keep &= self._scored[slots] & (best >= spec.score_min) & (best <= spec.score_max)
        if spec.text:
            needle = spec.text.lower()
            keep &= np.fromiter((needle in self._s.names[int(s)].lower() for s in slots), bool, len(slots))
        return keep

    def _compute_view(self) -> np.ndarray:
        slots = np.arange(len(self._s), dtype=np.int64)
        slots = slots[self._filter_mask(slots)]
        spec = self.spec
        if spec.sort == "date":
            key = self._s.mtimes[slots]
            order = np.argsort(np.nan_to_num(key, nan=-1.0), kind="stable")
        elif spec.sort in ("confidence", "uncertain") and self.labels:
            scored = self._scored[slots]
            if spec.sort == "confidence":
                # Confidence = the best score (most sure an image has some tag); unscored sort last.
                key = np.where(scored, self._scores[slots].max(axis=1), -1.0)
                order = np.argsort(-key if not spec.descending else key, kind="stable")
                return slots[order]
            key = np.where(scored, uncertainty(self._scores[slots], self._thresholds), np.inf)
            order = np.argsort(key, kind="stable")
            return slots[order]
        else:
            order = np.argsort(self._s.rank[slots], kind="stable")
        if spec.descending:
            order = order[::-1]
        return slots[order]
