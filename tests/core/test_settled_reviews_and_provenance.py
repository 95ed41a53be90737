"""Reviewed means settled (and old catalogs are settled on upgrade), the threshold view kept in the catalog,
exports that say what produced them and who decided, hierarchical XMP keywords, import with a dry run."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from fashion_desktop.cli import EXIT_OK, main
from fashion_desktop.core import catalog_schema
from fashion_desktop.core import label_import as li
from fashion_desktop.core.catalog import SCHEMA_VERSION, Catalog
from fashion_desktop.core.export import ExportColumns, export_file, export_table
from fashion_desktop.core.spreadsheet import read_table
from fashion_desktop.core.tags import review_decisions
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.core.training_table import training_table
from fashion_desktop.core.xmp import NS_DC, NS_LR, NS_RDF, build_xmp, merge_xmp

LABELS = ["dress", "coat", "red"]
GROUPS = {"dress": "category", "coat": "category", "red": "colour"}


def test_review_records_what_was_shown_and_keeps_earlier_decisions() -> None:
    assert review_decisions(LABELS, ["dress", "scarf"], {"scarf": True}) == {
        "dress": True,
        "coat": False,
        "red": False,
    }
    assert review_decisions(LABELS, ["coat"], {"dress": False, "coat": True, "red": False}) == {}


def _v3_catalog(path: Path) -> None:
    """A catalog as the previous release left it: schema 3, photos reviewed without settling."""
    db = sqlite3.connect(path)
    db.executescript(catalog_schema.SCHEMA_V1)
    for stmt in catalog_schema.MIGRATIONS[:2]:
        db.execute(stmt)
    db.execute("INSERT INTO meta VALUES('schema_version', '3')")
    db.execute(
        "INSERT INTO models(id, model_key, name, labels, groups, thresholds, added_at)"
        " VALUES(1, 'm', 'tiny', ?, '{}', '[0.5, 0.8, 0.3]', 0)",
        ('["dress", "coat", "red"]',),
    )
    for i, (name, reviewed) in enumerate([("a", 1), ("b", 1), ("c", None), ("d", 1)], start=1):
        db.execute(
            "INSERT INTO images(id, path, added_at, reviewed_at) VALUES(?, ?, 0, ?)",
            (i, f"/p/{name}.jpg", reviewed),
        )
    scores = {1: [0.9, 0.7, 0.4], 2: [0.2, 0.9, 0.1], 3: [0.9, 0.9, 0.9]}  # d was never scored
    for i, s in scores.items():
        db.execute("INSERT INTO predictions VALUES(?, 1, ?, 0)", (i, np.float32(s).tobytes()))
    db.execute("INSERT INTO decisions VALUES(2, 'coat', 0, 0)")  # b: the person said "not a coat"
    db.execute("INSERT INTO decisions VALUES(4, 'hat', 1, 0)")
    db.commit()
    db.close()


def test_old_catalogs_settle_reviewed_photos_with_the_tags_they_show(tmp_path: Path) -> None:
    path = tmp_path / "old.ffcat"
    _v3_catalog(path)
    before = {Path(r.path).stem: sorted(r.positives) for r in training_table(path).rows}
    with Catalog(path) as cat:
        assert cat.schema_version == SCHEMA_VERSION
        # a: dress 0.9 >= 0.5, coat 0.7 < 0.8, red 0.4 >= 0.3 (the model's own thresholds).
        assert cat.decisions(1) == {"dress": True, "coat": False, "red": True}
        assert cat.decisions(2) == {"dress": False, "coat": False, "red": False}  # the person's "no" kept
        assert cat.decisions(3) == {}  # not reviewed: still follows the model
        assert cat.decisions(4) == {"hat": True}  # nothing scored: nothing to settle
        assert cat.view_state("m") is None
    after = {Path(r.path).stem: sorted(r.positives) for r in training_table(path).rows}
    assert after == before  # nothing a person saw changed
    strict = ThresholdPolicy(global_threshold=0.95)
    assert {
        Path(r.path).stem: sorted(r.positives) for r in training_table(path, policy=strict).rows
    } == before
    # The step is safe to run again (the lead may reorder migrations): it adds nothing.
    db = sqlite3.connect(path)
    assert catalog_schema.settle_reviewed(db) == 0
    db.close()


def test_view_state_is_kept_per_model_and_a_damaged_one_is_ignored(tmp_path: Path) -> None:
    policy = ThresholdPolicy(global_threshold=0.4, per_label={"red": 0.9}, top_k=2, at_least_one=True)
    with Catalog(tmp_path / "lib.ffcat") as cat:
        cat.set_view_state("m", policy)
        cat.set_view_state("other", ThresholdPolicy(top_k=1))
    with Catalog(tmp_path / "lib.ffcat") as cat:
        assert cat.view_state("m") == policy
        assert cat.view_state("other") == ThresholdPolicy(top_k=1)
        assert cat.view_state("never") is None
        cat._db.execute("UPDATE view_state SET state='not json' WHERE model_key='m'")
        assert cat.view_state("m") is None
    odd = '{"global_threshold": 7, "per_label": {"red": 0.2, "x": "high"}, "top_k": -1, "at_least_one": 1}'
    assert ThresholdPolicy.from_json(odd) == ThresholdPolicy(per_label={"red": 0.2})


@pytest.fixture
def library(tmp_path: Path) -> Catalog:
    cat = Catalog(tmp_path / "lib.ffcat")
    ids = cat.ensure_images([f"/photos/{n}.jpg" for n in ("a", "b")])
    cat.register_model("m", LABELS, "tiny", "/models/tiny.fmodel", GROUPS, thresholds=[0.5, 0.5, 0.5])
    cat.add_predictions("m", [(ids["/photos/a.jpg"], np.float32([0.9, 0.2, 0.6]))])
    cat.set_decisions([(ids["/photos/a.jpg"], "coat", True), (ids["/photos/b.jpg"], "red", False)])
    yield cat
    cat.close()


def test_provenance_columns_say_who_decided_each_tag_and_the_score(library: Catalog) -> None:
    df = export_table(library, "m", columns=ExportColumns(provenance=True, files=True)).set_index("file")
    assert list(df.columns[:3]) == ["path", "folder", "tags"]
    assert df.loc["a.jpg", "folder"] == "/photos"
    assert df.loc["a.jpg", "tags"] == "dress|coat|red"
    assert [df.loc["a.jpg", f"decided_by:{lab}"] for lab in LABELS] == [
        "yes (model)",
        "yes (person)",
        "yes (model)",
    ]
    assert df.loc["a.jpg", "score:dress"] == pytest.approx(0.9)
    assert [df.loc["b.jpg", f"decided_by:{lab}"] for lab in LABELS] == ["", "", "no (person)"]  # never scored
    cols = list(df.columns)
    assert cols.index("score:dress") == cols.index("decided_by:dress") + 1  # side by side per label


def test_xlsx_has_an_about_sheet_and_csv_a_header_that_readers_skip(library: Catalog, tmp_path: Path) -> None:
    policy = ThresholdPolicy(per_label={"red": 0.7}, top_k=2)
    export_file(library, tmp_path / "t.xlsx", "m", policy, scope="all photos")
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    about = {k: v for k, v in wb["About this export"].iter_rows(values_only=True)}
    assert about["Model"] == "tiny" and about["Model id"] == "m" and about["Rows"] == "2"
    assert about["Per-label overrides"] == "red=0.7" and about["Top-k"] == "2"
    assert about["Threshold: red"] == "0.7" and about["Threshold: dress"] == "0.5"
    assert about["Photos"] == "all photos" and about["Library"] == str(library.path)
    assert ThresholdPolicy.from_json(about["Policy"]) == policy

    csv = tmp_path / "t.csv"
    export_file(library, csv, "m", policy)
    lines = csv.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("# Exported: ") and "# Per-label overrides: red=0.7" in lines
    assert read_table(csv, required=("path", "tags"))["tags"].tolist() == ["dress|coat", ""]
    # The app's own import reads it back; row numbers still point at the file's lines.
    (tmp_path / "edited.csv").write_text(
        csv.read_text(encoding="utf-8-sig").replace("/photos/b.jpg", "/photos/zzz.jpg"), encoding="utf-8"
    )
    report = li.import_tags(library, tmp_path / "edited.csv", dry_run=True)
    assert report.matched == 1 and report.unmatched == [(len(lines), "/photos/zzz.jpg")]
    # fashion merge reads two such parts.
    export_file(library, tmp_path / "u.csv", "m", policy)
    assert main(["merge", str(csv), str(tmp_path / "u.csv"), "--out", str(tmp_path / "m.csv")]) == EXIT_OK
    assert len(read_table(tmp_path / "m.csv")) == 2


def test_import_dry_run_counts_changes_and_writes_nothing(library: Catalog, tmp_path: Path) -> None:
    sheet = tmp_path / "s.csv"
    pd.DataFrame({"image": ["a.jpg", "b", "nope.jpg"], "tags": ["dress", "red|hat", "coat"]}).to_csv(
        sheet, index=False
    )
    before = library.all_decisions()
    preview = li.import_spreadsheet(library, sheet, model_labels=LABELS, dry_run=True)
    assert library.all_decisions() == before and not any(r.reviewed for r in library.images())
    # Each row lists a photo's complete tags, over the model's labels and every tag the file uses:
    # a: dress yes, red no, hat no (new), coat no (was yes: changed); b: red yes (was no: changed),
    # hat yes, dress no, coat no (new).
    assert (preview.added, preview.changed, preview.decisions) == (6, 2, 8)
    assert preview.unmatched == [(4, "nope.jpg")] and preview.newly_reviewed == 2
    done = li.import_spreadsheet(library, sheet, model_labels=LABELS)
    assert (done.added, done.changed) == (6, 2)
    a, b = (library.image_by_path(f"/photos/{n}.jpg").id for n in "ab")
    assert library.decisions(a) == {"dress": True, "coat": False, "red": False, "hat": False}
    assert library.decisions(b) == {"dress": False, "coat": False, "red": True, "hat": True}
    assert all(r.reviewed for r in library.images())


def _bag(root: ET.Element, ns: str, name: str) -> list[str]:
    prop = root.find(f".//{{{ns}}}{name}")
    return [] if prop is None else [li.text for li in prop.iter(f"{{{NS_RDF}}}li")]


def test_xmp_has_hierarchical_keywords_beside_flat_ones_and_merging_keeps_the_persons() -> None:
    root = ET.fromstring(build_xmp(["dress", "red", "scarf"], GROUPS))
    assert _bag(root, NS_DC, "subject") == ["dress", "red", "scarf"]
    assert _bag(root, NS_LR, "hierarchicalSubject") == ["category|dress", "colour|red", "scarf"]
    # A person's own hierarchical keyword (added in Lightroom) stays; ours are swapped on re-export.
    theirs = build_xmp(["dress", "red"], GROUPS).replace(
        b"<rdf:li>category|dress</rdf:li>",
        b"<rdf:li>category|dress</rdf:li><rdf:li>shoot|spring</rdf:li>",
        1,  # the first: lr:hierarchicalSubject, not the app's own record of what it wrote
    )
    merged = ET.fromstring(merge_xmp(theirs, ["coat"], GROUPS))
    assert _bag(merged, NS_LR, "hierarchicalSubject") == ["shoot|spring", "category|coat"]
    assert _bag(merged, NS_DC, "subject") == ["coat"]


def test_fashion_export_uses_the_view_saved_in_the_library_unless_told_otherwise(
    library: Catalog, tmp_path: Path, capsys
) -> None:
    library.set_view_state("m", ThresholdPolicy(per_label={"red": 0.7}))
    out = tmp_path / "cli.csv"
    assert main(["export", "--catalog", str(library.path), "--out", str(out)]) == EXIT_OK
    assert "using the thresholds saved in lib.ffcat" in capsys.readouterr().err
    df = read_table(out)
    assert df.set_index("file")["tags"]["a.jpg"] == "dress|coat"  # red 0.6 < the saved override 0.7
    assert "# Per-label overrides: red=0.7" in out.read_text(encoding="utf-8-sig")
    assert (
        main(["export", "--catalog", str(library.path), "--out", str(out), "--threshold", "0.5"]) == EXIT_OK
    )
    assert read_table(out).set_index("file")["tags"]["a.jpg"] == "dress|coat|red"


def test_a_csv_header_line_cannot_smuggle_a_formula_into_excel(library: Catalog, tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    export_file(library, out, "m", ThresholdPolicy(per_label={'x,=HYPERLINK("http://evil")': 0.3}))
    line = next(x for x in out.read_text(encoding="utf-8-sig").splitlines() if "overrides" in x)
    pieces = line.split(",")
    assert not any(p.lstrip().startswith(("=", "+", "-", "@")) for p in pieces[1:])
