"""The Tag tab's page while the library has no photos: add a folder (button or drop), the model, the keys."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from fashion_desktop.gui.appearance import problem_style

NO_MODEL_TEXT = "No model yet: train one (Train tab) or open a .fmodel"
NO_PHOTOS_TIP = "No photos to tag yet: add a folder first (File → Add Folder…, or drop one on the window)"
KEYS_TEXT = (
    "Then review by keyboard: arrow keys move between photos, each label's key (shown in the review "
    "pane) toggles it, Space marks a photo reviewed, J / K jump to the next / previous unreviewed one."
)


def dropped_folders(event: QDragEnterEvent | QDropEvent) -> list[str]:
    """The local folders a drag carries (files and web links are not folders of photos)."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and Path(u.toLocalFile()).is_dir()]


def folder_problem(folder: str | os.PathLike) -> str | None:
    """Why ``folder`` cannot be added as a folder of photos (one sentence naming it), or None."""
    from fashion_desktop.core.scan import folder_name_problem

    path = Path(folder)
    bad_name = folder_name_problem(path)
    if bad_name:
        return bad_name
    if not path.exists():
        return f"{path}: folder not found (moved, deleted or unplugged?)"
    if not path.is_dir():
        return f"{path}: not a folder; add the folder that holds the photos"
    try:
        with os.scandir(path) as it:
            next(it, None)
    except PermissionError:
        return (
            f"{path} cannot be read: permission denied. Check that your user account may open "
            "this folder, or add another one."
        )
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror or exc}); add another folder."
    return None


def readable_kinds() -> str:
    """The photo kinds this build reads, for a person: each ordinary kind once, raw files as a few examples."""
    from fashion_desktop.model.images import EXTENSIONS, HEIF_EXTENSIONS, RAW_EXTENSIONS

    spelled_twice = ("jpeg", "tif", *HEIF_EXTENSIONS[1:])  # JPG, TIFF and HEIC say it
    kinds = ", ".join(sorted(e.upper() for e in EXTENSIONS if e not in (*spelled_twice, *RAW_EXTENSIONS)))
    if set(RAW_EXTENSIONS) <= set(EXTENSIONS):
        kinds += " or raw (CR2, CR3, NEF, ARW, RAF, ORF, RW2, DNG …)"
    return kinds


def no_photos_text(folder: str, problems: list) -> str:
    """What to say when the scan of a newly added ``folder`` found no photos (``problems``: PathProblem)."""
    root = next((p for p in problems if os.path.normcase(str(p.path)) == os.path.normcase(folder)), None)
    if root is not None:
        return f"{folder} cannot be read: {root.reason}. Add another folder."
    text = (
        f"No photos found in {folder}. Photos are {readable_kinds()} files, in the folder or its subfolders."
    )
    if problems:
        text += f" {len(problems)} files or folders in it could not be read (listed under Failed files)."
    return text + " Add another folder?"


class FirstLaunchPage(QFrame):
    """Shown in the grid's place until the library has a photo. Emits ``add_folder_requested`` (the
    button) and ``folders_dropped(list[str])`` (folders dropped on it)."""

    add_folder_requested = Signal()
    folders_dropped = Signal(list)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("firstLaunch")
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel("Add a folder of photos to start")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.title.setFont(font)
        self.add_button = QPushButton("Add Folder…")
        self.add_button.setToolTip("Choose a folder; its photos and those in its subfolders are added")
        self.add_button.clicked.connect(self.add_folder_requested)
        self.drop_label = QLabel("or drop one here")
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)
        self.keys_label = QLabel(KEYS_TEXT)
        self.keys_label.setWordWrap(True)
        # Wrapped labels get their height for the column's width only when added without an alignment
        # (seen cut off under Xvfb): the column is centred by stretches, its labels centre their text.
        column = QWidget()
        column.setMaximumWidth(560)
        col = QVBoxLayout(column)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.title)
        col.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignHCenter)
        col.addWidget(self.drop_label)
        col.addSpacing(12)
        for w in (self.notice, self.model_label, self.keys_label):
            col.addWidget(w)
        for w in (self.title, self.drop_label, self.notice, self.model_label, self.keys_label):
            w.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column, 4)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 40, 24, 40)
        lay.addStretch(2)
        lay.addLayout(row)
        lay.addStretch(3)
        self._set_dropping(False)

    def set_model(self, name: str | None) -> None:
        """The model photos will be tagged with (its name in the Model box), or None: there is none yet."""
        self.model_label.setText(f"Model: {name}" if name else NO_MODEL_TEXT)

    def set_notice(self, text: str, problem: bool = False) -> None:
        """A line about the last folder added (still looking, nothing found, unreadable); "" hides it."""
        self.notice.setText(text)
        self.notice.setStyleSheet(problem_style() if problem else "")
        self.notice.setVisible(bool(text))

    def _set_dropping(self, on: bool) -> None:
        border = "2px dashed palette(highlight)" if on else "2px dashed palette(mid)"
        self.setStyleSheet(f"QFrame#firstLaunch {{ border: {border}; border-radius: 12px; }}")
        self.drop_label.setText("drop to add it" if on else "or drop one here")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_folders(event):
            self._set_dropping(True)
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_dropping(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_dropping(False)
        folders = dropped_folders(event)
        if folders:
            event.acceptProposedAction()
            self.folders_dropped.emit(folders)
