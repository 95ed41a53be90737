"""Every menu action declared once (text, shortcut, tip, slot, enabled-when); menus and the shortcut help are built from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

Key = QKeySequence.StandardKey
_SETTLES = "the tags shown become your decisions; thresholds and models no longer change them"


@dataclass(frozen=True)
class Act:
    """One menu entry. ``slot`` and ``enabled_when`` are dotted paths from the object the menus act on
    (``"library_ctl.rescan"``); ``name`` keeps the QAction there under that attribute."""

    menu: str
    text: str = ""
    slot: str = ""
    shortcut: str | Key | None = None
    tip: str = ""
    name: str = ""
    args: tuple = ()
    checkable: bool = False
    enabled_when: str = ""
    kind: str = "action"  # "separator", "submenu" (``name`` keeps the QMenu), "undo" / "redo" (of ``slot``)
    help_text: str = ""  # what the shortcut help says instead of the text (undo's text names the last edit)


def _sep(menu: str) -> Act:
    return Act(menu, kind="separator")


ACTIONS: tuple[Act, ...] = (
    Act("&File", "&New Library…", "library_ctl.new_library_dialog", Key.New),
    Act("&File", "&Open Library…", "library_ctl.open_library_dialog", Key.Open),
    Act("&File", "Recent &Libraries", kind="submenu", name="recent_libraries_menu"),
    _sep("&File"),
    Act(
        "&File",
        "&Add Folder…",
        "library_ctl.add_folder_dialog",
        "Ctrl+Shift+O",
        "Add a folder of photos to the library",
    ),
    Act("&File", "Recent &Folders", kind="submenu", name="recent_folders_menu"),
    Act("&File", "&Rescan Folders", "library_ctl.rescan", Key.Refresh, name="rescan_action"),
    Act(
        "&File",
        "Re&move Folder…",
        "library_ctl.remove_folder_dialog",
        tip="Take a folder out of the library (your tags stay)",
    ),
    Act(
        "&File",
        "Re&link Moved Folder…",
        "library_ctl.relink_folder_dialog",
        tip="A folder was moved or renamed: find its photos at the new place, keeping every tag",
    ),
    _sep("&File"),
    Act("&File", "&Export Tags…", "transfer_ctl.export_dialog", "Ctrl+E", name="export_action"),
    Act(
        "&File",
        "&Import Tags…",
        "transfer_ctl.import_tags_dialog",
        "Ctrl+Shift+I",
        "Record tags from a spreadsheet (an edited export, the original study's ImageId/Category layout, "
        "or image + tags) as yours",
        name="import_action",
    ),
    Act(
        "&File",
        "Import &Keywords from Photos…",
        "transfer_ctl.keywords.import_dialog",
        tip="Record the keywords your photos already carry (from Lightroom, digiKam, Bridge…) as your tags",
        name="import_keywords_action",
    ),
    _sep("&File"),
    Act("&File", "&Quit", "close", Key.Quit),
    Act(
        "&Edit",
        "&Undo",
        "review_ctl.undo_stack",
        Key.Undo,
        name="undo_action",
        kind="undo",
        help_text="Undo the last edit",
    ),
    Act(
        "&Edit", "&Redo", "review_ctl.undo_stack", Key.Redo, name="redo_action", kind="redo", help_text="Redo"
    ),
    _sep("&Edit"),
    Act("&Edit", "Select &All", "grid.selectAll", Key.SelectAll),
    Act(
        "&Edit",
        "Mark Selection &Reviewed",
        "review_ctl.toggle_reviewed",
        tip=f"Space in the grid: {_SETTLES}",
    ),
    Act(
        "&Edit",
        "&Accept Predictions for Selection",
        "review_ctl.accept_predictions",
        "Ctrl+Return",
        f"Mark the selection reviewed: {_SETTLES}",
    ),
    Act("&Edit", "Add &Tag to Selection…", "review_ctl.tag_selection_dialog", "Ctrl+T", args=(True,)),
    Act(
        "&Edit",
        "Re&move Tag from Selection…",
        "review_ctl.tag_selection_dialog",
        "Ctrl+Shift+T",
        args=(False,),
    ),
    Act(
        "&Edit",
        "&New Tag for Selection…",
        "review_ctl.new_tag_dialog",
        tip="A tag the model does not have, in a group you pick (also the review pane's + New tag…)",
        name="new_tag_action",
        args=("",),
    ),
    Act(
        "&Edit",
        "&Find Label and Toggle It…",
        "review_ctl.open_label_palette",
        "Ctrl+K",
        "Type a few letters of any label; Enter toggles it on the selection (also /)",
        name="palette_action",
    ),
    Act(
        "&View",
        "Find &Similar Photos",
        "similar_ctl.find_similar",
        "Ctrl+Shift+F",
        "The photo (or the selection) and the 50 photos most like it, best first (also the grid's right-click)",
        name="find_similar_action",
        enabled_when="has_photos",
    ),
    Act(
        "&View",
        "Find &Duplicates",
        "similar_ctl.duplicates.find_duplicates",
        tip="Photos that are copies of one another (the same file, or a resized or re-encoded copy), "
        "group after group",
        name="duplicates_action",
        enabled_when="has_photos",
    ),
    _sep("&View"),
    Act("&View", "&Next Unreviewed", "review_ctl.jump_unreviewed", tip="J in the grid", args=(1,)),
    Act("&View", "&Previous Unreviewed", "review_ctl.jump_unreviewed", tip="K in the grid", args=(-1,)),
    Act(
        "&View",
        "Space &Moves to the Next Photo",
        "review_ctl.set_space_advances",
        tip="Space marks the photo reviewed, then shows the next one in the grid's order",
        name="space_advances_action",
        checkable=True,
    ),
    Act(
        "&View",
        "Show the Photo &Large",
        "large_view.open",
        tip="Also Enter or a double-click in the grid; Esc goes back, ← → move, Ctrl+1 shows 100 %",
        enabled_when="has_photos",
    ),
    Act("&View", "Zoom &In", "review.preview.zoom_by", Key.ZoomIn, args=(1.25,)),
    Act("&View", "Zoom &Out", "review.preview.zoom_by", Key.ZoomOut, args=(0.8,)),
    Act("&View", "&Fit Preview", "review.preview.set_zoom", "Ctrl+0", args=(None,)),
    _sep("&View"),
    Act("&View", "&Appearance", kind="submenu", name="appearance_menu"),
    Act(
        "&Tagging",
        "&Tag Photos",
        "tag_panel.request_run",
        "Ctrl+R",
        name="tag_action",
        enabled_when="has_photos",
    ),
    Act("&Tagging", "&Cancel", "tagging_ctl.cancel_jobs", "Ctrl+."),
    _sep("&Tagging"),
    Act(
        "&Tagging",
        "Tagging and Training Take T&urns",
        "job_status.set_take_turns",
        tip="Both need the CPU: one waits while the other runs (off: both run at once, each slower)",
        name="take_turns_action",
        checkable=True,
    ),
    Act("&Help", "&Keyboard Shortcuts", "show_shortcuts", name="shortcuts_action"),
    Act(
        "&Help",
        "Open &Log Folder",
        "open_log_folder",
        tip="Each session's log: send it when something went wrong",
    ),
    Act("&Help", "&About Fashion Finder", "about", Key.HelpContents),
)


def _slot(target: object, act: Act) -> Callable:
    fn = attrgetter(act.slot)(target)
    if act.args:
        return lambda *_: fn(*act.args)
    if act.checkable:
        return lambda checked=False: fn(checked)
    return lambda *_: fn()


def _undo_action(parent: QWidget, stack: QUndoStack, act: Act) -> QAction:
    if act.kind == "undo":
        qa = stack.createUndoAction(parent, act.text)
        qa.setShortcut(QKeySequence(act.shortcut))
        return qa
    qa = stack.createRedoAction(parent, act.text)
    keys = QKeySequence.keyBindings(act.shortcut)
    if QKeySequence("Ctrl+Shift+Z") not in keys:  # the platform's Redo may be Ctrl+Y only
        keys.insert(0, QKeySequence("Ctrl+Shift+Z"))
    qa.setShortcuts(keys)
    return qa


class Actions:
    """The QActions of a table, in menus on ``menubar``, acting on ``target`` (the window)."""

    def __init__(self, target: object, parent: QWidget, menubar: QMenuBar, table: tuple[Act, ...] = ACTIONS):
        self.target = target
        self.table = table
        self.menus: dict[str, QMenu] = {}
        self.by_name: dict[str, QAction | QMenu] = {}
        self.placed: list[tuple[Act, QAction]] = []
        for act in table:
            menu = self.menus.get(act.menu) or self.menus.setdefault(act.menu, menubar.addMenu(act.menu))
            if act.kind == "separator":
                menu.addSeparator()
            elif act.kind == "submenu":
                self.by_name[act.name] = menu.addMenu(act.text)
            else:
                qa = self._make(act, parent)
                menu.addAction(qa)
                self.placed.append((act, qa))
                if act.name:
                    self.by_name[act.name] = qa

    def _make(self, act: Act, parent: QWidget) -> QAction:
        if act.kind in ("undo", "redo"):
            qa = _undo_action(parent, attrgetter(act.slot)(self.target), act)
        else:
            qa = QAction(act.text, parent)
            if act.shortcut is not None:
                qa.setShortcut(QKeySequence(act.shortcut))
            qa.setCheckable(act.checkable)
            qa.triggered.connect(_slot(self.target, act))
        if act.tip:
            qa.setStatusTip(act.tip)
        if act.help_text:
            qa.setProperty("help_text", act.help_text)
        return qa

    def __getitem__(self, name: str):
        return self.by_name[name]

    def update_enabled(self) -> None:
        """Enable each action whose ``enabled_when`` holds now."""
        for act, qa in self.placed:
            if act.enabled_when:
                qa.setEnabled(bool(attrgetter(act.enabled_when)(self.target)()))

    def shortcut_rows(self) -> list[tuple[str, str, str]]:
        """(menu, action, shortcuts) for every action that has a shortcut, in menu order."""
        from fashion_desktop.gui.key_help import action_row

        rows = (action_row(act.menu.replace("&", ""), qa) for act, qa in self.placed)
        return [r for r in rows if r is not None]
