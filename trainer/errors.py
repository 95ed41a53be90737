"""How a training run ends early: a failure shown to the user, or a stop asked for by a signal."""

from __future__ import annotations

from fashion_desktop.model import exit_codes

STOPPED_EXIT_CODE = exit_codes.TERMINATED  # 143: SIGTERM (the app's Stop button, kill, torchrun)


def stopped_exit_code(signum: int | None) -> int:
    """The exit code of a run stopped by ``signum``: 130 for Ctrl-C (SIGINT), 143 for SIGTERM (or unknown)."""
    return exit_codes.stopped_code(signum)


class TrainError(RuntimeError):
    """A run that cannot go on; the message is shown to the user as is."""


class Stopped(Exception):
    """SIGTERM/SIGINT arrived; the run saved its state and can be resumed."""
