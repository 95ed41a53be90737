"""Exclusive label groups (numpy only, no torch): groups whose labels are mutually exclusive, one value per photo.

Gender, colour, season and usage have exactly one true value per photo. A bundle can declare such a
group *exclusive*: its labels are trained with softmax cross-entropy over the group, scored as a softmax
over the group's logits (the scores of a group's labels sum to 1), and tagged with the group's top value
when that value reaches the group's confidence floor (every label of the group carries the same
threshold: the floor). Other groups stay multi-label (sigmoid, one threshold per label).

A bundle can also declare *at-least-one* groups (a model trained on one item per photo: every photo has a
category): a scored photo on which no label of such a group passes gets the group's top-scoring label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def _group_columns(
    labels: Sequence[str], groups: Mapping[str, str], names: Iterable[str], min_labels: int
) -> tuple[np.ndarray, ...]:
    out = []
    for g in dict.fromkeys(names):
        cols = [j for j, lab in enumerate(labels) if groups.get(lab) == g]
        if len(cols) >= min_labels:
            out.append(np.asarray(cols, dtype=np.int64))
    return tuple(out)


def exclusive_columns(
    labels: Sequence[str], groups: Mapping[str, str], exclusive: Iterable[str]
) -> tuple[np.ndarray, ...]:
    """The column indices (int64 arrays, labels order) of each exclusive group that has 2+ labels."""
    return _group_columns(labels, groups, exclusive, 2)


def at_least_one_columns(
    labels: Sequence[str], groups: Mapping[str, str], names: Iterable[str]
) -> tuple[np.ndarray, ...]:
    """The column indices (int64 arrays, labels order) of each at-least-one group that has a label."""
    return _group_columns(labels, groups, names, 1)


def exclusive_labels(labels: Sequence[str], groups: Mapping[str, str], exclusive: Iterable[str]) -> set[str]:
    """The names of the labels that belong to an exclusive group (with 2+ labels)."""
    return {labels[j] for cols in exclusive_columns(labels, groups, exclusive) for j in cols}


def group_softmax(logits: np.ndarray, scores: np.ndarray, columns: Sequence[np.ndarray]) -> np.ndarray:
    """``scores`` (sigmoid scores [N, L], modified in place and returned) with each exclusive group's
    columns replaced by the softmax of its ``logits`` over the group."""
    for cols in columns:
        z = np.asarray(logits[:, cols], dtype=np.float64)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        scores[:, cols] = (e / e.sum(axis=1, keepdims=True)).astype(scores.dtype)
    return scores


def top_of_group(scores: np.ndarray, columns: Sequence[np.ndarray]) -> np.ndarray:
    """bool [N, L]: False where a label of an exclusive group is not its group's best score for the photo
    (ties: the earlier label wins; a photo without scores keeps all True); True elsewhere."""
    s = np.asarray(scores, dtype=np.float32)
    keep = np.ones(s.shape, dtype=bool)
    for cols in columns:
        sub = s[:, cols]
        scored = ~np.isnan(sub).all(axis=1)
        best = np.where(np.isnan(sub), -np.inf, sub).argmax(axis=1)
        top = np.zeros(sub.shape, dtype=bool)
        top[np.arange(len(sub)), best] = True
        top[~scored] = True
        keep[:, cols] = top
    return keep


def only_group_top(scores: np.ndarray, columns: Sequence[np.ndarray]) -> np.ndarray:
    """A copy of ``scores`` where every exclusive-group label but the photo's top value scores -1 (below
    any threshold, a floor of 0 included): what the tag rule can tag, for metrics computed at thresholds
    (top-1 and ranking by the top value unchanged)."""
    if not columns:
        return scores
    return np.where(top_of_group(scores, columns), scores, np.full_like(scores, -1.0))
