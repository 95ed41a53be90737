"""Where a process sits in a run (torchrun or alone) and the few collectives the run needs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from .errors import TrainError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in a (possibly single-process) run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup_distributed(device_pref: str) -> DistInfo:
    """Join the process group when started by torchrun (WORLD_SIZE > 1): gloo on CPU, nccl on CUDA.

    Takes the configured device ("auto", "cpu" or "cuda"); returns this process's DistInfo.
    Raises TrainError when CUDA is asked for and there is none.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_pref == "cuda" or (device_pref == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise TrainError("device 'cuda' was asked for but no CUDA GPU is available")
    device = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return DistInfo(rank, world, local, device)


def teardown(d: DistInfo) -> None:
    """Leave the process group, if this run joined one."""
    if d.active and dist.is_initialized():
        dist.destroy_process_group()


def barrier(d: DistInfo) -> None:
    """Wait for every rank (nothing to wait for alone)."""
    if d.active:
        dist.barrier()


def any_rank(d: DistInfo, *flags: bool) -> list[bool]:
    """Each flag OR-ed across ranks (so every rank takes the same branch)."""
    if not d.active:
        return list(flags)
    t = torch.tensor([float(f) for f in flags])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def mean_across(d: DistInfo, total: float, count: int) -> float:
    """``total / count`` summed over all ranks (0 divides as 1)."""
    if d.active:
        t = torch.tensor([total, float(count)], dtype=torch.float64)
        dist.all_reduce(t)
        total, count = float(t[0]), int(t[1])
    return total / max(count, 1)


def shard(d: DistInfo, n: int) -> np.ndarray:
    """The positions of ``n`` rows this rank handles: every world-th one, so shards differ by at most 1."""
    return np.arange(n)[d.rank :: d.world]


def gather_rows(d: DistInfo, mine: np.ndarray, local: np.ndarray, n: int) -> np.ndarray:
    """Every rank's ``local`` rows (at positions ``mine``, see ``shard``) put together in row order.

    Takes this rank's positions and float32 values [len(mine), L]; returns [n, L] on every rank.
    No padding, so no row is counted twice.
    """
    if not d.active:
        return local
    parts: list[Any] = [None] * d.world
    dist.all_gather_object(parts, (mine, local))
    full = np.zeros((n, local.shape[1]), np.float32)
    for idx, vals in parts:
        full[idx] = vals
    return full


def from_main(d: DistInfo, obj: Any) -> Any:
    """Rank 0's ``obj``, sent to every rank (nodes need not share a disk)."""
    if not d.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
