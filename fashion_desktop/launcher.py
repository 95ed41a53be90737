"""The ``fashion-desktop`` executable (console script and frozen build): the window, or one of its children.

A frozen build is one program: started with ``--tag-process`` it is the tagging process, with
``--train-process`` the trainer (``python -m trainer`` from source), else the app. The build's second
executable, ``fashion`` (a console program beside ``fashion-desktop``, the same code), is the command
line; ``fashion-desktop --cli ...`` is the same on systems where only one executable was copied. This module sits
above the layers (it may reach the trainer, which the app's own modules may not) and runs as a
top-level script in the frozen build, so its imports are absolute.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from fashion_desktop.model.protocol import FROZEN_TRAIN_FLAG

FROZEN_TAG_FLAG = "--tag-process"  # core.tag_process.FROZEN_FLAG (a test keeps them equal)

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


CLI_FLAG = "--cli"
CLI_NAME = "fashion"  # the frozen build's command-line executable (fashion.exe on Windows)


def started_as_cli(executable: str) -> bool:
    """Whether this program was started as the build's ``fashion`` executable (not ``fashion-desktop``)."""
    name = os.path.basename(executable).lower()
    return name in (CLI_NAME, CLI_NAME + ".exe")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [FROZEN_TRAIN_FLAG]:
        return train_process(argv[1:])
    as_cli = argv[:1] == [CLI_FLAG]
    # A child the CLI starts (the tagging process) comes back through this executable with its own flag.
    child = argv[:1] == [FROZEN_TAG_FLAG]
    if as_cli or (getattr(sys, "frozen", False) and started_as_cli(sys.executable) and not child):
        from fashion_desktop.cli import main as cli_main

        return cli_main(argv[1:] if as_cli else argv)
    from fashion_desktop.gui.app import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    # A frozen build's DataLoader workers (spawned on Windows and macOS) start this executable again.
    import multiprocessing

    multiprocessing.freeze_support()
    raise SystemExit(main())
