"""The trainer's child-process command, started below the window's CPU priority."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence

from fashion_desktop.gui.worker import Child, trainer_child

NICENESS = 10  # the trainer runs below the window's priority: the window stays responsive

# Run the child's module or script after lowering its priority (os.nice is POSIX; elsewhere it runs as is).
_NICE_CODE = (
    "import os,runpy,sys\n"
    "n=int(os.environ.get('FASHION_TRAIN_NICE','0'))\n"
    "if n and hasattr(os,'nice'): os.nice(n)\n"
    "m=sys.argv[1]; sys.argv=sys.argv[1:]\n"
    "runpy.run_path(m,run_name='__main__') if m.endswith('.py') else "
    "runpy.run_module(m,run_name='__main__',alter_sys=True)\n"
)


def lower_priority(child: Child, niceness: int = NICENESS) -> Child:
    """``child`` (a Python ``-m MODULE ...`` or ``SCRIPT.py ...`` command) started at lower CPU priority."""
    if getattr(sys, "frozen", False):  # no -c there: the executable's --train-process entry reads the env
        return dataclasses.replace(child, env={**child.env, "FASHION_TRAIN_NICE": str(niceness)})
    args = list(child.args)
    target = args[1] if args[:1] == ["-m"] else args[0]
    rest = args[2:] if args[:1] == ["-m"] else args[1:]
    env = {**child.env, "FASHION_TRAIN_NICE": str(niceness)}
    return Child(
        child.program, ("-c", _NICE_CODE, target, *rest), child.events, child.stdin,
        child.cancel_line, child.exit_codes, env,
    )  # fmt: skip


def default_child(args: Sequence[str]) -> Child:
    return lower_priority(trainer_child("train", args))
