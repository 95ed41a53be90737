"""The "?" badge (numpy only): how likely a photo's tags are wrong, and the cutoff that flags the riskiest."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bundle_file import evaluation_dict, read_bundle_file
from .bundle_format import BundleError
from .metrics import UNKNOWN, one_value_targets
from .tag_rule import predicted_matrix

log = logging.getLogger(__name__)

# At most this share of a folder carries the badge: a person looks there first, so it must stay rare.
TARGET_SHARE = 0.2
# Names the risk score a stored cutoff belongs to: a cutoff of another score would mean nothing.
SCORE = "any-group-wrong/1"
# Wrong tags are counted on photos known in every group when a split has at least this many of them.
MIN_JUDGED = 30


@dataclass(frozen=True)
class RiskGroups:
    """A model's labels as the badge judges them: each exclusive group, and each other group (labels
    without a group form one), by column indices."""

    names: tuple[str, ...]
    columns: tuple[np.ndarray, ...]
    exclusive: tuple[bool, ...]


def risk_groups(
    labels: Sequence[str], groups: Mapping[str, str], exclusive: Sequence[np.ndarray] = ()
) -> RiskGroups:
    """The groups of ``labels``; ``exclusive`` are the column arrays of the exclusive groups
    (``groups.exclusive_columns``), the tag rule's."""
    names: list[str] = []
    columns: list[np.ndarray] = []
    taken: set[int] = set()
    for cols in exclusive:
        names.append(groups.get(labels[int(cols[0])], "") or "")
        columns.append(np.asarray(cols, np.int64))
        taken.update(int(j) for j in cols)
    other: dict[str, list[int]] = {}
    for j, label in enumerate(labels):
        if j not in taken:
            other.setdefault(groups.get(label, "") or "", []).append(j)
    names += list(other)
    columns += [np.asarray(c, np.int64) for c in other.values()]
    return RiskGroups(tuple(names), tuple(columns), (True,) * len(exclusive) + (False,) * len(other))


def group_risks(
    scores: np.ndarray, pred: np.ndarray, rg: RiskGroups, decided: np.ndarray | None = None
) -> np.ndarray:
    """float [N, G]: per photo and group, how likely the group's tags are wrong (0 where unscored).

    An exclusive group is tagged with its top value, so it is wrong as often as that value is not the
    true one: 1 - the top score (a near tie, or a top below the floor, is risky). In another group each
    label is wrong with its score when not tagged and with 1 - its score when tagged (``pred``: the tag
    rule's result); the group takes its worst label (summing 20 tiny scores would rank noise).
    ``decided`` (int8 [N, L]: -1 none, 0 no, 1 yes) settles what a person decided: an exclusive group
    with a "yes" (or every value decided), another group's decided labels.
    """
    s = np.asarray(scores, np.float32)
    n = len(s)
    out = np.zeros((n, len(rg.columns)), np.float64)
    if not n:
        return out
    dec = np.full(s.shape, -1, np.int8) if decided is None else np.asarray(decided, np.int8)
    s0 = np.nan_to_num(s, nan=0.0).astype(np.float64)
    for g, (cols, exclusive) in enumerate(zip(rg.columns, rg.exclusive, strict=True)):
        sub, d = s0[:, cols], dec[:, cols]
        if exclusive:
            top = np.where(d == 0, 0.0, sub).max(axis=1)  # a value a person ruled out is no candidate
            settled = (d == 1).any(axis=1) | (d >= 0).all(axis=1)
            out[:, g] = np.where(settled, 0.0, 1.0 - top)
        else:
            wrong = np.where(pred[:, cols], 1.0 - sub, sub)
            out[:, g] = np.where(d >= 0, 0.0, wrong).max(axis=1)
    out[np.isnan(s).all(axis=1)] = 0.0
    return np.clip(out, 0.0, 1.0)


def photo_risk(risks: np.ndarray) -> np.ndarray:
    """float [N]: how likely any group of a photo is wrong (groups taken as independent)."""
    r = np.asarray(risks, np.float64)
    return 1.0 - np.prod(1.0 - r, axis=1) if r.shape[1] else np.zeros(len(r))


def wrong_photos(targets: np.ndarray, pred: np.ndarray, exclusive: Sequence[np.ndarray] = ()) -> np.ndarray:
    """bool [N]: photos whose tags (``pred``, the tag rule's) differ from a known target in any group (in an
    exclusive group a known true value makes its other values known "no"s)."""
    t = one_value_targets(np.asarray(targets), exclusive)
    known = t != UNKNOWN
    return (known & (pred != (t == 1))).any(axis=1)


def choose_cutoff(risk: np.ndarray, share: float = TARGET_SHARE) -> float:
    """The cutoff that flags (risk above it) at most ``share`` of these photos: the riskiest ones."""
    r = np.sort(np.asarray(risk, np.float64))[::-1]
    if not len(r):
        return 1.0
    k = int(math.floor(share * len(r) + 1e-9))
    return float(r[k]) if k < len(r) else 0.0


def flag_figures(flagged: np.ndarray, wrong: np.ndarray) -> dict[str, Any]:
    """What flagging ``flagged`` does on photos whose tags are ``wrong``: the share flagged, the wrong-tag
    rate of flagged and of other photos, and the share of wrong photos that are flagged (NaN: none to
    count)."""
    f, w = np.asarray(flagged, bool), np.asarray(wrong, bool)

    def rate(num: int, den: int) -> float:
        return num / den if den else float("nan")

    return {
        "photos": len(f),
        "flagged": rate(int(f.sum()), len(f)),
        "wrong_flagged": rate(int((f & w).sum()), int(f.sum())),
        "wrong_rest": rate(int((~f & w).sum()), int((~f).sum())),
        "caught": rate(int((f & w).sum()), int(w.sum())),
    }


def risk_of(
    scores: np.ndarray,
    thresholds: np.ndarray | Sequence[float],
    labels: Sequence[str],
    groups: Mapping[str, str],
    exclusive: Sequence[np.ndarray] = (),
    required: Sequence[np.ndarray] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """(photo risk [N], the tag rule's tags [N, L]) of scores at a model's own thresholds, nothing decided
    (``required``: the columns of the bundle's at-least-one groups, as the tag rule takes them)."""
    pred = predicted_matrix(scores, np.asarray(thresholds, np.float32), None, exclusive, required)
    return photo_risk(group_risks(scores, pred, risk_groups(labels, groups, exclusive))), pred


@dataclass(frozen=True)
class Evaluated:
    """Photos a model was evaluated on: targets (int [N, L], -1 unknown), scores and the split's name."""

    targets: np.ndarray
    scores: np.ndarray
    split: str


def every_group_known(targets: np.ndarray, rg: RiskGroups) -> np.ndarray:
    """bool [N]: photos with a known target in every group, the only ones whose every tag can be judged
    (a photo whose colour nobody recorded is not "right" about its colour)."""
    t = np.asarray(targets)
    known = np.ones(len(t), bool)
    for cols in rg.columns:
        known &= (t[:, cols] != UNKNOWN).any(axis=1)
    return known


def calibrate(
    chosen_on: Evaluated,
    thresholds: np.ndarray | Sequence[float],
    labels: Sequence[str],
    groups: Mapping[str, str],
    exclusive: Sequence[np.ndarray] = (),
    measured_on: Evaluated | None = None,
    share: float = TARGET_SHARE,
    required: Sequence[np.ndarray] = (),
) -> dict[str, Any]:
    """The badge's calibration as a bundle stores it (``BundleDescription.badge``): the cutoff chosen on
    ``chosen_on`` to flag at most ``share`` of its photos, and what it does on ``measured_on`` (the same
    photos when None): the share of its photos flagged, and on the ``judged`` ones (those with a known
    target in every group, when there are at least MIN_JUDGED; else all) the wrong-tag rates of flagged
    and other photos and the share of wrongly tagged photos flagged. Plain values (NaN: nothing to count)."""
    risk, _ = risk_of(chosen_on.scores, thresholds, labels, groups, exclusive, required)
    cutoff = choose_cutoff(risk, share)
    ev = measured_on if measured_on is not None else chosen_on
    risk, pred = risk_of(ev.scores, thresholds, labels, groups, exclusive, required)
    flagged, wrong = risk > cutoff, wrong_photos(ev.targets, pred, exclusive)
    judged = every_group_known(ev.targets, risk_groups(labels, groups, exclusive))
    if judged.sum() < MIN_JUDGED:
        judged = np.ones(len(flagged), bool)
    return {
        "score": SCORE,
        "cutoff": cutoff,
        "target_share": float(share),
        "chosen_on": chosen_on.split,
        "measured_on": ev.split,
        **flag_figures(flagged[judged], wrong[judged]),
        "flagged": float(flagged.mean()) if len(flagged) else float("nan"),
        "photos": len(flagged),
        "judged": int(judged.sum()),
    }


def _array(value: Any) -> np.ndarray:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def badge_of(
    stored: Mapping[str, Any] | None,
    evaluation: Mapping[str, Any] | None,
    thresholds: Sequence[float],
    labels: Sequence[str],
    groups: Mapping[str, str],
    exclusive: Sequence[np.ndarray] = (),
    required: Sequence[np.ndarray] = (),
) -> dict[str, Any] | None:
    """A bundle's badge calibration: the one it stores (for this score), else one chosen and measured on
    its evaluation arrays (``targets`` and ``scores``, numpy, torch or ``bundle_file.TensorRef``), else
    None (the grid then marks scores near their threshold, as before calibration existed)."""
    if stored is not None and stored.get("score") == SCORE:
        return dict(stored)
    if not isinstance(evaluation, Mapping) or evaluation.get("targets") is None:
        return None
    if evaluation.get("scores") is None:
        return None
    try:
        targets = _array(evaluation["targets"]).astype(np.int8)
        scores = _array(evaluation["scores"]).astype(np.float32)
    except (TypeError, ValueError, OSError):  # BundleError is a ValueError: a damaged file
        return None
    if (
        targets.ndim != 2
        or targets.shape != scores.shape
        or targets.shape[1] != len(labels)
        or not len(targets)
    ):
        return None
    split = str(evaluation.get("split") or "evaluation")
    return calibrate(
        Evaluated(targets, scores, split), thresholds, labels, groups, exclusive, required=required
    )


def badge_line(badge: Mapping[str, Any] | None) -> str:
    """What the badge means, in one line for the Models tab."""
    if not badge:
        return (
            "? marks photos with a score within 0.05 of its threshold (this model carries no "
            "calibration of the badge)"
        )
    flagged, ratio = badge.get("flagged"), _ratio(badge)
    if not isinstance(flagged, float | int) or not math.isfinite(flagged):
        return "? marks the photos most likely to have a wrong tag"
    text = f"? marks the photos most likely to have a wrong tag: about {flagged:.0%} of photos"
    if ratio is not None:
        text += f", {ratio:.1f}× the error rate of the rest"
    caught = badge.get("caught")
    if isinstance(caught, float | int) and math.isfinite(caught):
        text += f", {caught:.0%} of the wrongly tagged ones"
    text += f", measured on the model's {badge.get('measured_on') or 'evaluation'} photos"
    judged, photos = badge.get("judged"), badge.get("photos")
    if isinstance(judged, int) and isinstance(photos, int) and 0 < judged < photos:
        text += f" (wrong tags counted on the {judged} known in every group)"
    return text


def _ratio(badge: Mapping[str, Any]) -> float | None:
    a, b = badge.get("wrong_flagged"), badge.get("wrong_rest")
    ok = all(isinstance(v, float | int) and math.isfinite(v) for v in (a, b))
    return float(a) / float(b) if ok and b else None  # type: ignore[arg-type]


def read_badge(path: str | os.PathLike | None, model_key: str | None = None) -> dict[str, Any] | None:
    """``badge_of`` the bundle at ``path`` (read without torch); None when there is none to read or it
    cannot be read (the grid then keeps the old margin rule; tagging reports a bad bundle itself), or
    when it is not the model ``model_key`` (a library tagged with an earlier default model: the file at
    the recorded path is now another model, whose calibration does not fit the stored scores)."""
    if not path:
        return None
    try:
        bundle = read_bundle_file(path)
        d = bundle.description
        if model_key is not None and bundle.model_id != model_key:
            return None
        return badge_of(
            d.badge,
            evaluation_dict(bundle),
            d.thresholds,
            d.labels,
            d.groups,
            d.exclusive_columns(),
            d.at_least_one_columns(),
        )
    except (BundleError, OSError, ValueError) as exc:
        log.info("%s: no badge calibration (%s)", path, exc)
        return None
