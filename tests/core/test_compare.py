"""Two models compared on the library's reviewed photos that a run did not learn from (core.compare)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.compare import Exclusion, compare_models, held_out
from fashion_desktop.core.compare_verdict import MIN_PHOTOS, TOO_FEW, UNDECIDED
from fashion_desktop.core.training_table import TrainingTableError
from fashion_desktop.model.protocol import Comparison, Progress
from fashion_desktop.model.run_folder import write_splits
from tests.conftest import TINY_LABELS, make_photo


def swapped_colour_bundle(path: Path) -> Path:
    """The demo colour model with its labels rotated: a red photo scores high on "green" (always wrong)."""
    from fashion_desktop.core.demo import colour_bundle
    from fashion_desktop.model.bundle import new_bundle, save_bundle

    good = colour_bundle()
    labels = ("green", "blue", "red")
    bundle = new_bundle(
        "cnn", labels, good.state_dict, input_size=32, groups={lab: "colour" for lab in labels},
        provenance={"model_id": "swapped", "name": "swapped"},
    )  # fmt: skip
    return save_bundle(bundle, path)


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, list[str]]:
    """18 reviewed photos (6 per colour, a third under sub/) whose colour is the person's decision."""
    folder = tmp_path / "photos"
    paths = []
    for i in range(18):
        colour = TINY_LABELS[i % 3]
        paths.append(
            str(make_photo(folder / ("sub" if i >= 12 else "") / f"{colour}{i}.jpg", (40, 32), colour))
        )
    cat = Catalog(tmp_path / "lib.ffcat")
    ids = cat.ensure_images(paths)
    decisions = [(ids[p], lab, lab == TINY_LABELS[i % 3]) for i, p in enumerate(paths) for lab in TINY_LABELS]
    cat.set_reviewed(list(ids.values()), True, decisions)
    cat.close()
    return tmp_path / "lib.ffcat", paths


def test_the_held_out_photos_are_those_the_run_did_not_train_or_validate_on(tmp_path, library) -> None:
    catalog, paths = library
    run = tmp_path / "run"
    run.mkdir()
    write_splits(run, {"train": paths[:6], "val": paths[6:9], "test": paths[9:12]})
    kept, excluded = held_out(catalog, Exclusion(str(run / "splits.json")))
    assert sorted(r.path for r in kept) == sorted(paths[9:])
    assert excluded == 9
    # An older run without splits.json: photos under its data folders, and what it read of the library.
    kept, excluded = held_out(catalog, Exclusion(folders=(str(Path(paths[0]).parent / "sub"),)))
    assert sorted(r.path for r in kept) == sorted(paths[:12]) and excluded == 6
    assert held_out(catalog, Exclusion(reviewed_until=time.time())) == ([], 18)
    assert len(held_out(catalog, Exclusion(reviewed_until=time.time() - 3600))[0]) == 18
    (run / "splits.json").write_text("{not json")
    with pytest.raises(TrainingTableError, match="splits.json: cannot read which photos the run trained on"):
        held_out(catalog, Exclusion(str(run / "splits.json")))


def test_a_splits_file_of_another_format_is_refused_naming_it(tmp_path, library) -> None:
    catalog, paths = library
    wrong = tmp_path / "run" / "splits.json"
    wrong.parent.mkdir()
    wrong.write_text(json.dumps({"format": "something-else", "version": 1, "splits": {"train": paths[:6]}}))
    with pytest.raises(
        TrainingTableError, match=r"run.splits\.json: cannot read .*not a 'fashion-run-splits'"
    ):
        held_out(catalog, Exclusion(str(wrong)))


def test_each_model_is_measured_per_group_on_the_same_held_out_photos(
    tmp_path, library, tiny_bundle_path
) -> None:
    pytest.importorskip("torch")
    catalog, paths = library
    run = tmp_path / "run"
    run.mkdir()
    write_splits(run, {"train": paths[:9], "val": paths[9:12]})
    swapped = swapped_colour_bundle(tmp_path / "swapped.fmodel")
    events = list(
        compare_models(
            catalog,
            [("current", str(tiny_bundle_path)), ("new", str(swapped))],
            Exclusion(str(run / "splits.json")),
        )
    )
    assert isinstance(events[0], Progress) and events[0].total == 12
    result = events[-1]
    assert isinstance(result, Comparison)
    assert (result.photos, result.excluded, result.unreadable) == (6, 12, 0)
    current, new = result.models
    assert (current["name"], new["name"]) == ("current", "new") and new["model_id"] == "swapped"
    assert set(current["groups"]) == {"colour"} == set(new["groups"])
    assert current["groups"]["colour"]["top1_accuracy"] == 1.0 and current["groups"]["colour"]["images"] == 6
    assert new["groups"]["colour"]["top1_accuracy"] == 0.0
    assert current["groups"]["colour"]["f1_macro"] > 0.9 > new["groups"]["colour"]["f1_macro"]
    # Six photos: no verdict, and how many more it needs (issue 19 §2); it crosses the pipe whole.
    judged = result.verdict
    assert judged["overall"] == UNDECIDED and judged["needs"] == MIN_PHOTOS - 6
    colour = judged["groups"]["colour"]
    assert (colour["photos"], colour["current"], colour["new"], colour["winner"]) == (6, 1.0, 0.0, TOO_FEW)
    assert Comparison.from_wire(result.to_wire()) == result


def test_nothing_held_out_gives_an_empty_comparison_without_loading_a_model(tmp_path, library) -> None:
    catalog, _paths = library
    events = list(
        compare_models(
            catalog, [("a", str(tmp_path / "missing.fmodel"))], Exclusion(reviewed_until=time.time())
        )
    )
    assert events[-1] == Comparison(
        0, 18, 0, ({"name": "a", "bundle": str(tmp_path / "missing.fmodel"), "groups": {}},)
    )
