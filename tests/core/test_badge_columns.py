"""The grid's "?" badge without Qt: the calibrated risk rule, and the old margin rule without calibration."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_desktop.core.catalog import Catalog, FileInfo
from fashion_desktop.core.library_columns import LibraryColumns, ViewSpec
from fashion_desktop.model.badge import SCORE

LABELS = ["dress", "shirt", "red", "blue", "green"]
GROUPS = {"dress": "category", "shirt": "category", "red": "colour", "blue": "colour", "green": "colour"}
THRESHOLDS = [0.5, 0.5, 0.2, 0.2, 0.2]
SCORES = {
    "tie.jpg": [0.9, 0.05, 0.48, 0.47, 0.05],  # red or blue? a near tie the old rule never saw
    "sure.jpg": [0.9, 0.05, 0.96, 0.02, 0.02],
    "edge.jpg": [0.52, 0.05, 0.96, 0.02, 0.02],  # the dress just above its threshold
}
BADGE = {"score": SCORE, "cutoff": 0.3, "flagged": 0.2, "wrong_flagged": 0.6, "wrong_rest": 0.2}


@pytest.fixture
def cols(tmp_path):
    cat = Catalog(tmp_path / "lib.ffcat")
    fid = cat.add_folder("/photos")
    names = [*SCORES, "unscored.jpg"]
    cat.record_scan_batch(fid, [FileInfo(f"/photos/{n}", 100, 1000.0 + i) for i, n in enumerate(names)], 1.0)
    cat.register_model("m", LABELS, groups=GROUPS, thresholds=THRESHOLDS, exclusive=["colour"])
    ids = {r.path.rsplit("/", 1)[1]: r.id for r in cat.images()}
    cat.add_predictions("m", [(ids[n], np.float32(s)) for n, s in SCORES.items()])
    c = LibraryColumns(cat)
    c.reload()
    yield c
    cat.close()


def flagged(c: LibraryColumns) -> list[str]:
    return [c.slots.names[s] for s in range(len(c)) if c.uncertain(s)]


def order(c: LibraryColumns) -> list[str]:
    return [c.slots.names[s] for s in c.view(ViewSpec(sort="uncertain"))]


def test_without_calibration_the_badge_keeps_the_old_margin_rule(cols) -> None:
    cols.set_active_model("m")
    assert cols.badge is None
    assert flagged(cols) == ["edge.jpg"]  # 0.52 is within 0.05 of 0.5; the colour tie is not seen
    assert order(cols)[0] == "edge.jpg" and order(cols)[-1] == "unscored.jpg"


def test_a_calibrated_badge_marks_the_photos_most_likely_wrong(cols) -> None:
    cols.set_active_model("m", badge=BADGE)
    assert flagged(cols) == ["tie.jpg", "edge.jpg"]
    assert order(cols) == ["tie.jpg", "edge.jpg", "sure.jpg", "unscored.jpg"]
    assert "Most likely wrong: colour (risk 0.52)" in cols.tooltip(cols.slots.names.index("tie.jpg"))
    assert "Most likely wrong" not in cols.tooltip(cols.slots.names.index("sure.jpg"))


def test_a_persons_decision_or_review_takes_the_badge_away(cols) -> None:
    cols.set_active_model("m", badge=BADGE)
    tie = int(cols.slots.ids[cols.slots.names.index("tie.jpg")])
    edge = int(cols.slots.ids[cols.slots.names.index("edge.jpg")])
    cols.write_decisions([(tie, "blue", True)])
    cols.write_reviewed([edge], True)
    assert flagged(cols) == []
