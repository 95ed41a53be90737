"""Per-label counts of a library's photos kept by delta: a batch of scores or decisions recounts its rows only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .tags import YES, apply_decisions


class LabelCounts:
    """What ``LibraryColumns`` counts per label of the active model: photos whose final tag is on, and photos
    a person confirmed it on. A change to some slots takes their rows out before it and puts them back after
    (``_counts_out`` / ``_counts_in``); a change to every slot marks the counts stale, recounted once when
    next read. At a million photos a batch of 100 scores then costs 200 rows, not a million."""

    labels: tuple[str, ...]
    _pred: np.ndarray
    _dec: np.ndarray
    _exclusive: tuple[np.ndarray, ...]
    _on: np.ndarray | None = None  # int64 [L]: final tag on; None: stale
    _yes: np.ndarray | None = None  # int64 [L]: a person said yes

    def _rows_counts(self, slots: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        dec = self._dec[slots]
        on = apply_decisions(self._pred[slots], dec, self._exclusive).sum(axis=0, dtype=np.int64)
        return on, (dec == YES).sum(axis=0, dtype=np.int64)

    def _counts_stale(self) -> None:
        self._on = self._yes = None

    def _counts_out(self, slots: Sequence[int] | np.ndarray) -> np.ndarray | None:
        """Take these slots out of the counts before their tags change; give what ``_counts_in`` puts back
        (None while the counts are stale: nothing to keep up)."""
        if self._on is None or self._yes is None:
            return None
        rows = np.unique(np.asarray(slots, np.int64))  # a slot named twice counts once
        on, yes = self._rows_counts(rows)
        self._on -= on
        self._yes -= yes
        return rows

    def _counts_in(self, rows: np.ndarray | None) -> None:
        """Put slots back into the counts (their rows after the change, or photos just added)."""
        if rows is None or self._on is None or self._yes is None or not len(rows):
            return
        on, yes = self._rows_counts(rows)
        self._on += on
        self._yes += yes

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Per label: images whose final tag is on, and images where a person confirmed it on."""
        if not self.labels:
            return {}, {}
        if self._on is None or self._yes is None or len(self._on) != len(self.labels):
            self._on, self._yes = self._rows_counts(np.s_[:])
        return (
            {lab: int(v) for lab, v in zip(self.labels, self._on.tolist(), strict=True)},
            {lab: int(v) for lab, v in zip(self.labels, self._yes.tolist(), strict=True)},
        )
