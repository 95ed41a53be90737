"""Which training photos an epoch draws: shuffled, or weighted by class and by source, per seed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, RandomSampler, Sampler, WeightedRandomSampler

from fashion_desktop.model.train_config import TrainConfig

from .distributed import DistInfo
from .losses import sample_weights


def draw_weights(
    targets: np.ndarray, sources: Sequence[str], sampler: str, source_weights: Mapping[str, float]
) -> np.ndarray | None:
    """Each training photo's weight of being drawn, or None when every photo is drawn once an epoch.

    ``sampler: weighted`` starts from the seed's class weights (``losses.sample_weights``), else from 1;
    each photo's weight is then multiplied by its source's entry in ``source_weights`` (absent: 1), so
    a source of weight 3 has its photos drawn three times as often as they would be.
    """
    if sampler != "weighted" and not source_weights:
        return None
    w = sample_weights(targets) if sampler == "weighted" else np.ones(len(targets), dtype=np.float64)
    return w * np.array([source_weights.get(s, 1.0) for s in sources], dtype=np.float64)


def train_sampler(
    cfg: TrainConfig, ds: Dataset, targets: np.ndarray, sources: Sequence[str], d: DistInfo, epoch: int
) -> Sampler[Any]:
    """The sampler of epoch ``epoch`` over dataset ``ds`` (its photos' ``targets`` and ``sources``):
    weighted draws with replacement (each rank draws its own share), else a shuffle split across ranks.
    The same seed, epoch and rank give the same draws."""
    g = torch.Generator().manual_seed(cfg.seed * 100003 + epoch * 1009 + d.rank)
    w = draw_weights(targets, sources, cfg.sampler, cfg.source_weights)
    if w is not None:
        n = math.ceil(len(targets) / d.world)  # draws are independent, so ranks need not coordinate
        return WeightedRandomSampler(torch.as_tensor(w, dtype=torch.double), n, replacement=True, generator=g)
    if d.active:
        sampler = DistributedSampler(ds, d.world, d.rank, shuffle=True, seed=cfg.seed, drop_last=False)
        sampler.set_epoch(epoch)
        return sampler
    return RandomSampler(ds, generator=g)
