"""The review queue over a library's columns (Qt-free): Needs attention, its order and count; tag filters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .tag_search import Term, matching_labels
from .tags import UNDECIDED, apply_decisions, two_person_values
from .thresholds import UNCERTAIN_MARGIN, uncertainty

# The queue's order: photos whose decisions wait to be confirmed, then photos with two values in a
# one-value group (a person must look at both), then the uncertain ones, most likely wrong first.
CONFIRM_FIRST, TWO_VALUES_NEXT = -3.0, -2.0


class ReviewQueue:
    """What ``LibraryColumns`` does for Needs attention and the tag filters.

    Whether each photo needs attention, and its place in the queue, is kept per slot and recomputed only
    for the slots an edit or new scores touched (``_queue_stale``), so the count over a million photos is
    one ``count_nonzero``; a new threshold or model recomputes it all, once, when it is next asked."""

    labels: tuple[str, ...]
    label_index: dict[str, int]
    slots: Any  # library_columns.Slots
    decided: dict[int, dict[str, bool]]
    badge: Any
    thresholds: np.ndarray
    _scores: np.ndarray
    _scored: np.ndarray
    _pred: np.ndarray
    _dec: np.ndarray
    _exclusive: tuple[np.ndarray, ...]
    _suggested: dict[int, tuple[str, ...]]
    risk: Callable[[np.ndarray], np.ndarray]
    all_labels: Callable[[], list[str]]
    label_groups: Callable[[], dict[str, str]]

    _need: np.ndarray | None = None  # per slot: needs attention (None: every slot to compute again)
    _need_key: np.ndarray = np.zeros(0)  # per slot: its place in the queue (smaller first)
    _dirty: np.ndarray = np.zeros(0, bool)  # slots an edit touched since their answer
    _done_upto = 0  # slots below it have an answer (a full pass goes a block at a time: ``warm_queue``)

    # -- Needs attention ------------------------------------------------------------------------
    def _queue_stale(self, slots: Sequence[int] | np.ndarray | None = None) -> None:
        """These slots' photos changed (None: all of them, or their numbering did)."""
        if slots is None or self._need is None:
            self._need = None
        elif len(slots):
            self._queue_arrays()
            self._dirty[np.asarray(slots, np.int64)] = True

    def _queue_arrays(self) -> int:
        """Make the per-slot arrays fit the photos (new photos of a scan are new slots); their count."""
        n = len(self.slots)
        if self._need is None or len(self._need) > n:
            self._need, self._need_key, self._dirty, self._done_upto = (
                np.zeros(n, bool),
                np.zeros(n),
                np.zeros(n, bool),
                0,
            )
        elif len(self._need) < n:
            old = len(self._need)
            self._need = np.concatenate([self._need, np.zeros(n - old, bool)])
            self._need_key = np.concatenate([self._need_key, np.zeros(n - old)])
            self._dirty = np.concatenate([self._dirty, np.ones(n - old, bool)])
        return n

    def _answer(self, slots: np.ndarray) -> None:
        assert self._need is not None
        self._need[slots], self._need_key[slots] = self._attention_of(slots)
        self._dirty[slots] = False

    def warm_queue(self, block: int = 5000) -> bool:
        """Answer the next ``block`` photos of a full pass, else of those edits or new scores touched (the GUI
        does a block between events, so choosing Needs attention after a new threshold or a tagging run
        waits for nothing); whether more remain."""
        n = self._queue_arrays()
        if self._done_upto < n:
            stop = min(n, self._done_upto + block)
            self._answer(np.arange(self._done_upto, stop, dtype=np.int64))
            self._done_upto = stop
        else:
            self._answer(np.flatnonzero(self._dirty)[:block])
        return not self.queue_ready()

    def queue_ready(self) -> bool:
        """Whether every photo's answer is known (the count costs one ``count_nonzero``)."""
        n = len(self.slots)
        need = self._need
        return need is not None and len(need) == n and self._done_upto >= n and not self._dirty.any()

    def _queue(self) -> tuple[np.ndarray, np.ndarray]:
        n = self._queue_arrays()
        if self._done_upto < n:
            self._answer(np.arange(self._done_upto, n, dtype=np.int64))
            self._done_upto = n
        dirty = np.flatnonzero(self._dirty)
        if len(dirty):
            self._answer(dirty)
        assert self._need is not None
        return self._need, self._need_key

    def _attention_of(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(needs attention, place in the queue) of these slots: not reviewed, and to confirm, or two values
        in a one-value group, or uncertain (the "?" badge's own test: ``LibraryColumns.uncertain``)."""
        unreviewed = ~self.slots.reviewed[slots]
        confirm = self.slots.to_confirm[slots] & unreviewed
        two = np.zeros(len(slots), bool)
        unsure, key = np.zeros(len(slots), bool), np.zeros(len(slots))
        if len(self.labels) and len(slots):
            two = two_person_values(self._dec[slots], self._exclusive) & unreviewed
            if self.badge is not None:
                risk = self.risk(slots)
                unsure, key = risk > float(self.badge["cutoff"]), -risk
            else:
                scores = self._scores[slots]
                near = (self._dec[slots] == UNDECIDED) & (np.abs(scores - self.thresholds) < UNCERTAIN_MARGIN)
                unsure = near.any(axis=1) & self._scored[slots] & unreviewed
                key = np.where(
                    unsure, uncertainty(np.nan_to_num(scores, nan=1.0), self.thresholds) - 1.0, 0.0
                )
        key = np.where(confirm, CONFIRM_FIRST, np.where(two, TWO_VALUES_NEXT, key))
        return confirm | two | unsure, key

    def needs_attention(self, slots: np.ndarray) -> np.ndarray:
        """bool per slot: whether the photo is in the Needs attention queue."""
        return self._queue()[0][slots]

    def attention_count(self) -> int:
        """How many photos of the library need attention."""
        return int(np.count_nonzero(self._queue()[0]))

    def queue_order(self, slots: np.ndarray) -> np.ndarray:
        """``slots`` in the queue's order (ties by file name)."""
        key = self._queue()[1][slots]
        return slots[np.lexsort((self.slots.rank[slots], key))]

    def next_unreviewed(self, view: np.ndarray, row: int, step: int = 1, attention: bool = False) -> int:
        """The next (step 1) or previous (step -1) unreviewed row of ``view`` after ``row``, wrapping; -1 if
        none. With ``attention``: the next row that still needs attention."""
        if not len(view):
            return -1
        rows = np.flatnonzero(self.needs_attention(view) if attention else ~self.slots.reviewed[view])
        if not len(rows):
            return -1
        if step > 0:
            after = rows[rows > row]
            return int(after[0] if len(after) else rows[0])
        before = rows[rows < row]
        return int(before[-1] if len(before) else rows[-1])

    # -- tags: the Tags filter and the search box ------------------------------------------------
    def tag_mask(self, slots: np.ndarray, tags: Sequence[str], mode: str) -> np.ndarray:
        """The Tags filter: photos with any / all / none (``mode``) of ``tags`` among their final tags."""
        idx = [self.label_index[t] for t in tags if t in self.label_index]
        if idx:
            final = apply_decisions(self._pred[slots], self._dec[slots], self._exclusive)[:, idx]
            hit = {"all": final.all(axis=1), "none": ~final.any(axis=1)}.get(mode, final.any(axis=1))
        else:  # labels only people used: look them up in the decisions
            hit = np.zeros(len(slots), bool)
        extra = [t for t in tags if t not in self.label_index]
        if extra:
            ext = np.array([[self.decided.get(int(s), {}).get(t, False) for t in extra] for s in slots], bool)
            if mode == "all":
                hit = (hit if idx else True) & ext.all(axis=1)
            elif mode == "none":
                hit = (hit if idx else True) & ~ext.any(axis=1)
            else:
                hit = hit | ext.any(axis=1)
        return hit

    def search_mask(self, slots: np.ndarray, terms: Sequence[Term]) -> np.ndarray:
        """The search box: photos every term holds for (``core.tag_search``)."""
        keep = np.ones(len(slots), bool)
        final: np.ndarray | None = None
        labels, groups = self.all_labels(), self.label_groups()
        for term in terms:
            if term.state:
                hit = {
                    "reviewed": self.slots.reviewed[slots],
                    "unreviewed": ~self.slots.reviewed[slots],
                    "to confirm": self.slots.to_confirm[slots],
                }[term.state]
            else:
                names = matching_labels(term, labels, groups)
                cols = [self.label_index[n] for n in names if n in self.label_index]
                hit = np.zeros(len(slots), bool)
                if cols:
                    if final is None:
                        final = apply_decisions(self._pred[slots], self._dec[slots], self._exclusive)
                    hit |= final[:, cols].any(axis=1)
                own = {n for n in names if n not in self.label_index}
                if own:
                    hit |= self._own_tag_on(own)[slots]
            keep &= ~hit if term.negate else hit
        return keep

    def _own_tag_on(self, wanted: set[str]) -> np.ndarray:
        """bool per slot: the photo's final tags include one of these labels people created (a person's
        decision, else the adapter's suggestion)."""
        on = np.zeros(len(self.slots), bool)
        for s, d in self.decided.items():
            if any(d.get(t) for t in wanted):
                on[s] = True
        for s, suggested in self._suggested.items():
            d = self.decided.get(s, {})
            if any(t in wanted and t not in d for t in suggested):
                on[s] = True
        return on
