"""Thresholds and final tags: a person's decision wins, else the score against the label's threshold."""

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


def predicted_mask(
    scores: np.ndarray, thresholds: np.ndarray, top_k: int | None = None, at_least_one: bool = False
) -> np.ndarray:
    """Boolean [N, L] mask of predicted tags for scores [N, L] (or [L])."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    mask = s >= thresholds[None, :]
    if top_k is not None and top_k > 0 and s.shape[1] > top_k:
        # Rank only the labels that passed; keep the best top_k of them. A stable sort makes the cap
        # hard even when scores tie (the earlier label wins), so "top 1" never yields two tags.
        ranked = np.where(mask, s, -np.inf)
        best = np.argsort(-ranked, axis=1, kind="stable")[:, :top_k]
        keep = np.zeros_like(mask)
        np.put_along_axis(keep, best, True, axis=1)
        mask &= keep
    if at_least_one and s.shape[1]:
        empty = ~mask.any(axis=1)
        if empty.any():
            best = s[empty].argmax(axis=1)
            mask[np.flatnonzero(empty), best] = True
    return mask if np.ndim(scores) == 2 else mask[0]


def final_tags(
    labels: Sequence[str],
    scores: np.ndarray | None,
    decisions: Mapping[str, bool],
    thresholds: np.ndarray,
    top_k: int | None = None,
    at_least_one: bool = False,
) -> list[str]:
    """Final tags of one image, in label order, then decided-on labels the model does not know."""
    on: set[str] = set()
    if scores is not None:
        mask = predicted_mask(scores, thresholds, top_k, at_least_one)
        on = {label for label, m in zip(labels, mask, strict=True) if m}
    for label, value in decisions.items():
        if value:
            on.add(label)
        else:
            on.discard(label)
    ordered = [label for label in labels if label in on]
    return ordered + sorted(on.difference(labels))


def uncertainty(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per image, the smallest distance of any score to its threshold (small = needs a look first)."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    return np.abs(s - thresholds[None, :]).min(axis=1)
