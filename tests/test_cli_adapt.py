"""``fashion adapt`` learns a library's look from its decisions; ``fashion export`` follows the adapter."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from fashion_desktop.cli import main
from fashion_desktop.core.adapter import Adapter, Correction
from fashion_desktop.core.adapter_library import set_adapter_enabled, store_adapter, stored_adapter
from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.engine import ScoreOptions, tag_into_catalog
from fashion_desktop.core.scan import sync_folder
from tests.conftest import make_photo, save_pink_blind_bundle

KEY = "look-model"
LOOKS = {"red": (220, 30, 40), "pink": (240, 150, 170), "blue": (30, 40, 220)}
TRUTH = {"red": "Red", "pink": "Pink", "blue": "Blue"}
PER_LOOK, REVIEWED_PER_LOOK = 12, 10


def _look_bundle(path: Path) -> Path:
    return save_pink_blind_bundle(path, KEY, "Look model")


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog of 12 photos per look, tagged by the look model, nothing decided yet."""
    root = tmp_path_factory.mktemp("adapt")
    for look, rgb in LOOKS.items():
        for i in range(PER_LOOK):
            make_photo(root / "photos" / f"{look}_{i:02d}.jpg", (40 + i, 32), rgb)
    db = root / "lib.ffcat"
    with Catalog(db) as cat:
        for _ in sync_folder(cat, root / "photos"):
            pass
        paths = [r.path for r in cat.images()]
        list(tag_into_catalog(cat, paths, _look_bundle(root / "look.fmodel"), ScoreOptions("cpu", 8)))
    return db


def _copy(tagged: Path, tmp_path: Path) -> Path:
    db = tmp_path / "lib.ffcat"
    shutil.copy(tagged, db)
    return db


def _review(db: Path, per_look: int = REVIEWED_PER_LOOK) -> dict[str, int]:
    """Review the first ``per_look`` photos of each look, setting its true colour; path stem -> image id."""
    with Catalog(db) as cat:
        ids = {Path(r.path).stem: r.id for r in cat.images()}
        for look, truth in TRUTH.items():
            chosen = [ids[f"{look}_{i:02d}"] for i in range(per_look)]
            changes = [(i, lab, lab == truth) for i in chosen for lab in TRUTH.values()]
            cat.set_reviewed(chosen, True, changes)
    return ids


def _export(db: Path, out: Path, *extra: str) -> tuple[pd.DataFrame, dict[str, str]]:
    assert main(["export", "--catalog", str(db), "--out", str(out), "--scores", *extra]) == 0
    about = dict(openpyxl.load_workbook(out)["About this export"].iter_rows(values_only=True))
    return pd.read_excel(out).set_index("file"), about


def _model_scores(db: Path, image_id: int) -> np.ndarray:
    with Catalog(db, read_only=True) as cat:
        return cat.scores(KEY, [image_id])[image_id]


def test_fashion_adapt_learns_pink_and_export_writes_the_adapted_tags(
    tagged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _copy(tagged, tmp_path)
    ids = _review(db)
    capsys.readouterr()
    assert main(["adapt", "--catalog", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"learnt from {3 * REVIEWED_PER_LOOK} reviewed photos" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("colour:"))
    assert "model top-1" in line and "-> adapted top-1" in line and line.endswith("used")
    assert "will be used" in out
    with Catalog(db, read_only=True) as cat:
        adapter = stored_adapter(cat, KEY)
    assert adapter is not None and adapter.useful and adapter.reviewed == 3 * REVIEWED_PER_LOOK

    df, about = _export(db, tmp_path / "adapted.xlsx")
    unreviewed = "pink_11.jpg"
    assert df.loc[unreviewed, "colour"] == "Pink"
    assert df.loc[unreviewed, "score:Pink"] > df.loc[unreviewed, "score:Red"]
    base = _model_scores(db, ids["pink_11"])
    assert base[0] > base[1]  # the model alone calls it Red
    reviewed = ids["pink_00"]  # a reviewed photo keeps the model's scores
    assert df.loc["pink_00.jpg", "score:Red"] == pytest.approx(
        float(_model_scores(db, reviewed)[0]), abs=1e-4
    )
    assert about["Scores"].startswith(f"Look model adapted to {3 * REVIEWED_PER_LOOK} reviewed photos")
    assert "adapter fitted" in about["Scores"]

    df, about = _export(db, tmp_path / "base.xlsx", "--no-adapter")
    assert df.loc[unreviewed, "colour"] == "Red"
    assert df.loc[unreviewed, "score:Red"] == pytest.approx(float(base[0]), abs=1e-4)
    assert about["Scores"].startswith("the model's own") and "--no-adapter" not in about["Scores"]

    with Catalog(db) as cat:
        set_adapter_enabled(cat, KEY, False)  # the app's switch: exports follow it
    df, about = _export(db, tmp_path / "off.xlsx")
    assert df.loc[unreviewed, "colour"] == "Red" and "switched off" in about["Scores"]


def test_fashion_adapt_says_plainly_when_the_models_scores_stay(
    tagged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _copy(tagged, tmp_path)
    _review(db, per_look=2)  # six reviewed photos: too few to learn a group from
    capsys.readouterr()
    assert main(["adapt", "--catalog", str(db), "--model", KEY]) == 0
    out = capsys.readouterr().out
    assert "learnt from 6 reviewed photos" in out and "the model's scores stay" in out
    with Catalog(db, read_only=True) as cat:
        adapter = stored_adapter(cat, KEY)
    assert adapter is not None and not adapter.useful
    _df, about = _export(db, tmp_path / "t.xlsx")
    assert about["Scores"].startswith("the model's own") and "not better than the model" in about["Scores"]


def test_fashion_adapt_refuses_with_a_clear_message(
    tagged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _copy(tagged, tmp_path)
    assert main(["adapt", "--catalog", str(tmp_path / "nope.ffcat")]) == 1
    assert "nope.ffcat: catalog not found" in capsys.readouterr().err
    assert main(["adapt", "--catalog", str(db)]) == 1
    err = capsys.readouterr().err
    assert str(db) in err and "no decisions yet" in err
    _review(db)
    assert main(["adapt", "--catalog", str(db), "--model", "nope"]) == 1
    assert "no model 'nope'" in capsys.readouterr().err
    con = sqlite3.connect(db)
    con.execute("DELETE FROM embeddings")  # as if tagged before embeddings were stored
    con.commit()
    con.close()
    assert main(["adapt", "--catalog", str(db)]) == 1
    err = capsys.readouterr().err
    assert str(db) in err and "re-tag" in err and "--force" in err
    with Catalog(db, read_only=True) as cat:
        assert stored_adapter(cat, KEY) is None


def test_export_uses_the_adapters_thresholds_unless_a_person_set_one(
    tagged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fashion_desktop.core.export import export_table
    from fashion_desktop.core.thresholds import ThresholdPolicy

    with Catalog(_copy(tagged, tmp_path)) as cat:
        # The same photos under a model whose colours are independent labels (no one-value group).
        rec = cat.model(KEY)
        cat.register_model("multi", rec.labels, "Multi", None, rec.groups, thresholds=[0.5, 0.5, 0.5])
        scores = cat.scores(KEY)
        cat.add_predictions("multi", list(scores.items()))
        k = len(cat.embeddings(KEY)[1][0]) - 4
        # A stored adapter that changes no score but tunes Red's threshold to 0.99 (above a pink photo's Red).
        keep = Correction("colour", "labels", np.arange(3), np.zeros((k, 3), np.float32),
                          np.zeros(3, np.float32), 20, used=True)  # fmt: skip
        thresholds = np.array([0.99, np.nan, np.nan], np.float32)
        store_adapter(cat, Adapter("multi", rec.labels, np.zeros(k, np.float32), 1.0, [keep], thresholds))
        red = next(r.id for r in cat.images() if Path(r.path).stem == "pink_03")
        assert 0.9 < scores[red][0] < 0.99

        def tags(policy: ThresholdPolicy | None = None, adapter: bool = True) -> str:
            table = export_table(cat, "multi", policy, [red], adapter=adapter)
            return str(table["tags"].iloc[0])

        # No embeddings for "multi": its scores stay the model's, but the tuned threshold counts.
        assert tags() == ""
        assert tags(adapter=False) == "Red"
        assert tags(ThresholdPolicy(per_label={"Red": 0.5})) == "Red"  # a person's own threshold wins
