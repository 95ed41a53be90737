"""The grid by keyboard and across resets: a key for each of 46 labels."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.gui.test_main_window import scan, select, window  # noqa: F401

WIDE = [f"attr_{i:02d}" for i in range(46)]  # as many labels as the iMaterialist taxonomy
SHIFT = Qt.KeyboardModifier.ShiftModifier


def test_every_label_of_a_46_label_model_gets_a_key_and_shift_keys_toggle_the_right_one(
    qtbot,
    window,  # noqa: F811
    photo_folder,
):
    scan(qtbot, window, photo_folder)
    groups = {lab: "garment" if i < 20 else "attribute" for i, lab in enumerate(WIDE)}
    window.library.set_active_model("wide", WIDE, groups)
    pane, grid, lib = window.review, window.grid, window.library
    hints = [pane.rows[lab].key_label.text() for lab in WIDE]
    assert len(set(hints)) == len(WIDE) and all(len(h) > 2 for h in hints)
    assert hints[:3] == ["[1]", "[2]", "[3]"] and hints[33] == "[z]"
    assert hints[34:36] == ["[⇧1]", "[⇧2]"] and hints[44:] == ["[⇧A]", "[⇧B]"]
    assert not any(c in h for h in hints for c in "jkJK")  # J and K move between photos
    assert grid.label_keys == {key: lab for lab, key in pane.keys.items()}

    select(qtbot, window, "red_0.jpg")
    image = window.selected_ids()[0]

    def decided() -> dict[str, bool]:
        return {lab: v for lab in WIDE if (v := lib.decision(image, lab)) is not None}

    qtbot.keyClick(grid, Qt.Key.Key_B, SHIFT)
    assert decided() == {"attr_45": True}
    assert pane.rows["attr_45"].box.isChecked() and pane.rows["attr_45"].source == "person"
    # Shift+1 arrives as "!" from a US keyboard: it is the 35th label, not the first.
    qtbot.keyClick(grid, Qt.Key.Key_Exclam, SHIFT)
    assert decided() == {"attr_45": True, "attr_34": True}
    qtbot.keyClick(grid, "1")
    assert decided() == {"attr_45": True, "attr_34": True, "attr_00": True}
    qtbot.keyClick(grid, Qt.Key.Key_B, SHIFT)  # a second press takes it off again
    assert decided()["attr_45"] is False and not pane.rows["attr_45"].box.isChecked()
    qtbot.keyClick(grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert decided()["attr_45"] is True
    for key in (Qt.Key.Key_J, Qt.Key.Key_K):
        qtbot.keyClick(grid, key, SHIFT)
    assert decided() == {"attr_45": True, "attr_34": True, "attr_00": True}

    # Typing in a text field types; label keys belong to the grid alone.
    window.filters.search.setFocus()
    qtbot.keyClick(window.filters.search, "A", SHIFT)
    assert window.filters.search.text() == "A"
    assert "attr_44" not in decided()
