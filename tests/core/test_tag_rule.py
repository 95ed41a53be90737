"""The one tag rule (core.tags): vectorised over a score matrix, equal to the plain per-photo rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from fashion_desktop.core.tags import (
    UNTUNED_THRESHOLD,
    decision_matrix,
    default_thresholds,
    final_tag_matrix,
    final_tags,
    known_matrix,
    predicted_matrix,
    tag_lists,
)
from fashion_desktop.core.thresholds import ThresholdPolicy
from tests.tag_reference import reference_tags

LABELS = ["dress", "coat", "red", "hat", "shirt, blouse"]
NAN = np.nan


def _random_case(rng: np.random.Generator, n: int = 300):
    # Scores on a coarse grid so that ties and scores exactly at a threshold happen often.
    scores = rng.choice(np.float32([0.0, 0.1, 0.3, 0.45, 0.5, 0.6, 0.8, 0.9, 1.0]), (n, len(LABELS)))
    scores[rng.random(n) < 0.3] = np.nan  # photos never scored
    scores[rng.random((n, len(LABELS))) < 0.05] = np.nan  # a label missing here and there
    decisions = []
    for _ in range(n):
        d = {lab: bool(rng.random() < 0.5) for lab in LABELS + ["scarf"] if rng.random() < 0.15}
        decisions.append(d)
    thresholds = rng.choice(np.float32([0.3, 0.5, 0.6]), len(LABELS))
    return scores.astype(np.float32), decisions, thresholds


@pytest.mark.parametrize(
    "policy",
    [
        ThresholdPolicy(),
        ThresholdPolicy(top_k=1),
        ThresholdPolicy(top_k=2, at_least_one=True),
        ThresholdPolicy(at_least_one=True),
    ],
)
def test_the_matrix_rule_equals_the_plain_rule_photo_by_photo(policy: ThresholdPolicy) -> None:
    scores, decisions, thresholds = _random_case(np.random.default_rng(7))
    final = final_tag_matrix(scores, decision_matrix(LABELS, decisions), thresholds, policy)
    got = tag_lists(LABELS, final, decisions)
    for i, (row, dec) in enumerate(zip(scores, decisions, strict=True)):
        want = reference_tags(
            LABELS, row.tolist(), dec, thresholds.tolist(), policy.top_k, policy.at_least_one
        )
        assert got[i] == want, (i, row, dec)
        one = None if np.isnan(row).all() else row
        assert final_tags(LABELS, one, dec, thresholds, policy) == want


def test_an_unscored_photo_gets_nothing_from_the_model_even_with_at_least_one() -> None:
    scores = np.float32([[NAN, NAN, NAN, NAN, NAN], [NAN, 0.1, NAN, 0.2, NAN], [0.1, 0.1, 0.1, 0.1, 0.1]])
    mask = predicted_matrix(scores, np.full(5, 0.5, np.float32), ThresholdPolicy(at_least_one=True))
    assert mask.tolist() == [
        [False] * 5,
        [False, False, False, True, False],  # the best label that was scored
        [True, False, False, False, False],  # a tie: the earlier label
    ]


def test_top_k_ranks_scored_labels_only_and_a_decision_wins_after_the_cap() -> None:
    scores = np.float32([[0.9, NAN, 0.8, 0.7, 0.95]])
    t = np.full(5, 0.5, np.float32)
    assert predicted_matrix(scores, t, ThresholdPolicy(top_k=2)).tolist() == [
        [True, False, False, False, True]
    ]
    dec = np.int8([[-1, 1, 0, -1, 0]])  # coat yes (unscored), red no, shirt no (was in the top 2)
    final = final_tag_matrix(scores, dec, t, ThresholdPolicy(top_k=2))
    assert final.tolist() == [[True, True, False, False, False]]


def test_known_means_decided_or_scored() -> None:
    scores = np.float32([[0.9, NAN, NAN], [NAN, NAN, NAN]])
    dec = np.int8([[-1, 0, -1], [-1, -1, 1]])
    assert known_matrix(scores, dec).tolist() == [[True, True, False], [False, False, True]]
    assert known_matrix(None, dec).tolist() == [[False, True, False], [False, False, True]]
    assert final_tag_matrix(None, dec, np.zeros(3, np.float32)).tolist() == [
        [False] * 3,
        [False, False, True],
    ]
    with pytest.raises(ValueError):
        final_tag_matrix(None, None, np.zeros(3, np.float32))


@dataclass(frozen=True)
class _Record:
    labels: tuple[str, ...]
    thresholds: tuple[float, ...]


def test_default_thresholds_are_the_catalogs_record_else_untuned() -> None:
    assert default_thresholds(_Record(("a", "b"), (0.2, 0.7))).tolist() == pytest.approx([0.2, 0.7])
    assert default_thresholds(_Record(("a", "b"), ())).tolist() == [UNTUNED_THRESHOLD] * 2
    assert default_thresholds(_Record(("a", "b"), (0.2,))).tolist() == [UNTUNED_THRESHOLD] * 2
    assert default_thresholds(None).shape == (0,)
