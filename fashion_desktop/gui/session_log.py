"""One log file per app session in the platform's log folder, the oldest removed beyond a count."""

from __future__ import annotations

import logging
import os
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

KEEP_SESSIONS = 10  # log files of earlier sessions kept; older ones are deleted at start
MAX_BYTES = 5_000_000  # one session's file rolls over at this size (one older part kept)
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def start_session_log(folder: Path, keep: int = KEEP_SESSIONS) -> logging.Handler | None:
    """Log the app's INFO and above to a new file in ``folder`` for this session; return its handler
    (remove it from the root logger when the session ends), or None when no file could be made.

    Log files of earlier sessions beyond the ``keep`` newest are removed. Never raises: a folder that
    cannot be written leaves logging to stderr only (the app must open anyway).
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"fashion-desktop-{stamp}-{os.getpid()}.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        old = sorted(folder.glob("fashion-desktop-*.log*"), key=lambda p: p.stat().st_mtime)
        for stale in old[: max(0, len(old) - (keep - 1))]:
            stale.unlink(missing_ok=True)
        handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=1, encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning("no log file in %s: %s", folder, exc)
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    logging.getLogger("fashion_desktop").info("session log %s", path)
    return handler
