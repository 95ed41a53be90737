"""Children the app starts for background work (tagging, training, an adapter's re-scoring) run at a lower
CPU priority, so that the window stays responsive beside them.

On a machine with two cores a tagging child's decode and model threads keep every core busy; at the same
priority the GUI thread waits its turn behind them (a 10 ms timer measured 120 ms gaps in one run in a
hundred while a million photos were tagged). A niceness of 10 leaves the child every cycle the window does
not want: alone, it runs as fast as before. The app asks for it through the child's environment (a child
started from a shell keeps the shell's priority); Windows has no ``os.nice`` and is left as it is.
"""

from __future__ import annotations

import os

NICE_ENV = "FASHION_FINDER_CHILD_NICE"
BACKGROUND_NICE = 10


def lower_priority_from_env() -> int | None:
    """Take the niceness the app asked for in ``NICE_ENV`` (before any thread starts, so every thread has
    it); returns the niceness now, or None when nothing was asked or the system has no ``os.nice``."""
    value = os.environ.get(NICE_ENV, "")
    if not value or not hasattr(os, "nice"):
        return None
    try:
        wanted = max(0, min(19, int(value)))
        return os.nice(max(0, wanted - os.nice(0)))
    except (ValueError, OSError):
        return None
