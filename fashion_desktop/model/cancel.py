"""A cancel flag for long work: a callable returning bool, or a threading.Event."""

from __future__ import annotations

import threading
from collections.abc import Callable

CancelFlag = Callable[[], bool] | threading.Event | None


def is_cancelled(cancel: CancelFlag) -> bool:
    """True when ``cancel`` (a callable returning bool, or a threading.Event) says stop."""
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())
