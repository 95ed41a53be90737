"""What trains when: the freeze -> unfreeze plan, the optimiser, the learning rate, the best epoch."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fashion_desktop.model.archs import get_arch
from fashion_desktop.model.train_config import TrainConfig, unfreeze_plan

from .data import CATEGORY
from .errors import TrainError


def is_head(name: str, head_prefixes: Sequence[str]) -> bool:
    """True when parameter ``name`` belongs to the classifier head (one of ``head_prefixes``)."""
    return any(name == p or name.startswith(p + ".") for p in head_prefixes)


def _matches(name: str, prefixes: Sequence[str]) -> bool:
    return any(p == "" or name == p or name.startswith(p + ".") for p in prefixes)


class ParamSchedule:
    """Which parameters train: the head from the start, backbone parts from their unfreeze epoch.

    Unfrozen parameters get ``requires_grad=True`` AND join the optimizer as a new param group whose
    learning rate is ``lr * backbone_lr_mult`` (the seed froze them and never let them back in).
    """

    def __init__(self, model: nn.Module, cfg: TrainConfig, pretrained: bool = True) -> None:
        self.model = model
        self.cfg = cfg
        self.head = get_arch(cfg.arch).head_prefixes
        # Freezing a randomly initialised backbone only wastes epochs: it is for pretrained features.
        self.plan = unfreeze_plan(cfg) if pretrained else []
        self.applied: list[int] = []  # indices into plan already applied
        names = [n for n, _ in model.named_parameters()]
        for _epoch, prefixes in self.plan:
            for prefix in prefixes:
                if prefix and not any(_matches(n, (prefix,)) for n in names):
                    fixed = prefix.rstrip(".")
                    hint = (
                        f"did you mean {fixed!r}?"
                        if fixed and any(_matches(n, (fixed,)) for n in names)
                        else f"parameters are named like {names[0]!r}"
                    )
                    raise TrainError(
                        f"unfreeze: {prefix!r} names no parameter of {cfg.arch}; a prefix is a whole "
                        f"module path ({hint})"
                    )

    def initial_groups(self) -> list[dict[str, Any]]:
        named = list(self.model.named_parameters())
        if not self.plan:
            head = [p for n, p in named if is_head(n, self.head)]
            body = [p for n, p in named if not is_head(n, self.head)]
            groups = [{"params": head, "lr": self.cfg.lr, "base_lr": self.cfg.lr, "name": "head"}]
            if body:
                lr = self.cfg.lr * self.cfg.backbone_lr_mult
                groups.append({"params": body, "lr": lr, "base_lr": lr, "name": "backbone"})
            return groups
        for n, p in named:
            p.requires_grad_(is_head(n, self.head))
        head = [p for n, p in named if is_head(n, self.head)]
        return [{"params": head, "lr": self.cfg.lr, "base_lr": self.cfg.lr, "name": "head"}]

    def due(self, epoch: int) -> list[int]:
        return [i for i, (e, _) in enumerate(self.plan) if e <= epoch and i not in self.applied]

    def apply(self, i: int, optimizer: torch.optim.Optimizer) -> int:
        """Unfreeze plan entry ``i``; returns how many parameter tensors joined the optimizer."""
        epoch, prefixes = self.plan[i]
        in_opt = {id(p) for g in optimizer.param_groups for p in g["params"]}
        new = [
            p
            for n, p in self.model.named_parameters()
            if id(p) not in in_opt and not is_head(n, self.head) and _matches(n, prefixes)
        ]
        for p in new:
            p.requires_grad_(True)
        if new:
            lr = self.cfg.lr * self.cfg.backbone_lr_mult
            optimizer.add_param_group({"params": new, "lr": lr, "base_lr": lr, "name": f"unfreeze@{epoch}"})
        self.applied.append(i)
        return len(new)


def make_optimizer(cfg: TrainConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """The configured optimiser (AdamW, or Nesterov SGD) over parameter ``groups``."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, nesterov=True)
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


@dataclass
class LrControl:
    """Learning-rate multiplier per epoch: warmup, then cosine, or plateau decay on ``select_value``.

    Kept here (not torch schedulers) because param groups are added mid-run when the backbone unfreezes.
    """

    scheduler: str
    epochs: int
    warmup: int
    patience: int
    factor: float
    plateau_mult: float = 1.0
    bad_epochs: int = 0
    best: float = -math.inf

    def multiplier(self, epoch: int) -> float:
        m = self.plateau_mult
        if self.warmup and epoch < self.warmup:
            m *= (epoch + 1) / (self.warmup + 1)
        if self.scheduler == "cosine":
            m *= 0.5 * (1 + math.cos(math.pi * epoch / max(self.epochs, 1)))
        return m

    def step(self, metric: float) -> None:
        if self.scheduler != "plateau" or not math.isfinite(metric):
            return
        if metric > self.best + 1e-4:
            self.best, self.bad_epochs = metric, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.patience - 1 and self.patience >= 0:
                self.plateau_mult *= self.factor
                self.bad_epochs = 0

    def apply(self, optimizer: torch.optim.Optimizer, epoch: int) -> float:
        m = self.multiplier(epoch)
        for g in optimizer.param_groups:
            g["lr"] = g["base_lr"] * m
        return optimizer.param_groups[0]["lr"]

    def state(self) -> dict[str, float]:
        return {"plateau_mult": self.plateau_mult, "bad_epochs": self.bad_epochs, "best": self.best}

    def load(self, state: dict[str, float]) -> None:
        self.plateau_mult = float(state["plateau_mult"])
        self.bad_epochs = int(state["bad_epochs"])
        self.best = float(state["best"])


def late_unfreezes(cfg: TrainConfig, pretrained: bool) -> list[str]:
    """One note per unfreeze step planned at or past the last epoch (those layers never train)."""
    plan = unfreeze_plan(cfg) if pretrained else []
    return [
        f"unfreeze at epoch {e} ({','.join(p or 'all' for p in prefixes)}) is past the last epoch "
        f"({cfg.epochs - 1}, counting from 0): those layers will stay frozen"
        for e, prefixes in plan
        if e >= cfg.epochs
    ]


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def select_value(row: Mapping[str, Any], select_metric: str) -> float:
    """The number an epoch is chosen by (higher is better): best epoch, plateau scheduler, early stopping.

    ``row`` is the epoch's history line (``val_f1_macro``, ``val_loss``, ``val_groups``). ``f1_macro``:
    validation F1 macro at 0.5. ``balanced``: the mean of each exclusive group's balanced accuracy and
    the category group's F1 macro, over those that are finite (F1 macro when there is none). Either
    falls back to minus the validation loss when nothing else is finite.
    """
    if select_metric == "balanced":
        groups = row.get("val_groups") or {}
        parts = [g.get("balanced_accuracy") for g in groups.values() if isinstance(g, Mapping)]
        category = groups.get(CATEGORY)
        if isinstance(category, Mapping):
            parts.append(category.get("f1_macro"))
        finite = [v for v in map(_finite, parts) if v is not None]
        if finite:
            return sum(finite) / len(finite)
    f1 = _finite(row.get("val_f1_macro"))
    if f1 is not None:
        return f1
    loss = _finite(row.get("val_loss"))
    return -loss if loss is not None else -math.inf
