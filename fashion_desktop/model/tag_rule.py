"""The model's half of the tag rule (numpy only): which labels a photo's scores make tags, before any decision."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .groups import top_of_group


class RankPolicy(Protocol):
    """The part of a threshold policy (``core.thresholds.ThresholdPolicy``) that ranks a photo's labels."""

    @property
    def top_k(self) -> int | None: ...

    @property
    def at_least_one(self) -> bool: ...


def predicted_matrix(
    scores: np.ndarray,
    thresholds: np.ndarray | Sequence[float] | float,
    policy: RankPolicy | None = None,
    exclusive: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """The model's opinion alone: bool [N, L] for float32 scores [N, L] (NaN = not scored).

    A score at or above its label's threshold is predicted; ``policy.top_k`` keeps only the best
    passing labels of a photo (a hard cap: on ties the earlier label wins) and ``policy.at_least_one``
    gives a scored photo with no passing label its best-scoring one. ``thresholds`` [L] (or one for
    all) are already resolved (``policy.thresholds(labels, defaults)``); only the policy's top-k and
    at-least-one are read, and None means neither. ``exclusive`` (``exclusive_columns``): in each such
    group only the photo's top value can be predicted, when it reaches its threshold (the group's floor).
    """
    s = np.asarray(scores, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        mask = s >= np.asarray(thresholds, np.float32)  # NaN compares False: not predicted
    if len(exclusive):
        mask &= top_of_group(s, exclusive)
    top_k = policy.top_k if policy is not None else None
    n_labels = s.shape[1]
    if top_k is not None and top_k > 0 and n_labels > top_k:
        _cap(mask, s, top_k)
    if policy is not None and policy.at_least_one and n_labels:
        _at_least_one(mask, s)
    return mask


def _cap(mask: np.ndarray, s: np.ndarray, top_k: int) -> None:
    # Rank only the labels that passed; a stable sort makes the cap hard even when scores tie.
    rows = np.flatnonzero(mask.sum(axis=1) > top_k)  # most photos pass fewer: leave them be
    if len(rows):
        ranked = np.where(mask[rows], s[rows], -np.inf)
        best = np.argsort(-ranked, axis=1, kind="stable")[:, :top_k]
        keep = np.zeros((len(rows), s.shape[1]), bool)
        np.put_along_axis(keep, best, True, axis=1)
        mask[rows] &= keep


def _at_least_one(mask: np.ndarray, s: np.ndarray) -> None:
    empty = ~mask.any(axis=1)
    if empty.any():
        sub = s[empty]
        scored = ~np.isnan(sub)
        has_score = scored.any(axis=1)
        best = np.where(scored, sub, -np.inf).argmax(axis=1)
        rows = np.flatnonzero(empty)[has_score]
        mask[rows, best[has_score]] = True
