"""Imports that guess (issue 23, case 3): separators, unknown labels, empty and formula cells, UTF-16, the window."""

from __future__ import annotations

import re
import threading
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from fashion_desktop.cli import main
from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.spreadsheet import ExportError, read_table
from fashion_desktop.model import exit_codes
from tests.conftest import scored_library

# A label with commas in its name, as the 46-category taxonomy has them.
LABELS = ["dress", "red", "shirt, blouse", "Black", "White"]
GROUPS = {"dress": "category", "shirt, blouse": "category", "red": "colour", "Black": "colour"}
GROUPS["White"] = "colour"
NAMES = ("a.jpg", "b.jpg", "c.jpg")


def library(tmp_path: Path) -> Path:
    return scored_library(tmp_path, NAMES, LABELS, GROUPS, [0.05] * len(LABELS), size=(64, 48))[0]


def table(path: Path, rows: list[tuple[str, str]]) -> Path:
    df = pd.DataFrame(rows, columns=["image", "tags"])
    df.to_csv(path, index=False) if path.suffix == ".csv" else df.to_excel(path, index=False)
    return path


def state(db: Path, name: str) -> tuple[dict[str, bool], bool]:
    with Catalog(db, read_only=True) as cat:
        rec = next(r for r in cat.images() if Path(r.path).name == name)
        return cat.decisions(rec.id), rec.reviewed


# -- separators ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_comma_cell_of_known_labels_is_split_and_nothing_becomes_no(tmp_path, capsys, suffix):
    db = library(tmp_path)
    sheet = table(tmp_path / f"t{suffix}", [("a.jpg", "dress, red"), ("b.jpg", "dress")])
    assert main(["import", str(sheet), "--catalog", str(db), "--reviewed"]) == exit_codes.OK
    decided, reviewed = state(db, "a.jpg")
    assert decided["dress"] is True and decided["red"] is True and reviewed
    assert "dress, red" not in decided
    err = capsys.readouterr().err
    assert "split at ','" in err and "row 2" in err


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_semicolon_cell_is_split_and_its_unknown_label_listed(tmp_path, capsys, suffix):
    db = library(tmp_path)
    sheet = table(tmp_path / f"t{suffix}", [("a.jpg", "dress;hat")])
    main(["import", str(sheet), "--catalog", str(db)])
    decided, _ = state(db, "a.jpg")
    assert decided.get("dress") is True and "dress;hat" not in decided
    assert False not in decided.values()
    err = capsys.readouterr().err
    assert "1 labels not in the label list" in err and "'hat'" in err
    assert "split at ';'" in err


def test_a_label_with_a_comma_in_its_name_stays_one_label(tmp_path):
    db = library(tmp_path)
    sheet = table(
        tmp_path / "t.csv",
        [("a.jpg", "shirt, blouse"), ("b.jpg", "shirt, blouse, red"), ("c.jpg", "dress,shirt,blouse")],
    )
    assert main(["import", str(sheet), "--catalog", str(db), "--reviewed"]) == exit_codes.OK
    a, _ = state(db, "a.jpg")
    b, _ = state(db, "b.jpg")
    c, _ = state(db, "c.jpg")
    assert a["shirt, blouse"] is True and "shirt" not in a and "blouse" not in a
    assert b["shirt, blouse"] is True and b["red"] is True and b["dress"] is False
    assert c["shirt, blouse"] is True and c["dress"] is True and "shirt,blouse" not in c  # spaced otherwise


def test_a_separator_it_cannot_tell_is_refused_naming_a_cell_and_the_option(tmp_path, capsys):
    db = library(tmp_path)
    sheet = table(tmp_path / "t.csv", [("a.jpg", "Smith, John"), ("b.jpg", "dress")])
    assert main(["import", str(sheet), "--catalog", str(db), "--reviewed"]) == exit_codes.ERROR
    err = capsys.readouterr().err
    assert "row 2" in err and "Smith, John" in err and "--separator" in err
    assert state(db, "b.jpg") == ({}, False)  # nothing recorded
    assert main(["import", str(sheet), "--catalog", str(db), "--separator", "none"]) == exit_codes.OK
    assert state(db, "a.jpg")[0] == {"Smith, John": True}


def test_the_preview_counts_unknown_labels(tmp_path):
    from fashion_desktop.core.label_import import import_spreadsheet

    db = library(tmp_path)
    sheet = table(tmp_path / "t.csv", [("a.jpg", "coat|hat")])
    with Catalog(db, read_only=True) as cat:
        report = import_spreadsheet(cat, sheet, model_labels=LABELS, dry_run=True)
    assert sorted(v for _, v in report.new_labels) == ["coat", "hat"]


# -- empty and unreadable cells -----------------------------------------------------------------------
def test_reviewed_import_skips_a_row_with_an_empty_tag_cell_and_lists_it(tmp_path, capsys):
    db = library(tmp_path)
    sheet = table(tmp_path / "t.csv", [("a.jpg", "dress"), ("b.jpg", ""), ("c.jpg", "#N/A")])
    assert main(["import", str(sheet), "--catalog", str(db), "--reviewed"]) == exit_codes.PARTIAL
    assert state(db, "b.jpg") == ({}, False) and state(db, "c.jpg") == ({}, False)
    decided, reviewed = state(db, "a.jpg")
    assert decided["dress"] is True and reviewed
    err = capsys.readouterr().err
    assert "2 rows with no readable tags" in err and "row 3" in err and "row 4" in err


def test_formula_tag_cells_without_saved_values_are_refused_naming_the_cell(tmp_path, capsys):
    db = library(tmp_path)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Tags"
    ws.append(["image", "tags"])
    ws.append(["a.jpg", "dress"])
    ws.append(["b.jpg", '=CONCATENATE("dre","ss")'])  # openpyxl saves no value for it
    wb.save(tmp_path / "f.xlsx")
    with pytest.raises(ExportError, match=r"Tags!B3.*formula"):
        read_table(tmp_path / "f.xlsx")  # the one reader: the trainer is told too
    assert main(["import", str(tmp_path / "f.xlsx"), "--catalog", str(db), "--reviewed"]) == exit_codes.ERROR
    err = capsys.readouterr().err
    assert "Tags!B3" in err and "save" in err
    for name in NAMES:
        assert state(db, name) == ({}, False)
    # Excel's saved result of =IF(…, "", …) is empty text (t="str", an empty <v>): read, not refused.
    saved = tmp_path / "saved.xlsx"
    with zipfile.ZipFile(tmp_path / "f.xlsx") as zin, zipfile.ZipFile(saved, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<c r="B3"[^>]*>(<f>.*?</f>)<v ?/>', rb'<c r="B3" t="str">\1<v></v>', data)
            zout.writestr(item, data)
    assert read_table(saved)["tags"].tolist() == ["dress", ""]


# -- encodings ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("codec,bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_excel_unicode_text_is_imported(tmp_path, codec, bom):
    db = library(tmp_path)
    sheet = tmp_path / "unicode.txt"
    sheet.write_bytes(bom + "image\ttags\r\na.jpg\tdress\r\nb.jpg\tred\r\n".encode(codec))
    assert main(["import", str(sheet), "--catalog", str(db)]) == exit_codes.OK
    assert state(db, "a.jpg")[0] == {"dress": True} and state(db, "b.jpg")[0] == {"red": True}


def test_utf16_comma_separated_and_utf8_tab_separated_files_are_read(tmp_path):
    (tmp_path / "c.csv").write_bytes(b"\xff\xfe" + "path,tags\nx.jpg,dress\n".encode("utf-16-le"))
    (tmp_path / "t.txt").write_text("path\ttags\nx.jpg\tdress|red\n", encoding="utf-8")
    for name in ("c.csv", "t.txt"):
        df = read_table(tmp_path / name, required=("path", "tags"))
        assert df["path"].tolist() == ["x.jpg"]


# -- the window ---------------------------------------------------------------------------------------
@pytest.fixture
def window(qtbot, tmp_path):
    from fashion_desktop.gui.main_window import MainWindow
    from fashion_desktop.gui.worker import wait_for_all

    w = MainWindow(library(tmp_path))
    w.show()
    qtbot.waitExposed(w)
    yield w
    assert wait_for_all(20_000)
    w.train_tab.shutdown(15_000)
    w.close()
    w.deleteLater()


def test_the_window_reads_the_table_in_a_worker_then_previews_it(qtbot, window, tmp_path, monkeypatch):
    from fashion_desktop.core import label_import

    readers: list[threading.Thread] = []
    real = label_import.read_table

    def recording(*args, **kwargs):
        readers.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(label_import, "read_table", recording)
    sheet = table(tmp_path / "t.csv", [("a.jpg", "dress, red"), ("b.jpg", "dress;hat")])
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(sheet), "")))
    ctl = window.transfer_ctl
    window.import_action.trigger()  # File > Import Tags…
    assert ctl.import_box is None  # the window is free while the worker reads
    qtbot.waitUntil(lambda: ctl.import_box is not None and ctl.import_box.isVisible(), timeout=20_000)
    assert readers and threading.main_thread() not in readers
    text = ctl.import_box.informativeText()
    assert "New labels (kept as your own): 1" in text and "hat" in text
    assert "split at" in ctl.import_box.detailedText()
    from PySide6.QtCore import Qt

    qtbot.mouseClick(ctl.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not ctl.import_box.isVisible())
    decided, reviewed = state(Path(window.catalog.path), "a.jpg")
    assert decided["dress"] is True and decided["red"] is True and reviewed
    window.undo_action.trigger()
    assert state(Path(window.catalog.path), "a.jpg") == ({}, False)


def test_the_window_asks_how_cells_are_separated_when_it_cannot_tell(qtbot, window, tmp_path):
    from PySide6.QtCore import Qt

    sheet = table(tmp_path / "t.csv", [("a.jpg", "Smith, John"), ("b.jpg", "dress")])
    ctl = window.transfer_ctl
    ctl.import_tags_dialog(sheet)
    qtbot.waitUntil(lambda: ctl.separator_box is not None and ctl.separator_box.isVisible(), timeout=20_000)
    assert (
        "Row 2" in ctl.separator_box.informativeText()
        and "Smith, John" in ctl.separator_box.informativeText()
    )
    assert ctl.import_box is None  # nothing to import until the person says
    one_each = next(b for b in ctl.separator_box.buttons() if b.text() == "Each cell is one tag")
    qtbot.mouseClick(one_each, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.import_box is not None and ctl.import_box.isVisible(), timeout=20_000)
    assert "New labels (kept as your own): 1: Smith, John" in ctl.import_box.informativeText()
    ctl.import_box.reject()
    assert state(Path(window.catalog.path), "b.jpg") == ({}, False)


def test_the_window_says_which_formula_cell_has_no_value_and_imports_nothing(qtbot, window, tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["image", "tags"])
    wb.active.append(["a.jpg", '=CONCATENATE("dre","ss")'])
    wb.save(tmp_path / "f.xlsx")
    ctl = window.transfer_ctl
    ctl.import_tags_dialog(tmp_path / "f.xlsx")
    qtbot.waitUntil(lambda: window.messages.last_warning is not None, timeout=20_000)
    assert "Sheet!B2" in window.messages.last_warning.text() and ctl.import_box is None
    assert state(Path(window.catalog.path), "a.jpg") == ({}, False)


def test_a_large_confirmed_import_is_recorded_in_a_worker_and_undoes_in_one_step(
    qtbot, window, tmp_path, monkeypatch
):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFileDialog

    from fashion_desktop.core.catalog_decisions import DecisionStore
    from fashion_desktop.gui.controllers import transfer

    monkeypatch.setattr(transfer, "OFF_THREAD_CHANGES", 1)  # 20,000 in use: the same path, two rows
    writers: list[threading.Thread] = []
    real = DecisionStore.set_reviewed

    def recording(self, *args, **kwargs):
        writers.append(threading.current_thread())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(DecisionStore, "set_reviewed", recording)
    sheet = table(tmp_path / "t.csv", [("a.jpg", "dress|red"), ("b.jpg", "dress")])
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(sheet), "")))
    ctl, m = window.transfer_ctl, window.library
    window.import_action.trigger()
    qtbot.waitUntil(lambda: ctl.import_box is not None and ctl.import_box.isVisible(), timeout=20_000)
    qtbot.mouseClick(ctl.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.undo_action.isEnabled(), timeout=20_000)  # pushed once the worker wrote
    assert writers and threading.main_thread() not in writers
    a = next(r.id for r in window.catalog.images() if r.path.endswith("a.jpg"))
    assert (
        m.is_reviewed(a) and m.decision(a, "dress") is True and m.decision(a, "red") is True
    )  # the grid shows it
    assert state(Path(window.catalog.path), "a.jpg")[1]
    window.undo_action.trigger()  # one step takes it all back, in the catalog and the grid
    assert state(Path(window.catalog.path), "a.jpg") == ({}, False) and not m.is_reviewed(a)
    window.redo_action.trigger()
    again = state(Path(window.catalog.path), "a.jpg")[0]
    assert again["dress"] is True and again["red"] is True and m.is_reviewed(a)
