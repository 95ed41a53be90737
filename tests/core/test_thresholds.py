"""Threshold policy: global, per-label, top-k, at-least-one; a person's decision beats any score."""

from __future__ import annotations

import numpy as np

from fashion_desktop.core.tags import final_tags, predicted_matrix
from fashion_desktop.core.thresholds import ThresholdPolicy, uncertainty

LABELS = ["dress", "coat", "hat", "shirt, blouse"]
DEFAULTS = [0.5, 0.6, 0.3, 0.5]


def test_bundle_defaults_global_and_per_label_overrides() -> None:
    assert ThresholdPolicy().thresholds(LABELS, DEFAULTS).tolist() == np.float32(DEFAULTS).tolist()
    glob = ThresholdPolicy(global_threshold=0.7).thresholds(LABELS, DEFAULTS)
    assert np.allclose(glob, 0.7)
    mixed = ThresholdPolicy(global_threshold=0.7, per_label={"hat": 0.1}).thresholds(LABELS, DEFAULTS)
    assert np.allclose(mixed, [0.7, 0.7, 0.1, 0.7])
    per_only = ThresholdPolicy(per_label={"coat": 0.9}).thresholds(LABELS, DEFAULTS)
    assert np.allclose(per_only, [0.5, 0.9, 0.3, 0.5])


def test_score_at_threshold_counts_as_predicted() -> None:
    t = np.full(4, 0.5, np.float32)
    assert final_tags(LABELS, np.float32([0.5, 0.49, 0.0, 0.9]), {}, t) == ["dress", "shirt, blouse"]


def test_top_k_keeps_the_best_passing_labels() -> None:
    scores = np.float32([[0.9, 0.8, 0.7, 0.2], [0.6, 0.1, 0.1, 0.1]])
    t = np.full(4, 0.5, np.float32)
    mask = predicted_matrix(scores, t, ThresholdPolicy(top_k=2))
    assert mask.tolist() == [[True, True, False, False], [True, False, False, False]]


def test_top_k_is_a_hard_cap_even_when_scores_tie() -> None:
    t = np.full(4, 0.5, np.float32)
    tied = np.float32([0.6, 0.6, 0.6, 0.6])
    assert final_tags(LABELS, tied, {}, t, ThresholdPolicy(top_k=1)) == ["dress"]
    assert final_tags(LABELS, tied, {}, t, ThresholdPolicy(top_k=2)) == ["dress", "coat"]


def test_at_least_one_gives_the_best_label_when_none_passes() -> None:
    t = np.full(4, 0.5, np.float32)
    low = np.float32([0.1, 0.3, 0.2, 0.05])
    assert final_tags(LABELS, low, {}, t) == []
    assert final_tags(LABELS, low, {}, t, ThresholdPolicy(at_least_one=True)) == ["coat"]


def test_decision_overrides_score_both_ways_and_adds_unknown_labels() -> None:
    t = np.full(4, 0.5, np.float32)
    scores = np.float32([0.9, 0.1, 0.1, 0.1])
    decisions = {"dress": False, "coat": True, "scarf": True}
    assert final_tags(LABELS, scores, decisions, t) == ["coat", "scarf"]
    # a decision also wins over at_least_one and top_k
    assert final_tags(LABELS, scores, {"dress": False}, t, ThresholdPolicy(top_k=1, at_least_one=True)) == []


def test_decisions_alone_without_scores() -> None:
    assert final_tags(LABELS, None, {"hat": True, "coat": False}, np.zeros(4, np.float32)) == ["hat"]


def test_uncertainty_is_distance_to_the_nearest_threshold() -> None:
    t = np.float32([0.5, 0.5])
    u = uncertainty(np.float32([[0.9, 0.45], [0.99, 0.01]]), t)
    assert np.allclose(u, [0.05, 0.49])
