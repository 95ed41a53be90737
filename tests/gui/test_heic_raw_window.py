"""HEIC and raw photos in the real window: listed in the grid with thumbnails, tagged by the tagging child,
exported to CSV."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
from PIL import Image

from fashion_desktop.core.spreadsheet import comment_lines
from tests.conftest import make_photo
from tests.gui.test_export_dialog import _choose, _export
from tests.gui.test_main_window import chips, grid_rows, scan, tag
from tests.heic_raw_files import bayer_halves, make_dng, make_heic

RED, BLUE = (220, 30, 30), (30, 60, 220)


def _kinds_folder(folder: Path) -> dict[str, str]:
    """A JPG, a DNG with a blue preview, a DNG without one (developed red) and, with heif-enc, a red HEIC;
    returns name -> the colour each is tagged with."""
    make_photo(folder / "green.jpg", (64, 48), "green")
    make_dng(folder / "blue_shot.DNG", bayer_halves((160, 120)), Image.new("RGB", (128, 96), BLUE))
    mosaic = bayer_halves((160, 120))  # its half-size demosaic (80 x 60) fills a 64-pixel thumbnail
    mosaic[1::2, :] = 600  # no blue sites lit: the demosaic is red all over
    mosaic[0::2, 0::2] = 60000
    make_dng(folder / "red_plain.dng", mosaic)
    expected = {"green.jpg": "green", "blue_shot.DNG": "blue", "red_plain.dng": "red"}
    if shutil.which("heif-enc"):
        make_heic(folder / "IMG_0001.HEIC", Image.new("RGB", (64, 48), RED), exif_orientation=6, irot=3)
        expected["IMG_0001.HEIC"] = "red"
    return expected


def test_heic_and_raw_photos_are_shown_tagged_and_exported(qtbot, window, tmp_path, tiny_bundle_path) -> None:
    w = window
    expected = _kinds_folder(tmp_path / "photos")
    scan(qtbot, w, tmp_path / "photos")
    rows = grid_rows(w)
    assert sorted(rows) == sorted(expected)

    # The grid's thumbnails: decoded in the pool like any photo's.
    keys = []
    for name in expected:
        path = str(tmp_path / "photos" / name)
        st = os.stat(path)
        keys.append((path, st.st_size, st.st_mtime))
        w.thumbs.get(keys[-1], 64)
    qtbot.waitUntil(lambda: w.thumbs.pending() == 0, timeout=20_000)
    for key in keys:
        assert w.thumbs.failure(key) is None, key
        pixmap = w.thumbs.get(key, 64)
        assert pixmap is not None and max(pixmap.width(), pixmap.height()) == 64
    heic = w.thumbs.get(keys[-1], 64) if "IMG_0001.HEIC" in expected else None
    if heic is not None:  # irot turned it once: 48 x 64 as shown, so portrait
        assert heic.height() == 64 and heic.width() == 48

    tag(qtbot, w, tiny_bundle_path)
    for name, colour in expected.items():
        assert chips(w, name) == [colour], name

    w.export_action.trigger()
    dialog = w.transfer_ctl.export_window
    qtbot.waitExposed(dialog)
    out = tmp_path / "tags.csv"
    _choose(qtbot, dialog, "csv", "all", out)
    assert f"{len(expected)} rows" in _export(qtbot, dialog)
    df = pd.read_csv(out, keep_default_na=False, skiprows=comment_lines(out))
    assert {Path(p).name: tags for p, tags in zip(df["path"], df["tags"], strict=True)} == expected
