"""What a run folder holds, and the one rule for training into it (standard library only: the app uses it too)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# Files a training run writes into its folder (trainer.checkpoints, trainer.engine).
CONFIG, LAST, BEST, BUNDLE, EVENTS, METRICS, CACHE = (
    "config.yaml",
    "last.pt",
    "best.pt",
    "model.fmodel",
    "events.jsonl",
    "metrics.json",
    "cache",
)
RUN_FILES = (CONFIG, LAST, BEST, BUNDLE, EVENTS, METRICS, CACHE)
# Files a run cannot be continued without; a folder with none of them holds no trained epoch.
PROGRESS_FILES = (BUNDLE, LAST, BEST)
# Litter file managers leave behind; a folder holding only these counts as empty.
IGNORED = {".DS_Store", "Thumbs.db", "desktop.ini"}
MAX_EVENTS_BYTES = 64 * 1024 * 1024  # bigger event logs are not read just to count epochs


@dataclass(frozen=True)
class RunFolderState:
    """What is at a run folder path.

    ``kind`` is one of ``absent``, ``empty``, ``unstarted`` (run files but no trained epoch: a run
    that failed early), ``stopped`` (checkpoints, no bundle), ``finished`` (a bundle), ``foreign``
    (a folder of other files) or ``not_a_folder``. ``epochs`` is how many epochs it trained, when known.
    """

    path: Path
    kind: str
    files: tuple[str, ...] = ()
    epochs: int | None = None

    @property
    def holds_run(self) -> bool:
        """True when the folder holds a trained epoch that overwriting would lose."""
        return self.kind in ("stopped", "finished")

    def describe(self) -> str:
        """``"a finished run (model.fmodel, 3 epochs)"`` and the like."""
        what = BUNDLE if self.kind == "finished" else LAST if LAST in self.files else BEST
        detail = what if self.epochs is None else f"{what}, {self.epochs} epoch{'s' * (self.epochs != 1)}"
        return f"a {self.kind} run ({detail})"


def check_run_folder(out: str | os.PathLike) -> RunFolderState:
    """Look at ``out`` without changing anything; returns its RunFolderState (never raises)."""
    path = Path(out)
    try:
        if not path.exists():
            return RunFolderState(path, "absent")
        if not path.is_dir():
            return RunFolderState(path, "not_a_folder")
        names = tuple(sorted(n for n in os.listdir(path) if n not in IGNORED))
    except OSError:
        return RunFolderState(path, "absent" if not os.path.lexists(path) else "foreign")
    if not names:
        return RunFolderState(path, "empty")
    if BUNDLE in names:
        kind = "finished"
    elif LAST in names or BEST in names:
        kind = "stopped"
    elif all(n in RUN_FILES for n in names):
        kind = "unstarted"
    else:  # "config.yaml" or "cache" beside other files is somebody's project, not a run that failed
        return RunFolderState(path, "foreign", names)
    return RunFolderState(path, kind, names, _epochs_trained(path) if kind != "unstarted" else None)


def _epochs_trained(path: Path) -> int | None:
    """Epochs in the run's history: metrics.json of a finished run, else the events log; None if unknown."""
    try:
        history = json.loads((path / METRICS).read_text(encoding="utf-8")).get("history")
        if isinstance(history, list):
            return len(history)
    except (OSError, ValueError, AttributeError):
        pass
    try:
        if (path / EVENTS).stat().st_size > MAX_EVENTS_BYTES:
            return None
        epochs: set[int] = set()
        with open(path / EVENTS, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if '"epoch_end"' not in line:
                    continue
                try:
                    msg = json.loads(line)
                    if msg.get("event") == "epoch_end":
                        epochs.add(int(msg["epoch"]))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
        return max(epochs) if epochs else None
    except OSError:
        return None


def run_folder_problem(out: str | os.PathLike, resume: bool = False, overwrite: bool = False) -> str | None:
    """Why training into ``out`` must not start, as the one-line message with the fix; None when it may.

    ``resume`` continues the run in ``out``; ``overwrite`` lets a run there be moved aside first
    (``move_aside``). A folder of other files is refused either way: it may be anything.
    """
    state = check_run_folder(out)
    where = str(state.path)
    if state.kind == "not_a_folder":
        return f"{where} is a file, not a run folder; choose another --out"
    if resume:
        return None  # the resume path checks config.yaml itself
    if state.kind == "foreign":
        shown = ", ".join(state.files[:5]) + (", ..." if len(state.files) > 5 else "")
        return (
            f"{where} already holds other files ({shown}) and no training run; "
            "train into a new or empty folder with --out"
        )
    if state.holds_run and not overwrite:
        return (
            f"{where} holds {state.describe()}; continue it with --resume {where}, "
            "train into a new --out, or pass --overwrite to move the old run aside"
        )
    return None


def move_aside(out: str | os.PathLike) -> Path:
    """Rename run folder ``out`` to ``OUT.old-<timestamp>`` (``-N`` added when taken); returns the new
    path. Nothing is deleted. Raises OSError when the rename fails."""
    path = Path(out)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.old-{stamp}")
    n = 1
    while os.path.lexists(target):
        n += 1
        target = path.with_name(f"{path.name}.old-{stamp}-{n}")
    os.rename(path, target)
    return target
