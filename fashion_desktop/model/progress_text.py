"""How progress reads to a person: a duration as text, and one progress line on a terminal or in a log."""

from __future__ import annotations

import math
import sys
import time
from typing import IO

CLEAR_LINE = "\r\x1b[K"  # back to the line's start and erase it: the bar is redrawn in place


def format_duration(seconds: float | None, clock: bool = False, bare_seconds: bool = True) -> str:
    """``seconds`` (rounded to whole seconds) as "1h 05m", "3m 07s" or "42s" ("0m 42s" with
    ``bare_seconds=False``), or with ``clock`` as "03:07" / "1:05:07". None (not known yet) is "—",
    or "--:--" with ``clock``."""
    if seconds is None:
        return "--:--" if clock else "—"
    s = max(0, int(seconds + 0.5))
    hours, minutes, secs = s // 3600, s % 3600 // 60, s % 60
    if clock:
        return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes or not bare_seconds:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def percent(done: int, total: int) -> int:
    """Whole percent done, rounded down: 100 only when everything is done (every bar, status line and
    question of the app writes a percentage with this)."""
    return 100 if total <= 0 else max(0, min(100, done * 100 // total))


def bar_text(fraction: float, width: int) -> str:
    """``[#####.....]``: ``fraction`` (clamped to 0..1) of ``width`` cells filled."""
    filled = round(min(max(fraction, 0.0), 1.0) * width)
    return f"[{'#' * filled}{'.' * (width - filled)}]"


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class TerminalBar:
    """One progress line on ``stream``: redrawn in place on a terminal; elsewhere (a log file, CI) a plain
    line at most every ``every_s`` seconds, so a log is not flooded."""

    def __init__(self, stream: IO[str] | None = None, tty: bool | None = None, every_s: float = 15.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.every_s = every_s
        self._shown = ""  # the line on screen now (terminal only)
        self._last_plain = -math.inf

    def show(self, text: str, force: bool = False) -> None:
        """Draw ``text`` in place on a terminal; elsewhere write it as a line when ``force`` or when
        ``every_s`` passed since the last one."""
        if self.tty:
            self._shown = text
            self._draw()
            return
        now = time.monotonic()
        if force or now - self._last_plain >= self.every_s:
            self._last_plain = now
            self.stream.write(text + "\n")
            self.stream.flush()

    def hide(self) -> None:
        """Clear the line (before other text is written to the same terminal)."""
        if self.tty and self._shown:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()

    def redraw(self) -> None:
        """Draw the line again after :meth:`hide`."""
        if self.tty and self._shown:
            self._draw()

    def close(self, keep: bool = False) -> None:
        """Leave the terminal on a fresh line: the last bar stays with ``keep``, else it is erased."""
        if keep and self.tty and self._shown:
            self.stream.write("\n")
            self.stream.flush()
        elif not keep:
            self.hide()
        self._shown = ""

    def _draw(self) -> None:
        self.stream.write(CLEAR_LINE + self._shown)
        self.stream.flush()
