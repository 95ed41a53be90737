"""How a training run ends early: a failure shown to the user, or a stop asked for by a signal."""

from __future__ import annotations

STOPPED_EXIT_CODE = 143  # 128 + SIGTERM, what a shell reports for a terminated process


class TrainError(RuntimeError):
    """A run that cannot go on; the message is shown to the user as is."""


class Stopped(Exception):
    """SIGTERM/SIGINT arrived; the run saved its state and can be resumed."""
