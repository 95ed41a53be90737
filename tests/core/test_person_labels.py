"""Labels a person created (issue 9, item 2): stored with their group, unknown where never judged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from fashion_desktop.core import catalog_schema
from fashion_desktop.core.catalog import SCHEMA_VERSION, Catalog, CatalogError
from fashion_desktop.core.export import ExportColumns, export_table
from fashion_desktop.core.tags import new_label_problem, review_decisions, settled_labels
from fashion_desktop.core.training_table import training_table

LABELS = ["dress", "skirt"]


def _library(path: Path) -> tuple[Catalog, dict[str, int]]:
    cat = Catalog(path)
    ids = cat.ensure_images([f"/p/{n}.jpg" for n in "abc"])
    cat.register_model("m", LABELS, "tiny", None, {"dress": "category", "skirt": "category"}, [0.5, 0.5])
    cat.add_predictions("m", [(i, np.float32([0.9, 0.1])) for i in ids.values()])
    return cat, {Path(p).stem: i for p, i in ids.items()}


def _review(cat: Catalog, image_id: int, shown: list[str]) -> None:
    """Mark a photo reviewed as the app does: settling the model's labels and the labels people created."""
    labels = settled_labels(LABELS, cat.person_labels())
    settle = review_decisions(labels, shown, cat.decisions(image_id))
    cat.set_reviewed([image_id], True, [(image_id, lab, v) for lab, v in settle.items()])


def test_a_created_label_is_unknown_on_photos_reviewed_before_it_and_no_on_photos_reviewed_after(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lib.ffcat"
    cat, ids = _library(path)
    _review(cat, ids["a"], ["dress"])  # a: reviewed before "denim" existed
    cat.add_person_label("denim", "fabric", [(ids["b"], "denim", True)])
    _review(cat, ids["b"], ["dress", "denim"])
    _review(cat, ids["c"], ["dress"])  # c: reviewed once "denim" exists, without it
    cat.close()
    table = training_table(path)
    rows = {Path(r.path).stem: r for r in table.rows}
    assert "denim" in table.labels and table.groups["denim"] == "fabric"
    assert table.groups["dress"] == "category"
    assert "denim" not in rows["a"].known  # unknown: masked out of the loss, not a "no"
    assert "denim" in rows["b"].positives and rows["b"].tags["fabric"] == ("denim",)
    assert "denim" in rows["c"].known and "denim" not in rows["c"].positives  # a settled "no"


def test_the_group_survives_reopening_and_exports_give_it_its_column(tmp_path: Path) -> None:
    path = tmp_path / "lib.ffcat"
    cat, ids = _library(path)
    cat.add_person_label("floral", "pattern", [(ids["a"], "floral", True)])
    cat.add_person_label("denim", "category", [(ids["b"], "denim", True)])
    cat.close()
    with Catalog(path) as cat:
        assert cat.person_labels() == {"floral": "pattern", "denim": "category"}
        table = export_table(cat, "m", columns=ExportColumns(groups=True))
    rows = {Path(p).stem: r for p, r in zip(table["path"], table.to_dict("records"), strict=True)}
    assert list(table.columns) == ["path", "tags", "category", "pattern"]
    assert rows["a"]["tags"] == "dress|floral" and rows["a"]["pattern"] == "floral"
    assert rows["b"]["category"] == "dress|denim" and rows["b"]["pattern"] == ""
    assert rows["c"]["category"] == "dress"


def test_refused_names_say_why(tmp_path: Path) -> None:
    assert "'|'" in (new_label_problem("a|b", LABELS) or "")
    assert "empty" in (new_label_problem("  ", LABELS) or "")
    assert "“dress”" in (new_label_problem("Dress", LABELS) or "")
    assert new_label_problem("denim", LABELS) is None
    cat, ids = _library(tmp_path / "lib.ffcat")
    with pytest.raises(ValueError, match="separator"):
        cat.add_person_label("a|b", "tags", [(ids["a"], "a|b", True)])
    with pytest.raises(ValueError, match="group name"):
        cat.add_person_label("denim", " ")
    cat.add_person_label("denim", "fabric")
    with pytest.raises(ValueError, match="“denim”"):
        cat.add_person_label("DENIM", "fabric", [(ids["a"], "DENIM", True)])
    assert cat.person_labels() == {"denim": "fabric"}
    assert cat.decisions(ids["a"]) == {}  # nothing of a refused label was stored
    cat.remove_person_label("denim")
    assert cat.person_labels() == {}
    cat.close()


def test_a_schema_5_catalog_is_upgraded_and_an_older_one_read_only_has_no_created_labels(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v5.ffcat"
    db = sqlite3.connect(path)
    db.executescript(catalog_schema.SCHEMA_V1)
    for step in catalog_schema.MIGRATIONS[:4]:
        step(db) if callable(step) else db.executescript(step)
    db.execute("INSERT INTO meta VALUES('schema_version', '5')")
    db.commit()
    db.close()
    with Catalog(path, read_only=True) as cat:
        assert cat.person_labels() == {}  # no table yet, and nothing is written to find out
    with Catalog(path) as cat:
        assert cat.schema_version == SCHEMA_VERSION >= 6
        cat.add_person_label("denim", "fabric")
    assert (tmp_path / "v5.ffcat.bak-v5").exists()
    with Catalog(path, read_only=True) as cat:
        assert cat.person_labels() == {"denim": "fabric"}


def test_the_label_keys_are_kept_in_the_library_and_a_read_only_one_keeps_its_own(tmp_path: Path) -> None:
    path = tmp_path / "lib.ffcat"
    with Catalog(path) as cat:
        assert cat.label_keys() == {}  # never set
        cat.set_label_keys({"dress": "1", "floral": "6", "Ünïcode": "Shift+A"})
    with Catalog(path) as cat:
        assert cat.label_keys() == {"dress": "1", "floral": "6", "Ünïcode": "Shift+A"}
    with Catalog(path, read_only=True) as cat:
        assert cat.label_keys() == {"dress": "1", "floral": "6", "Ünïcode": "Shift+A"}
        with pytest.raises(CatalogError, match="read-only"):
            cat.set_label_keys({"dress": "2"})
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='[1, 2' WHERE key='label_keys'")
    db.commit()
    db.close()
    with Catalog(path) as cat:
        assert cat.label_keys() == {}  # a damaged map: the keys are assigned afresh
