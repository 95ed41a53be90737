"""Checkpoints: a run's resumable state and its best epoch's weights, written atomically, read back safely."""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fashion_desktop.model.fileio import atomic_write_bytes
from fashion_desktop.model.run_folder import LAST

from .distributed import DistInfo, from_main
from .errors import TrainError
from .schedule import LrControl, ParamSchedule

log = logging.getLogger("trainer")


@dataclass
class TrainState:
    """What a resumable checkpoint holds besides the weights: schedule, optimiser, LR, progress."""

    sched: ParamSchedule
    optimizer: torch.optim.Optimizer
    lr: LrControl
    epoch: int = 0  # the epoch being trained (before the loop: the first one to train)
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"metric": -math.inf, "epoch": -1, "since": 0})

    def improved(self, metric: float, epoch: int) -> bool:
        """Record ``epoch``'s validation metric; True when it beats the best so far."""
        if metric > self.best["metric"] + 1e-6:
            self.best = {"metric": metric, "epoch": epoch, "since": 0}
            return True
        self.best["since"] += 1
        return False


def save(path: Path, obj: dict[str, Any]) -> None:
    """Write ``obj`` with torch.save, atomically (a crash never leaves half a checkpoint). Raises WriteError."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def load(path: Path) -> dict[str, Any]:
    """Read a checkpoint onto the CPU, tensors and plain data only (``weights_only``). Raises OSError."""
    return torch.load(path, map_location="cpu", weights_only=True)


def resumable(model: nn.Module, st: TrainState, labels: list[str], next_epoch: int) -> dict[str, Any]:
    """The checkpoint that lets ``--resume`` continue at ``next_epoch`` (0-based)."""
    return {
        "model": model.state_dict(),
        "optimizer": st.optimizer.state_dict(),
        "lr": st.lr.state(),
        "epoch": next_epoch,
        "history": st.history,
        "best": st.best,
        "unfrozen": list(st.sched.applied),
        "labels": list(labels),
    }


def best_weights(model: nn.Module, epoch: int, val_logits: np.ndarray) -> dict[str, Any]:
    """The best epoch's checkpoint: its weights and validation logits (thresholds are tuned on them)."""
    return {"model": model.state_dict(), "epoch": epoch, "val_logits": torch.from_numpy(val_logits)}


def read_resume(out: Path, resume: bool) -> dict[str, Any] | None:
    """The run folder's last checkpoint when resuming and there is one, else None."""
    last = out / LAST
    ck = load(last) if resume and last.is_file() else None
    if resume and ck is None:
        log.warning("no checkpoint in %s yet; starting from the beginning", out)
    return ck


def restore(ck: dict[str, Any], model: nn.Module, st: TrainState, labels: list[str], path: Path) -> None:
    """Put ``ck`` (from ``read_resume``) back into ``model`` and ``st``.

    Raises TrainError when the data's labels are not the checkpoint's.
    """
    if list(ck["labels"]) != list(labels):
        raise TrainError(f"{path}: the data's labels changed since this run started; start a new run")
    for i in ck["unfrozen"]:
        st.sched.apply(int(i), st.optimizer)
    model.load_state_dict(ck["model"])
    st.optimizer.load_state_dict(ck["optimizer"])
    st.lr.load(ck["lr"])
    st.epoch, st.history, st.best = int(ck["epoch"]), list(ck["history"]), dict(ck["best"])


def read_best(d: DistInfo, path: Path) -> dict[str, Any]:
    """The best epoch's checkpoint, read by rank 0 and sent to every rank.

    Raises TrainError when no epoch finished (there is no such file).
    """
    ck = load(path) if d.main and path.is_file() else None
    ck = from_main(d, ck)
    if ck is None:
        raise TrainError("no epoch finished, so there is no model to save")
    return ck
