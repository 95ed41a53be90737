"""Metrics against values worked out by hand; unknown (-1) entries must not count."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fashion_desktop.model.metrics import (
    average_precision,
    balanced_accuracy,
    compute_metrics,
    metrics_by_group,
    top1_accuracy,
    tune_thresholds,
)

# 4 images x 3 labels. Threshold 0.5.
T = np.array([[1, 0, 1], [0, 1, -1], [1, 1, 0], [0, 0, 1]], dtype=np.int8)
S = np.array([[0.9, 0.2, 0.4], [0.6, 0.7, 0.99], [0.8, 0.3, 0.1], [0.1, 0.6, 0.7]])


def test_counts_micro_macro_samples_exact_match():
    m = compute_metrics(T, S, 0.5, ["a", "b", "c"])
    per = {r["label"]: r for r in m["per_label"]}
    # label a: tp 2 (img0, img2), fp 1 (img1), fn 0 -> P 2/3 R 1 F1 0.8
    assert per["a"]["precision"] == pytest.approx(2 / 3)
    assert per["a"]["recall"] == pytest.approx(1.0)
    assert per["a"]["f1"] == pytest.approx(0.8)
    # label b: tp 1 (img1), fp 1 (img3), fn 1 (img2) -> F1 0.5
    assert per["b"]["f1"] == pytest.approx(0.5)
    # label c: img1 unknown (its 0.99 must not count); tp 1 (img3), fn 1 (img0), fp 0 -> F1 2/3
    assert per["c"]["f1"] == pytest.approx(2 / 3)
    assert per["c"]["known"] == 3 and per["c"]["support"] == 2
    o = m["overall"]
    # micro: tp 4, fp 2, fn 2 -> 8 / 12
    assert o["f1_micro"] == pytest.approx(8 / 12)
    assert o["f1_macro"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # per image F1: img0 tp1 fn1 -> 2/3; img1 tp1 fp1 -> 2/3; img2 tp1 fn1 -> 2/3; img3 tp1 fp1 -> 2/3
    assert o["f1_samples"] == pytest.approx(2 / 3)
    assert o["exact_match"] == 0.0
    assert o["precision_micro"] == pytest.approx(4 / 6)
    assert o["recall_micro"] == pytest.approx(4 / 6)


def test_exact_match_ignores_unknowns_and_per_label_thresholds_apply():
    t = np.array([[1, -1], [0, 1]], dtype=np.int8)
    s = np.array([[0.6, 0.9], [0.2, 0.35]])
    assert compute_metrics(t, s, 0.5)["overall"]["exact_match"] == 0.5
    assert compute_metrics(t, s, [0.5, 0.3])["overall"]["exact_match"] == 1.0


def test_average_precision_by_hand_with_ties_and_unknowns():
    # ranking: 0.9 pos, 0.8 neg, 0.7 pos -> AP = (1/1 + 2/3) / 2
    assert average_precision(np.array([1, 0, 1, -1]), np.array([0.9, 0.8, 0.7, 0.95])) == pytest.approx(5 / 6)
    # all tied: one step at precision 1/2
    assert average_precision(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert math.isnan(average_precision(np.array([0, -1]), np.array([0.1, 0.2])))
    m = compute_metrics(T, S, 0.5)
    # mAP averages labels with a known positive
    aps = [average_precision(T[:, j], S[:, j]) for j in range(3)]
    assert m["overall"]["map"] == pytest.approx(np.mean(aps))


def test_matches_scikit_learn_where_nothing_is_unknown():
    from sklearn.metrics import average_precision_score, f1_score

    rng = np.random.default_rng(1)
    t = (rng.random((50, 5)) < 0.3).astype(np.int8)
    t[0] = 1
    s = rng.random((50, 5))
    m = compute_metrics(t, s, 0.5)["overall"]
    pred = (s >= 0.5).astype(int)
    assert m["f1_micro"] == pytest.approx(f1_score(t, pred, average="micro"))
    assert m["f1_macro"] == pytest.approx(f1_score(t, pred, average="macro"))
    assert m["map"] == pytest.approx(average_precision_score(t, s, average="macro"))


def test_tuned_thresholds_maximise_validation_f1():
    t = np.array([[1], [1], [0], [0], [-1]], dtype=np.int8)
    s = np.array([[0.30], [0.25], [0.2], [0.1], [0.9]])
    th = tune_thresholds(t, s)
    assert 0.2 < th[0] <= 0.25  # between the lowest positive and the highest negative
    assert compute_metrics(t, s, th)["overall"]["f1_micro"] == 1.0
    assert tune_thresholds(np.array([[0], [0]], dtype=np.int8), np.array([[0.3], [0.6]]))[0] == 0.5


def test_group_metrics_and_top1():
    labels = ["dress", "shoe", "Red", "Blue"]
    groups = {"dress": "category", "shoe": "category", "Red": "colour", "Blue": "colour"}
    t = np.array([[1, 0, -1, -1], [-1, -1, 0, 1]], dtype=np.int8)
    s = np.array([[0.9, 0.1, 0.9, 0.1], [0.2, 0.9, 0.7, 0.6]])
    g = metrics_by_group(t, s, 0.5, labels, groups)
    assert g["category"]["images"] == 1 and g["category"]["f1_micro"] == 1.0
    assert g["colour"]["images"] == 1 and g["colour"]["top1_accuracy"] == 0.0  # Red scored above Blue
    assert top1_accuracy(t[:, :2], s[:, :2]) == 1.0


def test_balanced_accuracy_by_hand_does_not_reward_the_commonest_value():
    # Gender (Men, Women, Boys), 7 photos: the top value is right for 2 of 3 Men, 1 of 2 Women and the
    # one Boys photo is called Men; the last photo's gender is unknown and does not count.
    t = np.array(
        [[1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [-1, -1, -1]], dtype=np.int8
    )
    s = np.array(
        [[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1],
         [0.5, 0.2, 0.3], [0.9, 0.05, 0.05]]
    )  # fmt: skip
    assert balanced_accuracy(t, s) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)  # recall per value, averaged
    assert top1_accuracy(t, s) == pytest.approx(3 / 6)
    always_men = np.tile([0.9, 0.05, 0.05], (7, 1))
    assert top1_accuracy(t, always_men) == pytest.approx(3 / 6)  # half right by the prior alone...
    assert balanced_accuracy(t, always_men) == pytest.approx(1 / 3)  # ...but one value of three
    assert math.isnan(balanced_accuracy(t[-1:], s[-1:]))
    # compute_metrics reports it for exclusive groups only, from the same scores.
    labels = ["dress", "Men", "Women", "Boys"]
    groups = {"dress": "category", "Men": "gender", "Women": "gender", "Boys": "gender"}
    tt = np.hstack([np.ones((7, 1), np.int8), t])
    ss = np.hstack([np.full((7, 1), 0.9), s])
    g = compute_metrics(tt, ss, 0.5, labels, groups, (np.array([1, 2, 3]),))["groups"]
    assert g["gender"]["balanced_accuracy"] == pytest.approx(7 / 18)
    assert "balanced_accuracy" not in g["category"]
    assert "balanced_accuracy" not in compute_metrics(tt, ss, 0.5, labels, groups)["groups"]["gender"]


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        compute_metrics(np.zeros((2, 3)), np.zeros((3, 2)))


def test_the_metrics_are_those_of_the_tags_the_tag_rule_gives():
    from fashion_desktop.core.thresholds import ThresholdPolicy
    from fashion_desktop.model.tag_rule import predicted_matrix

    labels = ["dress", "Red", "Blue", "Green"]
    groups = {"dress": "category", "Red": "colour", "Blue": "colour", "Green": "colour"}
    exclusive = (np.array([1, 2, 3]),)
    # Photo 0: Red is true, Green unknown; photo 1: Blue is true; photo 2: nothing known of its colour.
    t = np.array([[1, 1, 0, -1], [0, 0, 1, 0], [1, -1, -1, -1]], dtype=np.int8)
    s = np.array([[0.9, 0.5, 0.1, 0.4], [0.2, 0.45, 0.3, 0.25], [0.1, 0.2, 0.2, 0.6]], np.float32)
    plain = compute_metrics(t, s, 0.2, labels, groups)["groups"]["colour"]
    rule = compute_metrics(t, s, 0.2, labels, groups, exclusive)["groups"]["colour"]
    # Plain >= tags Red, Green (photo 0), Red, Blue, Green (photo 1); the rule tags Red and Red.
    assert plain["f1_micro"] == pytest.approx(2 * 2 / (2 * 2 + 2 + 0))  # Green of photo 0 is unknown
    # The rule: photo 0 right; photo 1 Red is wrong and Blue missed. Green of photo 0 is now a known no.
    assert rule["f1_micro"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 1))
    assert rule["images"] == 2 and rule["top1_accuracy"] == 0.5
    # The policy the grid applies is applied here too: at least one tag gives photo 2 its best label.
    policy = ThresholdPolicy(at_least_one=True, top_k=1)
    m = compute_metrics(t, s, 0.95, labels, groups, exclusive, policy)
    mask = predicted_matrix(s, np.full(4, 0.95, np.float32), policy, exclusive)
    assert mask.tolist() == [
        [True, False, False, False],
        [False, True, False, False],
        [False, False, False, True],
    ]
    assert m["per_label"][0]["precision"] == 1.0 and m["per_label"][0]["recall"] == 0.5
    assert m["overall"]["map"] == compute_metrics(t, s, 0.2, labels, groups, exclusive)["overall"]["map"]
