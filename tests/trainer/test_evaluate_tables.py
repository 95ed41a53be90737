"""``fashion evaluate``'s tables go through the app's spreadsheet writer: a formula-like label stays text."""

from __future__ import annotations

from dataclasses import replace

import openpyxl
import pandas as pd
from trainer_helpers import make_class_folders

from fashion_desktop.core.demo import colour_bundle
from fashion_desktop.model.bundle import save_bundle
from trainer.evaluate import evaluate_cli

FORMULA = "=HYPERLINK(1)"


def test_a_label_starting_with_equals_is_written_as_text_in_every_table(tmp_path) -> None:
    demo = colour_bundle()
    labels = (FORMULA, "green", "blue")
    bundle = save_bundle(
        replace(demo, labels=labels, groups=dict.fromkeys(labels, "colour")), tmp_path / "m.fmodel"
    )
    data = make_class_folders(tmp_path / "data", 2, (), ["red", "green", "blue"])
    (data / "red").rename(data / FORMULA)
    out = tmp_path / "eval"
    assert evaluate_cli([str(bundle), str(data), "--out", str(out), "--device", "cpu"]) == 0
    per_class = pd.read_csv(out / "per_class_metrics.csv", keep_default_na=False)
    assert per_class["label"].tolist() == ["'" + FORMULA, "green", "blue"]
    ws = openpyxl.load_workbook(out / "per_class_metrics.xlsx").active
    assert ws["A2"].value == "'" + FORMULA and ws["A2"].data_type == "s"
    assert ws["C2"].number_format == "0.000"
    scores = (out / "per_image_scores.csv").read_text(encoding="utf-8").splitlines()
    assert scores[0] == f"path,readable,'{FORMULA},green,blue" and len(scores) == 7
    assert (out / "overall_metrics.csv").read_text(encoding="utf-8").startswith("scope,images,f1_micro")
