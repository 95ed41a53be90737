"""One library, one set of tags: the grid, its counts and filters, export, the CLI, metrics and the
training table all give each photo the tags of the one rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fashion_desktop.cli import EXIT_OK, main
from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.export import TAG_SEPARATOR, export_file, export_table
from fashion_desktop.core.spreadsheet import comment_lines
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.core.training_table import training_table
from fashion_desktop.gui.models.metrics_model import BundleInfo, Evaluation, metrics_at_policy
from fashion_desktop.gui.tag.library_model import LibraryModel, Roles, ViewSpec
from tests.tag_reference import reference_tags

LABELS = ["dress", "coat", "red", "hat"]
GROUPS = {"dress": "category", "coat": "category", "red": "colour", "hat": "category"}
TUNED = [0.5, 0.8, 0.3, 0.6]  # the model's own thresholds, as the catalog records them
CATEGORY = ([0, 1, 3],)  # the columns of the category group (dress, coat, hat)
N = 40

# (policy, the same policy as `fashion export` options, or None where the CLI cannot say it)
POLICIES = [
    pytest.param(ThresholdPolicy(per_label={"coat": 0.4}), None, id="per-label-override"),
    pytest.param(
        ThresholdPolicy(global_threshold=0.45, per_label={"red": 0.85}, top_k=2, at_least_one=True),
        None,
        id="global-override-topk-atleastone",
    ),
    pytest.param(
        ThresholdPolicy(top_k=1, at_least_one=True), ["--top-k", "1", "--at-least-one"], id="cli-top1"
    ),
    pytest.param(
        ThresholdPolicy(global_threshold=0.45, top_k=2), ["--threshold", "0.45", "--top-k", "2"], id="cli"
    ),
]


@pytest.fixture
def library(tmp_path: Path):
    return _library(tmp_path)


def _library(tmp_path: Path, at_least_one: tuple[str, ...] = ()):
    """Photos decided yes/no, only scored, unscored, scored and decided; a label only people use."""
    rng = np.random.default_rng(3)
    paths = [f"/photos/p{i:02d}.jpg" for i in range(N)]
    scores: dict[str, np.ndarray] = {}
    decisions: dict[str, dict[str, bool]] = {}
    for i, p in enumerate(paths):
        if i % 4 != 3:  # every fourth photo was never scored
            scores[p] = rng.choice(np.float32([0.1, 0.3, 0.4, 0.45, 0.5, 0.6, 0.8, 0.85, 0.9]), len(LABELS))
        if i % 3 == 0:
            decisions[p] = {lab: bool(rng.random() < 0.5) for lab in [*LABELS, "scarf"] if rng.random() < 0.4}
    reviewed = [p for i, p in enumerate(paths) if i % 5 != 4]
    db = tmp_path / "lib.ffcat"
    with Catalog(db) as cat:
        ids = cat.ensure_images(paths)
        cat.register_model("m", LABELS, "tiny", groups=GROUPS, thresholds=TUNED, at_least_one=at_least_one)
        cat.add_predictions("m", [(ids[p], s) for p, s in scores.items()])
        cat.set_decisions([(ids[p], lab, v) for p, d in decisions.items() for lab, v in d.items()])
        cat.set_reviewed([ids[p] for p in reviewed])
    return db, paths, scores, decisions, reviewed


def _expected(policy: ThresholdPolicy, paths, scores, decisions, required=()) -> dict[str, list[str]]:
    th = policy.thresholds(LABELS, TUNED).tolist()
    on = required if policy.group_at_least_one else ()
    return {
        p: reference_tags(
            LABELS,
            scores[p].tolist() if p in scores else None,
            decisions.get(p, {}),
            th,
            policy.top_k,
            policy.at_least_one,
            on,
        )
        for p in paths
    }


def _split(cell: str) -> list[str]:
    return cell.split(TAG_SEPARATOR) if cell else []


def _grid_view(model: LibraryModel) -> set[str]:
    return {model.index(r).data(Roles.Path) for r in range(model.rowCount())}


@pytest.mark.parametrize(("policy", "cli_options"), POLICIES)
def test_every_caller_gives_the_same_tags(qtbot, tmp_path, library, policy, cli_options) -> None:
    _every_caller_gives(tmp_path, library, policy, cli_options)


# The model's at-least-one groups (dress, coat, hat: its category): on unless the view turns them off.
@pytest.mark.parametrize(
    ("policy", "cli_options"),
    [
        pytest.param(ThresholdPolicy(), [], id="rule-on"),
        pytest.param(
            ThresholdPolicy(top_k=1, at_least_one=True), ["--top-k", "1", "--at-least-one"], id="top1"
        ),
        pytest.param(ThresholdPolicy(global_threshold=0.95, at_least_one=True), None, id="nothing-passes"),
        pytest.param(ThresholdPolicy(group_at_least_one=False), None, id="rule-off-in-the-view"),
    ],
)
def test_every_caller_applies_the_models_at_least_one_group(qtbot, tmp_path, policy, cli_options) -> None:
    library = _library(tmp_path, at_least_one=("category",))
    _db, paths, scores, decisions, _reviewed = library
    if policy.group_at_least_one:  # the case is one where the rule changes tags
        assert _expected(policy, paths, scores, decisions, CATEGORY) != _expected(
            policy, paths, scores, decisions
        )
    _every_caller_gives(tmp_path, library, policy, cli_options, required=CATEGORY)


def _every_caller_gives(tmp_path, library, policy, cli_options, required=()) -> None:
    """Export, the CLI, the training table, the grid and metrics all give the tags of the plain rule."""
    db, paths, scores, decisions, reviewed = library
    expected = _expected(policy, paths, scores, decisions, required)
    assert any(expected.values()) and not all(expected.values())  # the case is not trivial

    # Export: the table and the CSV file it writes.
    with Catalog(db) as cat:
        df = export_table(cat, "m", policy)
        assert dict(zip(df["path"], map(_split, df["tags"]), strict=True)) == expected
        out = tmp_path / "export.csv"
        export_file(cat, out, "m", policy)
        csv = pd.read_csv(out, keep_default_na=False, skiprows=comment_lines(out))
        assert dict(zip(csv["path"], map(_split, csv["tags"]), strict=True)) == expected

    # The CLI, where its options can say the policy.
    if cli_options is not None:
        out = tmp_path / "cli.csv"
        assert main(["export", "--catalog", str(db), "--out", str(out), *cli_options]) == EXIT_OK
        csv = pd.read_csv(out, keep_default_na=False, skiprows=comment_lines(out))
        assert dict(zip(csv["path"], map(_split, csv["tags"]), strict=True)) == expected

    # The training table: reviewed photos only, the same tags.
    table = training_table(db, "m", policy)
    assert {r.path: sorted(r.positives) for r in table.rows} == {p: sorted(expected[p]) for p in reviewed}

    # The grid: each photo's chips, the per-label counts and the tag filters.
    cat = Catalog(db)
    try:
        model = LibraryModel(cat)
        model.reload()
        model.set_active_model("m")  # the model's thresholds come from the catalog
        model.set_policy(policy)
        shown = {
            model.index(r).data(Roles.Path): model.index(r).data(Roles.FinalTags)
            for r in range(model.rowCount())
        }
        assert shown == expected
        counts, confirmed = model.counts()
        assert counts == {lab: sum(lab in t for t in expected.values()) for lab in LABELS}
        assert confirmed == {lab: sum(d.get(lab) is True for d in decisions.values()) for lab in LABELS}
        for lab in [*LABELS, "scarf"]:
            model.set_spec(ViewSpec(tags=(lab,)))
            assert _grid_view(model) == {p for p, t in expected.items() if lab in t}, lab
        model.set_spec(ViewSpec(tags=("dress", "red"), tag_mode="all"))
        assert _grid_view(model) == {p for p, t in expected.items() if {"dress", "red"} <= set(t)}
        model.set_spec(ViewSpec(tags=("coat",), tag_mode="none"))
        assert _grid_view(model) == {p for p, t in expected.items() if "coat" not in t}
        model.reader.close()
    finally:
        cat.close()

    # Metrics at the current thresholds score the model's side of the rule (no decisions there):
    # with every label a positive of each photo, recall 1 means "predicted".
    model_only = _expected(policy, [p for p in paths if p in scores], scores, {}, required)
    for p, want in model_only.items():
        info = BundleInfo(
            "tiny.fmodel",
            labels=tuple(LABELS),
            groups=GROUPS,
            thresholds=tuple(TUNED),
            at_least_one=("category",) if required else (),
            evaluation=Evaluation("test", np.ones((1, len(LABELS)), np.int8), scores[p][None, :]),
        )
        view = metrics_at_policy(info, policy)
        assert [row["label"] for row in view.per_label if row["recall"] == 1.0] == want, p
