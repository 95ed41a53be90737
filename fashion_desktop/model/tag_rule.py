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

    @property
    def group_at_least_one(self) -> bool: ...


def predicted_matrix(
    scores: np.ndarray,
    thresholds: np.ndarray | Sequence[float] | float,
    policy: RankPolicy | None = None,
    exclusive: Sequence[np.ndarray] = (),
    required: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """The model's opinion alone: bool [N, L] for float32 scores [N, L] (NaN = not scored).

    A score at or above its label's threshold is predicted. ``exclusive`` (``exclusive_columns``): in
    each such group only the photo's top value can be predicted, when it reaches its threshold (the
    group's floor). ``required`` (``at_least_one_columns``, the bundle's at-least-one groups): a photo
    scored in such a group with none of its labels predicted gets the group's top-scoring label, unless
    ``policy.group_at_least_one`` is off. ``policy.top_k`` then keeps only the best predicted labels of a
    photo (a hard cap: its tag of each required group first, then by score; on ties the earlier label
    wins), and ``policy.at_least_one`` gives a scored photo with no tag at all its best-scoring label.
    ``thresholds`` [L] (or one for all) are already resolved (``policy.thresholds(labels, defaults)``);
    None for ``policy`` means no cap, no photo-level "at least one" and the group rule on.
    """
    s = np.asarray(scores, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        mask = s >= np.asarray(thresholds, np.float32)  # NaN compares False: not predicted
    if len(exclusive):
        mask &= top_of_group(s, exclusive)
    first = None
    if len(required) and (policy is None or policy.group_at_least_one):
        first = _group_at_least_one(mask, s, required)
    top_k = policy.top_k if policy is not None else None
    n_labels = s.shape[1]
    if top_k is not None and top_k > 0 and n_labels > top_k:
        _cap(mask, s, top_k, first)
    if policy is not None and policy.at_least_one and n_labels:
        _at_least_one(mask, s)
    return mask


def _best(s: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (whether any entry is allowed, the column of the best allowed score; ties: the earlier)."""
    ranked = np.where(allowed, s, -np.inf)
    return allowed.any(axis=1), ranked.argmax(axis=1)


def _group_at_least_one(mask: np.ndarray, s: np.ndarray, required: Sequence[np.ndarray]) -> np.ndarray:
    """Give each photo without a tag in a required group the group's best scored label (in ``mask``);
    return bool [N, L]: each photo's best tag in each required group, which the top-k cap keeps first."""
    first = np.zeros(mask.shape, bool)
    rows = np.arange(len(s))
    for cols in required:
        sub_s, sub_m = s[:, cols], mask[:, cols]
        empty = ~sub_m.any(axis=1)
        scored, best = _best(sub_s, ~np.isnan(sub_s))
        give = empty & scored
        mask[rows[give], cols[best[give]]] = True
        has, top = _best(sub_s, mask[:, cols])
        first[rows[has], cols[top[has]]] = True
    return first


def _cap(mask: np.ndarray, s: np.ndarray, top_k: int, first: np.ndarray | None = None) -> None:
    # Rank only the labels that passed; a stable sort makes the cap hard even when scores tie.
    rows = np.flatnonzero(mask.sum(axis=1) > top_k)  # most photos pass fewer: leave them be
    if len(rows):
        ranked = np.where(mask[rows], s[rows], -np.inf)
        if first is None:
            order = np.argsort(-ranked, axis=1, kind="stable")
        else:  # a required group's tag before any other, then by score (lexsort: the last key leads)
            order = np.lexsort((-ranked, ~first[rows]), axis=1)
        keep = np.zeros((len(rows), s.shape[1]), bool)
        np.put_along_axis(keep, order[:, :top_k], True, axis=1)
        mask[rows] &= keep


def _at_least_one(mask: np.ndarray, s: np.ndarray) -> None:
    empty = ~mask.any(axis=1)
    if empty.any():
        sub = s[empty]
        scored, best = _best(sub, ~np.isnan(sub))
        mask[np.flatnonzero(empty)[scored], best[scored]] = True
