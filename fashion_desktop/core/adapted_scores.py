"""The adapter's layer over a library's columns: adapted scores shown, the model's own kept to restore them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class AdaptedScores:
    """What ``LibraryColumns`` does with an adapter's scores (``core.adapter``): unreviewed photos show them;
    the model's own scores of the whole library wait in ``_base`` while any photo shows adapted ones."""

    labels: tuple[str, ...]
    _scores: np.ndarray
    _scored: np.ndarray
    _adapted: np.ndarray
    _base: np.ndarray | None
    _slot_of: dict[int, int]
    slots: Any  # library_columns.Slots
    _recompute_pred: Callable[[np.ndarray], None]

    def _take_model_scores(self, slots: np.ndarray, scores: np.ndarray) -> None:
        """New model scores: shown at once (an adapted photo waits for the next fit to be adapted again)."""
        self._scores[slots] = scores
        self._scored[slots] = True
        self._adapted[slots] = False
        if self._base is not None:
            self._base[slots] = scores

    def set_adapted(self, image_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Show an adapter's scores (for the model's labels) of these photos, except reviewed ones (they never
        change) and ones the model has not scored; return the slots that changed."""
        if not len(image_ids) or scores.ndim != 2 or scores.shape[1] != len(self.labels):
            return np.zeros(0, np.int64)
        slots = np.fromiter(
            (self._slot_of.get(int(i), -1) for i in image_ids.tolist()), np.int64, len(image_ids)
        )
        ok = slots >= 0
        ok[ok] = self._scored[slots[ok]] & ~self.slots.reviewed[slots[ok]]
        slots = slots[ok]
        if self._base is None:
            self._base = self._scores.copy()
        self._scores[slots] = scores[ok]
        self._adapted[slots] = True
        self._recompute_pred(slots)
        return slots

    def clear_adapted(self) -> np.ndarray:
        """Show the model's own scores again (the adapter switched off); return the slots that changed."""
        if self._base is None:
            return np.zeros(0, np.int64)
        slots = np.flatnonzero(self._adapted)
        self._scores[slots] = self._base[slots]
        self._base, self._adapted[:] = None, False
        self._recompute_pred(slots)
        return slots

    def adapted_count(self) -> int:
        """How many photos show adapted scores now."""
        return int(self._adapted.sum())
