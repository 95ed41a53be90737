"""The adapter's layer over a library's columns: adapted scores shown in place of the model's own, which the
catalog keeps (they are read back from it when the adapter is switched off)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .slot_index import SlotIndex


def tuned_defaults(defaults: Sequence[float], tuned: np.ndarray | None) -> np.ndarray:
    """The model's default thresholds with an adapter's tuned ones in their place (NaN: the model's stays)."""
    out = np.asarray(defaults, np.float32).copy()
    if tuned is not None and len(tuned) == len(out):
        have = ~np.isnan(tuned)
        out[have] = tuned[have]
    return out


class AdaptedScores:
    """What ``LibraryColumns`` does with an adapter's scores (``core.adapter``): unreviewed photos show them in
    place of the model's own. No copy of the model's scores is kept (264 MB at a million photos and 66
    labels): switched off, the adapted photos get them back from the catalog (``restore_model_scores``, fed a
    chunk at a time by a worker, or ``clear_adapted`` at once)."""

    labels: tuple[str, ...]
    _scores: np.ndarray
    _scored: np.ndarray
    _adapted: np.ndarray
    _slot_of: SlotIndex
    _suggested: dict[int, tuple[str, ...]]
    _tuned: np.ndarray | None  # the adapter's thresholds (NaN: the model's), None without an adapter
    defaults: np.ndarray
    policy: Any
    thresholds: np.ndarray
    _floors: set[str]
    slots: Any  # library_columns.Slots
    _recompute_pred: Callable[[np.ndarray], None]
    model_key: str | None
    reader: Any  # catalog_reader.CatalogReader

    def _take_model_scores(self, slots: np.ndarray, scores: np.ndarray) -> None:
        """New model scores: shown at once (an adapted photo waits for the next fit to be adapted again)."""
        self._scores[slots] = scores
        self._scored[slots] = True
        self._adapted[slots] = False

    def set_adapted(self, image_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Show an adapter's scores (for the model's labels) of these photos, except reviewed ones (they never
        change) and ones the model has not scored; return the slots that changed."""
        if not len(image_ids) or scores.ndim != 2 or scores.shape[1] != len(self.labels):
            return np.zeros(0, np.int64)
        slots = self._slot_of.slots_of(image_ids)
        ok = slots >= 0
        ok[ok] = self._scored[slots[ok]] & ~self.slots.reviewed[slots[ok]]
        slots = slots[ok]
        self._scores[slots] = scores[ok]
        self._adapted[slots] = True
        self._recompute_pred(slots)
        return slots

    def clear_adapted(self) -> np.ndarray:
        """Show the model's own scores again (the adapter switched off), read from the catalog here and now;
        return the slots that changed. The window reads them in a worker instead (``drop_suggestions``, then
        ``restore_model_scores`` for each chunk of ``CatalogReader.score_chunks``)."""
        slots = [self.drop_suggestions()]
        if self.model_key and self._adapted.any():
            for ids, mat, _newest in self.reader.score_chunks(self.model_key):
                slots.append(self.restore_model_scores(ids, mat))
        return np.unique(np.concatenate(slots))

    def drop_suggestions(self) -> np.ndarray:
        """Forget the adapter's suggestions of the person's own labels; return the slots that showed one."""
        slots = np.fromiter(self._suggested, np.int64, len(self._suggested))
        self._suggested = {}
        self._recompute_pred(slots)
        return slots

    def restore_model_scores(self, image_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The model's own ``scores`` (as the catalog has them) back in place for those of these photos that
        show adapted scores; return the slots that changed."""
        if not len(image_ids) or scores.ndim != 2 or scores.shape[1] != len(self.labels):
            return np.zeros(0, np.int64)
        slots = self._slot_of.slots_of(image_ids)
        ok = slots >= 0
        ok[ok] = self._adapted[slots[ok]]
        slots = slots[ok]
        self._scores[slots] = scores[ok]
        self._adapted[slots] = False
        self._recompute_pred(slots)
        return slots

    def adapted_any(self) -> bool:
        return bool(self._adapted.any())

    def adapted_count(self) -> int:
        """How many photos show adapted scores now."""
        return int(self._adapted.sum())

    def set_suggested(
        self, image_ids: np.ndarray, labels: Sequence[str], scores: np.ndarray, thresholds: np.ndarray
    ) -> np.ndarray:
        """The adapter's suggestions of a person's own ``labels`` (scores [n, P] at or above ``thresholds``)
        for these photos, reviewed ones left as they are; return the slots whose suggestions changed."""
        changed = []
        for i, row in zip(image_ids.tolist(), scores, strict=True):
            slot = self._slot_of.get(int(i))
            if slot is None or self.slots.reviewed[slot]:
                continue
            new = tuple(
                lab for lab, s, t in zip(labels, row.tolist(), thresholds.tolist(), strict=True) if s >= t
            )
            if new != self._suggested.get(slot, ()):
                changed.append(slot)
                if new:
                    self._suggested[slot] = new
                else:
                    self._suggested.pop(slot, None)
        return np.asarray(changed, np.int64)

    def effective_defaults(self) -> np.ndarray:
        """Each label's default threshold in effect: the adapter's where it tuned one, else the model's."""
        return tuned_defaults(self.defaults, self._tuned)

    def set_tuned_thresholds(self, tuned: np.ndarray | None, recompute: bool = True) -> bool:
        """An adapter's thresholds (None: none in effect); False when no threshold in effect moved. Without
        ``recompute`` the caller recomputes the tags (``recompute_slots``), a block at a time."""
        self._tuned = None if tuned is None else np.asarray(tuned, np.float32)
        thresholds = self.policy.thresholds(self.labels, self.effective_defaults(), self._floors)
        if np.array_equal(thresholds, self.thresholds):
            return False
        self.thresholds = thresholds
        if recompute:
            self._recompute_pred(np.arange(len(self._scores)))
        return True

    def recompute_slots(self, start: int, stop: int) -> np.ndarray:
        """Apply the tag rule again to slots ``start``..``stop`` (after new thresholds); return them."""
        slots = np.arange(start, min(stop, len(self._scores)))
        self._recompute_pred(slots)
        return slots

    def tuned_labels(self) -> dict[str, float]:
        """{label: the adapter's threshold} of each label whose default the adapter replaced."""
        if self._tuned is None:
            return {}
        return {lab: float(t) for lab, t in zip(self.labels, self._tuned.tolist(), strict=True) if t == t}
