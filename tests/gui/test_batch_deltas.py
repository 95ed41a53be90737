"""A batch of new scores or a scan chunk costs the grid, its filter and the counts work in proportion to
the batch, not to the library: at 100,000 photos, 100 new scores or 100 scanned photos touch about 100 rows."""

from __future__ import annotations

import sys

import numpy as np
from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QApplication, QListView

from fashion_desktop.core.catalog import Catalog, FileInfo
from fashion_desktop.core.tags import apply_decisions
from fashion_desktop.gui.tag.library_model import LibraryModel

LABELS = [f"label{j:02d}" for j in range(12)]
GROUPS = {lab: ("colour" if j < 4 else "kind") for j, lab in enumerate(LABELS)}
BATCH = 100


class CountingModel(LibraryModel):
    """The grid's model, counting what the view and the proxy ask of it."""

    data_calls = 0

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        self.data_calls += 1
        return super().data(index, role)


class CountingProxy(QSortFilterProxyModel):
    """A filtering proxy between the model and the view, counting the rows it filters."""

    accepted = 0

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:  # noqa: N802
        self.accepted += 1
        return True


def _files(start: int, n: int) -> list[FileInfo]:
    return [FileInfo(f"/photos/img{i:07d}.jpg", 1000 + i, 1_000_000.0 + i) for i in range(start, start + n)]


def _library(tmp_path, n: int) -> tuple[Catalog, int]:
    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/photos")
    token = cat.new_scan_token(fid)
    for start in range(0, n, 20_000):
        cat.record_scan_batch(fid, _files(start, min(20_000, n - start)), token)
    cat.register_model("m", LABELS, "m", None, GROUPS, None, ["colour"])
    return cat, fid


def _full_counts(m: LibraryModel) -> tuple[dict[str, int], dict[str, int]]:
    """The counts recounted over every photo, as the window did before."""
    c = m.columns
    final = apply_decisions(c._pred, c._dec, c._exclusive).sum(axis=0)
    yes = (c._dec == 1).sum(axis=0)
    return (
        {lab: int(v) for lab, v in zip(c.labels, final, strict=True)},
        {lab: int(v) for lab, v in zip(c.labels, yes, strict=True)},
    )


def _count_tag_rule_rows(monkeypatch) -> list[int]:
    """Rows every caller of the tag rule (``apply_decisions``) passes through it from now on."""
    rows: list[int] = []

    def counted(pred, dec, exclusive=()):
        rows.append(len(pred))
        return apply_decisions(pred, dec, exclusive)

    for name, mod in list(sys.modules.items()):
        if name.startswith("fashion_desktop.") and getattr(mod, "apply_decisions", None) is apply_decisions:
            monkeypatch.setattr(mod, "apply_decisions", counted)
    return rows


def _spy(model: LibraryModel) -> list[tuple]:
    seen: list[tuple] = []
    model.modelReset.connect(lambda: seen.append(("reset",)))
    model.layoutChanged.connect(lambda *a: seen.append(("layout",)))
    model.layoutAboutToBeChanged.connect(lambda *a: seen.append(("layout",)))
    model.rowsInserted.connect(lambda _p, a, b: seen.append(("inserted", a, b)))
    model.dataChanged.connect(lambda tl, br, *r: seen.append(("changed", tl.row(), br.row())))
    return seen


def _settle() -> None:
    for _ in range(3):  # the view's delayed layout and repaint
        QApplication.processEvents()


def test_a_batch_of_scores_and_a_scan_chunk_cost_work_in_proportion_to_the_batch(
    qtbot, tmp_path, monkeypatch
):
    n = 100_000
    cat, fid = _library(tmp_path, n)
    model = CountingModel(cat)
    model.reload()
    model.set_active_model("m")
    rng = np.random.default_rng(0)
    ids = np.asarray(model.all_ids(), np.int64)
    model.apply_scores(ids[:50_000], rng.random((50_000, len(LABELS)), dtype=np.float32))
    model.write_decisions([(int(i), LABELS[0], True) for i in ids[:300:3]])
    # The window: a filtering proxy and a grid over it, the counts read after every change
    proxy = CountingProxy()
    proxy.setDynamicSortFilter(True)  # stricter than the window's: changed rows are filtered again
    proxy.setSourceModel(model)
    view = QListView()
    view.setUniformItemSizes(True)
    view.setModel(proxy)
    view.resize(300, 200)
    view.show()
    qtbot.addWidget(view)
    counts: list[tuple] = []
    model.counts_changed.connect(lambda: counts.append(model.counts()))
    _settle()
    assert model.counts() == _full_counts(model)
    seen = _spy(model)
    rows = _count_tag_rule_rows(monkeypatch)
    model.data_calls = proxy.accepted = 0

    # A tagging run reports 100 new scores (photos it reached in order, past the ones already scored)
    batch = ids[60_000 : 60_000 + BATCH]
    model.apply_scores(batch, rng.random((BATCH, len(LABELS)), dtype=np.float32))
    _settle()
    first = model.row_of_id(int(batch[0]))
    assert sum(rows) <= 4 * BATCH, f"the tag rule ran over {sum(rows):,} rows for {BATCH} new scores"
    assert model.data_calls <= 10 * BATCH and proxy.accepted <= 2 * BATCH
    assert seen and all(s[0] == "changed" and first <= s[1] <= s[2] < first + BATCH for s in seen)
    assert counts and counts[-1] == _full_counts(model)

    # A scan chunk of 100 photos
    seen.clear()
    rows.clear()
    counts.clear()
    model.data_calls = proxy.accepted = 0
    cat.record_scan_batch(fid, _files(n, BATCH), cat.new_scan_token(fid))
    assert model.append_new_images() == BATCH
    _settle()
    assert sum(rows) <= 4 * BATCH, f"the tag rule ran over {sum(rows):,} rows for {BATCH} new photos"
    assert model.data_calls <= 10 * BATCH and proxy.accepted <= 2 * BATCH
    assert seen == [("inserted", n, n + BATCH - 1)]
    assert proxy.rowCount() == n + BATCH
    assert counts and counts[-1] == _full_counts(model)
    model.reader.close()
    cat.close()


def test_the_model_passes_qtmodeltester_through_a_batch_of_scores_and_a_scan_chunk(qtmodeltester, tmp_path):
    cat, fid = _library(tmp_path, 40)
    model = LibraryModel(cat)
    model.reload()
    model.set_active_model("m")
    qtmodeltester.check(model, force_py=True)
    ids = np.asarray(model.all_ids(), np.int64)
    rng = np.random.default_rng(1)
    model.apply_scores(ids[5:25], rng.random((20, len(LABELS)), dtype=np.float32))
    model.write_decisions([(int(ids[7]), LABELS[1], True), (int(ids[8]), LABELS[2], False)])
    cat.record_scan_batch(fid, _files(40, 10), cat.new_scan_token(fid))
    assert model.append_new_images() == 10
    model.apply_scores(ids[:5], rng.random((5, len(LABELS)), dtype=np.float32))
    assert model.rowCount() == 50
    assert model.counts() == _full_counts(model)
    model.reader.close()
    cat.close()


class IndexCountingProxy(QSortFilterProxyModel):
    """The window's proxy between the model and the grid, counting the rows the grid asks it for."""

    asked = 0

    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        self.asked += 1
        return super().index(row, column, parent)


def test_new_scores_repaint_the_grid_without_laying_out_every_photo_again(qtbot, tmp_path):
    from fashion_desktop.gui.tag.grid import GridView
    from fashion_desktop.gui.tag.thumbnails import Thumbnailer

    n = 100_000
    cat, _fid = _library(tmp_path, n)
    model = LibraryModel(cat)
    model.reload()
    model.set_active_model("m")
    proxy = IndexCountingProxy()
    proxy.setDynamicSortFilter(False)  # as the window's
    proxy.setSourceModel(model)
    thumbs = Thumbnailer(disk_cache=False)
    view = GridView(thumbs)
    view.setModel(proxy)
    view.resize(600, 400)
    view.show()
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: not proxy.asked or _layout_done(proxy), timeout=10_000)
    rng = np.random.default_rng(1)
    ids = np.asarray(model.all_ids(), np.int64)
    for start in (0, 50_000):  # a batch on screen, then one far below it
        proxy.asked = 0
        model.apply_scores(ids[start : start + BATCH], rng.random((BATCH, len(LABELS)), dtype=np.float32))
        for _ in range(20):  # the grid's batched layout would run over these turns of the event loop
            QApplication.processEvents()
        # The photos on screen are painted again; a new layout asked for every one of the 100,000 rows
        assert proxy.asked < 5_000, f"{proxy.asked:,} rows asked for after {BATCH} new scores"
    assert view.indexAt(view.rect().topLeft()).isValid()
    thumbs.close()
    model.reader.close()
    cat.close()


def _layout_done(proxy: IndexCountingProxy) -> bool:
    before = proxy.asked
    for _ in range(5):
        QApplication.processEvents()
    return proxy.asked == before


def test_starting_to_tag_with_a_new_model_runs_the_tag_rule_over_no_photo(qtbot, tmp_path, monkeypatch):
    import fashion_desktop.core.library_columns as lc

    n = 100_000
    cat, _fid = _library(tmp_path, n)
    cat.register_model("new", ["red", "green", "blue"])
    first = [r[0] for r in cat.query("SELECT id FROM images ORDER BY id LIMIT 1000")]
    rng = np.random.default_rng(2)
    cat.add_predictions(
        "m", [(i, rng.random(len(LABELS), dtype=np.float32)) for i in first]
    )  # "m" tagged 1,000
    model = LibraryModel(cat)
    model.reload()
    model.set_active_model("m")
    ids = np.asarray(model.all_ids(), np.int64)
    ruled: list[int] = []
    real = lc.predicted_matrix
    monkeypatch.setattr(
        lc, "predicted_matrix", lambda scores, *a: (ruled.append(len(scores)), real(scores, *a))[1]
    )
    model.set_active_model("new")  # what a tagging run with a model new to this library does first
    assert sum(ruled) == 0, f"the tag rule ran over {sum(ruled):,} photos no model has scored"
    assert model.counts() == ({"red": 0, "green": 0, "blue": 0}, {"red": 0, "green": 0, "blue": 0})
    model.apply_scores(ids[:BATCH], np.full((BATCH, 3), 0.9, np.float32))
    assert sum(ruled) == BATCH
    assert model.counts()[0] == {"red": BATCH, "green": BATCH, "blue": BATCH}
    model.set_active_model("m")  # back: the 1,000 photos "m" scored, and only those
    assert sum(ruled) == BATCH + 1000
    qtbot.waitUntil(lambda: not model.view_pending(), timeout=10_000)  # the new view, computed in a worker
    model.reader.close()
    cat.close()
