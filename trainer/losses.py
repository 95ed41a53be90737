"""Masked multi-label losses: entries with target -1 (unknown) contribute nothing to the loss or its gradient."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def masked_bce(
    logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean BCE-with-logits over the known entries of ``targets`` (1 / 0 / -1).

    Args: ``logits`` [N, L]; ``targets`` [N, L] int; optional ``pos_weight`` [L].
    Returns a scalar (0 with a zero gradient when nothing is known).
    """
    known = targets >= 0
    y = targets.clamp(min=0).to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight, reduction="none")
    loss = torch.where(known, loss, torch.zeros_like(loss))  # where (not *): NaN from unknowns cannot leak
    return loss.sum() / known.sum().clamp(min=1)


def masked_focal(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Sigmoid focal loss (Lin et al.), alpha-balanced, averaged over the known entries of ``targets``.

    ``alpha < 0`` disables the balancing term. Returns a scalar.
    """
    known = targets >= 0
    y = targets.clamp(min=0).to(logits.dtype)
    ce = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    loss = torch.where(known, loss, torch.zeros_like(loss))
    return loss.sum() / known.sum().clamp(min=1)


def auto_pos_weight(targets: np.ndarray, cap: float = 50.0) -> np.ndarray:
    """negatives / positives per label over known entries, clipped to [1, cap] (1 where no positives)."""
    pos = (targets == 1).sum(0).astype(np.float64)
    neg = (targets == 0).sum(0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(pos > 0, neg / np.maximum(pos, 1), 1.0)
    return np.clip(w, 1.0, cap).astype(np.float32)


def sample_weights(targets: np.ndarray) -> np.ndarray:
    """The seed's class-weighted sampling: label weight = 1 / positives, image weight = sum of the
    weights of its positive labels (unknowns ignored). Images without a known positive get the
    smallest positive-image weight so they still appear.
    """
    pos = targets == 1
    counts = pos.sum(0).astype(np.float64)
    label_w = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    w = (pos * label_w[None, :]).sum(1)
    floor = w[w > 0].min() if (w > 0).any() else 1.0
    return np.where(w > 0, w, floor)


def masked_group_ce(
    logits: torch.Tensor,
    targets: torch.Tensor,
    columns: torch.Tensor,
    label_smoothing: float = 0.0,
    log_prior: torch.Tensor | None = None,
) -> torch.Tensor:
    """Softmax cross-entropy over one exclusive group's ``columns`` (long [G]), averaged over the photos
    whose true value in the group is known (a positive among the columns); other photos add nothing.

    ``log_prior`` [G] (already scaled by tau) is added to the logits first: logit adjustment, so the
    trained logits carry no class prior. Returns a scalar (0 with a zero gradient when nothing is known).
    """
    z = logits.index_select(1, columns).float()
    y = targets.index_select(1, columns)
    known = (y == 1).any(1)
    if log_prior is not None:
        z = z + log_prior.to(z.device, z.dtype)
    if not bool(known.any()):
        return z.sum() * 0.0
    target = (y[known] == 1).float().argmax(1)  # the first positive if a photo has several
    return F.cross_entropy(z[known], target, label_smoothing=label_smoothing)


def group_log_prior(targets: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """log of each value's share among the photos whose value in the group is known (add-one smoothed)."""
    pos = (targets[:, columns] == 1).sum(0).astype(np.float64) + 1.0
    return np.log(pos / pos.sum()).astype(np.float32)
