"""The training run: model, freeze/unfreeze schedule, epochs, validation, checkpoints, DDP, final bundle."""

from __future__ import annotations

import io
import logging
import math
import os
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, WeightedRandomSampler

from fashion_desktop.model import protocol
from fashion_desktop.model.archs import WeightsUnavailable, build_model, get_arch, model_logits
from fashion_desktop.model.bundle import new_bundle, save_bundle
from fashion_desktop.model.devices import autocast_dtype
from fashion_desktop.model.fileio import atomic_write_bytes
from fashion_desktop.model.metrics import compute_metrics, metrics_by_group, tune_thresholds
from fashion_desktop.model.scoring import Normalise, keep_first_conv_fp32, logits_for_batch, sigmoid_scores

from .config import TrainConfig, save_config, unfreeze_plan
from .data import LabelTable, load_dataset
from .losses import auto_pos_weight, masked_bce, masked_focal, sample_weights
from .pipeline import CachedImages, DecodeCache, to_model_input

log = logging.getLogger("trainer")
STOPPED_EXIT_CODE = 143  # 128 + SIGTERM, what a shell reports for a terminated process


class TrainError(RuntimeError):
    """A run that cannot go on; the message is shown to the user as is."""


class Stopped(Exception):
    """SIGTERM/SIGINT arrived; the run saved its state and can be resumed."""


# ---------------------------------------------------------------- distributed set-up


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
    """Join the process group when started by torchrun (WORLD_SIZE > 1): gloo on CPU, nccl on CUDA."""
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


def _barrier(d: DistInfo) -> None:
    if d.active:
        dist.barrier()


def _any_rank(d: DistInfo, *flags: bool) -> list[bool]:
    """Each flag OR-ed across ranks (so every rank takes the same branch)."""
    if not d.active:
        return list(flags)
    t = torch.tensor([float(f) for f in flags])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


# ---------------------------------------------------------------- stop signal


class StopFlag:
    """Set by SIGTERM/SIGINT; checked between batches so the run stops at a clean point."""

    def __init__(self) -> None:
        self.set = False
        self._old: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. called from a GUI test): no handler
                pass

    def uninstall(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        self.set = True


# ---------------------------------------------------------------- model, freezing, optimiser, LR


def make_model(cfg: TrainConfig, num_labels: int, notes: list[str]) -> tuple[nn.Module, bool]:
    """Build the architecture; pretrained when asked and available, else random only if allowed.

    Returns (model, whether pretrained weights were loaded).

    Raises TrainError when pretrained weights cannot be had and random init was not chosen explicitly.
    """
    spec = get_arch(cfg.arch)
    if not cfg.pretrained or spec.pretrained is None:
        if cfg.pretrained:
            notes.append(f"{cfg.arch} has no pretrained weights; training from random weights")
        return build_model(cfg.arch, num_labels, pretrained=False), False
    try:
        return build_model(cfg.arch, num_labels, pretrained=True, allow_download=cfg.allow_download), True
    except WeightsUnavailable as exc:
        if not cfg.allow_random_init:
            raise TrainError(
                f"{exc}. To train from random weights instead (much worse with little data), "
                "pass --allow-random-init or --no-pretrained."
            ) from None
        notes.append(f"{exc}; training from random weights as allowed")
        return build_model(cfg.arch, num_labels, pretrained=False), False


def is_head(name: str, head_prefixes: Sequence[str]) -> bool:
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
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, nesterov=True)
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


@dataclass
class LrControl:
    """Learning-rate multiplier per epoch: warmup, then cosine or plateau-on-val-F1-macro decay.

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


# ---------------------------------------------------------------- run context


@dataclass
class Run:
    """What the epoch functions share: config, process info, data, model, events."""

    cfg: TrainConfig
    d: DistInfo
    events: protocol.EventWriter
    out: Path
    table: LabelTable
    cache: DecodeCache
    rows: dict[str, np.ndarray]
    model: nn.Module
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    autocast: torch.dtype | None
    loss_fn: Any
    stop: StopFlag
    notes: list[str]
    pretrained: bool = False
    ddp: nn.Module | None = None
    deadline: float | None = None  # time.monotonic() after which the current epoch ends early
    out_of_time: bool = False

    @property
    def net(self) -> nn.Module:
        return self.ddp if self.ddp is not None else self.model


def _autocast(run: Run):
    if run.autocast is None:
        return torch.autocast(run.d.device.type, enabled=False)
    return torch.autocast(run.d.device.type, dtype=run.autocast)


def _wrap_ddp(run: Run) -> None:
    """(Re)wrap for DDP: the reducer only covers parameters that require grad when it is built, so
    after an unfreeze the model is wrapped again."""
    if not run.d.active:
        return
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [run.d.device.index] if run.d.device.type == "cuda" else None
    run.ddp = DDP(run.model, device_ids=ids, broadcast_buffers=True)


def _train_loader(run: Run, epoch: int) -> DataLoader:
    cfg, d = run.cfg, run.d
    rows = run.rows["train"]
    ds = CachedImages(run.cache, rows, run.table.targets)
    g = torch.Generator().manual_seed(cfg.seed * 100003 + epoch * 1009 + d.rank)
    if cfg.sampler == "weighted":
        w = torch.as_tensor(sample_weights(run.table.targets[rows]), dtype=torch.double)
        n = math.ceil(len(rows) / d.world)  # each rank draws its own share (draws are independent)
        sampler: Any = WeightedRandomSampler(w, n, replacement=True, generator=g)
    elif d.active:
        sampler = DistributedSampler(ds, d.world, d.rank, shuffle=True, seed=cfg.seed, drop_last=False)
        sampler.set_epoch(epoch)
    else:
        sampler = RandomSampler(ds, generator=g)
    drop_last = len(rows) // d.world > cfg.batch_size  # a batch of 1 breaks BatchNorm
    return DataLoader(
        ds,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.num_workers,
        drop_last=drop_last,
        pin_memory=d.device.type == "cuda",
        persistent_workers=False,
    )


def model_loss(
    out: torch.Tensor | tuple, y: torch.Tensor, loss_fn: Any, aux_weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, main logits) of a forward pass; Inception's auxiliary head adds ``aux_weight`` x its loss."""
    logits = model_logits(out).float()
    loss = loss_fn(logits, y)
    if not isinstance(out, torch.Tensor) and len(out) > 1 and out[1] is not None:
        loss = loss + aux_weight * loss_fn(out[1].float(), y)
    return loss, logits


def _forward_loss(run: Run, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with _autocast(run):
        out = run.net(x)
    return model_loss(out, y, run.loss_fn, run.cfg.aux_loss_weight)


def train_epoch(run: Run, optimizer: torch.optim.Optimizer, epoch: int, scaler: Any) -> float:
    """One pass over the training rows. Raises Stopped on SIGTERM, TrainError on a NaN/inf loss."""
    cfg, d = run.cfg, run.d
    run.net.train()
    loader = _train_loader(run, epoch)
    steps = len(loader)
    aug_gen = torch.Generator().manual_seed(cfg.seed + 7919 * epoch + d.rank)
    total, count, seen, t0 = 0.0, 0, 0, time.time()
    for step, (img, y, _idx) in enumerate(loader):
        late = run.deadline is not None and time.monotonic() > run.deadline
        stop, late = _any_rank(d, run.stop.set, late)
        if stop:
            raise Stopped()
        if late:  # time limit: end this epoch here; it is validated and checkpointed like any other
            run.out_of_time = True
            log.warning("time limit reached after %d of %d steps of epoch %d", step, steps, epoch + 1)
            break
        x = to_model_input(img, run.mean, run.std, cfg.augment, aug_gen, cfg.channels_last)
        x = x.to(d.device, non_blocking=True)
        y = y.to(d.device, non_blocking=True)
        loss, _ = _forward_loss(run, x, y)
        (bad,) = _any_rank(d, not bool(torch.isfinite(loss)))
        if bad:
            raise TrainError(
                f"the loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1}: training diverged. "
                "Try a lower learning rate (--lr), --precision fp32 or gradient clipping (--grad-clip)."
            )
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if cfg.grad_clip > 0:
            params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        total += float(loss.detach()) * len(y)
        count += len(y)
        seen += len(y) * d.world
        run.events.progress(
            phase="train",
            epoch=epoch + 1,
            epochs=cfg.epochs,
            step=step + 1,
            steps=steps,
            loss=total / max(count, 1),
            samples_per_s=seen / max(time.time() - t0, 1e-6),
        )
    if run.stop.set:
        raise Stopped()
    return _mean_across(d, total, count)


def _mean_across(d: DistInfo, total: float, count: int) -> float:
    if d.active:
        t = torch.tensor([total, float(count)], dtype=torch.float64)
        dist.all_reduce(t)
        total, count = float(t[0]), int(t[1])
    return total / max(count, 1)


@torch.no_grad()
def predict_rows(run: Run, rows: np.ndarray, phase: str) -> np.ndarray:
    """Logits [len(rows), L] for ``rows``, computed in shards across ranks and gathered in row order
    (no padding, so no duplicated images enter the metrics). Every rank gets the full array."""
    d, cfg = run.d, run.cfg
    model = run.model
    model.eval()
    mine = np.arange(len(rows))[d.rank :: d.world]
    ds = CachedImages(run.cache, rows[mine], run.table.targets)
    normalise = Normalise(run.mean, run.std, d.device)
    loader = DataLoader(ds, batch_size=cfg.eval_batch_size, shuffle=False, num_workers=cfg.num_workers)
    outs: list[np.ndarray] = []
    done = 0
    for img, _y, _i in loader:
        if run.stop.set:
            raise Stopped()
        logits = logits_for_batch(model, img, normalise, run.autocast, cfg.channels_last)
        outs.append(logits.cpu().numpy())
        done += len(img)
        run.events.progress(phase=phase, step=done * d.world, steps=len(rows))
    num_labels = len(run.table.labels)
    local = np.concatenate(outs) if outs else np.zeros((0, num_labels), np.float32)
    if not d.active:
        return local
    parts: list[Any] = [None] * d.world
    dist.all_gather_object(parts, (mine, local))
    full = np.zeros((len(rows), num_labels), np.float32)
    for idx, vals in parts:
        full[idx] = vals
    return full


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return sigmoid_scores(torch.from_numpy(x))


def _val_loss(run: Run, logits: np.ndarray, targets: np.ndarray) -> float:
    return float(run.loss_fn(torch.from_numpy(logits), torch.from_numpy(targets.astype(np.int64))))


# ---------------------------------------------------------------- checkpoints


def _save(path: Path, obj: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def _load(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


# ---------------------------------------------------------------- the run


def _prepare(
    cfg: TrainConfig,
    d: DistInfo,
    events: protocol.EventWriter,
    out: Path,
    stop: StopFlag,
    resumed_at: int | None,
) -> Run:
    notes: list[str] = []
    table = load_dataset(
        cfg.data,
        cfg.mapping,
        cfg.val_fraction,
        cfg.test_fraction,
        cfg.seed,
        cfg.min_label_count,
        cfg.max_images,
    )
    spec = get_arch(cfg.arch)
    size = cfg.image_size or spec.input_size
    model, pretrained = make_model(cfg, len(table.labels), notes)
    autocast = autocast_dtype(d.device, cfg.precision)
    if autocast is not None:
        keep_first_conv_fp32(model)  # as the tagging engine scores: same numbers in validation and tagging
    notes += table.notes
    events.emit(
        protocol.RUN_STARTED,
        config=cfg.to_dict(),
        dataset=table.summary(),
        labels=list(table.labels),
        groups=table.groups,
        input_size=size,
        pretrained=pretrained,
        world_size=d.world,
        device=str(d.device),
        precision=str(autocast or "fp32").replace("torch.", ""),
        resumed_at_epoch=resumed_at,
        notes=notes,
    )
    for note in notes:
        log.warning("%s", note)
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else out / "cache"

    def cache_progress(done: int, total: int) -> None:
        events.progress(phase="cache", step=done, steps=total)

    # One process per node decodes (nodes may not share a disk); the others wait, then read its cache.
    if d.local_rank == 0:
        cache = DecodeCache.open_or_build(
            cache_dir, table.paths, size, cfg.resize, max(1, os.cpu_count() or 1), cache_progress
        )
    _barrier(d)
    if d.local_rank != 0:
        cache = DecodeCache.open_or_build(cache_dir, table.paths, size, cfg.resize, build=False)
    if cache.failures:
        bad = sorted(cache.failures.items())[:5]
        note = f"{len(cache.failures)} images could not be read and were skipped, e.g. " + "; ".join(
            f"{table.paths[i]}: {why}" for i, why in bad
        )
        notes.append(note)
        log.warning("%s", note)
        events.emit(protocol.LOG, level="warning", message=note)
    rows = {}
    for split in ("train", "val", "test"):
        r = table.split_rows(split)
        rows[split] = r[cache.ok[r]] if len(r) else r
    if not len(rows["train"]):
        raise TrainError("the dataset is empty: none of the training images could be read")
    if not len(rows["val"]):
        raise TrainError("no validation images: add a validation split or set val_fraction above 0")
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model = model.to(d.device)
    pos_weight = None
    if cfg.pos_weight == "auto":
        pos_weight = torch.from_numpy(auto_pos_weight(table.targets[rows["train"]]))
    if cfg.loss == "focal":

        def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return masked_focal(logits, y, cfg.focal_alpha, cfg.focal_gamma)
    else:
        pw = pos_weight.to(d.device) if pos_weight is not None else None

        def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            w = pw.to(logits.device) if pw is not None else None
            return masked_bce(logits, y, w)

    plan = unfreeze_plan(cfg) if pretrained else []
    for e, prefixes in plan:
        if e >= cfg.epochs:
            note = (
                f"unfreeze at epoch {e} ({','.join(p or 'all' for p in prefixes)}) is past the last epoch "
                f"({cfg.epochs - 1}, counting from 0): those layers will stay frozen"
            )
            log.warning("%s", note)
            events.emit(protocol.LOG, level="warning", message=note)
    return Run(
        cfg, d, events, out, table, cache, rows, model, size, spec.mean, spec.std,
        autocast, loss_fn, stop, notes, pretrained,
    )  # fmt: skip


def run_training(cfg: TrainConfig, resume: bool = False, events: protocol.EventWriter | None = None) -> int:
    """Train per ``cfg`` (in the process group torchrun set up, if any); returns the exit code.

    Emits protocol events on rank 0. Exit codes: 0 finished, 1 failed (``run_failed`` says why),
    143 stopped by SIGTERM/SIGINT with the last checkpoint saved (``--resume`` continues).
    """
    from .data import DataError

    out = Path(cfg.out)
    stop = StopFlag()
    stop.install()
    d = DistInfo()
    try:
        d = setup_distributed(cfg.device)
        if events is None:
            events = protocol.EventWriter(sys.stdout, enabled=d.main, max_progress_per_s=cfg.progress_per_s)
        events.enabled = events.enabled and d.main
        if d.main:
            out.mkdir(parents=True, exist_ok=True)
            events.log_path = str(out / "events.jsonl")
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        torch.set_flush_denormal(True)  # tiny activations of pretrained nets otherwise crawl on CPU
        return _run(cfg, d, events, out, stop, resume)
    except (DataError, TrainError, OSError) as exc:
        message = str(exc)
        if isinstance(exc, OSError) and not isinstance(exc, DataError):
            message = f"cannot read or write files: {exc}"
        log.error("%s", message)
        if events is not None:
            events.emit(protocol.RUN_FAILED, message=message)
        return 1
    finally:
        stop.uninstall()
        if d.active and dist.is_initialized():
            dist.destroy_process_group()


def _run(
    cfg: TrainConfig, d: DistInfo, events: protocol.EventWriter, out: Path, stop: StopFlag, resume: bool
) -> int:
    last_path, best_path = out / "last.pt", out / "best.pt"
    ck = _load(last_path) if resume and last_path.is_file() else None
    if resume and ck is None:
        log.warning("no checkpoint in %s yet; starting from the beginning", out)
    run = _prepare(cfg, d, events, out, stop, int(ck["epoch"]) if ck is not None else None)
    if cfg.time_limit_min > 0:
        run.deadline = time.monotonic() + 60 * cfg.time_limit_min
    sched = ParamSchedule(run.model, cfg, run.pretrained)
    optimizer = make_optimizer(cfg, sched.initial_groups())
    lr = LrControl(cfg.scheduler, cfg.epochs, cfg.warmup_epochs, cfg.plateau_patience, cfg.plateau_factor)
    start_epoch, history = 0, []
    best: dict[str, Any] = {"metric": -math.inf, "epoch": -1, "since": 0}
    if ck is not None:
        if list(ck["labels"]) != list(run.table.labels):
            raise TrainError(
                f"{last_path}: the data's labels changed since this run started; start a new run"
            )
        for i in ck["unfrozen"]:
            sched.apply(int(i), optimizer)
        run.model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        lr.load(ck["lr"])
        start_epoch, history, best = int(ck["epoch"]), list(ck["history"]), dict(ck["best"])
        log.info("resuming %s at epoch %d", out, start_epoch + 1)
    if d.main:
        save_config(cfg, out / "config.yaml")
    scaler = torch.amp.GradScaler("cuda") if run.autocast == torch.float16 else None
    _wrap_ddp(run)
    val_t = run.table.targets[run.rows["val"]]
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, cfg.epochs):
            t0 = time.time()
            for i in sched.due(epoch):
                n = sched.apply(i, optimizer)
                log.info("epoch %d: unfroze %d parameter tensors (%s)", epoch + 1, n, sched.plan[i][1])
                _wrap_ddp(run)
            cur_lr = lr.apply(optimizer, epoch)
            train_loss = train_epoch(run, optimizer, epoch, scaler)
            logits = predict_rows(run, run.rows["val"], "val")
            scores = _sigmoid(logits)
            m = compute_metrics(val_t, scores, 0.5)["overall"]
            val_loss = _val_loss(run, logits, val_t)
            metric = m["f1_macro"] if math.isfinite(m["f1_macro"]) else -val_loss
            lr.step(metric)
            improved = metric > best["metric"] + 1e-6
            if improved:
                best = {"metric": metric, "epoch": epoch, "since": 0}
            else:
                best["since"] += 1
            trainable = sum(p.numel() for g in optimizer.param_groups for p in g["params"])
            row = {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "val_f1_micro": m["f1_micro"],
                "val_f1_macro": m["f1_macro"],
                "val_map": m["map"],
                "lr": cur_lr,
                "trainable_params": trainable,
                "partial": run.out_of_time,
                "seconds": time.time() - t0,
            }
            history.append(row)
            log.info(
                "epoch %d/%d train_loss %.4f val_loss %.4f val F1 micro %.3f macro %.3f (%.0fs)",
                epoch + 1, cfg.epochs, train_loss, val_loss, m["f1_micro"], m["f1_macro"], row["seconds"],
            )  # fmt: skip
            events.emit(protocol.EPOCH_END, epochs=cfg.epochs, improved=improved, **row)
            if d.main:
                if improved:
                    _save(
                        best_path,
                        {
                            "model": run.model.state_dict(),
                            "epoch": epoch,
                            "val_logits": torch.from_numpy(logits),
                        },
                    )
                    events.emit(protocol.CHECKPOINT_SAVED, path=str(best_path), kind="best", epoch=epoch + 1)
                _save(last_path, _checkpoint(run, optimizer, sched, lr, epoch + 1, history, best))
                events.emit(protocol.CHECKPOINT_SAVED, path=str(last_path), kind="last", epoch=epoch + 1)
            _barrier(d)
            if run.out_of_time:
                events.emit(
                    protocol.LOG, level="warning", message=f"time limit: training ended in epoch {epoch + 1}"
                )
                break
            if cfg.early_stopping and best["since"] >= cfg.early_stopping:
                log.info("early stopping: val F1-macro has not improved for %d epochs", best["since"])
                break
        return _finish(run, best_path, history, best)
    except Stopped:
        if d.main:
            # The interrupted epoch is redone on resume, from the weights it had reached.
            _save(last_path, _checkpoint(run, optimizer, sched, lr, epoch, history, best))
            events.emit(protocol.CHECKPOINT_SAVED, path=str(last_path), kind="last", epoch=epoch)
            events.emit(
                protocol.RUN_STOPPED,
                message=f"stopped at epoch {epoch + 1}; continue with --resume {out}",
                checkpoint=str(last_path),
                resume=str(out),
            )
        log.warning("stopped; the last checkpoint is %s (continue with --resume %s)", last_path, out)
        return STOPPED_EXIT_CODE


def _checkpoint(
    run: Run, optimizer, sched: ParamSchedule, lr: LrControl, next_epoch: int, history, best
) -> dict:
    return {
        "model": run.model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "lr": lr.state(),
        "epoch": next_epoch,
        "history": history,
        "best": best,
        "unfrozen": list(sched.applied),
        "labels": list(run.table.labels),
    }


def _finish(run: Run, best_path: Path, history: list[dict], best: dict[str, Any]) -> int:
    """Best weights -> thresholds tuned on val -> one test evaluation -> bundle."""
    cfg, table = run.cfg, run.table
    ck = _load(best_path) if run.d.main and best_path.is_file() else None
    if run.d.active:  # rank 0's file, sent to every rank: nodes need not share the run folder
        box = [ck]
        dist.broadcast_object_list(box, src=0)
        ck = box[0]
    if ck is None:
        raise TrainError("no epoch finished, so there is no model to save")
    run.model.load_state_dict(ck["model"])
    val_rows, test_rows = run.rows["val"], run.rows["test"]
    val_t = table.targets[val_rows]
    val_scores = _sigmoid(ck["val_logits"].numpy())
    thresholds = tune_thresholds(val_t, val_scores)
    labels, groups = table.labels, table.groups
    metrics: dict[str, Any] = {"best_epoch": int(ck["epoch"]) + 1, "history": history}
    metrics["val"] = compute_metrics(val_t, val_scores, thresholds, labels)
    metrics["val"]["groups"] = metrics_by_group(val_t, val_scores, thresholds, labels, groups)
    metrics["val_at_0.5"] = compute_metrics(val_t, val_scores, 0.5)["overall"]
    eval_split, eval_rows, eval_scores = "val", val_rows, val_scores
    if len(test_rows):
        test_scores = _sigmoid(predict_rows(run, test_rows, "test"))  # the one and only look at test
        test_t = table.targets[test_rows]
        metrics["test"] = compute_metrics(test_t, test_scores, thresholds, labels)
        metrics["test"]["groups"] = metrics_by_group(test_t, test_scores, thresholds, labels, groups)
        by_source = {}
        srcs = np.array(table.sources)[test_rows]
        for src in dict.fromkeys(srcs.tolist()):
            sel = srcs == src
            by_source[src] = metrics_by_group(test_t[sel], test_scores[sel], thresholds, labels, groups)
        metrics["test"]["sources"] = by_source
        eval_split, eval_rows, eval_scores = "test", test_rows, test_scores
    if not run.d.main:
        _barrier(run.d)  # wait for rank 0's bundle, then all ranks tear down together
        return 0
    provenance = {
        "model_id": uuid.uuid4().hex,
        "name": cfg.name or f"{cfg.arch} {datetime.now().strftime('%Y-%m-%d %H:%M')}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "trainer": "fashion-finder trainer",
        "data": table.summary(),
        "config": cfg.to_dict(),
        "world_size": run.d.world,
    }
    bundle = new_bundle(
        cfg.arch,
        labels,
        {k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()},
        input_size=run.input_size,
        resize=cfg.resize,
        groups=groups,
        thresholds=tuple(float(t) for t in thresholds),
        metrics=metrics,
        provenance=provenance,
        evaluation={
            "split": eval_split,
            "paths": [table.paths[i] for i in eval_rows],
            "targets": torch.from_numpy(table.targets[eval_rows].astype(np.int8)),
            "scores": torch.from_numpy(eval_scores.astype(np.float16)),
        },
    )
    bundle_path = save_bundle(bundle, run.out / "model.fmodel")
    atomic_write_bytes(run.out / "metrics.json", protocol.to_json(metrics, indent=1).encode())
    summary = {
        "val": metrics["val"]["overall"],
        "val_groups": metrics["val"]["groups"],
        "test": metrics.get("test", {}).get("overall"),
        "test_groups": metrics.get("test", {}).get("groups"),
        "best_epoch": metrics["best_epoch"],
    }
    log.info("finished: bundle %s; val F1-macro %.3f", bundle_path, metrics["val"]["overall"]["f1_macro"])
    run.events.emit(
        protocol.RUN_FINISHED, bundle=str(bundle_path), metrics=summary, test_split=bool(len(test_rows))
    )
    # A rank that destroys the gloo group while another still works can abort in gloo's own thread
    # ("terminate called without an active exception", seen once in a CI-like run).
    _barrier(run.d)
    return 0
