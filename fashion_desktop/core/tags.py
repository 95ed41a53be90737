"""The final-tag rule, owned here: a person's decision wins, else the model's opinion (``model.tag_rule``).

Reviewing settles a photo (``review_decisions``): the tags it shows then become the person's decisions,
so no later threshold, policy or model change alters a reviewed photo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np

from ..model.bundle_format import DEFAULT_THRESHOLD, label_problem
from ..model.tag_rule import predicted_matrix
from .thresholds import ThresholdPolicy

# A decision matrix holds one of these per (photo, label).
UNDECIDED, NO, YES = -1, 0, 1
# The threshold of a label whose model recorded none: the bundle format's one default.
UNTUNED_THRESHOLD = DEFAULT_THRESHOLD


class _ModelLike(Protocol):
    labels: tuple[str, ...]
    thresholds: tuple[float, ...]


def default_thresholds(model: _ModelLike | None) -> np.ndarray:
    """The model's own per-label thresholds as the catalog recorded them (float32 [L], labels order).

    Takes a catalog ``ModelRecord`` (or None: no labels, an empty array). A model recorded without
    thresholds (or with a list that does not fit its labels) gets ``UNTUNED_THRESHOLD`` for each label.
    """
    if model is None:
        return np.zeros(0, np.float32)
    recorded = tuple(model.thresholds or ())
    if len(recorded) == len(model.labels):
        return np.asarray(recorded, np.float32)
    return np.full(len(model.labels), UNTUNED_THRESHOLD, np.float32)


def apply_decisions(
    predicted: np.ndarray, decisions: np.ndarray | None, exclusive: Sequence[np.ndarray] = ()
) -> np.ndarray:
    """Final tags bool [N, L]: each decision (int8 [N, L]: -1 none, 0 no, 1 yes) wins over ``predicted``.

    In an ``exclusive`` group (column arrays) a person's yes replaces the model's value: a photo the
    model called "Men" that a person set to "Girls" shows Girls only, whatever else was decided.
    """
    if decisions is None:
        return np.asarray(predicted, bool)
    # Two boolean passes, not np.where: several times faster over a 100,000-photo grid.
    final = (predicted & (decisions < 0)) | (decisions == YES)
    for cols in exclusive:
        if len(cols) < 2:
            continue
        block = decisions[:, cols]
        person_set = (block == YES).any(axis=1)
        if person_set.any():
            final[:, cols] = (block == YES) | (final[:, cols] & ~person_set[:, None])
    return final


def two_person_values(decisions: np.ndarray, exclusive: Sequence[np.ndarray]) -> np.ndarray:
    """bool [N]: photos on which a person said yes to two values of one exclusive group (catalogs from
    before the one-value rule held for edits; exports and the review filter say so)."""
    out = np.zeros(len(decisions), bool)
    for cols in exclusive:
        if len(cols) > 1:
            out |= (decisions[:, cols] == YES).sum(axis=1) > 1
    return out


def final_tag_matrix(
    scores: np.ndarray | None,
    decisions: np.ndarray | None,
    thresholds: np.ndarray,
    policy: ThresholdPolicy | None = None,
    exclusive: Sequence[np.ndarray] = (),
    required: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """The rule over many photos: bool [N, L] final tags.

    Takes scores float32 [N, L] (NaN = not scored; None: nothing scored), decisions int8 [N, L]
    (-1 none, 0 no, 1 yes; None: nothing decided; at least one of the two is given), resolved
    ``thresholds`` [L] and the ``policy`` for top-k / at-least-one, which rank the model's scores
    only, like the model's ``exclusive`` and ``required`` (at-least-one) groups
    (``model.tag_rule.predicted_matrix``): a decision then wins either way. Raises ValueError when
    neither matrix is given.
    """
    if scores is None and decisions is None:
        raise ValueError("final_tag_matrix needs scores, decisions or both")
    if scores is None:
        assert decisions is not None
        return decisions == YES
    predicted = predicted_matrix(scores, thresholds, policy, exclusive, required)
    return apply_decisions(predicted, decisions, exclusive)


def known_matrix(scores: np.ndarray | None, decisions: np.ndarray | None) -> np.ndarray:
    """bool [N, L]: a label is known for a photo when a person decided it or the model scored it.

    An unknown label is neither a tag nor a "no" (training leaves it out of the loss).
    """
    if scores is None and decisions is None:
        raise ValueError("known_matrix needs scores, decisions or both")
    known = None if scores is None else ~np.isnan(np.asarray(scores, np.float32))
    if decisions is not None:
        decided = np.asarray(decisions) >= 0
        known = decided if known is None else known | decided
    assert known is not None
    return known


def review_decisions(
    labels: Sequence[str], shown: Sequence[str], decided: Mapping[str, bool]
) -> dict[str, bool]:
    """What marking one photo reviewed records: ``{label: value}`` decisions to add.

    Takes the active model's ``labels``, the tags the photo ``shown`` at that moment (its final tags
    by this rule) and its existing decisions ``decided``. Every model label the person has not decided
    becomes a decision: yes where it is shown, no where it is not. Existing decisions already agree
    with what is shown (a decision wins) and are left as they are, so undoing the review only has to
    forget the returned ones.
    """
    on = set(shown)
    return {lab: lab in on for lab in labels if lab not in decided}


def settled_labels(model_labels: Sequence[str], person_labels: Iterable[str]) -> list[str]:
    """The labels marking a photo reviewed settles (``review_decisions``' ``labels``): the active model's
    labels, then the labels a person created (the catalog's ``person_labels``) that the model lacks.

    A photo reviewed after a person created a label, without that label set, is a "no" for it; photos
    reviewed before the label existed were not settled on it and stay unknown (training masks them).
    """
    known = set(model_labels)
    return [*model_labels, *(lab for lab in person_labels if lab not in known)]


def new_label_problem(name: str, existing: Iterable[str]) -> str | None:
    """Why ``name`` cannot be a new label, in words (None: it can): the one label rule
    (``label_problem``: not empty, no tag separator), and no label of ``existing`` may have the same
    name ignoring case (the message names the one it clashes with)."""
    problem = label_problem(name)
    if problem is not None:
        return problem
    folded = name.casefold()
    for label in existing:
        if label.casefold() == folded:
            return f"“{label}” is already a label" if label == name else f"it is the label “{label}” already"
    return None


def decision_matrix(labels: Sequence[str], decisions: Sequence[Mapping[str, bool]]) -> np.ndarray:
    """int8 [N, L] of per-photo ``{label: value}`` decisions over ``labels`` (others are left out)."""
    index = {lab: j for j, lab in enumerate(labels)}
    out = np.full((len(decisions), len(labels)), UNDECIDED, np.int8)
    for i, dec in enumerate(decisions):
        for label, value in dec.items():
            j = index.get(label)
            if j is not None:
                out[i, j] = YES if value else NO
    return out


def tag_lists(
    labels: Sequence[str], final: np.ndarray, decisions: Sequence[Mapping[str, bool]] = ()
) -> list[list[str]]:
    """Each photo's final tags as names: ``labels`` order, then (sorted) the labels people said yes to
    that are not in ``labels`` (a decision needs no model). ``final`` is bool [N, L]."""
    known: set[str] | None = None
    out = []
    for i, row in enumerate(final):
        tags = [labels[j] for j in np.flatnonzero(row)]
        if i < len(decisions) and decisions[i]:
            known = set(labels) if known is None else known
            tags += sorted(lab for lab, v in decisions[i].items() if v and lab not in known)
        out.append(tags)
    return out


def final_tags(
    labels: Sequence[str],
    scores: np.ndarray | None,
    decisions: Mapping[str, bool],
    thresholds: np.ndarray,
    policy: ThresholdPolicy | None = None,
) -> list[str]:
    """One photo's final tags (``labels`` order, then decided-on labels the model does not know).

    ``scores`` [L] (None: not scored), ``decisions`` ``{label: value}``; see ``final_tag_matrix``.
    """
    s = None if scores is None else np.asarray(scores, np.float32).reshape(1, len(labels))
    d = decision_matrix(labels, [decisions])
    final = final_tag_matrix(s, d, thresholds, policy)
    return tag_lists(labels, final, [decisions])[0]
