"""Exclusive label groups (numpy only, no torch): groups whose labels are mutually exclusive, one value per photo.

Gender, colour, season and usage have exactly one true value per photo. A bundle can declare such a
group *exclusive*: its labels are trained with softmax cross-entropy over the group, scored as a softmax
over the group's logits (the scores of a group's labels sum to 1), and tagged with the group's top value
when that value reaches the group's confidence floor (every label of the group carries the same
threshold: the floor). Other groups stay multi-label (sigmoid, one threshold per label).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def exclusive_columns(
    labels: Sequence[str], groups: Mapping[str, str], exclusive: Iterable[str]
) -> tuple[np.ndarray, ...]:
    """The column indices (int64 arrays, labels order) of each exclusive group that has 2+ labels."""
    wanted = list(dict.fromkeys(exclusive))
    out = []
    for g in wanted:
        cols = [j for j, lab in enumerate(labels) if groups.get(lab) == g]
        if len(cols) >= 2:
            out.append(np.asarray(cols, dtype=np.int64))
    return tuple(out)


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


def group_floor(targets: np.ndarray, scores: np.ndarray, default: float = 0.0) -> float:
    """The confidence floor for one exclusive group that maximises its F1 on validation predictions.

    ``targets`` / ``scores`` are the group's columns [N, G] (1 / 0 / -1). The photo is tagged with its top
    value when that value's score reaches the floor: right = a true positive; wrong = a false positive and
    a missed true value; below the floor = a missed true value. Photos with no known true value count
    only their false positives. Returns ``default`` when no photo has a known true value.
    """
    t = np.asarray(targets)
    s = np.asarray(scores, dtype=np.float32)  # compared as the tag rule compares them
    has_pos = (t == 1).any(axis=1)
    if not has_pos.any() or not len(s):
        return default
    best = np.nan_to_num(s, nan=-np.inf).argmax(axis=1)
    top = s[np.arange(len(s)), best]
    right = t[np.arange(len(t)), best] == 1
    wrong_known = t[np.arange(len(t)), best] == 0
    n_pos = int(has_pos.sum())
    best_floor, best_f1 = default, -1.0
    for floor in np.round(np.arange(0.0, 0.96, 0.05), 2).astype(np.float32):
        tagged = top >= floor
        tp = int((tagged & right).sum())
        fp = int((tagged & wrong_known).sum())
        f1 = 2 * tp / max(2 * tp + fp + (n_pos - tp), 1)
        if f1 > best_f1 + 1e-9:
            best_floor, best_f1 = round(float(floor), 2), f1
    return best_floor
