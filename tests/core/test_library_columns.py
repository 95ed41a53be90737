"""The grid's column store works without Qt: filters, order, the tag rule and edits that reach the catalog."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_desktop.core.catalog import Catalog, FileInfo
from fashion_desktop.core.library_columns import LibraryColumns, ViewSpec


def test_columns_filter_order_and_write_through_to_the_catalog(tmp_path) -> None:
    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/photos")
    files = [FileInfo(f"/photos/{n}", 100, 1000.0 + i) for i, n in enumerate(["b.jpg", "a.jpg", "c.jpg"])]
    cat.record_scan_batch(fid, files, 1.0)
    cat.register_model("m", ["red", "green"])
    ids = {r.path.rsplit("/", 1)[1]: r.id for r in cat.images()}
    cat.add_predictions("m", [(ids["a.jpg"], np.array([0.9, 0.1])), (ids["b.jpg"], np.array([0.3, 0.7]))])
    cols = LibraryColumns(cat)
    cols.reload()
    cols.set_active_model("m")

    def shown(spec: ViewSpec) -> list[str]:
        return [cols.slots.names[s] for s in cols.view(spec)]

    assert shown(ViewSpec()) == ["a.jpg", "b.jpg", "c.jpg"]
    assert shown(ViewSpec(sort="confidence")) == ["a.jpg", "b.jpg", "c.jpg"]
    assert shown(ViewSpec(tags=("red",))) == ["a.jpg"]
    assert shown(ViewSpec(review="untagged")) == ["c.jpg"]
    slots, new_label = cols.write_decisions([(ids["c.jpg"], "red", True)])
    assert cat.decisions(ids["c.jpg"]) == {"red": True} and not new_label
    assert shown(ViewSpec(tags=("red",))) == ["a.jpg", "c.jpg"]
    assert cols.final_tags(slots[0]) == ["red"]
    assert cols.counts() == ({"red": 2, "green": 1}, {"red": 1, "green": 0})
    # Find similar: only these photos, in this order (no sort), the other filters still applied
    similar = (ids["c.jpg"], ids["a.jpg"], 10_000)  # an id no longer in the library is skipped
    assert shown(ViewSpec(similar=similar, sort="confidence", descending=True)) == ["c.jpg", "a.jpg"]
    assert shown(ViewSpec(similar=similar, review="predicted")) == ["c.jpg", "a.jpg"]
    assert shown(ViewSpec(similar=similar, review="untagged")) == []
    assert list(cols.filter_mask(np.arange(3), ViewSpec(similar=(ids["b.jpg"],)))) == [
        cols.slots.ids[s] == ids["b.jpg"] for s in range(3)
    ]
    cat.close()


def test_a_label_a_new_model_dropped_keeps_its_group_instead_of_an_unnamed_one(tmp_path) -> None:
    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/photos")
    cat.record_scan_batch(fid, [FileInfo("/photos/a.jpg", 100, 1000.0)], 1.0)
    colours = ["red", "green", "blue"]
    cat.register_model("old", colours, "old", None, {lab: "colour" for lab in colours})
    cat.register_model("new", ["red", "top"], "new", None, {"red": "colour", "top": "category"})
    (image,) = cat.images()
    cat.set_decision(image.id, "green", True)  # reviewed under the old model
    cols = LibraryColumns(cat)
    cols.reload()
    cols.set_active_model("new")
    assert cols.all_labels() == ["red", "top", "green"]
    groups = cols.label_groups()
    assert (groups["red"], groups["top"], groups["green"]) == ("colour", "category", "colour")
    cat.close()


def test_a_scan_chunk_appended_to_a_loaded_library_copies_its_rows_not_the_librarys(tmp_path) -> None:
    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/photos")
    files = [FileInfo(f"/photos/{i:05d}.jpg", 100, 1000.0 + i) for i in range(3000)]
    cat.record_scan_batch(fid, files, cat.new_scan_token(fid))
    cat.register_model("m", ["red", "green"])
    ids = [r.id for r in cat.images()]
    cat.add_predictions("m", [(i, np.array([0.9, 0.1])) for i in ids[:10]])
    cols = LibraryColumns(cat)
    cols.reload()
    cols.set_active_model("m")
    cols.write_decisions([(ids[1], "green", True)])
    columns = ("_scores", "_scored", "_pred", "_dec", "_adapted")
    for chunk in range(4):  # the scan's chunks: the first one makes room at the end, the next ones use it
        new = [FileInfo(f"/photos/new{chunk}-{i:03d}.jpg", 100, 1.0) for i in range(100)]
        cat.record_scan_batch(fid, new, cat.new_scan_token(fid))
        before = {name: getattr(cols, name) for name in columns} | {"ids": cols.slots.ids}
        slots = cols.append(cols.new_photos(None)[0])
        after = {name: getattr(cols, name) for name in columns} | {"ids": cols.slots.ids}
        if chunk:
            assert all(np.shares_memory(before[k], after[k]) for k in before), "a chunk copied the library"
        assert list(slots) == list(range(3000 + 100 * chunk, 3100 + 100 * chunk))
    assert len(cols._scores) == len(cols._dec) == len(cols.slots.ids) == len(cols) == 3400
    assert (
        np.isnan(cols._scores[3000:]).all()
        and not cols._scored[3000:].any()
        and (cols._dec[3000:] == -1).all()
    )
    assert cols.scores_at(0) == {"red": pytest.approx(0.9), "green": pytest.approx(0.1)}
    assert cols.final_tags(1) == ["red", "green"] and cols.counts() == (
        {"red": 10, "green": 1},
        {"red": 0, "green": 1},
    )
    assert list(cols.slots.ids[3000:3100]) == sorted(cols.slots.ids[3000:3100])
    cat.close()


def test_photos_a_tagging_run_could_not_read_show_the_reason_by_their_path(tmp_path) -> None:
    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/photos")
    names = ["b.jpg", "\u00e9t\u00e9.jpg", "c.jpg"]
    cat.record_scan_batch(fid, [FileInfo(f"/photos/{n}", 100, 1000.0 + i) for i, n in enumerate(names)], 1.0)
    cols = LibraryColumns(cat)
    cols.reload()
    slots = cols.apply_errors(
        [("/photos/\u00e9t\u00e9.jpg", "cannot identify image file"), ("/elsewhere/x.jpg", "gone")]
    )
    slot = cols.slots.names.index("\u00e9t\u00e9.jpg")
    assert slots.tolist() == [slot]
    assert cols.slots.errors == {slot: "cannot identify image file"}
    assert cols.slots.paths[slot] == "/photos/\u00e9t\u00e9.jpg"
    cat.close()


def test_switching_the_adapter_off_shows_the_models_own_scores_after_several_fits(tmp_path) -> None:
    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/photos")
    cat.record_scan_batch(fid, [FileInfo(f"/photos/{i}.jpg", 100, 1000.0 + i) for i in range(4)], 1.0)
    cat.register_model("m", ["red", "green"])
    ids = np.array([r.id for r in cat.images()], np.int64)
    own = np.array([[0.9, 0.1], [0.2, 0.7], [0.6, 0.6], [0.1, 0.1]], np.float32)
    cat.add_predictions("m", list(zip(ids.tolist(), own, strict=True)))
    cols = LibraryColumns(cat)
    cols.reload()
    cols.set_active_model("m")

    def scores(i: int) -> list[float]:
        return [round(cols.scores_at(cols.slot(int(ids[i])))[lab], 3) for lab in ("red", "green")]

    cols.set_adapted(ids[:2], np.full((2, 2), 0.5, np.float32))  # a first fit: photos 0 and 1
    cols.set_adapted(ids[1:3], np.full((2, 2), 0.4, np.float32))  # a second: photos 1 and 2
    assert [scores(i) for i in range(4)] == [[0.5, 0.5], [0.4, 0.4], [0.4, 0.4], [0.1, 0.1]]
    cols.clear_adapted()
    assert [scores(i) for i in range(4)] == [[0.9, 0.1], [0.2, 0.7], [0.6, 0.6], [0.1, 0.1]]
    cat.close()


def _scored_library(tmp_path, n: int, labels: list[str], **model) -> tuple[Catalog, np.ndarray, np.ndarray]:
    """A catalog of ``n`` photos that model "m" (``labels``; ``model``: its groups) scored at random: (the
    catalog, the photos' ids, their scores)."""
    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/photos")
    cat.record_scan_batch(fid, [FileInfo(f"/photos/{i}.jpg", 100, 1.0) for i in range(n)], 1.0)
    cat.register_model("m", labels, **model)
    ids = np.array([r.id for r in cat.images()], np.int64)
    own = np.random.default_rng(0).random((n, len(labels)), dtype=np.float32)
    cat.add_predictions("m", list(zip(ids.tolist(), own, strict=True)))
    return cat, ids, own


def test_adapted_scores_keep_no_copy_of_the_models_and_off_reads_them_back_from_the_catalog(tmp_path) -> None:
    import tracemalloc

    n, labels = 20_000, [f"l{j:02d}" for j in range(66)]
    cat, ids, own = _scored_library(tmp_path, n, labels)
    cols = LibraryColumns(cat)
    cols.reload()
    cols.set_active_model("m")
    adapted = np.full((n, len(labels)), 0.25, np.float32)
    tracemalloc.start()
    try:
        for start in range(0, n, 5000):  # in blocks, as the window shows them
            cols.set_adapted(ids[start : start + 5000], adapted[start : start + 5000])
        kept = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # 5.3 MB of model scores: a copy kept to restore them (as before) was all of it
    assert kept < 0.2 * own.nbytes
    assert cols.adapted_count() == n
    # Off: a read-back chunk restores only photos that still show adapted scores.
    cols.set_adapted(ids[:1], np.full((1, len(labels)), 0.5, np.float32))
    cols.apply_scores(ids[1:2], np.full((1, len(labels)), 0.75, np.float32))  # new model scores of photo 1
    assert len(cols.drop_suggestions()) == 0
    changed = cols.restore_model_scores(ids[:3], own[:3])
    assert sorted(changed.tolist()) == sorted(cols.slot(int(i)) for i in (ids[0], ids[2]))
    row = [cols.scores_at(cols.slot(int(i)))[labels[0]] for i in ids[:3]]
    assert row == pytest.approx([own[0, 0], 0.75, own[2, 0]])
    cols.clear_adapted()  # the rest, read from the catalog at once
    assert cols.adapted_count() == 0
    assert cols.scores_at(cols.slot(int(ids[-1])))[labels[-1]] == pytest.approx(own[-1, -1])
    cat.close()


def test_a_model_switch_works_out_the_tags_without_a_second_copy_of_the_scores(tmp_path) -> None:
    import tracemalloc

    n, labels = 200_000, [f"l{j:02d}" for j in range(66)]
    groups = {lab: "colour" if lab < "l05" else "" for lab in labels}
    cat, _ids, own = _scored_library(tmp_path, n, labels, groups=groups, exclusive=["colour"])
    cols = LibraryColumns(cat)
    cols.reload()
    tracemalloc.start()
    try:
        cols.set_active_model("m")
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cols.counts()[0]["l00"] > 0  # tags worked out
    # What the switch holds for a moment beside the new columns (a chunk of scores read, a block of tags
    # worked out) stays under half the scores (52.8 MB): the tags worked out over every photo at once took
    # several copies (a million photos: 1.1 GB)
    assert peak - kept < 0.5 * own.nbytes
    cat.close()


def test_a_big_library_growing_by_scan_chunks_copies_one_column_per_chunk_at_most(
    tmp_path, monkeypatch
) -> None:
    import fashion_desktop.core.library_columns as lc

    monkeypatch.setattr(lc, "GROW_AHEAD_FROM", 1000)  # "big" from 1,000 photos here
    # 8,000 photos and chunks of 100: a library's columns have room for half as many again (4,000), more than
    # the 15 columns' turns need (2 x 15 x 100), as at a million photos with scan chunks of 10,000
    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/photos")
    cat.record_scan_batch(fid, [FileInfo(f"/photos/{i:05d}.jpg", 100, 1.0) for i in range(8000)], 1.0)
    cat.register_model("m", ["red", "green"])
    cols = LibraryColumns(cat)
    cols.reload()
    cols.set_active_model("m")
    names = ("_scores", "_scored", "_pred", "_dec", "_adapted")

    def buffers() -> list[int]:
        arrays = [getattr(cols, k) for k in names] + [
            getattr(cols.slots, k) for k in ("ids", "mtimes", "rank")
        ]
        strings = [id(c._state[0].base) for c in (cols.slots.paths, cols.slots.names)]
        return [id(a.base) for a in arrays] + strings

    copies = []
    for chunk in range(100):  # a scan adding 10,000 photos, 100 at a time
        new = [FileInfo(f"/photos/new{chunk:02d}-{i:03d}.jpg", 100, 1.0) for i in range(100)]
        cat.record_scan_batch(fid, new, cat.new_scan_token(fid))
        before = buffers()
        cols.append(cols.new_photos(None)[0])
        copies.append(sum(a != b for a, b in zip(before, buffers(), strict=True)))
    assert max(copies) == 1, copies  # never every column in the same chunk
    assert sum(copies) >= 15  # every column did grow
    assert len(cols) == 18_000 and cols.slots.names[17_999] == "new99-099.jpg"
    assert cols.slots.paths[7999] == "/photos/07999.jpg" and np.isnan(cols._scores[8000:]).all()
    cat.close()
