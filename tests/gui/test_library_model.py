"""The library item model: Qt's model checks, incremental inserts while scanning, filters and sorting."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_desktop.core.catalog import Catalog, FileInfo
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.gui.tag.library_model import LibraryModel, Roles, ViewSpec

LABELS = ["red", "green", "blue"]


@pytest.fixture
def catalog(tmp_path):
    cat = Catalog(tmp_path / "lib.ffcat")
    yield cat
    cat.close()


def add_files(cat: Catalog, names: list[str], folder: str = "/photos") -> None:
    fid = cat.add_folder(folder)
    files = [FileInfo(f"{folder}/{n}", 100 + i, 1000.0 + i) for i, n in enumerate(names)]
    cat.record_scan_batch(fid, files, 1.0)


def scored(cat: Catalog, scores: dict[str, list[float]]) -> None:
    cat.register_model("m", LABELS)
    ids = cat.ensure_images(scores)
    cat.add_predictions("m", [(ids[p], np.array(s, np.float32)) for p, s in scores.items()])


def names(model: LibraryModel) -> list[str]:
    return [model.index(r).data() for r in range(model.rowCount())]


def test_model_passes_qt_checks_through_inserts_filters_and_edits(qtmodeltester, catalog):
    add_files(catalog, ["b.jpg", "a.jpg"])
    model = LibraryModel(catalog)
    qtmodeltester.check(model, force_py=True)
    model.reload()
    add_files(catalog, ["c.jpg", "d.jpg"])
    assert model.append_new_images() == 2
    scored(catalog, {"/photos/a.jpg": [0.9, 0.1, 0.1], "/photos/c.jpg": [0.2, 0.8, 0.6]})
    model.set_active_model("m")
    model.set_spec(ViewSpec(tags=("green",)))
    model.write_decisions([(model.id_at(0), "red", True)])
    model.set_spec(ViewSpec(sort="confidence"))
    model.write_reviewed([model.id_at(0)], True)
    qtmodeltester.check(model, force_py=True)


def test_scanned_rows_are_inserted_in_batches_without_a_reset(qtbot, catalog):
    add_files(catalog, ["a.jpg"])
    model = LibraryModel(catalog)
    model.reload()
    resets, inserted = [], []
    model.modelReset.connect(lambda: resets.append(1))
    model.rowsInserted.connect(lambda _p, a, b: inserted.append((a, b)))
    fid = catalog.add_folder("/photos")
    catalog.record_scan_batch(fid, [FileInfo(f"/photos/x{i}.jpg", 1, 1.0) for i in range(500)], 2.0)
    model.append_new_images()
    assert inserted == [(1, 500)] and not resets
    assert model.rowCount() == 501


def test_sort_by_name_date_confidence_and_uncertain(catalog):
    add_files(catalog, ["b.jpg", "c.jpg", "a.jpg"])  # mtimes 1000, 1001, 1002
    scored(
        catalog,
        {
            "/photos/a.jpg": [0.52, 0.1, 0.1],
            "/photos/b.jpg": [0.99, 0.0, 0.0],
            "/photos/c.jpg": [0.7, 0.1, 0.0],
        },
    )
    model = LibraryModel(catalog)
    model.reload()
    model.set_active_model("m")
    assert names(model) == ["a.jpg", "b.jpg", "c.jpg"]
    model.set_spec(ViewSpec(sort="date"))
    assert names(model) == ["b.jpg", "c.jpg", "a.jpg"]
    model.set_spec(ViewSpec(sort="confidence"))
    assert names(model) == ["b.jpg", "c.jpg", "a.jpg"]
    model.set_spec(ViewSpec(sort="uncertain"))
    assert names(model)[0] == "a.jpg"  # 0.52 sits right on the 0.5 threshold


def test_filters_follow_thresholds_decisions_and_review_state(catalog):
    add_files(catalog, ["a.jpg", "b.jpg", "c.jpg"])
    scored(catalog, {"/photos/a.jpg": [0.9, 0.1, 0.1], "/photos/b.jpg": [0.4, 0.9, 0.1]})
    model = LibraryModel(catalog)
    model.reload()
    model.set_active_model("m")
    model.set_spec(ViewSpec(tags=("red",)))
    assert names(model) == ["a.jpg"]
    model.set_policy(ThresholdPolicy(global_threshold=0.3))
    assert names(model) == ["a.jpg", "b.jpg"]
    b = catalog.image_by_path("/photos/b.jpg").id
    model.write_decisions([(b, "red", False)])
    model.set_spec(ViewSpec(tags=("red",), review="all"))
    assert names(model) == ["a.jpg"]
    model.set_spec(ViewSpec(review="untagged"))
    assert names(model) == ["c.jpg"]
    model.write_reviewed([b], True)
    model.set_spec(ViewSpec(review="reviewed"))
    assert names(model) == ["b.jpg"]
    model.set_spec(ViewSpec(score_min=0.85))
    assert names(model) == ["a.jpg", "b.jpg"]
    # Decisions are in the catalog, not only in the model.
    assert catalog.decisions(b) == {"red": False}
    predicted, confirmed = model.counts()
    assert predicted == {"red": 1, "green": 1, "blue": 0} and confirmed == {"red": 0, "green": 0, "blue": 0}


def test_tagging_results_update_only_changed_rows(qtbot, catalog):
    add_files(catalog, [f"{i:03d}.jpg" for i in range(50)])
    model = LibraryModel(catalog)
    model.reload()
    catalog.register_model("m", LABELS)
    model.set_active_model("m")
    changed = []
    model.dataChanged.connect(lambda a, b, _r=(): changed.append((a.row(), b.row())))
    ids = [model.id_at(r) for r in (10, 11, 12)]
    catalog.add_predictions("m", [(i, np.array([0.9, 0.0, 0.0], np.float32)) for i in ids])
    assert model.refresh_scores() == 3
    assert changed == [(10, 12)]
    assert model.index(11).data(Roles.FinalTags) == ["red"]
    assert model.index(11).data(Roles.State) == "predicted"


def test_a_photo_that_went_away_leaves_its_scores_to_no_other(qtbot, catalog):
    add_files(catalog, ["a.jpg", "b.jpg"])
    scored(catalog, {"/photos/a.jpg": [0.9, 0.1, 0.1]})
    model = LibraryModel(catalog)
    model.reload()
    model.set_active_model("m")
    assert names(model) == ["a.jpg", "b.jpg"] and model.index(0).data(Roles.FinalTags) == ["red"]
    fid = catalog.add_folder("/photos")
    token = catalog.new_scan_token(fid)
    catalog.record_scan_batch(fid, [FileInfo("/photos/b.jpg", 101, 1001.0)], token)
    catalog.finish_scan(fid, token)
    model.sync_finished()  # a.jpg went away: the model starts over
    assert names(model) == ["b.jpg"]
    assert model.index(0).data(Roles.FinalTags) == [] and model.index(0).data(Roles.Scores) == {}
    assert model.index(0).data(Roles.State) == "untagged"
