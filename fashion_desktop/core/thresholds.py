"""Threshold policy: which threshold each label gets (the rule that applies it lives in ``core.tags``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ThresholdPolicy:
    """How scores become predicted tags.

    A label's threshold is the user's per-label override if any, else ``global_threshold`` if set,
    else the bundle's default for that label. ``top_k`` caps how many predicted tags an image gets
    (highest scores first); ``at_least_one`` gives every scored image its best label when none passes.
    """

    global_threshold: float | None = None
    per_label: Mapping[str, float] = field(default_factory=dict)
    top_k: int | None = None
    at_least_one: bool = False

    def thresholds(self, labels: Sequence[str], defaults: Sequence[float]) -> np.ndarray:
        """One threshold per label, in ``labels`` order."""
        out = np.empty(len(labels), dtype=np.float32)
        for i, (label, default) in enumerate(zip(labels, defaults, strict=True)):
            if label in self.per_label:
                out[i] = self.per_label[label]
            elif self.global_threshold is not None:
                out[i] = self.global_threshold
            else:
                out[i] = default
        return out


# A score this close to its label's threshold marks the photo as uncertain in the grid: a small change
# of threshold would flip that tag, so it is worth a person's look first.
UNCERTAIN_MARGIN = 0.05


def uncertainty(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per image, the smallest distance of any score to its threshold (small = needs a look first)."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    return np.abs(s - thresholds[None, :]).min(axis=1)
