"""Export / import: tables read back one row per photo, formula injection, seed layout, failures, XMP."""

from __future__ import annotations

import csv
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fashion_desktop.core import export as ex
from fashion_desktop.core import label_import as li
from fashion_desktop.core import spreadsheet as sp
from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.export import ExportColumns
from fashion_desktop.core.scan import sync_folder
from fashion_desktop.core.spreadsheet import ExportCancelled, ExportError, comment_lines
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.core.xmp import NS_DC, NS_RDF, write_xmp_sidecars
from fashion_desktop.model.resources import taxonomy_labels
from tests.conftest import make_photo

LABELS = ["red", "green", "shirt, blouse", "dress"]
GROUPS = {"red": "colour", "green": "colour", "shirt, blouse": "category", "dress": "category"}
TRICKY = ['=HYPERLINK("evil.example","click")', "+cmd", "-2+3", "@SUM(A1)", "robe été — 女装"]


@pytest.fixture
def library(tmp_path: Path):
    """A catalog of five photos (some with hostile or non-ASCII names) scored by model ``m``."""
    folder = tmp_path / "photos"
    for i, name in enumerate(TRICKY):
        make_photo(folder / ("sub" if i == 4 else "") / f"{name}.jpg", colour=["red", "green", "blue"][i % 3])
    cat = Catalog(tmp_path / "cat.db")
    list(sync_folder(cat, folder))
    cat.register_model("m", LABELS, name="test", groups=GROUPS)
    ids = {Path(r.path).stem: r.id for r in cat.images()}
    scores = {
        TRICKY[0]: [0.9, 0.1, 0.8, 0.2],
        TRICKY[1]: [0.1, 0.9, 0.1, 0.7],
        TRICKY[2]: [0.6, 0.6, 0.6, 0.6],
        TRICKY[3]: [0.1, 0.1, 0.1, 0.1],
        TRICKY[4]: [0.2, 0.3, 0.1, 0.95],
    }
    cat.add_predictions("m", [(ids[k], np.array(v)) for k, v in scores.items()])
    yield cat, folder, ids
    cat.close()


def _expected_tags(ids):
    return {
        TRICKY[0]: "red|shirt, blouse",
        TRICKY[1]: "green|dress",
        TRICKY[2]: "red|green|shirt, blouse|dress",
        TRICKY[3]: "",
        TRICKY[4]: "dress",
    }


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_reads_back_one_row_per_photo(library, tmp_path: Path, suffix: str) -> None:
    cat, _folder, ids = library
    cat.set_decision(ids[TRICKY[3]], "dress", True)  # the person's decision beats the low score
    cat.set_decision(ids[TRICKY[0]], "red", False)  # ... and the high one
    cat.set_reviewed([ids[TRICKY[3]]])
    cat.set_splits([(ids[TRICKY[1]], "test")])
    out = tmp_path / f"out{suffix}"
    n = ex.export_file(cat, out, "m", columns=ExportColumns(scores=True, review=True, split=True))
    assert n == 5
    df = (
        pd.read_csv(out, keep_default_na=False, skiprows=comment_lines(out))
        if suffix == ".csv"
        else pd.read_excel(out, keep_default_na=False)
    )
    assert list(df.columns) == [
        "path",
        "tags",
        "colour",
        "category",
        "reviewed",
        "split",
        *[f"score:{label}" for label in LABELS],
    ]
    assert len(df) == 5 and df["path"].is_unique
    rows = {Path(p).stem: r for p, r in zip(df["path"], df.to_dict("records"), strict=True)}
    expected = _expected_tags(ids)
    expected[TRICKY[3]] = "dress"
    expected[TRICKY[0]] = "shirt, blouse"
    assert {k: r["tags"] for k, r in rows.items()} == expected
    assert rows[TRICKY[2]]["colour"] == "red|green" and rows[TRICKY[2]]["category"] == "shirt, blouse|dress"
    assert rows[TRICKY[4]]["colour"] == "" and rows[TRICKY[4]]["category"] == "dress"
    assert rows[TRICKY[1]]["split"] == "test"
    assert [str(r["reviewed"]) for r in rows.values()].count("True") == 1
    assert float(rows[TRICKY[4]]["score:dress"]) == pytest.approx(0.95, abs=1e-4)
    for path in df["path"]:
        assert os.path.exists(path)  # non-ASCII paths survive the round trip (CSV has a BOM for Excel)
    if suffix == ".csv":
        assert out.read_bytes().startswith(b"\xef\xbb\xbf")


def test_threshold_policy_and_scope(library) -> None:
    cat, _folder, ids = library
    strict = ex.export_table(cat, "m", ThresholdPolicy(global_threshold=0.85))
    assert dict(zip(strict["path"].map(lambda p: Path(p).stem), strict["tags"], strict=True)) == {
        TRICKY[0]: "red",
        TRICKY[1]: "green",
        TRICKY[2]: "",
        TRICKY[3]: "",
        TRICKY[4]: "dress",
    }
    top1 = ex.export_table(cat, "m", ThresholdPolicy(top_k=1, at_least_one=True, per_label={"dress": 0.05}))
    assert all(len(t.split("|")) == 1 for t in top1["tags"])
    selected = ex.export_table(cat, "m", image_ids=[ids[TRICKY[1]], ids[TRICKY[4]]])
    assert sorted(Path(p).stem for p in selected["path"]) == sorted([TRICKY[1], TRICKY[4]])
    bundle_defaults = ex.export_table(cat, "m", defaults=[0.95, 0.95, 0.95, 0.5])
    assert (
        dict(zip(bundle_defaults["path"].map(lambda p: Path(p).stem), bundle_defaults["tags"], strict=True))[
            TRICKY[1]
        ]
        == "dress"
    )


def test_decisions_only_export_without_a_model(library) -> None:
    cat, _folder, ids = library
    cat.set_decision(ids[TRICKY[2]], "coat", True)
    df = ex.export_table(cat)
    assert list(df.columns) == ["path", "tags"]
    assert df["tags"].tolist().count("coat") == 1 and df["tags"].tolist().count("") == 4
    with pytest.raises(ExportError, match="'nope'"):
        ex.export_table(cat, "nope")


def _all_cells_csv(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def test_formula_injection_is_neutralised_in_csv_and_xlsx(library, tmp_path: Path) -> None:
    import openpyxl

    cat, _folder, ids = library
    cat.set_decision(ids[TRICKY[3]], "=1+1", True)  # a hostile label name, too
    for layout in ("app", "seed"):
        for suffix in (".csv", ".xlsx"):
            out = tmp_path / f"{layout}{suffix}"
            ex.export_file(cat, out, "m", layout=layout)
            if suffix == ".csv":
                cells = _all_cells_csv(out)
            else:
                ws = openpyxl.load_workbook(out).active
                cells = []
                for row in ws.iter_rows():
                    for c in row:
                        assert c.data_type != "f", f"{c.coordinate} is a formula: {c.value!r}"
                        if isinstance(c.value, str):
                            cells.append(c.value)
            dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
            assert not dangerous, f"{layout}{suffix}: {dangerous}"
            joined = "\n".join(cells)
            if layout == "seed":
                assert (
                    "'" + TRICKY[0] in joined
                    and "'+cmd" in joined
                    and "'-2+3" in joined
                    and "'@SUM(A1)" in joined
                )
            else:
                assert "'=1+1" in joined
    # reading our own files back undoes the neutralising
    back = sp.read_table(tmp_path / "seed.xlsx", required=("ImageId",))
    assert set(TRICKY) <= set(back["ImageId"])


def test_seed_layout_round_trip(library, tmp_path: Path) -> None:
    cat, folder, ids = library
    taxonomy = taxonomy_labels()
    assert taxonomy[0] == "shirt, blouse" and len(taxonomy) == 46
    cat.set_splits([(ids[TRICKY[0]], "train"), (ids[TRICKY[1]], "val"), (ids[TRICKY[4]], "test")])
    table = ex.seed_table(cat, "m")
    assert list(table.columns) == ["ImageId", "Category", "CategoryName", "Split"]
    by_id = table.set_index("ImageId").to_dict("index")
    dress = taxonomy.index("dress")
    assert by_id[TRICKY[0]] == {"Category": "0", "CategoryName": "shirt, blouse", "Split": "train"}
    assert by_id[TRICKY[2]]["Category"] == f"0,{dress}"
    assert by_id[TRICKY[2]]["CategoryName"] == "shirt, blouse|dress"
    assert by_id[TRICKY[3]] == {
        "Category": "",
        "CategoryName": "",
        "Split": "",
    }  # red/green are not categories

    for suffix in (".xlsx", ".csv"):
        out = tmp_path / f"seed{suffix}"
        ex.export_file(cat, out, "m", layout="seed")
        with Catalog(tmp_path / f"fresh{suffix}.db") as fresh:
            list(sync_folder(fresh, folder))
            report = li.import_seed(fresh, out)
            assert report.rows == 5 and report.matched == 5
            assert not report.unmatched and not report.unknown_labels and not report.ambiguous
            fresh_ids = {Path(r.path).stem: r.id for r in fresh.images()}
            back = ex.seed_table(fresh)  # decisions only: no model in the fresh catalog
            pd.testing.assert_frame_equal(
                back.sort_values("ImageId").reset_index(drop=True),
                table.sort_values("ImageId").reset_index(drop=True),
            )
            decided = fresh.decisions(fresh_ids[TRICKY[0]])
            assert decided["shirt, blouse"] is True and decided["dress"] is False and len(decided) == 46
            assert fresh.image(fresh_ids[TRICKY[0]]).reviewed
            assert fresh.splits()[fresh_ids[TRICKY[4]]] == "test"


def test_seed_import_reports_rows_that_match_nothing_and_unknown_labels(library, tmp_path: Path) -> None:
    cat, _folder, ids = library
    sheet = tmp_path / "seed.csv"
    pd.DataFrame(
        {
            "ImageId": [TRICKY[1], "not_in_catalog", TRICKY[4] + ".jpg", "sub/" + TRICKY[4]],
            "Category": ["10, 46", "1", "[0, 10]", "x"],
            "CategoryName": ["", "", "", ""],
            "Split": ["TRAIN", "train", "", "val"],
        }
    ).to_csv(sheet, index=False)
    before = cat.all_decisions()
    report = li.import_seed(cat, sheet)
    assert report.rows == 4 and report.matched == 3
    assert report.unmatched == [(3, "not_in_catalog")]
    assert report.unknown_labels == [(2, "46"), (5, "x")]
    assert "row 3" in report.summary() and "not_in_catalog" in report.summary()
    assert before == {}
    assert cat.decisions(ids[TRICKY[1]])["dress"] is True
    assert cat.splits()[ids[TRICKY[1]]] == "train"
    names = pd.DataFrame({"ImageId": [TRICKY[2]], "CategoryName": ["shirt, blouse|ballgown"]})
    names.to_excel(tmp_path / "names.xlsx", index=False)
    report = li.import_seed(cat, tmp_path / "names.xlsx")
    assert report.unknown_labels == [(2, "ballgown")]
    assert cat.decisions(ids[TRICKY[2]])["shirt, blouse"] is True


def test_ambiguous_names_are_reported_not_guessed(library, tmp_path: Path) -> None:
    cat, folder, _ids = library
    make_photo(folder / "a" / "same.jpg")
    make_photo(folder / "b" / "same.jpg")
    list(sync_folder(cat, folder))
    sheet = tmp_path / "s.csv"
    pd.DataFrame({"ImageId": ["same", "b/same", "photos/a/same.jpg"], "Category": ["0", "0", "10"]}).to_csv(
        sheet, index=False
    )
    report = li.import_seed(cat, sheet)
    assert report.ambiguous == [(2, "same")]
    assert report.matched == 2
    a = cat.image_by_path(str(folder / "a" / "same.jpg"))
    b = cat.image_by_path(str(folder / "b" / "same.jpg"))
    assert cat.decisions(b.id)["shirt, blouse"] is True and cat.decisions(a.id)["dress"] is True


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_missing_columns_name_the_file_and_the_columns(library, tmp_path: Path, suffix: str) -> None:
    cat, _folder, _ids = library
    sheet = tmp_path / f"wrong{suffix}"
    df = pd.DataFrame({"Image": ["x"], "Labels": ["0"]})
    df.to_csv(sheet, index=False) if suffix == ".csv" else df.to_excel(sheet, index=False)
    with pytest.raises(ExportError) as err:
        li.import_seed(cat, sheet)
    message = str(err.value)
    assert str(sheet) in message and "ImageId" in message and "Category or CategoryName" in message
    with pytest.raises(ExportError) as err:
        li.import_tags(cat, sheet)
    assert str(sheet) in str(err.value) and "path" in str(err.value) and "tags" in str(err.value)
    assert cat.all_decisions() == {}


def test_semicolon_csv_from_a_european_excel_is_read(library, tmp_path: Path) -> None:
    cat, _folder, ids = library
    sheet = tmp_path / "semi.csv"
    sheet.write_text(f"ImageId;Category;CategoryName;Split\n{TRICKY[1]};0;;train\n", encoding="utf-8-sig")
    report = li.import_seed(cat, sheet)
    assert report.matched == 1 and cat.decisions(ids[TRICKY[1]])["shirt, blouse"] is True


def test_csv_saved_by_excel_in_windows_encoding_is_read(library, tmp_path: Path) -> None:
    cat, folder, ids = library
    sheet = tmp_path / "cp1252.csv"
    sheet.write_bytes(f"path;tags\nsub\\{TRICKY[4].split(' — ')[0]}.jpg;dress\n".encode("cp1252"))
    make_photo(folder / "sub" / f"{TRICKY[4].split(' — ')[0]}.jpg")
    list(sync_folder(cat, folder))
    report = li.import_tags(cat, sheet)
    assert report.matched == 1 and not report.unmatched
    image = cat.image_by_path(str(folder / "sub" / "robe été.jpg"))
    assert cat.decisions(image.id) == {"dress": True}


def test_edited_app_export_imports_as_decisions(library, tmp_path: Path) -> None:
    cat, _folder, ids = library
    out = tmp_path / "tags.xlsx"
    ex.export_file(cat, out, "m")
    df = pd.read_excel(out, keep_default_na=False)
    i = df.index[df["path"].str.endswith(TRICKY[2] + ".jpg")][0]
    df.loc[i, "tags"] = "green|dress|sequins"  # the person removed red and shirt, added an unknown label
    df.to_excel(out, index=False)
    report = li.import_tags(cat, out, labels=LABELS)
    assert report.unknown_labels == [(i + 2, "sequins")]
    # pandas wrote the file without the export's About sheet: an empty tag cell no longer says "no tags"
    # (issue 23, case 3), so that photo is skipped and listed.
    empty = list(df.index[df["tags"] == ""])
    assert empty and report.no_tags == [(k + 2, df.loc[k, "path"]) for k in empty]
    assert report.matched == 5 - len(empty)
    assert cat.decisions(ids[TRICKY[2]]) == {
        "red": False,
        "green": True,
        "shirt, blouse": False,
        "dress": True,
    }
    again = ex.export_table(cat, "m").set_index("path")["tags"]
    assert again[df.loc[i, "path"]] == "green|dress"


def test_locked_target_is_a_clear_error_and_the_old_file_survives(
    library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Excel on Windows holds an open workbook locked, so replacing it fails with PermissionError;
    # on this system (and as root) that is simulated at os.replace.
    cat, _folder, _ids = library
    for suffix in (".csv", ".xlsx"):
        out = tmp_path / f"locked{suffix}"
        out.write_bytes(b"previous export")

        def locked(src, dst, _out=out):
            if Path(dst) == _out:
                raise PermissionError(13, "Permission denied", str(dst))
            return os.rename(src, dst)

        monkeypatch.setattr(ex.os, "replace", locked)
        with pytest.raises(ExportError) as err:
            ex.export_file(cat, out, "m")
        assert str(out) in str(err.value) and "open in another program" in str(err.value)
        assert out.read_bytes() == b"previous export"
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
        monkeypatch.undo()
    assert cat.count() == 5


def test_unwritable_folder_missing_folder_and_full_disk(
    library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat, _folder, _ids = library
    with pytest.raises(ExportError, match="does not exist") as err:
        ex.export_file(cat, tmp_path / "no" / "such" / "out.csv", "m")
    assert "out.csv" in str(err.value)
    with pytest.raises(ExportError, match="it is a folder"):
        sp.write_csv(pd.DataFrame({"a": [1]}), tmp_path)
    with pytest.raises(ExportError, match="unsupported file type"):
        ex.export_file(cat, tmp_path / "out.pdf", "m")

    # As root a read-only folder still accepts files, so the refusal is simulated where the temp file is made.
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if Path(path).parent == tmp_path / "ro":
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(ex.os, "open", refuse)
    with pytest.raises(ExportError) as err:
        ex.export_file(cat, tmp_path / "ro" / "out.xlsx", "m")
    assert "ro/out.xlsx" in str(err.value).replace(os.sep, "/") and "permission denied" in str(err.value)
    monkeypatch.undo()

    out = tmp_path / "full.csv"
    out.write_text("old")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(ExportError, match="disk is full"):
        ex.export_file(cat, out, "m")
    assert out.read_text() == "old" and not list(tmp_path.glob(".full.csv*"))


def test_cancelled_export_writes_nothing(library, tmp_path: Path) -> None:
    cat, _folder, _ids = library
    out = tmp_path / "x.xlsx"
    seen = []
    with pytest.raises(ExportCancelled):
        ex.export_file(cat, out, "m", progress=lambda d, t: seen.append((d, t)), cancel=lambda: len(seen) > 1)
    assert not out.exists() and not list(tmp_path.glob(".x.xlsx*"))


def test_progress_is_reported_to_the_end(library, tmp_path: Path) -> None:
    cat, _folder, _ids = library
    seen: list[tuple[int, int]] = []
    ex.export_file(cat, tmp_path / "p.csv", "m", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (10, 10) and all(d <= t for d, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_xlsx_is_formatted(library, tmp_path: Path) -> None:
    import openpyxl

    cat, _folder, _ids = library
    out = tmp_path / "f.xlsx"
    ex.export_file(cat, out, "m", columns=ExportColumns(scores=True))
    ws = openpyxl.load_workbook(out).active
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(ws.max_column)}6"
    assert all(c.font.bold for c in ws[1])
    assert not any(c.font.bold for c in ws[2])
    assert ws.column_dimensions["A"].width > ws.column_dimensions["C"].width >= 8


# -- XMP sidecars ------------------------------------------------------------------------------


def _keywords(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    subject = root.find(f".//{{{NS_DC}}}subject")
    return [li.text for li in subject.iter(f"{{{NS_RDF}}}li")]


def test_xmp_sidecars_hold_keywords_and_leave_photos_untouched(library) -> None:
    cat, folder, _ids = library
    photos = sorted(folder.rglob("*.jpg"))
    before = {p: (p.read_bytes(), p.stat().st_mtime) for p in photos}
    rows = [(t.image.path, t.tags) for t in ex.iter_final_tags(cat, "m")] + [
        (str(photos[0]), ['<b>&"quoted"', "shirt, blouse"])
    ]
    report = write_xmp_sidecars(rows[1:])
    assert not report.errors and len(report.written) == len(rows) - 1
    for p in photos:
        assert (p.read_bytes(), p.stat().st_mtime) == before[p]
    sidecar = photos[0].with_suffix(".xmp")
    assert _keywords(sidecar) == ['<b>&"quoted"', "shirt, blouse"]
    assert b"&lt;b&gt;&amp;" in sidecar.read_bytes()
    nonascii = next(p for p in photos if "été" in p.name)
    assert _keywords(nonascii.with_suffix(".xmp")) == ["dress"]


def test_xmp_merges_into_an_existing_sidecar_and_replaces_only_its_own_keywords(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "dress1.jpg")
    sidecar = tmp_path / "dress1.xmp"
    sidecar.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmp:Rating="4"><dc:subject><rdf:Bag>'
        "<rdf:li>summer</rdf:li><rdf:li>red</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    write_xmp_sidecars([(photo, ["red", "dress"])])
    assert _keywords(sidecar) == ["summer", "red", "dress"]
    write_xmp_sidecars([(photo, ["coat"])])
    assert _keywords(sidecar) == ["summer", "red", "coat"], "the person's own keywords must survive"
    desc = ET.parse(sidecar).getroot().find(f".//{{{NS_RDF}}}Description")
    assert desc.get("{http://ns.adobe.com/xap/1.0/}Rating") == "4"


def test_xmp_per_file_problems_are_collected_and_the_rest_written(tmp_path: Path, monkeypatch) -> None:
    good = make_photo(tmp_path / "good.jpg")
    blocked = make_photo(tmp_path / "blocked.jpg")
    (tmp_path / "blocked.xmp").write_text("my notes, not XML")
    twin_jpg = make_photo(tmp_path / "twin.jpg")
    twin_png = make_photo(tmp_path / "twin.png")
    errors = []
    report = write_xmp_sidecars(
        [
            (good, ["a"]),
            (tmp_path / "gone.jpg", ["b"]),
            (blocked, ["c"]),
            (twin_jpg, ["d"]),
            (twin_png, ["e"]),
        ],
        on_error=lambda p, r: errors.append(p),
    )
    assert {Path(p).name for p, _ in report.errors} == {"gone.jpg", "blocked.jpg"}
    assert errors == [p for p, _ in report.errors]
    assert "not found" in dict(report.errors)[str(tmp_path / "gone.jpg")]
    assert (tmp_path / "blocked.xmp").read_text() == "my notes, not XML"
    # dress1.jpg and dress1.png cannot share dress1.xmp: each gets the appended form
    assert _keywords(tmp_path / "twin.jpg.xmp") == ["d"] and _keywords(tmp_path / "twin.png.xmp") == ["e"]
    assert not (tmp_path / "twin.xmp").exists()
    assert _keywords(tmp_path / "good.xmp") == ["a"]
    appended = write_xmp_sidecars([(good, ["z"])], naming="appended")
    assert appended.written == [tmp_path / "good.jpg.xmp"]


def test_xmp_leaves_the_sidecar_of_a_raw_twin_alone(tmp_path: Path) -> None:
    """RAW+JPEG: Lightroom's ``shot.xmp`` belongs to ``shot.CR2``; the JPEG's keywords go to ``shot.jpg.xmp``."""
    jpeg = make_photo(tmp_path / "shot.jpg")
    (tmp_path / "shot.CR2").write_bytes(b"raw bytes")
    raw_sidecar = tmp_path / "shot.xmp"
    raw_sidecar.write_bytes(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    report = write_xmp_sidecars([(jpeg, ["dress"])])
    assert report.written == [tmp_path / "shot.jpg.xmp"] and not report.errors
    assert raw_sidecar.read_bytes() == b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    assert _keywords(tmp_path / "shot.jpg.xmp") == ["dress"]
    # without the raw twin, that (empty but valid) packet is merged into instead
    (tmp_path / "shot.CR2").unlink()
    write_xmp_sidecars([(jpeg, ["coat"])])
    assert _keywords(raw_sidecar) == ["coat"]


def test_import_reports_progress_and_a_cancelled_import_changes_nothing(library, tmp_path: Path) -> None:
    cat, _folder, _ids = library
    sheet = tmp_path / "seed.csv"
    ex.export_file(cat, sheet, "m", layout="seed")
    with pytest.raises(ExportCancelled):
        li.import_seed(cat, sheet, cancel=lambda: True)
    assert cat.all_decisions() == {} and cat.splits() == {}
    assert not any(r.reviewed for r in cat.images())
    seen: list[tuple[int, int]] = []
    li.import_seed(cat, sheet, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (5, 5) and len(cat.all_decisions()) == 5
