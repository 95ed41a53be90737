"""A library's photos as columns for the grid, Qt-free: scores, decisions, the tag rule, filter, order."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from ..model.badge import group_risks, photo_risk, risk_groups
from ..model.groups import at_least_one_columns, exclusive_columns, exclusive_labels
from .adapted_scores import AdaptedScores
from .catalog import Catalog
from .catalog_reader import CatalogReader, ImageColumns
from .column_room import extend_rows, new_column, room_left
from .label_counts import LabelCounts
from .name_search import NameSearch
from .review_queue import ReviewQueue
from .slot_index import SlotIndex
from .string_column import ENCODING, StringColumn
from .tag_search import parse
from .tags import (
    UNDECIDED,
    UNTUNED_THRESHOLD,
    apply_decisions,
    default_thresholds,
    predicted_matrix,
    review_decisions,
    settled_labels,
    tag_lists,
    two_person_values,
)
from .thresholds import UNCERTAIN_MARGIN, ThresholdPolicy, uncertainty

# (image id, label, value) decisions; None forgets one.
Changes = Sequence[tuple[int, str, bool | None]]

STATES = ("reviewed", "predicted", "untagged", "failed")
REVIEW_FILTERS = (
    "all", "attention", "unreviewed", "reviewed", "to confirm", "predicted", "untagged", "failed", "two values"
)  # fmt: skip
# What the review filter's choices say (a person's two values in a one-value group: an older catalog's;
# to confirm: the picture changed after a person decided on it, and its decisions wait for them;
# needs attention: core.review_queue)
REVIEW_FILTER_TEXT = {"two values": "Two values in a one-value group", "attention": "Needs attention"}
SORT_KEYS = ("name", "date", "confidence", "uncertain")
# Photos from which appends make room ahead, a column at a time: early, while copies cost nothing, so that
# the columns' rooms run out at different appends from then on
GROW_AHEAD_FROM = 10_000
# Photos whose tags the rule works out in one step: its temporaries (a copy of the scores, masks per group)
# for a million photos at once took 1.1 GB beside the columns on a model switch (66 labels)
PRED_BLOCK = 20_000


@dataclass(frozen=True)
class ViewSpec:
    """What the grid shows and in which order."""

    tags: tuple[str, ...] = ()
    tag_mode: str = "any"  # any / all / none
    score_min: float = 0.0
    score_max: float = 1.0
    review: str = "all"  # one of REVIEW_FILTERS ("attention" orders the view itself: core.review_queue)
    sort: str = "name"  # one of SORT_KEYS ("uncertain": the photos most likely wrong first)
    descending: bool = False
    text: str = ""
    search: str = ""  # the search box over tags (core.tag_search)
    # Find similar: only these photos, in this order (best first), the other filters still applied
    similar: tuple[int, ...] = ()


@dataclass
class Slots:
    """What the catalog says of each loaded photo, one entry per slot (load order)."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    paths: StringColumn = field(default_factory=StringColumn)
    names: StringColumn = field(default_factory=StringColumn)  # file names, for the name column and filter
    mtimes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    reviewed: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    changed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))  # see ImageColumns
    to_confirm: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    rank: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # position in name order
    errors: dict[int, str] = field(default_factory=dict)  # slot -> reason

    def __len__(self) -> int:
        return len(self.paths)


def name_ranks(paths: Sequence[str], names: Sequence[str] | None = None) -> np.ndarray:
    """Each path's position when sorted by file name (case-insensitive), then by folder (``names``: the
    paths' file names, when the caller has them).

    Computed by numpy over the names' UTF-8 bytes (the same order as comparing the strings), a chunk of
    photos per step: it runs in workers beside the window, and Python's ``sorted`` of a million keys held
    the interpreter lock for 0.9 s at a stretch (a 0.9 s freeze of the window at the end of a scan). From
    string columns the bytes are taken as stored (no string made per photo)."""
    n = len(paths)
    if names is None:
        names = [os.path.basename(p) for p in paths]
    folders = _bytes_column(paths, lower=False)
    name_bytes = _bytes_column(names, lower=True)
    if folders is None or name_bytes is None:  # a path too long for a fixed-width column: compare strings
        keys = [(name.lower(), p) for name, p in zip(names, paths, strict=True)]
        order = np.asarray(sorted(range(n), key=keys.__getitem__), np.int64)
    else:
        order = np.argsort(folders, kind="stable")
        order = order[np.argsort(name_bytes[order], kind="stable")]
    ranks = np.empty(n, np.int64)
    ranks[order] = np.arange(n)
    return ranks


def _encoded_chunks(strings: Sequence[str] | StringColumn, lower: bool, chunk: int) -> Iterator[list[bytes]]:
    """The strings' UTF-8 bytes (lower-cased: ``str.lower``'s), ``chunk`` at a time."""
    if isinstance(strings, StringColumn):
        for raw in strings.raw_chunks(chunk):
            if not lower:
                yield raw
            elif all(b.isascii() for b in raw):  # bytes.lower() is str.lower() on ASCII
                yield [b.lower() for b in raw]
            else:
                yield [b.decode(*ENCODING).lower().encode(*ENCODING) for b in raw]
        return
    for start in range(0, len(strings), chunk):
        part = strings[start : start + chunk]
        yield [(t.lower() if lower else t).encode(*ENCODING) for t in part]


def _bytes_column(
    strings: Sequence[str] | StringColumn, lower: bool, chunk: int = 50_000, widest: int = 1024
) -> np.ndarray | None:
    """The strings' UTF-8 bytes as one fixed-width numpy column, filled ``chunk`` at a time (each numpy
    call holds the interpreter lock for milliseconds); None when one is wider than ``widest`` bytes."""
    parts = list(_encoded_chunks(strings, lower, chunk))
    width = max((max(map(len, part), default=1) for part in parts), default=1)
    if width > widest:
        return None
    out = np.empty(sum(map(len, parts)), dtype=f"S{max(width, 1)}")
    start = 0
    for part in parts:
        out[start : start + len(part)] = part
        start += len(part)
    return out


def grow_ahead(places: Sequence[tuple[Any, str] | StringColumn], want: int) -> None:
    """Of the arrays at ``places`` ((object, attribute) pairs, None skipped, or string columns), give the
    one with the least room new room when it has less than ``want`` rows left: one per call, so a stream of
    appends copies one column at a time instead of every column in the same append (at a million photos,
    160 MB copied at once: a 150 ms stall of the window each time the room ran out)."""
    tightest: tuple[int, Any] | None = None
    for place in places:
        if isinstance(place, StringColumn):
            left, grow = place.room_left(), partial(place.make_room, 2 * want)
        else:
            obj, name = place
            if getattr(obj, name) is None:
                continue
            left = room_left(getattr(obj, name))

            def grow(obj=obj, name=name) -> None:
                setattr(obj, name, extend_rows(getattr(obj, name), 0, None, grow=True, room_for=2 * want))

        if tightest is None or left < tightest[0]:
            tightest = (left, grow)
    if tightest is not None and tightest[0] < want:
        tightest[1]()


def drop_known(cols: ImageColumns, known_ids: np.ndarray) -> ImageColumns:
    """The photos of ``cols`` whose id is not in ``known_ids``."""
    if not len(cols) or not len(known_ids):
        return cols
    # A table by id (ids are the catalog's row ids: dense), not np.isin's sort of two million ids (150 ms
    # on the GUI thread at the end of a million-photo scan)
    top = int(max(int(cols.ids.max()), int(known_ids.max()))) + 1
    if top <= 8 * (len(cols) + len(known_ids)):
        seen = np.zeros(top, bool)
        seen[known_ids] = True
        keep = ~seen[cols.ids]
    else:
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
        cols.changed_at()[keep],
        cols.confirm()[keep],
    )


class LibraryColumns(AdaptedScores, ReviewQueue, LabelCounts):
    """Every present photo of a catalog in column arrays indexed by slot, with the active model's scores,
    the tag rule's result and people's decisions; it filters and orders slots for a view.

    Writes go to the catalog first (committed at once) and then to these columns, so a view over them
    always shows what is saved. Methods that change columns return the slots they touched.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.reader = CatalogReader(catalog.path)
        self.model_key: str | None = None
        self.labels: tuple[str, ...] = ()
        self.groups: dict[str, str] = {}  # the active model's groups
        self.person_groups: dict[str, str] = {}  # labels people created -> their group (creation order)
        self.earlier_groups: dict[str, str] = {}  # the groups of the catalog's other models' labels
        self.defaults: np.ndarray = np.zeros(0, np.float32)
        self.policy = ThresholdPolicy()
        self.exclusive: tuple[str, ...] = ()  # the active model's exclusive groups
        self.at_least_one: tuple[str, ...] = ()  # the active model's at-least-one groups
        self.slots = Slots()
        self.label_index: dict[str, int] = {}
        self.thresholds = np.zeros(0, np.float32)
        self.decided: dict[int, dict[str, bool]] = {}  # slot -> {label: value}
        self._slot_of = SlotIndex()
        self._scores = np.zeros((0, 0), np.float32)  # NaN where the active model has not scored
        self._scored = np.zeros(0, bool)
        # The library's adapter (core.adapter) re-scores unreviewed photos: ``_adapted`` marks those that show
        # its scores; the model's own stay in the catalog (core/adapted_scores.py).
        self._adapted = np.zeros(0, bool)
        self._tuned: np.ndarray | None = None
        self._suggested: dict[int, tuple[str, ...]] = {}  # slot -> the person's own labels it suggests
        self._pred = np.zeros((0, 0), bool)  # the model's opinion alone (core.tags.predicted_matrix)
        self._dec = np.zeros((0, 0), np.int8)  # decisions on the model's labels: -1 none, 0 no, 1 yes
        self._exclusive: tuple[np.ndarray, ...] = ()
        self._required: tuple[np.ndarray, ...] = ()
        self._floors: set[str] = set()
        self.badge: Mapping[str, Any] | None = None  # the active model's badge calibration (model.badge)
        self._risk_groups = risk_groups((), {})
        self._scores_since = -1.0
        self._known_max = 0  # the largest image id the catalog held at the last reload
        self._names = NameSearch()  # the file-name filter's joined names

    def __len__(self) -> int:
        return len(self.slots)

    # -- per-photo facts --------------------------------------------------------------------------
    def slot(self, image_id: int) -> int | None:
        return self._slot_of.get(int(image_id))

    def state(self, slot: int) -> str:
        """One of STATES."""
        if self.slots.reviewed[slot]:
            return "reviewed"
        if slot in self.slots.errors:
            return "failed"
        if self._scored[slot] or slot in self.decided:
            return "predicted"
        return "untagged"

    def final_tags(self, slot: int) -> list[str]:
        final = apply_decisions(self._pred[slot : slot + 1], self._dec[slot : slot + 1], self._exclusive)
        decided = self.decided.get(slot, {})
        tags = tag_lists(self.labels, final, [decided])[0]
        return tags + [lab for lab in self._suggested.get(slot, ()) if lab not in decided]

    def scores_at(self, slot: int) -> dict[str, float]:
        """{label: score}, or {} when the active model has not scored the photo."""
        if not self._scored[slot]:
            return {}
        return {lab: float(v) for lab, v in zip(self.labels, self._scores[slot], strict=True)}

    def thumb_key(self, slot: int) -> tuple[str, int, float, float]:
        """(path, size, mtime, when its picture changed): what a thumbnail is cached by (another picture
        whose size and mtime were put back gets a new one)."""
        s = self.slots
        return (s.paths[slot], int(s.sizes[slot]), float(s.mtimes[slot]), float(s.changed[slot]))

    def risk(self, slots: np.ndarray) -> np.ndarray:
        """How likely each photo's tags are wrong (``model.badge``): what no person decided, at the current
        thresholds; 0 for a reviewed or unscored photo."""
        slots = np.asarray(slots, np.int64)
        if not len(self.labels) or not len(slots):
            return np.zeros(len(slots))
        risks = group_risks(self._scores[slots], self._pred[slots], self._risk_groups, self._dec[slots])
        return np.where(self._scored[slots] & ~self.slots.reviewed[slots], photo_risk(risks), 0.0)

    def uncertain(self, slot: int) -> bool:
        """Whether the photo carries the "?" badge: its risk is above the model's calibrated cutoff, or
        (a model without calibration) an undecided score is near its threshold."""
        if self.badge is None:
            return bool(self.near_threshold(slot))
        return bool(self.risk(np.array([slot]))[0] > float(self.badge["cutoff"]))

    def near_threshold(self, slot: int) -> list[int]:
        """Labels (indexes) of an unreviewed photo whose score is within UNCERTAIN_MARGIN of its threshold
        and that no person decided: the ones worth a look."""
        if self.slots.reviewed[slot] or not self._scored[slot] or not len(self.labels):
            return []
        distance = np.abs(self._scores[slot] - self.thresholds)
        return np.flatnonzero((self._dec[slot] == UNDECIDED) & (distance < UNCERTAIN_MARGIN)).tolist()

    def tooltip(self, slot: int) -> str:
        """Path, every tag (the grid shows two rows of chips at most), labels near their threshold."""
        lines = [self.slots.paths[slot]]
        tags = self.final_tags(slot)
        lines.append(f"Tags ({len(tags)}): {', '.join(tags)}" if tags else "No tags")
        near = self.near_threshold(slot)
        if near:
            lines.append(
                "Near the threshold: "
                + ", ".join(
                    f"{self.labels[i]} {self._scores[slot, i]:.2f} (threshold {self.thresholds[i]:.2f})"
                    for i in near
                )
            )
        doubt = self._doubt(slot)
        if doubt:
            lines.append(doubt)
        err = self.slots.errors.get(slot)
        if err:
            lines.append(err)
        return "\n".join(lines)

    def _doubt(self, slot: int) -> str:
        """Which group makes a calibrated badge's photo likely wrong ("" without one)."""
        if self.badge is None or not self.uncertain(slot):
            return ""
        s = slice(slot, slot + 1)
        risks = group_risks(self._scores[s], self._pred[s], self._risk_groups, self._dec[s])[0]
        g = int(np.argmax(risks))
        return f"Most likely wrong: {self._risk_groups.names[g] or 'tags'} (risk {risks[g]:.2f})"

    def predicted(self, image_id: int, label: str) -> bool:
        """The model's opinion alone (no decision applied)."""
        slot = self.slot(image_id)
        i = self.label_index.get(label)
        if slot is not None and i is None:
            return label in self._suggested.get(slot, ())  # the adapter's suggestion of a person's own label
        return slot is not None and i is not None and bool(self._pred[slot, i])

    def untagged_count(self) -> int:
        """Photos the active model has not scored yet and that did not fail (0 without a model)."""
        if not self.model_key or not len(self._scored):
            return 0
        unscored = ~self._scored
        failed = sum(1 for slot in self.slots.errors if slot < len(unscored) and unscored[slot])
        return int(unscored.sum()) - failed

    def all_labels(self) -> list[str]:
        """The active model's labels, then labels people created (in creation order; a new one comes last,
        so no other label's key moves), then other labels only people have used (sorted)."""
        created = [lab for lab in self.person_groups if lab not in self.label_index]
        known = set(created)
        extra = {
            lab
            for d in self.decided.values()
            for lab in d
            if lab not in self.label_index and lab not in known
        }
        return list(self.labels) + created + sorted(extra)

    def label_groups(self) -> dict[str, str]:
        """Every label's group as shown: the active model's, the group of each label a person
        created (the model's wins for a label it has), and for a label only another model of the library
        has (people's decisions keep it when a new model dropped it), that model's group."""
        return {**self.earlier_groups, **self.person_groups, **self.groups}

    def review_changes(self, image_ids: Sequence[int]) -> list[tuple[int, str, bool | None]]:
        """The decisions marking these photos reviewed records now (``core.tags.review_decisions``) over
        the model's labels and the labels people created (``core.tags.settled_labels``)."""
        settled = settled_labels(self.labels, self.person_groups)
        out: list[tuple[int, str, bool | None]] = []
        for i in image_ids:
            slot = self._slot_of.get(int(i), -1)
            tags = [] if slot < 0 else self.final_tags(slot)
            decided = review_decisions(settled, tags, self.decided.get(slot, {}))
            out += [(i, label, value) for label, value in decided.items()]
        return out

    def max_id(self) -> int:
        return int(self.slots.ids.max()) if len(self.slots) else 0

    # -- loading ----------------------------------------------------------------------------------
    def release(self) -> None:
        """Hold no photo: every per-photo column emptied (the library was closed; at a million photos and
        66 labels ~480 MB, which the next library's load would otherwise find still held)."""
        self._counts_stale()
        self._queue_stale()
        self._need_key, self._dirty = np.zeros(0), np.zeros(0, bool)
        self.slots, self._slot_of, self.decided = Slots(), SlotIndex(), {}
        # Per-slot scores start empty too: slots are numbered afresh, and a photo that went away must
        # not leave its scores to the photo that takes its slot.
        nl = len(self.labels)
        self._scores, self._scored = np.zeros((0, nl), np.float32), np.zeros(0, bool)
        self._pred, self._dec = np.zeros((0, nl), bool), np.zeros((0, nl), np.int8)
        self._adapted, self._suggested = np.zeros(0, bool), {}

    def reload(self) -> None:
        """Read everything from the catalog again (opening a library, after a scan removed files)."""
        self.release()
        self.person_groups = self.catalog.person_labels()
        self._known_max = self.reader.max_image_id()  # ids above it are new photos: nothing to load
        for cols in self.reader.image_chunks():  # a chunk at a time: no million rows held at once
            self.append(cols)
        self.slots.rank = new_column(
            len(self.slots), name_ranks(self.slots.paths, self.slots.names), np.int64
        )
        self._scores_since = -1.0
        self._load_scores()
        self._load_decisions()
        self._recompute_pred(np.arange(len(self.slots)))

    def append(self, cols: ImageColumns) -> np.ndarray:
        """Add photos at the end (no score or decision yet); return their slots."""
        s = self.slots
        start = len(s)
        n = len(cols)
        s.ids = extend_rows(s.ids, n, cols.ids)
        s.paths.extend(cols.paths)
        s.names.extend(cols.names if cols.names is not None else (os.path.basename(p) for p in cols.paths))
        s.mtimes = extend_rows(s.mtimes, n, cols.mtimes)
        s.sizes = extend_rows(s.sizes, n, cols.sizes)
        s.reviewed = extend_rows(s.reviewed, n, cols.reviewed)
        s.changed = extend_rows(s.changed, n, cols.changed_at())
        s.to_confirm = extend_rows(s.to_confirm, n, cols.confirm())
        # Until the scan ends (and ranks are computed off the GUI thread) new photos sort last.
        top = int(s.rank.max()) + 1 if len(s.rank) else 0
        s.rank = extend_rows(s.rank, n, np.arange(top, top + n, dtype=np.int64))
        self._slot_of.add(cols.ids, start)
        for image_id, err in cols.errors.items():
            s.errors[self._slot_of[image_id]] = err
        self._scores = extend_rows(self._scores, n, np.nan)
        self._scored = extend_rows(self._scored, n, False)
        self._adapted = extend_rows(self._adapted, n, False)
        self._pred = extend_rows(self._pred, n, False)
        self._dec = extend_rows(self._dec, n, UNDECIDED)
        self._counts_in(np.arange(start, start + n))
        if start >= GROW_AHEAD_FROM:
            places = [(s, k) for k in ("ids", "mtimes", "sizes", "reviewed", "changed", "to_confirm", "rank")]
            places += [(self, k) for k in ("_scores", "_scored", "_adapted", "_pred", "_dec")]
            places += [s.paths, s.names]
            grow_ahead(places, 2 * len(places) * n)  # each column has its turn before its room runs out
        return np.arange(start, start + n)

    def new_photos(self, cols: ImageColumns | None) -> tuple[ImageColumns, bool]:
        """The photos of ``cols`` (read here when None) not loaded yet, and whether they need a full
        reload: photos coming back (a folder added again) have scores and decisions in the catalog."""
        if cols is None:
            cols = self.reader.images(after_id=self.max_id())
        cols = drop_known(cols, self.slots.ids)
        if not len(cols):
            return cols, False
        if int(cols.ids.min()) <= self._known_max:
            return cols, True
        self._known_max = int(cols.ids.max())
        return cols, False

    def sync(self, present: ImageColumns, ranks: np.ndarray | None) -> None:
        """After a scan that kept the same photos: take their sizes, dates, review state, errors and name
        order from ``present``; a changed file's scores are gone (the catalog dropped them)."""
        s = self.slots
        if np.array_equal(s.ids, present.ids):
            slots = np.arange(len(present), dtype=np.int64)
        else:
            slots = self._slot_of.slots_of(present.ids)
        changed = slots[
            (s.mtimes[slots] != present.mtimes)
            | (s.sizes[slots] != present.sizes)
            | (s.changed[slots] != present.changed_at())
        ]
        s.mtimes[slots] = present.mtimes
        s.sizes[slots] = present.sizes
        s.changed[slots] = present.changed_at()
        s.reviewed[slots] = present.reviewed
        s.to_confirm[slots] = present.confirm()
        self._queue_stale()
        s.errors = {self._slot_of[i]: e for i, e in present.errors.items()}
        s.rank[slots] = ranks if ranks is not None else name_ranks(present.paths)
        if len(changed):
            self._scores[changed] = np.nan
            self._scored[changed] = False
            self._adapted[changed] = False
            out = self._counts_out(changed)
            self._pred[changed] = False
            self._counts_in(out)

    # -- the active model and its scores ------------------------------------------------------------
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
        """Show scores of this model (labels from the catalog when not given; ``defaults``, the
        model's own thresholds, ``exclusive`` and ``at_least_one``, its exclusive and at-least-one groups,
        from the catalog when not given: a tagging run's first event names them before the catalog has
        the model). ``badge``: its badge calibration (``model.badge.read_badge``); None marks scores near a
        threshold instead."""
        rec = self.catalog.model(key) if key else None
        if key and not labels:
            labels = self.reader.model_labels(key) or ()
            groups = groups or (rec.groups if rec else {})
        self.model_key = key
        self._counts_stale()
        self.labels = tuple(labels)
        self.groups = dict(groups or {})
        # A label a new model dropped keeps the group it had instead of joining an unnamed one.
        self.earlier_groups = {
            lab: g for m in self.catalog.models() if m.key != key for lab, g in m.groups.items() if g
        }
        self.label_index = {lab: i for i, lab in enumerate(self.labels)}
        # Exclusive and at-least-one groups as the catalog recorded them for this model's labels.
        recorded = rec if rec is not None and rec.labels == self.labels else None
        if exclusive is None:
            exclusive = recorded.exclusive if recorded is not None else ()
        if at_least_one is None:
            at_least_one = recorded.at_least_one if recorded is not None else ()
        self.exclusive = tuple(exclusive)
        self.at_least_one = tuple(at_least_one)
        self._required = at_least_one_columns(self.labels, self.groups, self.at_least_one)
        self._exclusive = exclusive_columns(self.labels, self.groups, self.exclusive)
        self._floors = exclusive_labels(self.labels, self.groups, self.exclusive)
        self._risk_groups = risk_groups(self.labels, self.groups, self._exclusive)
        self.badge = badge
        if defaults is None:
            defaults = (
                default_thresholds(recorded)
                if recorded is not None
                else np.full(len(self.labels), UNTUNED_THRESHOLD)
            )
        self.defaults = np.asarray(defaults, np.float32)
        n, nl = len(self.slots), len(self.labels)
        self._scores = new_column(n, np.nan, np.float32, nl)
        self._scored = new_column(n, False, bool)
        self._adapted, self._tuned, self._suggested = new_column(n, False, bool), None, {}
        self._pred = new_column(n, False, bool, nl)
        self._scores_since = -1.0
        self._load_scores()
        self._load_decisions()
        self.thresholds = self.policy.thresholds(self.labels, self.effective_defaults(), self._floors)
        self._recompute_pred(np.arange(n))

    def _load_scores(self) -> np.ndarray:
        """Read scores written since the last read; return the slots that changed. With no photo loaded
        there is nothing to read them into (a load sets the model first, then reads photos and scores)."""
        if not self.model_key or not len(self.slots):
            return np.zeros(0, np.int64)
        changed = []
        for ids, mat, newest in self.reader.score_chunks(self.model_key, self._scores_since):
            self._scores_since = max(self._scores_since, newest)
            if mat.shape[1] != len(self.labels):
                continue
            slots = self._slot_of.slots_of(ids)
            ok = slots >= 0
            self._take_model_scores(slots[ok], mat[ok])
            changed.append(slots[ok])
        return np.concatenate(changed) if changed else np.zeros(0, np.int64)

    def _load_decisions(self) -> None:
        self._queue_stale()
        self._counts_stale()
        self.decided = {}
        self._dec = new_column(len(self.slots), UNDECIDED, np.int8, len(self.labels))
        for image_id, label, value in self.reader.decisions():
            slot = self._slot_of.get(image_id)
            if slot is not None:
                self._set_decided(slot, label, value)

    def _set_decided(self, slot: int, label: str, value: bool | None) -> None:
        d = self.decided.setdefault(slot, {})
        if value is None:
            d.pop(label, None)
            if not d:
                del self.decided[slot]
        else:
            d[label] = value
        self._queue_stale((slot,))
        i = self.label_index.get(label)
        if i is not None:
            self._dec[slot, i] = UNDECIDED if value is None else int(bool(value))

    def _recompute_pred(self, slots: np.ndarray) -> None:
        everything = len(slots) == len(self.slots)
        self._queue_stale(None if everything else slots)
        if not len(self.labels) or not len(slots):
            return
        if everything:  # recounted once when next read
            self._counts_stale()
        out = self._counts_out(slots)
        scored = self._scored[slots]
        if not scored.all():  # a photo without scores (all NaN) predicts nothing under any tag rule
            self._pred[slots[~scored]] = False
            slots = slots[scored]
        for start in range(0, len(slots), PRED_BLOCK):  # a block at a time: bounded temporaries
            part = slots[start : start + PRED_BLOCK]
            self._pred[part] = predicted_matrix(
                self._scores[part], self.thresholds, self.policy, self._exclusive, self._required
            )
        self._counts_in(out)

    def refresh_scores(self) -> tuple[np.ndarray, set[int]]:
        """Pick up scores and load errors a running tagging job has written: (slots with new scores,
        slots whose error came or went)."""
        slots = self._load_scores()
        # Load errors recorded by the job too (cheap: only failed images are stored with a reason).
        errs = self.reader.errors()
        changed_err: set[int] = set()
        new_errors = {self._slot_of[i]: e for i, e in errs.items() if i in self._slot_of}
        if new_errors != self.slots.errors:
            changed_err = set(new_errors) ^ set(self.slots.errors)
            self.slots.errors = new_errors
        if len(slots):
            self._recompute_pred(slots)
        return slots, changed_err

    def apply_scores(self, image_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Take scores a tagging run reported (it saved them already) without reading the catalog."""
        if not len(image_ids) or scores.ndim != 2 or scores.shape[1] != len(self.labels):
            return np.zeros(0, np.int64)
        slots = self._slot_of.slots_of(image_ids)
        ok = slots >= 0
        slots = slots[ok]
        self._take_model_scores(slots, scores[ok])
        self._recompute_pred(slots)
        for i in slots.tolist():
            self.slots.errors.pop(i, None)
        return slots

    def apply_errors(self, errors: Sequence[tuple[str, str]]) -> np.ndarray:
        """Take the photos a tagging run could not read, with the reason (by path)."""
        ids = self.catalog.ids_of_paths([p for p, _ in errors])
        slots = []
        for p, reason in errors:
            slot = self._slot_of.get(ids[p]) if p in ids else None
            if slot is not None:
                self.slots.errors[slot] = reason
                slots.append(slot)
        return np.asarray(slots, np.int64)

    def set_policy(self, policy: ThresholdPolicy) -> bool:
        """New thresholds; False when nothing moved (sparing 100,000 rows a recount)."""
        thresholds = policy.thresholds(self.labels, self.effective_defaults(), self._floors)
        if policy == self.policy and np.array_equal(thresholds, self.thresholds):
            return False
        self.policy = policy
        self.thresholds = thresholds
        self._recompute_pred(np.arange(len(self.slots)))
        return True

    # -- edits (committed to the catalog before the columns change) ------------------------------
    def mirror_decisions(self, changes: Changes) -> tuple[list[int], bool]:
        """Mirror decisions already in the catalog into the columns: (the slots they touched, whether a
        label is new to the view: a person's new tag)."""
        found = [(self._slot_of.get(int(i)), label, value) for i, label, value in changes]
        found = [(slot, label, value) for slot, label, value in found if slot is not None]
        slots = [slot for slot, _, _ in found]
        out = self._counts_out(slots)
        for slot, label, value in found:
            self._set_decided(slot, label, value)
        self._counts_in(out)
        return slots, any(lab not in self.label_index for _, lab, _ in changes)

    def write_decisions(self, changes: Changes) -> tuple[list[int], bool]:
        """Apply decisions: catalog first, then the columns; as ``mirror_decisions``."""
        self.catalog.set_decisions(changes)
        return self.mirror_decisions(changes)

    def create_label(self, label: str, group: str, changes: Changes) -> list[int]:
        """A person's new label in ``group`` with its first decisions (one transaction; raises ValueError
        for a refused name), then the columns; the slots touched."""
        return self.create_labels({label: group}, changes)

    def create_labels(self, labels: Mapping[str, str], changes: Changes) -> list[int]:
        """``create_label`` for many ``{label: group}`` at once (an import's new tags), one transaction."""
        self.catalog.add_person_labels(labels, changes)
        self.person_groups = self.catalog.person_labels()
        return self.mirror_decisions(changes)[0]

    def forget_label(self, label: str, changes: Changes) -> list[int]:
        """Undo ``create_label``: the label and the given decisions go (catalog first); the slots touched."""
        return self.forget_labels([label], changes)

    def forget_labels(self, labels: Sequence[str], changes: Changes) -> list[int]:
        """Undo ``create_labels``: the labels and the given decisions go (catalog first); the slots touched."""
        self.catalog.remove_person_labels(labels, changes)
        self.person_groups = self.catalog.person_labels()
        return self.mirror_decisions(changes)[0]

    def write_reviewed(
        self, image_ids: Sequence[int], reviewed: bool, decisions: Changes = ()
    ) -> tuple[list[int], bool]:
        """Mark photos reviewed or not with their ``decisions``, catalog first in one transaction; as
        ``mirror_decisions``."""
        self.catalog.set_reviewed(list(image_ids), reviewed, decisions)
        return self.mirror_reviewed(image_ids, reviewed, decisions)

    def mirror_reviewed(
        self, image_ids: Sequence[int], reviewed: bool, decisions: Changes = ()
    ) -> tuple[list[int], bool]:
        """Mirror a review already in the catalog (another connection wrote it) into the columns."""
        slots = [self._slot_of[i] for i in image_ids if i in self._slot_of]
        decided, new_label = self.mirror_decisions(decisions)
        slots += decided
        self.slots.reviewed[slots] = reviewed
        self._queue_stale(slots)
        if reviewed:  # reviewed again, a changed picture's decisions are confirmed
            self.slots.to_confirm[slots] = False
        return slots, new_label

    # -- filtering and sorting ----------------------------------------------------------------------
    def filter_mask(self, slots: np.ndarray, spec: ViewSpec) -> np.ndarray:
        """Which of ``slots`` pass ``spec``'s filters."""
        keep = np.ones(len(slots), bool)
        if not len(slots):
            return keep
        if spec.similar:
            keep &= np.isin(self.slots.ids[slots], np.asarray(spec.similar, np.int64))
        if spec.review != "all":
            keep &= (
                self.needs_attention(slots)
                if spec.review == "attention"
                else self._review_mask(slots, spec.review)
            )
        idx = [self.label_index[t] for t in spec.tags if t in self.label_index]
        if spec.tags:
            keep &= self.tag_mask(slots, spec.tags, spec.tag_mode)
        if (spec.score_min > 0.0 or spec.score_max < 1.0) and self.labels:
            # The best over the columns first, then the slots: a million photos' 66 scores are not copied
            best = (self._scores[:, idx] if idx else self._scores).max(axis=1)[slots]
            keep &= self._scored[slots] & (best >= spec.score_min) & (best <= spec.score_max)
        if spec.text:
            keep &= self._names.mask(self.slots.names, slots, spec.text.lower())
        if spec.search:  # only over the photos the other filters kept (the search reads every tag)
            kept = np.flatnonzero(keep)
            keep[kept] = self.search_mask(slots[kept], parse(spec.search))
        return keep

    def _review_mask(self, slots: np.ndarray, review: str) -> np.ndarray:
        reviewed = self.slots.reviewed[slots]
        size = int(slots.max()) + 1 if len(slots) else 0

        def having(keys) -> np.ndarray:  # which slots are keys of a dict (list() copies it in one C call)
            held = np.fromiter(list(keys), np.int64)
            mask = np.zeros(size, bool)
            mask[held[held < size]] = True
            return mask[slots]

        failed = having(self.slots.errors)
        has_dec = having(self.decided)
        predicted = ~reviewed & ~failed & (self._scored[slots] | has_dec)
        return {
            "reviewed": reviewed,
            "unreviewed": ~reviewed,
            "to confirm": self.slots.to_confirm[slots],
            "failed": failed,
            "predicted": predicted,
            "untagged": ~reviewed & ~failed & ~predicted,
            "two values": two_person_values(self._dec[slots], self._exclusive),
        }[review]

    def view(self, spec: ViewSpec, photos: int | None = None) -> np.ndarray:
        """The slots ``spec`` shows, in its order (``spec.similar``'s order when it has one); of the first
        ``photos`` slots when given (a view computed off the GUI thread while a scan appends)."""
        if spec.similar:
            found = (self.slot(i) for i in spec.similar)
            slots = np.fromiter((s for s in found if s is not None), np.int64)
            return slots[self.filter_mask(slots, spec)]
        slots = np.arange(len(self.slots) if photos is None else photos, dtype=np.int64)
        slots = slots[self.filter_mask(slots, spec)]
        if spec.review == "attention":  # the queue's own order, whatever the sort box says
            return self.queue_order(slots)
        if spec.sort == "date":
            key = self.slots.mtimes[slots]
            order = np.argsort(np.nan_to_num(key, nan=-1.0), kind="stable")
        elif spec.sort in ("confidence", "uncertain") and self.labels:
            scored = self._scored[slots]
            if spec.sort == "confidence":
                # Confidence = the best score (most sure an image has some tag); unscored sort last.
                key = np.where(scored, self._scores.max(axis=1)[slots], -1.0)
                order = np.argsort(-key if not spec.descending else key, kind="stable")
                return slots[order]
            if self.badge is not None:  # the badge's own score: the photos most likely wrong first
                key = np.where(scored, -self.risk(slots), np.inf)
            else:
                key = np.where(scored, uncertainty(self._scores[slots], self.thresholds), np.inf)
            order = np.argsort(key, kind="stable")
            return slots[order]
        else:
            order = np.argsort(self.slots.rank[slots], kind="stable")
        if spec.descending:
            order = order[::-1]
        return slots[order]

    def ids(self, slots: Iterable[int]) -> list[int]:
        return [int(self.slots.ids[s]) for s in slots]
