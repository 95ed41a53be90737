"""The one owner of metrics (pure numpy): computed from the tags the tag rule gives; target -1 (unknown) is left out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .tag_rule import RankPolicy, predicted_matrix

UNKNOWN = -1


def _check(targets: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(targets)
    s = np.asarray(scores, dtype=np.float64)
    if t.ndim != 2 or t.shape != s.shape:
        raise ValueError(f"targets {t.shape} and scores {s.shape} must both be [N, L]")
    return t.astype(np.int8, copy=False), s


def _f1(tp: np.ndarray | float, fp: np.ndarray | float, fn: np.ndarray | float) -> np.ndarray:
    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)


def average_precision(targets: np.ndarray, scores: np.ndarray) -> float:
    """AP of one label (as scikit-learn's ``average_precision_score``; tied scores form one step).

    Args: 1-D ``targets`` (1, 0 or -1) and ``scores``. Returns NaN when there is no known positive.
    """
    t = np.asarray(targets)
    s = np.asarray(scores, dtype=np.float64)
    known = t != UNKNOWN
    t, s = t[known] == 1, s[known]
    npos = int(t.sum())
    if npos == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, t = s[order], t[order]
    tp = np.cumsum(t)
    fp = np.cumsum(~t)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # end index of each run of tied scores
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / npos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def one_value_targets(targets: np.ndarray, exclusive: Sequence[np.ndarray] = ()) -> np.ndarray:
    """``targets`` where, in each exclusive group (column arrays), a photo with a known true value is a
    known "no" for the group's other values: a group has one value per photo, which is also how its
    softmax loss trains it. A copy when anything changes; photos without a known true value keep theirs."""
    t = np.asarray(targets)
    if not len(exclusive):
        return t
    t = t.copy()
    for cols in exclusive:
        sub = t[:, cols]
        sub[(sub == 1).any(axis=1)[:, None] & (sub == UNKNOWN)] = 0
        t[:, cols] = sub
    return t


def compute_metrics(
    targets: np.ndarray,
    scores: np.ndarray,
    thresholds: np.ndarray | Sequence[float] | float = 0.5,
    labels: Sequence[str] | None = None,
    groups: Mapping[str, str] | None = None,
    exclusive: Sequence[np.ndarray] = (),
    policy: RankPolicy | None = None,
    required: Sequence[np.ndarray] = (),
) -> dict[str, Any]:
    """The metrics of the tags the tag rule gives (``tag_rule.predicted_matrix``) against ``targets``:
    the one place the app, the trainer and the command line measure a model.

    Args:
        targets: int array [N, L] with 1 positive, 0 negative, -1 unknown (ignored); in an exclusive
            group a known true value makes the other values known "no"s (``one_value_targets``).
        scores: float array [N, L] of probabilities (NaN: not scored).
        thresholds: resolved thresholds, one per label or a scalar.
        labels: optional label names for the per-label rows (default ``"0"``, ``"1"``...).
        groups: ``{label: group}``; when given, ``"groups"`` holds each group's overall numbers plus
            ``top1_accuracy``, and ``balanced_accuracy`` for an exclusive group (labels without a group
            are reported under ``"other"``).
        exclusive: the column arrays of the exclusive groups (``groups.exclusive_columns``).
        policy: top-k, "at least one" and the group rule's switch (None: no cap, no photo-level "at
            least one", the group rule on), as the grid applies them.
        required: the column arrays of the at-least-one groups (``groups.at_least_one_columns``).
    Returns:
        ``{"overall": {...}, "per_label": [{label, precision, recall, f1, support, known, ap,
        threshold}, ...], "groups": {group: {...}}}`` (``groups`` only when asked for). Precision,
        recall, F1 and exact match count the predicted tags; AP, mAP, top-1 and balanced accuracy rank the
        scores and do not depend on thresholds. Macro F1 and mAP average over labels with at least one
        known positive; samples F1 and exact match over images with at least one known label (an image
        with nothing to find and nothing predicted scores F1 = 1).
    Raises:
        ValueError when shapes disagree.
    """
    t, s = _check(targets, scores)
    th = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (t.shape[1],))
    t = one_value_targets(t, exclusive)
    pred = predicted_matrix(s, th, policy, exclusive, required)
    names = list(labels) if labels is not None else [str(j) for j in range(t.shape[1])]
    out = _measure(t, pred, s, th, names)
    if groups is not None:
        by: dict[str, list[int]] = {}
        for j, label in enumerate(names):
            by.setdefault(groups.get(label) or "other", []).append(j)
        exclusive_sets = {tuple(np.asarray(c).tolist()) for c in exclusive}
        out["groups"] = {}
        for group, cols in by.items():
            rows = (t[:, cols] != UNKNOWN).any(1)
            tt, ss = t[rows][:, cols], s[rows][:, cols]
            m = _measure(tt, pred[rows][:, cols], ss, th[cols], [names[j] for j in cols])["overall"]
            m["top1_accuracy"] = top1_accuracy(tt, ss)
            if tuple(cols) in exclusive_sets:
                m["balanced_accuracy"] = balanced_accuracy(tt, ss)
            out["groups"][group] = m
    return out


def _measure(
    t: np.ndarray, pred: np.ndarray, s: np.ndarray, th: np.ndarray, names: Sequence[str]
) -> dict[str, Any]:
    """Overall and per-label numbers of the predicted tags ``pred`` (bool [N, L]) and ``scores``."""
    known = t != UNKNOWN
    pos = (t == 1) & known
    neg = (t == 0) & known
    tp_l = (pred & pos).sum(0)
    fp_l = (pred & neg).sum(0)
    fn_l = (~pred & pos).sum(0)
    support = pos.sum(0)
    f1_l = _f1(tp_l, fp_l, fn_l)
    ap_l = np.array([average_precision(t[:, j], s[:, j]) for j in range(t.shape[1])])
    has = support > 0

    tp_i = (pred & pos).sum(1)
    fp_i = (pred & neg).sum(1)
    fn_i = (~pred & pos).sum(1)
    img_known = known.any(1)
    f1_i = np.where(tp_i + fp_i + fn_i > 0, _f1(tp_i, fp_i, fn_i), 1.0)
    exact_i = (fp_i + fn_i) == 0

    overall = {
        "f1_micro": float(_f1(tp_l.sum(), fp_l.sum(), fn_l.sum())),
        "f1_macro": float(f1_l[has].mean()) if has.any() else float("nan"),
        "f1_samples": float(f1_i[img_known].mean()) if img_known.any() else float("nan"),
        "exact_match": float(exact_i[img_known].mean()) if img_known.any() else float("nan"),
        "precision_micro": float(_ratio(tp_l.sum(), tp_l.sum() + fp_l.sum())),
        "recall_micro": float(_ratio(tp_l.sum(), tp_l.sum() + fn_l.sum())),
        "map": float(np.nanmean(ap_l[has])) if has.any() else float("nan"),
        "images": int(img_known.sum()),
        "labels_with_support": int(has.sum()),
    }
    precision = _ratio(tp_l, tp_l + fp_l)
    recall = _ratio(tp_l, tp_l + fn_l)
    per_label = [
        {
            "label": names[j],
            "precision": float(precision[j]),
            "recall": float(recall[j]),
            "f1": float(f1_l[j]),
            "support": int(support[j]),
            "known": int(known[:, j].sum()),
            "ap": float(ap_l[j]),
            "threshold": float(th[j]),
        }
        for j in range(t.shape[1])
    ]
    return {"overall": overall, "per_label": per_label}


def top1_accuracy(targets: np.ndarray, scores: np.ndarray) -> float:
    """Share of images whose highest-scoring label is a positive, over images with a known positive.

    Meant for one group of mutually exclusive labels (colour, gender...). NaN when no image qualifies.
    """
    t, s = _check(targets, scores)
    has_pos = (t == 1).any(1)
    if not has_pos.any():
        return float("nan")
    masked = np.where(t == UNKNOWN, -np.inf, s)
    best = masked.argmax(1)
    return float((t[np.arange(len(t)), best] == 1)[has_pos].mean())


def balanced_accuracy(targets: np.ndarray, scores: np.ndarray) -> float:
    """The mean over values of the share of photos of that value whose highest-scoring value is right:
    top-1 recall per value, averaged with equal weight, over the values that are some photo's true value.

    Meant for one exclusive group (gender, colour...): a model that always answers the commonest value
    gets 1 / (number of values present), however common that value is. Photos whose true value is
    unknown are left out; NaN when no photo has a known true value.
    """
    t, s = _check(targets, scores)
    masked = np.where(t == UNKNOWN, -np.inf, np.nan_to_num(s, nan=-np.inf))
    right = t[np.arange(len(t)), masked.argmax(1)] == 1
    recalls = [float(right[t[:, j] == 1].mean()) for j in range(t.shape[1]) if (t[:, j] == 1).any()]
    return float(np.mean(recalls)) if recalls else float("nan")


def metrics_by_group(
    targets: np.ndarray,
    scores: np.ndarray,
    thresholds: np.ndarray | Sequence[float] | float,
    labels: Sequence[str],
    groups: Mapping[str, str],
    exclusive: Sequence[np.ndarray] = (),
    policy: RankPolicy | None = None,
    required: Sequence[np.ndarray] = (),
) -> dict[str, dict[str, Any]]:
    """``compute_metrics(...)["groups"]``: ``{group: overall numbers plus top1_accuracy}``."""
    return compute_metrics(targets, scores, thresholds, labels, groups, exclusive, policy, required)["groups"]


def group_floor(targets: np.ndarray, scores: np.ndarray, default: float = 0.0) -> float:
    """The confidence floor for one exclusive group that maximises its F1 on validation predictions.

    ``targets`` / ``scores`` are the group's columns [N, G] (1 / 0 / -1). The photo is tagged with its top
    value when that value's score reaches the floor: right = a true positive; wrong = a false positive and
    a missed true value; below the floor = a missed true value (the group's other values are
    known "no"s once its true value is known: ``one_value_targets``). Photos with no known true value
    count only their false positives. Returns ``default`` when no photo has a known true value.
    """
    t = one_value_targets(np.asarray(targets), (np.arange(np.shape(targets)[1]),))
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
        f1 = float(_f1(tp, fp, n_pos - tp))
        if f1 > best_f1 + 1e-9:
            best_floor, best_f1 = round(float(floor), 2), f1
    return best_floor


def tune_thresholds(
    targets: np.ndarray, scores: np.ndarray, default: float = 0.5, lo: float = 0.02, hi: float = 0.98
) -> np.ndarray:
    """Per-label threshold maximising that label's F1 on these (validation) predictions.

    The cut is placed halfway between the lowest score kept positive and the next score below it, then
    clipped to [lo, hi]. Labels without a known positive keep ``default``. Returns float array [L].
    """
    t, s = _check(targets, scores)
    out = np.full(t.shape[1], default, dtype=np.float64)
    for j in range(t.shape[1]):
        known = t[:, j] != UNKNOWN
        y = t[known, j] == 1
        x = s[known, j]
        npos = int(y.sum())
        if npos == 0:
            continue
        order = np.argsort(-x, kind="mergesort")
        x, y = x[order], y[order]
        tp = np.cumsum(y)
        fp = np.cumsum(~y)
        last = np.r_[np.nonzero(np.diff(x))[0], len(x) - 1]
        f1 = 2 * tp[last] / (tp[last] + fp[last] + npos)
        k = int(np.argmax(f1))
        cut = x[last[k]]
        below = x[last[k] + 1] if last[k] + 1 < len(x) else 0.0
        out[j] = float(np.clip((cut + below) / 2, lo, hi))
    return out
