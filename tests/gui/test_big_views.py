"""A big library's new view (sort, filter, search) is computed off the GUI thread: the grid keeps showing the
view before until the new one is ready, then shows exactly what computing it at once would have shown,
including photos a scan added meanwhile; a newer request wins over an older one."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from fashion_desktop.core.catalog import Catalog, FileInfo
from fashion_desktop.core.library_columns import ViewSpec
from fashion_desktop.gui.tag import library_model
from fashion_desktop.gui.tag.library_model import LibraryModel

LABELS = ["red", "green", "blue"]
N = 3000


def _files(start: int, n: int) -> list[FileInfo]:
    names = ("Beach", "city", "STUDIO")
    return [
        FileInfo(
            f"/photos/{names[i % 3]}_{i:05d}.jpg", 1000 + (i * 7919) % 5000, 1_000_000.0 + (i * 104729) % 9000
        )
        for i in range(start, start + n)
    ]


@pytest.fixture
def big(tmp_path, monkeypatch, qtbot):
    """A library of 3,000 scored photos treated as big (views computed in a worker)."""
    monkeypatch.setattr(library_model, "ASYNC_VIEW_PHOTOS", 1000)
    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/photos")
    cat.record_scan_batch(fid, _files(0, N), cat.new_scan_token(fid))
    cat.register_model("m", LABELS, "m", None, {}, None, [])
    m = LibraryModel(cat)
    m.reload()
    m.set_active_model("m")
    qtbot.waitUntil(lambda: not m.view_pending(), timeout=10_000)
    ids = np.asarray(m.all_ids(), np.int64)
    m.apply_scores(ids, np.random.default_rng(0).random((len(ids), 3), dtype=np.float32))
    m.write_reviewed([int(i) for i in ids[::5]], True)
    yield m, cat, fid
    m.view_jobs.close()
    m.reader.close()
    cat.close()


def _shown(m: LibraryModel) -> list[int]:
    return [m.id_at(r) for r in range(m.rowCount())]


def _at_once(m: LibraryModel, spec: ViewSpec) -> list[int]:
    return m.columns.ids(m.columns.view(spec))


def test_a_new_sort_and_filter_arrive_from_a_worker_and_match_the_view_computed_at_once(big, qtbot):
    m, _cat, _fid = big
    before = _shown(m)
    threads: list[str] = []
    real_view = m.columns.view

    def view(spec, photos=None):
        threads.append(threading.current_thread().name)
        return real_view(spec, photos)

    m.columns.view = view
    resets: list[str] = []
    m.modelReset.connect(lambda: resets.append("reset"))
    spec = ViewSpec(review="unreviewed", sort="date", descending=True, text="city")
    m.set_spec(spec)
    assert m.view_pending() and _shown(m) == before  # nothing moved yet: the grid shows the view before
    qtbot.waitUntil(lambda: not m.view_pending(), timeout=10_000)
    m.columns.view = real_view
    assert threads and threading.main_thread().name not in threads
    assert _shown(m) == _at_once(m, spec)
    assert 0 < m.rowCount() < N and all(not m.is_reviewed(i) for i in _shown(m))
    assert all("city" in m.path_of(i).lower() for i in _shown(m)) and resets == ["reset"]


def test_photos_a_scan_adds_while_a_view_is_computed_are_in_it(big, qtbot):
    m, cat, fid = big
    spec = ViewSpec(text="beach")
    m.set_spec(spec)
    assert m.view_pending()
    cat.record_scan_batch(fid, _files(N, 30), cat.new_scan_token(fid))
    assert m.append_new_images() == 30  # a scan chunk shown while the view is computed
    qtbot.waitUntil(lambda: not m.view_pending(), timeout=10_000)
    shown = _shown(m)
    assert len(shown) == len(set(shown)) and m.image_count() == N + 30
    want = [i for i in m.all_ids() if "beach" in m.path_of(i).lower()]
    assert sorted(shown) == sorted(want) and len(want) == (N + 30 + 2) // 3


def test_only_the_latest_of_quick_changes_is_shown(big, qtbot):
    m, _cat, _fid = big
    shown_specs: list[ViewSpec] = []
    m.view_jobs.ready.connect(lambda request, _view: shown_specs.append(request.spec))
    for text in ("s", "st", "stu", "studio_0001"):
        m.set_spec(ViewSpec(text=text))
    qtbot.waitUntil(lambda: not m.view_pending(), timeout=10_000)
    qtbot.wait(100)
    assert shown_specs == [ViewSpec(text="studio_0001")]
    assert [m.path_of(i) for i in _shown(m)] == [
        f"/photos/STUDIO_{i:05d}.jpg" for i in range(10, 20) if i % 3 == 2
    ]


def test_a_reload_voids_a_view_under_way(big, qtbot):
    m, _cat, _fid = big
    m.set_spec(ViewSpec(sort="confidence"))
    m.spec = ViewSpec()  # the reload shows the spec of now
    m.reload()
    assert not m.view_pending()
    qtbot.wait(300)
    assert _shown(m) == _at_once(m, ViewSpec())
