"""The model's at-least-one groups: the rule, its switch in the view, the bundle, the catalog and the protocol."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from fashion_desktop.core import catalog_schema
from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.tags import decision_matrix, final_tag_matrix, predicted_matrix, tag_lists
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.model.bundle import load_bundle, new_bundle, save_bundle
from fashion_desktop.model.bundle_file import read_bundle_file
from fashion_desktop.model.bundle_format import BundleError
from fashion_desktop.model.groups import at_least_one_columns, exclusive_columns
from fashion_desktop.model.metrics import compute_metrics
from fashion_desktop.model.protocol import ModelInfo
from tests.tag_reference import reference_tags

LABELS = ["dress", "coat", "hat", "red", "blue", "Men", "Women"]
GROUPS = {
    "dress": "category", "coat": "category", "hat": "category", "red": "colour", "blue": "colour",
    "Men": "gender", "Women": "gender",
}  # fmt: skip
CATEGORY = at_least_one_columns(LABELS, GROUPS, ["category"])
TH = np.full(len(LABELS), 0.5, np.float32)
NAN = np.nan


def _tags(scores, policy=None, exclusive=(), required=CATEGORY) -> list[list[str]]:
    mask = predicted_matrix(np.float32(scores), TH, policy, exclusive, required)
    return [[lab for lab, on in zip(LABELS, row, strict=True) if on] for row in mask]


def test_a_photo_without_a_category_gets_its_top_one_and_the_others_are_left_alone() -> None:
    scores = [
        [0.2, 0.4, 0.3, 0.9, 0.1, 0.1, 0.1],  # no category passes: the top one (coat)
        [0.7, 0.6, 0.1, 0.9, 0.1, 0.1, 0.1],  # two pass: both kept, nothing added
        [0.1, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1],  # nothing passes at all: a category only
        [NAN, NAN, NAN, 0.9, 0.1, 0.1, 0.1],  # no category scored: none invented
        [NAN, 0.1, 0.2, 0.1, 0.1, 0.1, 0.1],  # a category partly scored: the best scored one
        [NAN] * 7,  # never scored
    ]
    assert _tags(scores) == [["coat", "red"], ["dress", "coat", "red"], ["coat"], ["red"], ["hat"], []]
    # A bundle without the rule tags as before.
    assert _tags(scores, required=())[0] == ["red"]
    # Ties: the earlier label, as everywhere in the tag rule.
    assert _tags([[0.3, 0.3, 0.3, 0.1, 0.1, 0.1, 0.1]]) == [["dress"]]


def test_the_view_turns_it_off() -> None:
    scores = [[0.2, 0.4, 0.3, 0.9, 0.1, 0.1, 0.1]]
    assert _tags(scores, ThresholdPolicy(group_at_least_one=False)) == [["red"]]
    assert _tags(scores, ThresholdPolicy()) == [["coat", "red"]]  # on unless turned off


def test_it_combines_with_the_photo_level_option_and_top_k() -> None:
    scores = [
        [0.2, 0.4, 0.3, 0.1, 0.1, 0.1, 0.45],  # no tag: the group rule gives a category, nothing more
        [NAN, NAN, NAN, 0.1, 0.3, 0.1, 0.1],  # no category to give: the photo rule gives its best label
    ]
    assert _tags(scores, ThresholdPolicy(at_least_one=True)) == [["coat"], ["blue"]]
    assert _tags(scores, ThresholdPolicy(at_least_one=True, group_at_least_one=False)) == [
        ["Women"],
        ["blue"],
    ]
    # Top-k keeps the photo's category first, then the best of the rest.
    scores = [
        [0.2, 0.4, 0.3, 0.9, 0.1, 0.95, 0.1],  # the given category outranks higher colour and gender
        [0.6, 0.1, 0.1, 0.9, 0.1, 0.95, 0.1],  # a passing category too
        [0.6, 0.7, 0.1, 0.9, 0.1, 0.95, 0.1],  # two pass: only the best category is kept first
    ]
    assert _tags(scores, ThresholdPolicy(top_k=2)) == [["coat", "Men"], ["dress", "Men"], ["coat", "Men"]]
    assert _tags(scores, ThresholdPolicy(top_k=1)) == [["coat"], ["dress"], ["coat"]]
    assert _tags(scores, ThresholdPolicy(top_k=1, group_at_least_one=False)) == [["Men"]] * 3


def test_it_gives_an_exclusive_group_its_top_value_below_the_floor() -> None:
    exclusive = exclusive_columns(LABELS, GROUPS, ["colour"])
    colour = at_least_one_columns(LABELS, GROUPS, ["colour"])
    scores = [[0.9, 0.1, 0.1, 0.3, 0.45, 0.9, 0.1]]
    assert _tags(scores, exclusive=exclusive, required=colour) == [["dress", "blue", "Men"]]
    assert _tags(scores, exclusive=exclusive, required=()) == [["dress", "Men"]]


@pytest.mark.parametrize(
    "policy",
    [
        ThresholdPolicy(),
        ThresholdPolicy(top_k=1),
        ThresholdPolicy(top_k=2, at_least_one=True),
        ThresholdPolicy(at_least_one=True),
        ThresholdPolicy(top_k=2, group_at_least_one=False),
    ],
)
def test_the_matrix_rule_equals_the_plain_rule_photo_by_photo(policy: ThresholdPolicy) -> None:
    rng = np.random.default_rng(11)
    n = 400
    scores = rng.choice(np.float32([0.0, 0.1, 0.3, 0.45, 0.5, 0.6, 0.8, 0.9]), (n, len(LABELS)))
    scores[rng.random(n) < 0.2] = np.nan
    scores[rng.random((n, len(LABELS))) < 0.1] = np.nan
    thresholds = rng.choice(np.float32([0.3, 0.5, 0.6]), len(LABELS))
    decisions = [{lab: bool(rng.random() < 0.5) for lab in LABELS if rng.random() < 0.1} for _ in range(n)]
    required = at_least_one_columns(LABELS, GROUPS, ["category", "gender"])
    final = final_tag_matrix(scores, decision_matrix(LABELS, decisions), thresholds, policy, (), required)
    got = tag_lists(LABELS, final, decisions)
    on = [cols.tolist() for cols in required] if policy.group_at_least_one else []
    for i, (row, dec) in enumerate(zip(scores, decisions, strict=True)):
        row_scores = None if np.isnan(row).all() else row.tolist()
        want = reference_tags(
            LABELS, row_scores, dec, thresholds.tolist(), policy.top_k, policy.at_least_one, on
        )
        assert got[i] == want, (i, row, dec)


def test_metrics_measure_the_tags_of_the_rule() -> None:
    scores = np.float32([[0.2, 0.4, 0.3, 0.9, 0.1, 0.1, 0.1], [0.1, 0.1, 0.45, 0.9, 0.1, 0.1, 0.1]])
    targets = np.int8([[0, 1, 0, 1, 0, -1, -1], [0, 1, 0, 1, 0, -1, -1]])
    with_rule = compute_metrics(targets, scores, TH, LABELS, GROUPS, required=CATEGORY)
    without = compute_metrics(targets, scores, TH, LABELS, GROUPS)
    assert without["groups"]["category"]["recall_micro"] == 0.0
    assert with_rule["groups"]["category"]["recall_micro"] == 0.5  # coat given on the first photo
    assert with_rule["groups"]["category"]["precision_micro"] == 0.5  # hat, wrongly, on the second
    off = compute_metrics(targets, scores, TH, LABELS, GROUPS, policy=ThresholdPolicy(group_at_least_one=False),
                          required=CATEGORY)  # fmt: skip
    for key in ("f1_micro", "precision_micro", "recall_micro", "exact_match"):
        assert off["overall"][key] == without["overall"][key], key


def test_the_policy_keeps_the_switch_and_views_saved_before_it_have_it_on() -> None:
    off = ThresholdPolicy(top_k=2, group_at_least_one=False)
    assert ThresholdPolicy.from_json(off.to_json()) == off
    saved_before = '{"global_threshold": null, "per_label": {}, "top_k": null, "at_least_one": true}'
    assert ThresholdPolicy.from_json(saved_before).group_at_least_one is True


def _bundle(tmp_path: Path, at_least_one=("category",)) -> Path:
    from fashion_desktop.model.archs import build_model

    model = build_model("cnn", len(LABELS), pretrained=False)
    b = new_bundle("cnn", LABELS, model.state_dict(), input_size=32, groups=GROUPS,
                   at_least_one_groups=at_least_one)  # fmt: skip
    return save_bundle(b, tmp_path / "m.fmodel")


def test_the_bundle_carries_the_groups_and_names_a_group_it_lacks(tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    assert load_bundle(path).at_least_one_groups == ("category",)
    assert read_bundle_file(path).description.at_least_one_groups == ("category",)  # the torch-free reader
    assert [c.tolist() for c in load_bundle(path).at_least_one_columns()] == [[0, 1, 2]]
    (tmp_path / "plain").mkdir()
    assert load_bundle(_bundle(tmp_path / "plain", at_least_one=())).at_least_one_groups == ()
    (tmp_path / "bad").mkdir()
    with pytest.raises(BundleError, match=r"no label of this bundle is in group 'categroy' \(its groups: "
                                          r"category, colour, gender\)"):  # fmt: skip
        _bundle(tmp_path / "bad", at_least_one=("categroy",))
    assert not (tmp_path / "bad" / "m.fmodel").exists()


def test_the_catalog_records_the_groups_and_upgrades_a_schema_7_catalog(tmp_path: Path) -> None:
    path = tmp_path / "v7.ffcat"
    db = sqlite3.connect(path)
    db.executescript(catalog_schema.SCHEMA_V1)
    for step in catalog_schema.MIGRATIONS[:6]:
        step(db) if callable(step) else db.executescript(step)
    db.execute("INSERT INTO meta VALUES('schema_version', '7')")
    db.execute(
        "INSERT INTO models(model_key, name, labels, groups, added_at) VALUES('old', 'o', '[\"a\"]', '{}', 0)"
    )
    db.commit()
    db.close()
    with Catalog(path, read_only=True) as cat:  # read as it is: no groups, nothing written
        assert cat.model("old").at_least_one == ()
    with Catalog(path) as cat:
        assert cat.schema_version == catalog_schema.SCHEMA_VERSION and cat.backup_path is not None
        cat.register_model("new", LABELS, groups=GROUPS, thresholds=[0.5] * 7, at_least_one=("category",))
        cat.register_model("new", LABELS)  # registered again without the groups: the record keeps them
        cat.set_view_state("new", ThresholdPolicy(group_at_least_one=False))
    with Catalog(path, read_only=True) as cat:
        rec = cat.model("new")
        assert rec.at_least_one == ("category",) and [c.tolist() for c in rec.at_least_one_columns()] == [
            [0, 1, 2]
        ]
        assert cat.model("old").at_least_one == ()
        assert cat.view_state("new").group_at_least_one is False


def test_the_tagging_process_names_the_groups_before_the_catalog_has_the_model() -> None:
    info = ModelInfo("k", tuple(LABELS), GROUPS, (0.5,) * len(LABELS), ("colour",), ("category",))
    assert ModelInfo.from_wire(info.to_wire()).at_least_one == ("category",)
    old = {k: v for k, v in info.to_wire().items() if k != "at_least_one"}  # an older child: none
    assert ModelInfo.from_wire(old).at_least_one == ()
