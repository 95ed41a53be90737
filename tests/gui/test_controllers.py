"""The window's parts without the window: the actions table, the library controller's session swap, review edits."""

from __future__ import annotations

from unittest.mock import MagicMock

import numpy as np
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QLabel, QMainWindow, QStatusBar, QWidget

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.gui.controllers.actions import ACTIONS, Actions
from fashion_desktop.gui.controllers.library import LibraryController
from fashion_desktop.gui.controllers.messages import Messages
from fashion_desktop.gui.controllers.review import ReviewController
from fashion_desktop.gui.controllers.tagging import TaggingController
from fashion_desktop.gui.job_queue import JobQueue
from fashion_desktop.gui.library_session import LibrarySession
from fashion_desktop.gui.tag.first_launch import FirstLaunchPage
from fashion_desktop.gui.tag.tag_page import TagPage
from fashion_desktop.gui.tag.thumbnails import Thumbnailer
from tests.conftest import make_photo


def _actions(qtbot):
    host = QMainWindow()
    qtbot.addWidget(host)
    target = MagicMock()
    target.review_ctl.undo_stack = QUndoStack(host)
    return Actions(target, host, host.menuBar()), target, host


def test_every_entry_of_the_table_is_in_the_menus_and_calls_its_slot(qtbot) -> None:
    actions, target, host = _actions(qtbot)
    menus = {m.title(): m for m in (a.menu() for a in host.menuBar().actions())}
    assert list(menus) == ["&File", "&Edit", "&View", "&Tagging", "&Help"]
    entries = [a for a in ACTIONS if a.kind in ("action", "undo", "redo")]
    placed = [(menu, a) for menu, m in menus.items() for a in m.actions() if not a.isSeparator()]
    assert [(menu, a.text()) for menu, a in placed if a.menu() is None] == [(e.menu, e.text) for e in entries]
    for entry in entries:
        qa = next(qa for act, qa in actions.placed if act is entry)
        assert qa.statusTip() == entry.tip
        if entry.kind != "action":
            continue
        slot = target
        for part in entry.slot.split("."):
            slot = getattr(slot, part)
        slot.reset_mock()
        qa.trigger()
        args = entry.args or ((qa.isChecked(),) if entry.checkable else ())
        slot.assert_called_once_with(*args)
    assert (
        isinstance(actions["recent_folders_menu"].title(), str)
        and actions["tag_action"].text() == "&Tag Photos"
    )


def test_the_shortcut_help_lists_every_shortcut_of_the_table(qtbot) -> None:
    actions, _target, _host = _actions(qtbot)
    rows = actions.shortcut_rows()
    # Every action with a key on this platform (the platform's Quit may have none), in menu order.
    with_keys = [(a.menu.replace("&", ""), a) for a, qa in actions.placed if qa.shortcuts()]
    assert [r[:2] for r in rows] == [
        (m, a.help_text or a.text.replace("&", "").rstrip("…. ")) for m, a in with_keys
    ]
    assert len(rows) >= 18
    assert ("Edit", "Undo the last edit", rows[[r[1] for r in rows].index("Undo the last edit")][2]) in rows
    assert {r[1] for r in rows} >= {
        "Tag Photos",
        "Find Label and Toggle It",
        "Accept Predictions for Selection",
    }
    redo = next(r for r in rows if r[1] == "Redo")
    assert "Ctrl+Shift+Z" in redo[2]


def test_enabled_when_follows_its_predicate(qtbot) -> None:
    actions, target, _host = _actions(qtbot)
    target.has_photos.return_value = False
    actions.update_enabled()
    assert not actions["tag_action"].isEnabled()
    target.has_photos.return_value = True
    actions.update_enabled()
    assert actions["tag_action"].isEnabled()


def test_the_library_controller_swaps_sessions_and_says_so(qtbot, tmp_path) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    ctl = LibraryController(
        Messages(QStatusBar(parent), parent), FirstLaunchPage(parent), lambda: True, QLabel()
    )
    events: list[str] = []
    ctl.leaving.connect(lambda: events.append("leaving"))
    ctl.session_changed.connect(lambda s: events.append(f"session {s.path.name}"))
    with qtbot.waitSignal(ctl.session_changed) as first:
        assert ctl.open_library(tmp_path / "a.ffcat")
    assert isinstance(first.args[0], LibrarySession) and ctl.library is first.args[0].library
    assert ctl.open_library(tmp_path / "b.ffcat")
    assert events == ["session a.ffcat", "leaving", "session b.ffcat"]
    (tmp_path / "broken.ffcat").write_bytes(b"not a catalog" * 100)
    assert not ctl.open_library(tmp_path / "broken.ffcat")
    assert ctl.messages.last_warning is not None and ctl.session.path.name == "b.ffcat"
    ctl.close()
    assert ctl.session is None


def _library_with_a_model(tmp_path):
    """Two photos a two-label model tagged "dress"."""
    folder = tmp_path / "photos"
    paths = [folder / f"p{i}.jpg" for i in range(2)]
    for p in paths:
        make_photo(p, (64, 48), "red")
    cat = Catalog(tmp_path / "lib.ffcat")
    cat.add_folder(str(folder))
    ids = cat.ensure_images([str(p) for p in paths])
    cat.register_model("m2", ["dress", "skirt"], "two", None, {"dress": "category", "skirt": "category"})
    cat.add_predictions("m2", [(i, np.float32([0.9, 0.1])) for i in ids.values()])
    cat.close()
    return tmp_path / "lib.ffcat"


def test_review_edits_go_through_one_undo_stack_without_the_window(qtbot, tmp_path) -> None:
    from fashion_desktop.gui.tag.thresholds_panel import ThresholdPanel

    parent = QWidget()
    qtbot.addWidget(parent)
    page = TagPage(Thumbnailer(parent), ThresholdPanel(), parent)
    messages = Messages(QStatusBar(parent), parent)
    library_ctl = LibraryController(messages, page.first_launch, page.first_launch_shown, QLabel())
    review_ctl = ReviewController(library_ctl, page, messages)
    tagging_ctl = TaggingController(library_ctl, page.tag_panel, JobQueue(True, parent), messages)
    try:
        assert library_ctl.open_library(_library_with_a_model(tmp_path))
        assert review_ctl.selected_ids() == [] and tagging_ctl.running_job() == ""
        review_ctl.show_first_photo()
        (first,) = review_ctl.selected_ids()
        review_ctl.toggle_label("skirt")
        assert "skirt" in library_ctl.library.tags_of(first) and review_ctl.undo_stack.count() == 1
        review_ctl.undo_stack.undo()
        assert "skirt" not in library_ctl.library.tags_of(first)
    finally:
        review_ctl.close()
        library_ctl.close()


def test_opening_another_library_lets_go_of_the_first_ones_photos_and_keeps_them_in_its_file(
    qtbot, tmp_path
) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    ctl = LibraryController(
        Messages(QStatusBar(parent), parent), FirstLaunchPage(parent), lambda: True, QLabel()
    )
    first = _library_with_a_model(tmp_path)
    assert ctl.open_library(first)
    old = ctl.library
    old.set_active_model("m2")
    assert old.rowCount() == 2 and old.columns._scores.shape == (2, 2)
    assert ctl.open_library(tmp_path / "b.ffcat")
    # The closed library's photos and scores are not held on until Python collects its objects (a million
    # photos' columns are hundreds of MB), and a view still showing it sees an empty list
    assert old.rowCount() == 0 and len(old.columns) == 0 and old.columns._scores.size == 0
    assert ctl.open_library(first)
    ctl.library.set_active_model("m2")
    assert ctl.library.rowCount() == 2 and all(
        ctl.library.tags_of(i) == ["dress"] for i in ctl.library.all_ids()
    )
    ctl.close()
