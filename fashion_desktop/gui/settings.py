"""The one module that owns QSettings keys and the app's per-user folders (redirected by FASHION_FINDER_HOME)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

ORG = "FashionFinder"
APP = "Fashion Finder Desktop"
MAX_RECENT = 10

# Keys (the only place they are spelled).
GEOMETRY = "window/geometry"
STATE = "window/state"
SPLITTER = "window/splitter"
RECENT_FOLDERS = "recent/folders"
RECENT_BUNDLES = "recent/bundles"
RECENT_LIBRARIES = "recent/libraries"
LAST_LIBRARY = "library/last"
DEVICE = "tag/device"
BATCH_SIZE = "tag/batch_size"
THUMB_SIZE = "grid/thumb_size"
EXPORT_FORMAT = "export/format"  # the format chosen last: the export dialog opens on it
TRAIN_FORM = "train/form"  # the Train tab's run settings, as JSON
TRAIN_RUN_FOLDERS = "train/run_folders"  # folders the Train tab's runs history lists (recent first)
APPEARANCE = "view/appearance"  # "system" (default), "light" or "dark"
SPACE_ADVANCES = "review/space_advances"  # 1 (default): Space marks reviewed, then shows the next photo
JOBS_TAKE_TURNS = "jobs/take_turns"  # 1 (default): tagging and training wait for each other; 0: both at once
TAG_SEARCH = "grid/tag_search"  # + "/" + a library's key (library_key): the search box's text there


def _home() -> Path | None:
    home = os.environ.get("FASHION_FINDER_HOME")
    return Path(home) if home else None


def data_dir() -> Path:
    """Where libraries live by default."""
    home = _home()
    p = home / "data" if home else Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation))
    p.mkdir(parents=True, exist_ok=True)
    return p


def cache_dir() -> Path:
    """Where thumbnails are cached (safe to delete)."""
    home = _home()
    p = home / "cache" if home else Path(QStandardPaths.writableLocation(QStandardPaths.CacheLocation))
    p.mkdir(parents=True, exist_ok=True)
    return p


def log_dir() -> Path:
    """Where each session's log file is written (the platform's app data folder, ``logs``)."""
    p = data_dir() / "logs"
    p.mkdir(parents=True, exist_ok=True)
    return p


def default_library_path() -> Path:
    return data_dir() / "library.ffcat"


_open: dict[str, QSettings] = {}


def settings() -> QSettings:
    """The app's settings; an INI file under FASHION_FINDER_HOME when that is set (tests, portable use).

    One object per file for the process: Qt writes changes back shortly after they are made (from the
    event loop) and at exit, so setting a value never waits on the disk.
    """
    home = _home()
    key = str(home) if home else ""
    s = _open.get(key)
    if s is None:
        if home:
            home.mkdir(parents=True, exist_ok=True)
            s = QSettings(str(home / "settings.ini"), QSettings.IniFormat)
        else:
            s = QSettings(QSettings.IniFormat, QSettings.UserScope, ORG, APP)
        _open[key] = s
    return s


def sync() -> None:
    """Write pending changes now (on closing the window)."""
    for s in _open.values():
        s.sync()


def get_str(key: str, default: str = "") -> str:
    v = settings().value(key, default)
    return str(v) if v is not None else default


def get_int(key: str, default: int) -> int:
    try:
        return int(settings().value(key, default))
    except (TypeError, ValueError):
        return default


def set_value(key: str, value: object) -> None:
    settings().setValue(key, value)


def get_bytes(key: str) -> QByteArray | None:
    v = settings().value(key)
    return v if isinstance(v, QByteArray) else None


def recent(key: str) -> list[str]:
    v = settings().value(key, [])
    if isinstance(v, str):
        v = [v] if v else []
    return [str(x) for x in (v or [])]


def push_recent(key: str, item: str) -> list[str]:
    """Put ``item`` first in a recent list (no duplicates, at most MAX_RECENT); return the list."""
    items = [item] + [x for x in recent(key) if x != item]
    items = items[:MAX_RECENT]
    set_value(key, items)
    return items


def library_key(path: object) -> str:
    """A settings key part naming one library file (its path has slashes, which QSettings reads as groups)."""
    return hashlib.sha1(str(path).encode("utf-8", "surrogatepass")).hexdigest()[:20]
