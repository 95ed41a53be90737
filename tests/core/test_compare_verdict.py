"""The comparison's verdict (core.compare_verdict): per group with an interval, none on too few photos, and
what a switch of models loses (issue 19 §2)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from fashion_desktop.core import compare_verdict as cv
from fashion_desktop.core.compare import Exclusion, compare_models
from fashion_desktop.core.compare_verdict import (
    ModelChanges,
    group_verdicts,
    model_changes,
    reasons_to_ask,
    verdict,
)
from fashion_desktop.model.protocol import Comparison
from tests.core.test_compare import library  # noqa: F401 (a fixture)

LABELS = ["red", "green", "blue"]
GROUPS = {lab: "colour" for lab in LABELS}


def one_hot(n: int) -> np.ndarray:
    t = np.zeros((n, 3), np.int8)
    t[np.arange(n), np.arange(n) % 3] = 1
    return t


def wrong_on(truth: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The true tags, except on ``rows`` where the colour is the next one."""
    tags = truth.astype(bool)
    tags[rows] = np.roll(tags[rows], 1, axis=1)
    return tags


def test_a_group_has_a_winner_only_when_the_interval_clears_zero_on_enough_photos() -> None:
    n = 40
    truth = one_hot(n)
    right, half = truth.astype(bool), wrong_on(truth, np.arange(0, n, 2))
    v = group_verdicts(truth, LABELS, GROUPS, half, right)["colour"]
    assert v["photos"] == n and v["current"] == 0.5 and v["new"] == 1.0 and v["difference"] == 0.5
    assert 0 < v["low"] < 0.5 < v["high"] <= 1.0 and v["winner"] == cv.NEW
    assert verdict(n, {"colour": v})["overall"] == cv.BETTER
    v = group_verdicts(truth, LABELS, GROUPS, right, half)["colour"]
    assert v["winner"] == cv.CURRENT and v["high"] < 0 and verdict(n, {"colour": v})["overall"] == cv.WORSE
    # One photo apart in forty: the interval spans zero, no winner.
    v = group_verdicts(truth, LABELS, GROUPS, right, wrong_on(truth, np.array([0])))["colour"]
    assert v["low"] < 0 <= v["high"] and v["winner"] == cv.NEITHER
    assert verdict(n, {"colour": v})["overall"] == cv.NO_CLEAR


def test_no_verdict_below_the_minimum_and_it_says_how_many_more_photos_it_needs() -> None:
    n = 3
    truth = one_hot(n)
    v = group_verdicts(truth, LABELS, GROUPS, wrong_on(truth, np.arange(n)), truth.astype(bool))
    assert v["colour"]["winner"] == cv.TOO_FEW  # three out of three right against none: still three photos
    judged = verdict(n, v)
    assert judged["overall"] == cv.UNDECIDED and judged["needs"] == cv.MIN_PHOTOS - 3 == 27
    assert "bootstrap" in judged["interval"]


def test_a_label_the_new_model_lacks_counts_against_it_and_unknown_labels_do_not() -> None:
    truth = one_hot(6)
    truth[:, 2] = -1  # nobody knows "blue" on these photos
    current = truth == 1
    new = current.copy()
    new[:, 1] = False  # the new model has no "green": wrong on the green photos
    v = group_verdicts(truth, LABELS, GROUPS, current, new)["colour"]
    assert v["photos"] == 6 and v["current"] == 1.0 and v["new"] == pytest.approx(4 / 6)


def model(labels, groups, exclusive=(), at_least_one=()) -> SimpleNamespace:
    return SimpleNamespace(
        labels=tuple(labels), groups=groups, exclusive_groups=exclusive, at_least_one_groups=at_least_one
    )


def test_what_a_switch_loses_is_named_and_asked_about() -> None:
    groups = {**GROUPS, "top": "category", "denim": "fabric"}
    current = model([*LABELS, "top"], groups, ("colour",), ("category",))
    new = model(["red", "top", "denim"], groups)
    changes = model_changes(current, new)
    assert changes == ModelChanges(("green", "blue"), ("denim",), ("colour",), ("category",))
    reasons = reasons_to_ask(changes, verdict(3, {}))
    assert reasons[0] == "It does not have 2 of the current model's labels: green, blue."
    assert "one value per photo in colour" in reasons[1] and "every photo a value in category" in reasons[2]
    assert "rests on 3 photos, too few for a verdict (review 27 more photos" in reasons[3]
    assert reasons_to_ask(ModelChanges(), None) == [
        "It has not been compared with the current model on your reviewed photos."
    ]
    better = verdict(40, {"colour": {"winner": cv.NEW}})
    assert (
        reasons_to_ask(model_changes(current, current), better) == []
    )  # nothing lost and better: no question
    assert reasons_to_ask(ModelChanges(), verdict(40, {"colour": {"winner": cv.NEITHER}})) == [
        "On 40 photos the comparison shows no clear difference."
    ]


def test_nothing_held_out_gives_no_verdict_and_says_a_verdict_needs_thirty_photos(tmp_path, library) -> None:  # noqa: F811
    catalog, _paths = library
    models = [("current", str(tmp_path / "a.fmodel")), ("new", str(tmp_path / "b.fmodel"))]  # never loaded
    empty = list(compare_models(catalog, models, Exclusion(reviewed_until=time.time())))[-1]
    assert isinstance(empty, Comparison) and empty.photos == 0
    assert empty.verdict["overall"] == cv.UNDECIDED and empty.verdict["needs"] == cv.MIN_PHOTOS
