"""The "?" badge: a risk that ranks doubtful photos first, a cutoff flagging at most a fifth, in bundles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fashion_desktop.model.badge import (
    SCORE,
    Evaluated,
    badge_line,
    badge_of,
    calibrate,
    choose_cutoff,
    read_badge,
    risk_of,
    wrong_photos,
)
from fashion_desktop.model.bundle_format import FORMAT, BundleDescription, BundleError
from fashion_desktop.model.groups import exclusive_columns

LABELS = ["dress", "shirt", "red", "blue", "green"]
GROUPS = {"dress": "category", "shirt": "category", "red": "colour", "blue": "colour", "green": "colour"}
THRESHOLDS = [0.5, 0.5, 0.2, 0.2, 0.2]
EXCLUSIVE = exclusive_columns(LABELS, GROUPS, ["colour"])


def risk(rows: list[list[float]]) -> np.ndarray:
    return risk_of(np.float32(rows), THRESHOLDS, LABELS, GROUPS, EXCLUSIVE)[0]


def test_a_near_tie_in_an_exclusive_group_ranks_above_a_confident_photo() -> None:
    near_tie, sure = risk([[0.9, 0.05, 0.48, 0.47, 0.05], [0.9, 0.05, 0.96, 0.02, 0.02]])
    assert near_tie > sure + 0.3


def test_a_score_near_its_threshold_in_a_multi_label_group_ranks_above_a_confident_photo() -> None:
    near, sure = risk([[0.52, 0.05, 0.96, 0.02, 0.02], [0.97, 0.01, 0.96, 0.02, 0.02]])
    assert near > sure + 0.3


def test_a_person_settles_what_they_decided() -> None:
    from fashion_desktop.model.badge import group_risks, photo_risk, risk_groups
    from fashion_desktop.model.tag_rule import predicted_matrix

    s = np.float32([[0.9, 0.05, 0.48, 0.47, 0.05]])
    pred = predicted_matrix(s, np.float32(THRESHOLDS), None, EXCLUSIVE)
    rg = risk_groups(LABELS, GROUPS, EXCLUSIVE)
    decided = np.int8([[-1, -1, -1, 1, -1]])  # a person said "blue"
    assert rg.names == ("colour", "category")
    assert photo_risk(group_risks(s, pred, rg))[0] > 0.5
    assert photo_risk(group_risks(s, pred, rg, decided))[0] < 0.2


def test_wrong_means_the_tags_differ_from_a_known_target_in_any_group() -> None:
    s = np.float32([[0.9, 0.05, 0.6, 0.3, 0.1]] * 4)
    pred = risk_of(s, THRESHOLDS, LABELS, GROUPS, EXCLUSIVE)[1]
    targets = np.int8(
        [
            [1, 0, 1, -1, -1],  # right (red is the colour: blue and green are known "no"s)
            [1, 0, -1, 1, -1],  # tagged red, truly blue
            [1, 1, 1, -1, -1],  # the shirt is missed
            [-1, -1, -1, -1, -1],  # nothing known: nothing to get wrong
        ]
    )
    assert wrong_photos(targets, pred, EXCLUSIVE).tolist() == [False, True, True, False]


@pytest.mark.parametrize("n", [1, 7, 50, 97, 1000])
def test_the_cutoff_flags_at_most_the_target_share_even_with_ties(n: int) -> None:
    rng = np.random.default_rng(n)
    r = np.round(rng.random(n), 1)  # many ties
    cut = choose_cutoff(r, 0.2)
    assert (r > cut).mean() <= 0.2
    smooth = rng.random(n)
    assert (smooth > choose_cutoff(smooth, 0.2)).sum() == int(0.2 * n)


def _simulated(n: int, seed: int) -> Evaluated:
    """Photos whose colour is the top value as often as its score says (calibrated softmax scores)."""
    rng = np.random.default_rng(seed)
    top = rng.uniform(0.5, 1.0, n)  # always the top value: the others share the rest
    second = (1 - top) * rng.uniform(0.5, 1.0, n)
    colour = np.stack([top, second, 1 - top - second], axis=1)
    scores = np.concatenate([np.tile([0.95, 0.02], (n, 1)), colour], axis=1).astype(np.float32)
    truth = np.where(rng.random(n) < top, 0, 1)  # red when the top is right, else blue
    targets = np.zeros((n, 5), np.int8)
    targets[:, 0] = 1
    targets[np.arange(n), 2 + truth] = 1
    return Evaluated(targets, scores, "validation")


def test_calibration_flags_at_most_a_fifth_and_the_flagged_are_wrong_more_often() -> None:
    val, test = _simulated(1000, 0), _simulated(1000, 1)
    badge = calibrate(
        val, THRESHOLDS, LABELS, GROUPS, EXCLUSIVE, measured_on=Evaluated(test.targets, test.scores, "test")
    )
    assert badge["score"] == SCORE and badge["chosen_on"] == "validation" and badge["measured_on"] == "test"
    assert 0.1 < badge["flagged"] <= 0.25  # chosen on other photos: about a fifth
    assert badge["wrong_flagged"] > 1.5 * badge["wrong_rest"]
    on_val = calibrate(val, THRESHOLDS, LABELS, GROUPS, EXCLUSIVE)
    assert on_val["flagged"] <= 0.2 and on_val["photos"] == 1000
    line = badge_line(badge)
    assert line.startswith("? marks the photos most likely to have a wrong tag: about ")
    assert "× the error rate of the rest" in line and "test photos" in line


def _raw(**extra) -> dict:
    return {"format": FORMAT, "format_version": 2, "arch": "cnn", "labels": LABELS, "groups": GROUPS,
            "exclusive_groups": ["colour"], "thresholds": THRESHOLDS, "input_size": 48,
            "mean": [0.5] * 3, "std": [0.25] * 3, **extra}  # fmt: skip


def test_the_badge_round_trips_in_the_description_and_bad_values_get_a_clear_message() -> None:
    badge = calibrate(_simulated(100, 2), THRESHOLDS, LABELS, GROUPS, EXCLUSIVE)
    d = BundleDescription.from_raw(_raw(badge=badge), "m.fmodel")
    assert d.badge == badge
    assert BundleDescription.from_raw(d.to_raw(), "m.fmodel").badge == badge
    assert BundleDescription.from_raw(_raw(), "m.fmodel").badge is None
    for bad, message in [
        ("yes", "badge must be a mapping"),
        ({**badge, "cutoff": 1.5}, "badge.cutoff must be a number between 0 and 1, not '1.5'"),
        ({**badge, "cutoff": None}, "badge.cutoff must be a number between 0 and 1"),
        ({**badge, "flagged": "a fifth"}, "badge.flagged must be a share between 0 and 1"),
        ({**badge, "photos": -3}, "badge.photos must be a whole number of photos"),
    ]:
        with pytest.raises(BundleError, match="m.fmodel: not a valid model bundle: ") as info:
            BundleDescription.from_raw(_raw(badge=bad), "m.fmodel")
        assert message in str(info.value)


def test_a_bundle_without_a_stored_badge_gets_one_from_its_evaluation_arrays_else_none() -> None:
    ev = _simulated(120, 3)
    arrays = {"split": "test", "targets": ev.targets, "scores": ev.scores}
    computed = badge_of(None, arrays, THRESHOLDS, LABELS, GROUPS, EXCLUSIVE)
    assert computed is not None and computed["chosen_on"] == computed["measured_on"] == "test"
    assert computed["flagged"] <= 0.2
    stored = {**computed, "cutoff": 0.123, "chosen_on": "validation"}
    assert badge_of(stored, arrays, THRESHOLDS, LABELS, GROUPS, EXCLUSIVE) == stored
    other_score = {**stored, "score": "something-else/9"}
    assert badge_of(other_score, arrays, THRESHOLDS, LABELS, GROUPS, EXCLUSIVE) == computed
    assert badge_of(None, None, THRESHOLDS, LABELS, GROUPS, EXCLUSIVE) is None
    assert badge_of(None, {"split": "test"}, THRESHOLDS, LABELS, GROUPS, EXCLUSIVE) is None
    assert badge_line(None).startswith("? marks photos with a score within 0.05 of its threshold")


def test_a_saved_bundle_carries_its_badge_and_read_badge_finds_it(tmp_path: Path) -> None:
    import torch

    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.bundle import load_bundle, new_bundle, save_bundle

    ev = _simulated(60, 4)
    badge = calibrate(ev, THRESHOLDS, LABELS, GROUPS, EXCLUSIVE)
    state = build_model("cnn", len(LABELS)).state_dict()
    common = dict(groups=GROUPS, exclusive_groups=("colour",), thresholds=tuple(THRESHOLDS), input_size=48)
    evaluation = {
        "split": "test",
        "targets": torch.from_numpy(ev.targets),
        "scores": torch.from_numpy(ev.scores),
    }
    with_badge = save_bundle(new_bundle("cnn", LABELS, state, badge=badge, **common), tmp_path / "a.fmodel")
    assert load_bundle(with_badge).badge == badge
    assert read_badge(with_badge) == badge
    without = save_bundle(
        new_bundle("cnn", LABELS, state, evaluation=evaluation, **common), tmp_path / "b.fmodel"
    )
    assert load_bundle(without).badge is None
    arrays = {"split": "test", "targets": ev.targets, "scores": ev.scores}
    assert read_badge(without) == badge_of(None, arrays, THRESHOLDS, LABELS, GROUPS, EXCLUSIVE)
    bare = save_bundle(new_bundle("cnn", LABELS, state, **common), tmp_path / "c.fmodel")
    assert (
        read_badge(bare) is None
        and read_badge(tmp_path / "missing.fmodel") is None
        and read_badge(None) is None
    )


def test_wrong_tags_are_counted_on_photos_known_in_every_group() -> None:
    ev = _simulated(100, 5)
    targets = ev.targets.copy()
    targets[:40, 2:] = -1  # nobody recorded these photos' colour: their colour tag cannot be judged
    badge = calibrate(Evaluated(targets, ev.scores, "test"), THRESHOLDS, LABELS, GROUPS, EXCLUSIVE)
    assert badge["photos"] == 100 and badge["judged"] == 60 and badge["flagged"] <= 0.2
    assert "(wrong tags counted on the 60 known in every group)" in badge_line(badge)
    few = targets.copy()
    few[:80, 2:] = -1  # too few judged photos: every photo counts
    assert (
        calibrate(Evaluated(few, ev.scores, "test"), THRESHOLDS, LABELS, GROUPS, EXCLUSIVE)["judged"] == 100
    )
