"""The one duration formatter and terminal bar behind ``fashion tag``, the trainer, the Tag and Train tabs."""

from __future__ import annotations

import io

import pytest

from fashion_desktop.model.progress_text import TerminalBar, bar_text, format_duration


@pytest.mark.parametrize(
    ("seconds", "words", "minutes", "clock"),
    [
        (None, "—", "—", "--:--"),
        (0, "0s", "0m 00s", "00:00"),
        (4.2, "4s", "0m 04s", "00:04"),
        (42.6, "43s", "0m 43s", "00:43"),
        (59.4, "59s", "0m 59s", "00:59"),
        (60, "1m 00s", "1m 00s", "01:00"),
        (187, "3m 07s", "3m 07s", "03:07"),
        (3599.6, "1h 00m", "1h 00m", "1:00:00"),
        (3907, "1h 05m", "1h 05m", "1:05:07"),
        (36000 + 65, "10h 01m", "10h 01m", "10:01:05"),
    ],
)
def test_durations_read_as_before(seconds, words, minutes, clock) -> None:
    """The Tag tab's ETA (words), the Train tab's time left (always minutes) and fashion tag's (clock)."""
    assert format_duration(seconds) == words
    assert format_duration(seconds, bare_seconds=False) == minutes
    assert format_duration(seconds, clock=True) == clock


def test_a_bar_is_filled_to_its_fraction() -> None:
    assert bar_text(0.5, 8) == "[####....]"
    assert bar_text(1.5, 4) == "[####]" and bar_text(-1, 4) == "[....]"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_is_redrawn_in_place_and_kept_or_erased_at_the_end() -> None:
    term = _Tty()
    bar = TerminalBar(term)
    bar.show("one")
    bar.show("two")
    assert term.getvalue() == "\r\x1b[Kone\r\x1b[Ktwo"
    bar.hide()
    term.write("a log line\n")
    bar.redraw()
    assert term.getvalue().endswith("\r\x1b[Ka log line\n\r\x1b[Ktwo")
    bar.close(keep=True)
    assert term.getvalue().endswith("two\n")
    bar.show("three")
    bar.close()
    assert term.getvalue().endswith("three\r\x1b[K")


def test_in_a_log_plain_lines_come_at_most_every_so_often_unless_forced() -> None:
    log = io.StringIO()
    bar = TerminalBar(log, every_s=3600)
    for i in range(5):
        bar.show(f"step {i}")
    bar.show("done", force=True)
    bar.close()
    assert log.getvalue() == "step 0\ndone\n"
