"""``fashion import``: tags from a table into a catalog with the one-value rule (issue 19 §1)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fashion_desktop.cli import main
from fashion_desktop.core.catalog import Catalog
from tests.conftest import make_photo

LABELS = ["dress", "shoe", "Men", "Women", "Black", "Green", "Pink", "White"]
GROUPS = {"dress": "category", "shoe": "category", "Men": "gender", "Women": "gender"}
GROUPS |= {c: "colour" for c in ("Black", "Green", "Pink", "White")}


def library(tmp_path):
    """Three product photos the model called Green, Black and White."""
    folder = tmp_path / "photos"
    names = {"green.jpg": "Green", "black.jpg": "Black", "white.jpg": "White"}
    for name in names:
        make_photo(folder / name, (64, 48), "red")
    db = tmp_path / "lib.ffcat"
    cat = Catalog(db)
    cat.add_folder(str(folder))
    ids = cat.ensure_images([str(folder / n) for n in names])
    cat.register_model(
        "m", LABELS, "model", None, GROUPS, thresholds=[0.5] * len(LABELS), exclusive=["gender", "colour"]
    )
    for name, colour in names.items():
        s = np.full(len(LABELS), 0.05, np.float32)
        s[LABELS.index("dress")] = s[LABELS.index("Women")] = 0.9
        s[LABELS.index(colour)] = 0.8
        cat.add_predictions("m", [(ids[str(folder / name)], s)])
    cat.close()
    return db, folder


def exported(tmp_path, db) -> pd.DataFrame:
    out = tmp_path / "out.csv"
    assert main(["export", "--catalog", str(db), "--out", str(out)]) == 0
    return pd.read_csv(out, comment="#").set_index("file")


def test_import_pink_gives_each_photo_exactly_one_colour_pink(tmp_path, capsys):
    db, _folder = library(tmp_path)
    table = tmp_path / "fix.csv"
    table.write_text("image,tags\ngreen.jpg,Pink\nblack.jpg,Pink\nwhite.jpg,Pink\n", encoding="utf-8")
    assert main(["import", str(table), "--catalog", str(db)]) == 0
    assert "3 matched photos" in capsys.readouterr().err
    df = exported(tmp_path, db)
    assert df["colour"].tolist() == ["Pink", "Pink", "Pink"]
    assert set(df["gender"]) == {"Women"}  # nothing else decided: the model's other tags stay
    assert set(df["reviewed"].astype(str).str.lower()) <= {"false", "0", "no", ""}
    cat = Catalog(db, read_only=True)
    assert not any(r.reviewed for r in cat.images())
    cat.close()


def test_import_reviewed_settles_the_listed_photos(tmp_path):
    db, folder = library(tmp_path)
    table = tmp_path / "fix.csv"
    table.write_text("image,tags\ngreen.jpg,shoe|Men|Pink\n", encoding="utf-8")
    assert main(["import", str(table), "--catalog", str(db), "--reviewed"]) == 0
    cat = Catalog(db, read_only=True)
    rec = cat.image_by_path(folder / "green.jpg")
    assert rec.reviewed
    d = cat.decisions(rec.id)
    assert d["shoe"] and d["Men"] and d["Pink"] and not d["dress"] and not d["Green"] and not d["Women"]
    cat.close()


def test_a_row_with_two_values_of_one_group_skips_that_group_and_says_so(tmp_path, capsys):
    db, _folder = library(tmp_path)
    table = tmp_path / "fix.csv"
    table.write_text("image,tags\ngreen.jpg,Pink|White|shoe\n", encoding="utf-8")
    # Pink|White clash (listed, colour skipped); shoe is recorded
    assert main(["import", str(table), "--catalog", str(db)]) == 3
    err = capsys.readouterr().err
    assert "two values of a one-value group" in err and "colour: Pink|White" in err
    df = exported(tmp_path, db)
    assert df.loc["green.jpg", "colour"] == "Green"
    assert "shoe" in df.loc["green.jpg", "tags"]


def test_export_warns_of_two_person_values_in_a_group(tmp_path, capsys):
    db, folder = library(tmp_path)
    cat = Catalog(db)
    rec = cat.image_by_path(folder / "green.jpg")
    cat.set_decision(rec.id, "Pink", True)
    cat.set_decision(rec.id, "White", True)
    cat.close()
    exported(tmp_path, db)
    err = capsys.readouterr().err
    assert (
        "1 photos have two values you set in a one-value group" in err
        and "green.jpg (colour: Pink|White)" in err
    )
