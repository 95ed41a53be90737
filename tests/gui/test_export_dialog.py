"""Export dialog: formats, scope, columns, output path, progress/cancel and clear errors, read back from disk."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.spreadsheet import comment_lines
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.gui.tag.export_dialog import ExportDialog
from fashion_desktop.model.resources import taxonomy_labels

MODEL = "tiny-test-model"
LABELS = ["red", "green", "blue"]
FAKE_SCORES = {"red": [0.9, 0.1, 0.2], "green": [0.1, 0.8, 0.3], "blue": [0.2, 0.1, 0.7]}
NS = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "dc": "http://purl.org/dc/elements/1.1/"}


def _colour(path: str) -> str:
    return Path(path).name.split("_")[0]


@pytest.fixture
def library(tmp_path, photo_folder, tiny_bundle_path):
    """A catalog of the nine generated photos with fake predictions and one human correction."""
    catalog = Catalog(tmp_path / "library.ffcat")
    catalog.add_folder(photo_folder)
    ids = catalog.ensure_images(sorted(str(p) for p in photo_folder.rglob("*.jpg")))
    catalog.register_model(MODEL, LABELS, "tiny", str(tiny_bundle_path), {lab: "colour" for lab in LABELS})
    catalog.add_predictions(MODEL, [(i, np.array(FAKE_SCORES[_colour(p)])) for p, i in ids.items()])
    corrected = next(i for p, i in ids.items() if _colour(p) == "green")
    # A person says this green photo is really red.
    catalog.set_decisions([(corrected, "green", False), (corrected, "red", True)])
    catalog.set_reviewed([corrected])
    yield catalog, ids, corrected
    catalog.close()


def _expected(path: str, image_id: int, corrected: int) -> str:
    return "red" if image_id == corrected else _colour(path)


def _dialog(qtbot, catalog, model_key=MODEL, filtered=(), selected=(), policy=None) -> ExportDialog:
    d = ExportDialog(catalog, model_key, policy or ThresholdPolicy(), list(filtered), list(selected))
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def _choose(qtbot, d: ExportDialog, fmt: str, scope: str = "all", path: Path | None = None) -> None:
    d.format_combo.setCurrentIndex(d.format_combo.findData(fmt))
    button = d.scope_buttons[scope]
    qtbot.mouseClick(
        button, Qt.MouseButton.LeftButton, pos=button.rect().topLeft() + button.rect().center() / 4
    )
    assert d.scope() == scope
    if path is not None:
        d.path_edit.clear()
        qtbot.keyClicks(d.path_edit, str(path))


def _export(qtbot, d: ExportDialog) -> str:
    with qtbot.waitSignal(d.exported, timeout=20_000) as blocker:
        qtbot.mouseClick(d.export_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def test_csv_of_all_photos_has_one_row_each_with_final_tags(qtbot, library, tmp_path):
    catalog, ids, corrected = library
    out = tmp_path / "out" / "tags.csv"
    out.parent.mkdir()
    d = _dialog(qtbot, catalog)
    assert d.scope_buttons["all"].text().endswith("(9)")
    assert not d.scope_buttons["selected"].isEnabled()  # nothing selected
    _choose(qtbot, d, "csv", "all", out)
    message = _export(qtbot, d)
    assert "9 rows" in message and str(out) in message
    assert not d.isVisible()

    df = pd.read_csv(out, keep_default_na=False, skiprows=comment_lines(out))
    assert len(df) == 9 and sorted(df["path"]) == sorted(ids)
    for row in df.itertuples():
        assert row.tags == _expected(row.path, ids[row.path], corrected)
    assert (df["colour"] == df["tags"]).all()  # one column per label group
    assert df.set_index("path")["reviewed"].to_dict() == {p: i == corrected for p, i in ids.items()}


def test_xlsx_of_the_filtered_photos_with_scores(qtbot, library, tmp_path):
    catalog, ids, corrected = library
    filtered = [i for p, i in ids.items() if _colour(p) in ("red", "blue")]
    out = tmp_path / "filtered.xlsx"
    d = _dialog(qtbot, catalog, filtered=filtered)
    _choose(qtbot, d, "xlsx", "filtered", out)
    assert d.scope_buttons["filtered"].text().endswith(f"({len(filtered)})")
    qtbot.mouseClick(
        d.scores_check,
        Qt.MouseButton.LeftButton,
        pos=d.scores_check.rect().topLeft() + d.scores_check.rect().center() / 4,
    )
    assert d.scores_check.isChecked()
    message = _export(qtbot, d)
    assert f"{len(filtered)} rows" in message

    df = pd.read_excel(out)
    assert sorted(df["path"]) == sorted(p for p, i in ids.items() if i in filtered)
    for row in df.to_dict("records"):
        assert row["tags"] == _colour(row["path"])
        assert [row[f"score:{lab}"] for lab in LABELS] == pytest.approx(
            FAKE_SCORES[_colour(row["path"])], abs=1e-4
        )


def test_threshold_policy_decides_the_exported_tags(qtbot, library, tmp_path):
    catalog, ids, corrected = library
    out = tmp_path / "low.csv"
    # At 0.25 the green photos' blue score (0.3) passes too; the person's decisions still win.
    d = _dialog(qtbot, catalog, policy=ThresholdPolicy(global_threshold=0.25))
    _choose(qtbot, d, "csv", "all", out)
    _export(qtbot, d)
    df = pd.read_csv(out, keep_default_na=False, skiprows=comment_lines(out)).set_index("path")
    for path, image_id in ids.items():
        want = {"red": "red", "green": "green|blue", "blue": "blue"}[_colour(path)]
        if image_id == corrected:
            want = "red|blue"
        assert df.loc[path, "tags"] == want


def test_seed_layout_uses_taxonomy_ids(qtbot, tmp_path, photo_folder):
    taxonomy = taxonomy_labels()
    labels = [taxonomy[0], taxonomy[6], "dress"]
    catalog = Catalog(tmp_path / "seed.ffcat")
    ids = catalog.ensure_images(sorted(str(p) for p in photo_folder.rglob("*.jpg")))
    catalog.register_model("cat", labels, "categories")
    score = {"red": [0.9, 0.8, 0.1], "green": [0.1, 0.1, 0.9], "blue": [0.1, 0.1, 0.1]}
    catalog.add_predictions("cat", [(i, np.array(score[_colour(p)])) for p, i in ids.items()])
    out = tmp_path / "final_dataset.xlsx"
    try:
        d = _dialog(qtbot, catalog, model_key="cat")
        _choose(qtbot, d, "seed", "all", out)
        assert not d.columns_box.isEnabled()  # the seed layout has fixed columns
        _export(qtbot, d)
        df = pd.read_excel(out, dtype=str, keep_default_na=False)
        assert list(df.columns) == ["ImageId", "Category", "CategoryName", "Split"]
        assert len(df) == 9
        by_id = df.set_index("ImageId")
        for path in ids:
            stem = Path(path).stem
            want = {"red": [0, 6], "green": [taxonomy.index("dress")], "blue": []}[_colour(path)]
            assert by_id.loc[stem, "Category"] == ",".join(map(str, want))
            assert by_id.loc[stem, "CategoryName"] == "|".join(taxonomy[j] for j in want)
    finally:
        catalog.close()


def test_xmp_sidecars_appear_beside_the_selected_photos_only(qtbot, library):
    catalog, ids, corrected = library
    selected = [corrected, next(i for p, i in ids.items() if _colour(p) == "blue")]
    before = {p: (Path(p).read_bytes(), Path(p).stat().st_mtime_ns) for p in ids}
    d = _dialog(qtbot, catalog, selected=selected)
    _choose(qtbot, d, "xmp", "selected")
    assert not d.path_edit.isVisible()
    message = _export(qtbot, d)
    assert "2 XMP sidecars" in message

    for path, image_id in ids.items():
        sidecar = Path(path).with_suffix(".xmp")
        if image_id not in selected:
            assert not sidecar.exists()
            continue
        root = ET.parse(sidecar).getroot()
        keywords = [li.text for li in root.iterfind(".//dc:subject/rdf:Bag/rdf:li", NS)]
        assert keywords == [_expected(path, image_id, corrected)]
    # The photos themselves are never touched.
    assert {p: (Path(p).read_bytes(), Path(p).stat().st_mtime_ns) for p in ids} == before


def _snapshot(catalog: Catalog):
    scores = {i: s.tolist() for i, s in catalog.scores(MODEL).items()}
    return catalog.all_decisions(), scores, [(r.path, r.reviewed) for r in catalog.images()]


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_unwritable_target_shows_the_error_and_leaves_the_catalog_untouched(qtbot, library, tmp_path, where):
    catalog, ids, corrected = library
    before = _snapshot(catalog)
    target = tmp_path / "no-such-folder" / "tags.csv" if where == "missing folder" else tmp_path / "taken.csv"
    if where == "a folder":
        target.mkdir()
    d = _dialog(qtbot, catalog)
    _choose(qtbot, d, "csv", "all", target)
    with qtbot.assertNotEmitted(d.exported):
        qtbot.mouseClick(d.export_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not d.is_running(), timeout=20_000)
    assert d.isVisible(), "the dialog stays open so the path can be fixed"
    assert str(target) in d.status_label.text()
    assert "cannot write" in d.status_label.text()
    assert d.export_button.isEnabled()
    assert _snapshot(catalog) == before
    assert not (target.is_file())


def test_default_path_follows_the_format(qtbot, library, photo_folder):
    catalog, ids, corrected = library
    d = _dialog(qtbot, catalog)
    path = Path(d.path_edit.text())
    assert path.suffix == ".csv" and path.parent == photo_folder.parent and photo_folder.name in path.name
    d.format_combo.setCurrentIndex(d.format_combo.findData("xlsx"))
    assert Path(d.path_edit.text()).suffix == ".xlsx"
    d.path_edit.setText(str(photo_folder.parent / "mine.xlsx"))
    d.format_combo.setCurrentIndex(d.format_combo.findData("csv"))
    assert d.path_edit.text() == str(photo_folder.parent / "mine.csv")
    # A typed name without extension gets the format's.
    d.path_edit.setText(str(photo_folder.parent / "plain"))
    _export(qtbot, d)
    assert (photo_folder.parent / "plain.csv").is_file()


def test_long_export_keeps_the_window_live_and_cancel_writes_nothing(qtbot, library, tmp_path, monkeypatch):
    catalog, ids, corrected = library
    import fashion_desktop.core.export as export

    real = export.final_tag_matrix
    released = threading.Event()  # set once the test has pressed Cancel
    chunks: list[int] = []

    def held_final_tags(scores, *args, **kwargs):
        """A big library: the first chunk's rows report progress, the next chunk waits for the cancel."""
        if threading.current_thread() is not threading.main_thread():
            chunks.append(len(scores))
            if len(chunks) > 1:
                released.wait(timeout=30)
        return real(scores, *args, **kwargs)

    more = catalog.ensure_images([str(tmp_path / "virtual" / f"photo_{i:04d}.jpg") for i in range(2500)])
    monkeypatch.setattr(export, "final_tag_matrix", held_final_tags)
    out = tmp_path / "big.csv"
    d = _dialog(qtbot, catalog)
    _choose(qtbot, d, "csv", "all", out)
    assert d.scope_buttons["all"].text().endswith(f"({9 + len(more)})")
    qtbot.mouseClick(d.export_button, Qt.MouseButton.LeftButton)
    # The GUI thread keeps handling events while the worker exports: progress arrives.
    qtbot.waitUntil(lambda: d.progress.maximum() == 1000 and d.progress.value() > 0, timeout=20_000)
    assert d.is_running() and not d.export_button.isEnabled()
    with qtbot.assertNotEmitted(d.exported):
        qtbot.mouseClick(d.cancel_button, Qt.MouseButton.LeftButton)
        released.set()
        qtbot.waitUntil(lambda: not d.is_running(), timeout=20_000)
    assert chunks[0] == 2000  # the run had started; the held second chunk kept it from finishing first
    assert not d.isVisible()
    assert d.outcome() is not None and d.outcome().cancelled
    assert not out.exists()
    assert not list(tmp_path.glob(".big.csv.*"))  # no temp file left behind


def test_tuned_thresholds_come_from_the_catalog_unless_given(qtbot, library, tmp_path):
    catalog, ids, corrected = library
    # The catalog records the model's tuned thresholds when it tags; the bundle file is not read.
    catalog.register_model(MODEL, LABELS, "tiny", str(tmp_path / "gone.fmodel"), thresholds=[0.95, 0.5, 0.5])
    red = [p for p in ids if _colour(p) == "red"]

    out = tmp_path / "tuned.csv"
    d = _dialog(qtbot, catalog)  # tuned-default policy: red needs 0.95, its photos score 0.9
    _choose(qtbot, d, "csv", "all", out)
    _export(qtbot, d)
    tags = pd.read_csv(out, keep_default_na=False, skiprows=comment_lines(out)).set_index("path")["tags"]
    assert all(tags[p] == "" for p in red)

    d = ExportDialog(catalog, MODEL, ThresholdPolicy(), [], [], defaults=[0.5, 0.5, 0.5])
    qtbot.addWidget(d)
    d.show()
    _choose(qtbot, d, "csv", "all", out)
    _export(qtbot, d)
    tags = pd.read_csv(out, keep_default_na=False, skiprows=comment_lines(out)).set_index("path")["tags"]
    assert all(tags[p] == "red" for p in red)


def test_locked_target_names_the_file_and_keeps_the_old_one(qtbot, library, tmp_path, monkeypatch):
    catalog, ids, corrected = library
    target = tmp_path / "open-in-excel.xlsx"
    target.write_bytes(b"yesterday's export")
    real_replace = __import__("os").replace

    def locked(src, dst, *a, **k):
        if str(dst) == str(target):
            raise PermissionError(13, "Permission denied", str(dst))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr("os.replace", locked)
    d = _dialog(qtbot, catalog)
    _choose(qtbot, d, "xlsx", "all", target)
    with qtbot.assertNotEmitted(d.exported):
        qtbot.mouseClick(d.export_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not d.is_running(), timeout=20_000)
    text = d.status_label.text()
    assert str(target) in text and "open in another program" in text
    assert target.read_bytes() == b"yesterday's export"
    assert not list(tmp_path.glob(".open-in-excel.xlsx.*"))


def test_sidecar_problems_are_listed_and_the_rest_written(qtbot, library):
    catalog, ids, corrected = library
    gone, kept = list(ids)[:2]
    Path(gone).unlink()  # moved away since the last scan
    d = _dialog(qtbot, catalog, selected=[ids[gone], ids[kept]])
    _choose(qtbot, d, "xmp", "selected")
    message = _export(qtbot, d)
    assert "1 XMP sidecar beside" in message and "1 photo failed" in message
    assert d.isVisible(), "the dialog stays open to show which photos failed"
    assert gone in d.status_label.text() and "not found" in d.status_label.text()
    assert Path(kept).with_suffix(".xmp").is_file()
    assert not Path(gone).with_suffix(".xmp").exists()


needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="ExifTool not installed")


def _subjects(path: str) -> list[str]:
    out = subprocess.run(
        ["exiftool", "-j", "-XMP-dc:Subject", path], capture_output=True, text=True, check=True
    )
    value = json.loads(out.stdout)[0].get("Subject", [])
    return value if isinstance(value, list) else [value]


@needs_exiftool
def test_keywords_go_into_the_selected_photos_and_the_result_is_shown(qtbot, library):
    catalog, ids, corrected = library
    raw = Path(next(iter(ids))).with_name("shot.CR2")
    raw.write_bytes(b"raw data")
    raw_id = catalog.ensure_images([str(raw)])[str(raw)]
    catalog.set_decisions([(raw_id, "blue", True)])
    locked = next(p for p, i in ids.items() if _colour(p) == "blue")
    Path(locked).chmod(0o444)
    selected = [corrected, ids[locked], raw_id]
    d = _dialog(qtbot, catalog, selected=selected)
    _choose(qtbot, d, "keywords", "selected")
    assert d.naming_combo.isVisible() and d.keywords_hint.isVisible() and d.export_button.isEnabled()
    d.naming_combo.setCurrentIndex(d.naming_combo.findData("appended"))
    message = _export(qtbot, d)
    assert "into 1 photo and 1 XMP sidecar" in message and "1 photo skipped" in message
    assert d.isVisible() and "read-only" in d.status_label.text() and locked in d.status_label.text()
    path = next(p for p, i in ids.items() if i == corrected)
    assert _subjects(path) == ["red"]  # the person's correction, inside the photo
    assert raw.read_bytes() == b"raw data" and raw.with_name("shot.CR2.xmp").is_file()


def test_without_exiftool_the_choice_says_what_to_install(qtbot, library, monkeypatch, tmp_path):
    catalog, ids, corrected = library
    monkeypatch.setenv("FASHION_EXIFTOOL", str(tmp_path / "no-exiftool"))
    d = _dialog(qtbot, catalog)
    _choose(qtbot, d, "keywords", "all")
    assert d.keywords_hint.isVisible() and "libimage-exiftool-perl" in d.keywords_hint.text()
    assert "exiftool.org" in d.keywords_hint.text() and not d.export_button.isEnabled()
    _choose(qtbot, d, "xmp", "all")
    assert d.export_button.isEnabled() and not d.keywords_hint.isVisible()
