"""The ``fashion-desktop`` executable (console script and frozen build): the window, or one of its children.

A frozen build is one program: started with ``--tag-process`` it is the tagging process, with
``--train-process`` the trainer (``python -m trainer`` from source), else the app. This module sits
above the layers (it may reach the trainer, which the app's own modules may not) and runs as a
top-level script in the frozen build, so its imports are absolute.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from fashion_desktop.model.protocol import FROZEN_TRAIN_FLAG

TRAIN_NICE_ENV = "FASHION_TRAIN_NICE"  # the Train tab sets it: the trainer yields the CPU to the window


def train_process(argv: Sequence[str]) -> int:
    """The trainer's command line (``train|evaluate|preview ...``), at lower CPU priority when asked."""
    try:
        niceness = int(os.environ.get(TRAIN_NICE_ENV, "0") or 0)
    except ValueError:
        niceness = 0
    if niceness and hasattr(os, "nice"):  # POSIX only; elsewhere the trainer runs at normal priority
        os.nice(niceness)
    from trainer.cli import main as trainer_main

    return trainer_main(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [FROZEN_TRAIN_FLAG]:
        return train_process(argv[1:])
    from fashion_desktop.gui.app import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    # A frozen build's DataLoader workers (spawned on Windows and macOS) start this executable again.
    import multiprocessing

    multiprocessing.freeze_support()
    raise SystemExit(main())
