"""The training run as a recipe: prepare, train epoch by epoch, evaluate the best epoch, package the bundle."""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from fashion_desktop.model import protocol
from fashion_desktop.model.archs import ArchError, WeightsUnavailable, build_model, get_arch, model_logits
from fashion_desktop.model.badge import Evaluated, calibrate
from fashion_desktop.model.bundle import new_bundle, save_bundle
from fashion_desktop.model.devices import autocast_dtype
from fashion_desktop.model.fileio import atomic_write_bytes
from fashion_desktop.model.groups import at_least_one_columns, exclusive_columns
from fashion_desktop.model.metrics import compute_metrics
from fashion_desktop.model.run_folder import (
    BEST,
    BUNDLE,
    CACHE,
    CONFIG,
    EVENTS,
    LAST,
    METRICS,
    THRESHOLDS_NOT_TUNED,
    check_run_folder,
    move_aside,
    run_folder_problem,
    write_splits,
)
from fashion_desktop.model.scoring import Normalise, keep_first_conv_fp32, logits_for_batch, sigmoid_scores
from fashion_desktop.model.train_config import ConfigError, TrainConfig, check_source_weights, save_config

from . import checkpoints
from .checkpoints import TrainState
from .data import LabelTable
from .distributed import (
    DistInfo,
    any_rank,
    barrier,
    gather_rows,
    mean_across,
    setup_distributed,
    shard,
    teardown,
)
from .errors import Stopped, TrainError, stopped_exit_code
from .losses import (
    auto_pos_weight,
    group_log_prior,
    masked_bce,
    masked_focal,
    masked_group_ce,
)
from .pipeline import CachedImages, DecodeCache, to_model_input
from .preview import load_run_dataset, with_data_rules
from .sampling import train_sampler
from .schedule import LrControl, ParamSchedule, late_unfreezes, make_optimizer, select_value
from .thresholds import MIN_TUNE_POSITIVES, final_thresholds, previous_thresholds

log = logging.getLogger("trainer")


# ---------------------------------------------------------------- stop signal


class StopFlag:
    """Set by SIGTERM/SIGINT; checked between batches so the run stops at a clean point."""

    def __init__(self) -> None:
        self.set = False
        self.signum: int | None = None  # which signal: the exit code tells Ctrl-C (130) from SIGTERM (143)
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
        self.signum = signum


# ---------------------------------------------------------------- model and loss


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


def make_loss(
    cfg: TrainConfig,
    train_targets: np.ndarray,
    device: torch.device,
    exclusive: Sequence[np.ndarray] = (),
) -> Any:
    """The configured loss as ``loss_fn(logits, targets) -> scalar``; unknown targets (-1) are masked.

    Labels of an exclusive group (``exclusive``: column indices per group) get softmax cross-entropy over
    their group (with ``label_smoothing`` and ``logit_adjust``), averaged over groups and added to the
    BCE/focal loss of the other labels. With ``pos_weight: auto`` the BCE weighs each label's positives by
    its rarity in ``train_targets``.
    """
    n_labels = train_targets.shape[1]
    in_group = np.zeros(n_labels, dtype=bool)
    for cols in exclusive:
        in_group[cols] = True
    free = torch.from_numpy(np.flatnonzero(~in_group))
    all_free = not in_group.any()
    pos_weight = None
    if cfg.pos_weight == "auto":
        pos_weight = torch.from_numpy(auto_pos_weight(train_targets[:, ~in_group]))
    pw = pos_weight.to(device) if pos_weight is not None else None
    groups = [
        (
            torch.from_numpy(cols),
            torch.from_numpy(cfg.logit_adjust * group_log_prior(train_targets, cols))
            if cfg.logit_adjust
            else None,
        )
        for cols in exclusive
    ]

    def multi_label(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if cfg.loss == "focal":
            return masked_focal(logits, y, cfg.focal_alpha, cfg.focal_gamma)
        return masked_bce(logits, y, pw.to(logits.device) if pw is not None else None)

    def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if all_free:
            return multi_label(logits, y)
        cols = free.to(logits.device)
        loss = multi_label(logits.index_select(1, cols), y.index_select(1, cols)) if len(free) else 0.0
        ce = [
            masked_group_ce(logits, y, c.to(logits.device), cfg.label_smoothing, prior) for c, prior in groups
        ]
        return loss + torch.stack(ce).mean()

    return loss_fn


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
    init_from_id: str | None = None  # model id of the bundle the run started from (--init-from)
    exclusive: tuple[np.ndarray, ...] = ()  # column indices of each exclusive group
    required: tuple[np.ndarray, ...] = ()  # column indices of each at-least-one group

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
    sources = [run.table.sources[i] for i in rows]
    sampler = train_sampler(cfg, ds, run.table.targets[rows], sources, d, epoch)
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
    """One pass over the training rows; returns the mean loss over all ranks.

    Raises Stopped on SIGTERM, TrainError on a NaN/inf loss.
    """
    cfg, d = run.cfg, run.d
    run.net.train()
    loader = _train_loader(run, epoch)
    steps = len(loader)
    aug_gen = torch.Generator().manual_seed(cfg.seed + 7919 * epoch + d.rank)
    total, count, seen, t0 = 0.0, 0, 0, time.time()
    for step, (img, y, _idx) in enumerate(loader):
        late = run.deadline is not None and time.monotonic() > run.deadline
        stop, late = any_rank(d, run.stop.set, late)
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
        (bad,) = any_rank(d, not bool(torch.isfinite(loss)))
        if bad:
            raise TrainError(
                f"the loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1}: training "
                f"diverged. {_divergence_advice(cfg, run.out)}"
            )
        _optimiser_step(cfg, optimizer, loss, scaler)
        batch_loss = float(loss.detach())
        total += batch_loss * len(y)
        count += len(y)
        seen += len(y) * d.world
        elapsed = max(time.time() - t0, 1e-6)
        run.events.progress(
            phase="train",
            epoch=epoch + 1,
            epochs=cfg.epochs,
            step=step + 1,
            steps=steps,
            loss=total / max(count, 1),
            batch_loss=batch_loss,
            samples_per_s=seen / elapsed,
            eta_s=elapsed / (step + 1) * (steps - step - 1),
        )
    if run.stop.set:
        raise Stopped()
    return mean_across(d, total, count)


def _divergence_advice(cfg: TrainConfig, out: Path) -> str:
    """What to try after a NaN/inf loss, as options ``fashion train`` accepts and ``--resume`` applies."""
    tries = [f"a lower learning rate (--lr {cfg.lr / 10:.3g})"]
    if cfg.precision != "fp32":
        tries.append("full precision (--set precision=fp32)")
    if not 0 < cfg.grad_clip <= 1:
        tries.append("stronger gradient clipping (--set grad_clip=1)")
    listed = ", ".join(tries[:-1]) + " or " + tries[-1] if len(tries) > 1 else tries[0]
    return f"Try {listed}; --resume {out} with them goes on from the last checkpoint."


def _optimiser_step(
    cfg: TrainConfig, optimizer: torch.optim.Optimizer, loss: torch.Tensor, scaler: Any
) -> None:
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


@torch.no_grad()
def predict_rows(run: Run, rows: np.ndarray, phase: str) -> np.ndarray:
    """Logits [len(rows), L] for ``rows``, computed in shards across ranks and gathered in row order
    (no padding, so no duplicated images enter the metrics). Every rank gets the full array."""
    d, cfg = run.d, run.cfg
    model = run.model
    model.eval()
    mine = shard(d, len(rows))
    ds = CachedImages(run.cache, rows[mine], run.table.targets)
    normalise = Normalise(run.mean, run.std, d.device)
    loader = DataLoader(ds, batch_size=cfg.eval_batch_size, shuffle=False, num_workers=cfg.num_workers)
    outs: list[np.ndarray] = []
    done = 0
    for img, _y, _i in loader:
        if run.stop.set:
            raise Stopped()
        logits = logits_for_batch(
            model, img, normalise, run.autocast, cfg.channels_last, cfg.tta_flip, run.exclusive
        )
        outs.append(logits.cpu().numpy())
        done += len(img)
        run.events.progress(phase=phase, step=done * d.world, steps=len(rows))
    num_labels = len(run.table.labels)
    local = np.concatenate(outs) if outs else np.zeros((0, num_labels), np.float32)
    return gather_rows(d, mine, local, len(rows))


def _scores(run: Run, logits: np.ndarray) -> np.ndarray:
    """The bundle's scores for these logits: sigmoid, softmax over each exclusive group."""
    return sigmoid_scores(torch.from_numpy(logits), run.exclusive)


def _val_loss(run: Run, logits: np.ndarray, targets: np.ndarray) -> float:
    return float(run.loss_fn(torch.from_numpy(logits), torch.from_numpy(targets.astype(np.int64))))


# ---------------------------------------------------------------- preparing a run


def _prepare(
    cfg: TrainConfig,
    d: DistInfo,
    events: protocol.EventWriter,
    out: Path,
    stop: StopFlag,
    resumed_at: int | None,
) -> Run:
    """Data, model, loss and decoded-image cache of a run, announced with ``run_started``.

    Raises DataError for unusable data, TrainError when there is no model or no train/val images.
    """
    notes: list[str] = []
    table = load_run_dataset(cfg)
    cfg = with_data_rules(cfg, table)  # a library's one-value groups stay one-value in its new model
    required = _required_columns(cfg, table)
    check_source_weights(cfg, table.sources)
    spec = get_arch(cfg.arch)
    size = cfg.image_size or spec.input_size
    mean, std = spec.mean, spec.std
    init_id = None
    if cfg.init_from and resumed_at is None:
        model, autocast, init_id, mean, std = _model_from_bundle(cfg, d, table.labels, notes)
        pretrained = True
    else:
        if cfg.init_from:  # resuming: the checkpoint holds the weights; the bundle still says what it was
            from .init_from import source_identity

            model, _pretrained, autocast = _build_model(
                cfg.replace(pretrained=False), d, len(table.labels), notes
            )
            init_id, mean, std = source_identity(cfg.init_from, mean, std)
            pretrained = True  # the same freeze/unfreeze schedule as the run's first session
        else:
            model, pretrained, autocast = _build_model(cfg, d, len(table.labels), notes)
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
    cache = _open_cache(cfg, d, events, out, table, size, notes)
    rows = _usable_rows(table, cache)
    exclusive = exclusive_columns(table.labels, table.groups, cfg.exclusive_groups)
    loss_fn = make_loss(cfg, table.targets[rows["train"]], d.device, exclusive)
    for note in late_unfreezes(cfg, pretrained):
        log.warning("%s", note)
        events.emit(protocol.LOG, level="warning", message=note)
    return Run(
        cfg, d, events, out, table, cache, rows, model, size, mean, std,
        autocast, loss_fn, stop, notes, pretrained, init_from_id=init_id, exclusive=exclusive,
        required=required,
    )  # fmt: skip


def _required_columns(cfg: TrainConfig, table: LabelTable) -> tuple[np.ndarray, ...]:
    """The columns of the config's at-least-one groups; raises TrainError for a group the data lacks."""
    known = list(dict.fromkeys(table.groups[lab] for lab in table.labels if lab in table.groups))
    for g in cfg.at_least_one_groups:
        if g not in known:
            raise TrainError(
                f"at_least_one_groups: no label of the data is in group {g!r} (its groups: "
                f"{', '.join(known) or 'none'})"
            )
    return at_least_one_columns(table.labels, table.groups, cfg.at_least_one_groups)


def _model_from_bundle(
    cfg: TrainConfig, d: DistInfo, labels: tuple[str, ...], notes: list[str]
) -> tuple[nn.Module, torch.dtype | None, str, tuple[float, float, float], tuple[float, float, float]]:
    """The run's model started from bundle ``cfg.init_from`` (``trainer.init_from.transplant``):
    (model on the device, autocast dtype, the bundle's model id, its mean, its std).

    Raises TrainError naming the file when it cannot be loaded or does not fit.
    """
    from fashion_desktop.model.bundle import load_bundle_converting
    from fashion_desktop.model.bundle_format import BundleError

    from .init_from import transplant

    try:
        bundle = load_bundle_converting(cfg.init_from, notes.append)
    except (BundleError, OSError) as exc:
        raise TrainError(f"--init-from: {exc}") from None
    if bundle.arch != cfg.arch:
        raise TrainError(f"--init-from {cfg.init_from} is a {bundle.arch} model, not {cfg.arch}")
    model = build_model(cfg.arch, len(labels), pretrained=False)
    done = transplant(model, labels, bundle.state_dict, bundle.labels, cfg.arch)
    notes.append(done.note(f"{cfg.init_from} ({bundle.name})"))
    autocast = autocast_dtype(d.device, cfg.precision)
    if autocast is not None:
        keep_first_conv_fp32(model)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.to(d.device), autocast, bundle.model_id, tuple(bundle.mean), tuple(bundle.std)


def _build_model(
    cfg: TrainConfig, d: DistInfo, num_labels: int, notes: list[str]
) -> tuple[nn.Module, bool, torch.dtype | None]:
    """(model on the run's device, pretrained?, autocast dtype or None for fp32)."""
    model, pretrained = make_model(cfg, num_labels, notes)
    autocast = autocast_dtype(d.device, cfg.precision)
    if autocast is not None:
        keep_first_conv_fp32(model)  # as the tagging engine scores: same numbers in validation and tagging
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.to(d.device), pretrained, autocast


def _open_cache(
    cfg: TrainConfig,
    d: DistInfo,
    events: protocol.EventWriter,
    out: Path,
    table: LabelTable,
    size: int,
    notes: list[str],
) -> DecodeCache:
    """The run's decoded images at ``size``, built once per node; unreadable photos become a note."""
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else out / CACHE

    def cache_progress(done: int, total: int) -> None:
        events.progress(phase="cache", step=done, steps=total)

    # One process per node decodes (nodes may not share a disk); the others wait, then read its cache.
    if d.local_rank == 0:
        cache = DecodeCache.open_or_build(
            cache_dir, table.paths, size, cfg.resize, max(1, os.cpu_count() or 1), cache_progress
        )
    barrier(d)
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
    return cache


def _usable_rows(table: LabelTable, cache: DecodeCache) -> dict[str, np.ndarray]:
    """Each split's rows whose photo decoded. Raises TrainError when train or val has none."""
    rows = {}
    for split in ("train", "val", "test"):
        r = table.split_rows(split)
        rows[split] = r[cache.ok[r]] if len(r) else r
    if not len(rows["train"]):
        raise TrainError("the dataset is empty: none of the training images could be read")
    if not len(rows["val"]):
        raise TrainError("no validation images: add a validation split or set val_fraction above 0")
    return rows


# ---------------------------------------------------------------- the run


def run_training(
    cfg: TrainConfig,
    resume: bool = False,
    events: protocol.EventWriter | None = None,
    overwrite: bool = False,
) -> int:
    """Train per ``cfg`` (in the process group torchrun set up, if any); returns the exit code.

    A run already in ``cfg.out`` is refused before anything is written, unless ``resume`` continues
    it or ``overwrite`` moves it aside (``model.run_folder``). Emits protocol events on rank 0. Exit
    codes: 0 finished, 1 failed (``run_failed`` says why), 130 (Ctrl-C) or 143 (SIGTERM) stopped with
    the last checkpoint saved (``--resume`` continues).
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
        _claim_run_folder(out, resume, overwrite, d, events)
        if d.main:
            out.mkdir(parents=True, exist_ok=True)
            events.log_path = str(out / EVENTS)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        torch.set_flush_denormal(True)  # tiny activations of pretrained nets otherwise crawl on CPU
        return _run(cfg, d, events, out, stop, resume)
    except (DataError, ConfigError, TrainError, ArchError, OSError) as exc:
        message = str(exc)
        if isinstance(exc, OSError) and not isinstance(exc, DataError):
            message = f"cannot read or write files: {exc}"
        log.error("%s", message)
        if events is not None:
            events.emit(protocol.RUN_FAILED, message=message)
        return 1
    finally:
        stop.uninstall()
        teardown(d)


def _claim_run_folder(
    out: Path, resume: bool, overwrite: bool, d: DistInfo, events: protocol.EventWriter
) -> None:
    """Refuse a run folder that holds a run (every rank decides alike); with ``overwrite`` rank 0
    moves that run aside first. Raises TrainError with the fix, OSError when the move fails."""
    problem = run_folder_problem(out, resume, overwrite)
    if problem:
        raise TrainError(problem)
    if (
        overwrite
        and not resume
        and d.main
        and check_run_folder(out).kind in ("stopped", "finished", "unstarted")
    ):
        moved = move_aside(out)
        message = f"{out} held a run; it was moved aside to {moved}"
        log.warning("%s", message)
        events.emit(protocol.LOG, level="warning", message=message)


def _run(
    cfg: TrainConfig, d: DistInfo, events: protocol.EventWriter, out: Path, stop: StopFlag, resume: bool
) -> int:
    """The recipe: prepare, (resume,) train the epochs, then evaluate the best epoch and bundle it."""
    ck = checkpoints.read_resume(out, resume)
    if ck is not None and int(ck["epoch"]) >= cfg.epochs and (out / BUNDLE).is_file():
        raise TrainError(
            f"{out} already finished its {int(ck['epoch'])} epochs; to train it further, "
            f"pass --epochs above {int(ck['epoch'])} with --resume {out}"
        )
    run = _prepare(cfg, d, events, out, stop, int(ck["epoch"]) if ck is not None else None)
    if cfg.time_limit_min > 0:
        run.deadline = time.monotonic() + 60 * cfg.time_limit_min
    st = _start_state(run, ck)
    if d.main:
        save_config(cfg, out / CONFIG)
        # Which photos it learns from: a comparison of its model on the library leaves these out.
        write_splits(out, {k: [run.table.paths[i] for i in r] for k, r in run.rows.items()}, merge=resume)
    scaler = torch.amp.GradScaler("cuda") if run.autocast == torch.float16 else None
    _wrap_ddp(run)
    try:
        _train_epochs(run, st, scaler)
        return _finish(run, st.history)
    except Stopped:
        return _stopped(run, st)


def _start_state(run: Run, ck: dict[str, Any] | None) -> TrainState:
    """Schedule, optimiser and LR control at their start, or where checkpoint ``ck`` left them."""
    cfg = run.cfg
    sched = ParamSchedule(run.model, cfg, run.pretrained)
    optimizer = make_optimizer(cfg, sched.initial_groups())
    lr = LrControl(cfg.scheduler, cfg.epochs, cfg.warmup_epochs, cfg.plateau_patience, cfg.plateau_factor)
    st = TrainState(sched, optimizer, lr)
    if ck is not None:
        checkpoints.restore(ck, run.model, st, list(run.table.labels), run.out / LAST)
        log.info("resuming %s at epoch %d", run.out, st.epoch + 1)
        _apply_resumed_lr(run, st)
    return st


def _apply_resumed_lr(run: Run, st: TrainState) -> None:
    """A learning rate given with ``--resume`` replaces the run's: the optimiser's restored groups carry
    the old base rates, and a plateau cut made under the old rate no longer applies."""
    cfg, groups = run.cfg, st.optimizer.param_groups
    old = next((g["base_lr"] for g in groups if g.get("name") == "head"), cfg.lr)
    if math.isclose(old, cfg.lr, rel_tol=1e-9):
        return
    for g in groups:  # the same rates ParamSchedule gives a fresh run
        g["base_lr"] = cfg.lr if g.get("name") == "head" else cfg.lr * cfg.backbone_lr_mult
    st.lr.plateau_mult = 1.0
    log.info("learning rate %g on resume (was %g)", cfg.lr, old)


def _train_epochs(run: Run, st: TrainState, scaler: Any) -> None:
    """Epochs from ``st.epoch`` on: unfreeze what is due, train, validate, checkpoint, maybe stop early.

    Raises Stopped on SIGTERM/SIGINT, TrainError when training diverges.
    """
    cfg, events = run.cfg, run.events
    val_t = run.table.targets[run.rows["val"]]
    for epoch in range(st.epoch, cfg.epochs):
        st.epoch = epoch
        t0 = time.time()
        _unfreeze_due(run, st, epoch)
        cur_lr = st.lr.apply(st.optimizer, epoch)
        train_loss = train_epoch(run, st.optimizer, epoch, scaler)
        logits, m, val_loss, groups = _validate(run, val_t)
        row = _epoch_row(run, st, epoch, train_loss, val_loss, m, groups, cur_lr, t0)
        metric = select_value(row, cfg.select_metric)
        st.lr.step(metric)
        improved = st.improved(metric, epoch)
        st.history.append(row)
        log.info(
            "epoch %d/%d train_loss %.4f val_loss %.4f val F1 micro %.3f macro %.3f (%.0fs)",
            epoch + 1, cfg.epochs, train_loss, val_loss, m["f1_micro"], m["f1_macro"], row["seconds"],
        )  # fmt: skip
        events.emit(protocol.EPOCH_END, epochs=cfg.epochs, improved=improved, **row)
        _save_epoch(run, st, epoch, improved, logits)
        barrier(run.d)
        if run.out_of_time:
            events.emit(
                protocol.LOG, level="warning", message=f"time limit: training ended in epoch {epoch + 1}"
            )
            break
        if cfg.early_stopping and st.best["since"] >= cfg.early_stopping:
            log.info("early stopping: %s has not improved for %d epochs", cfg.select_metric, st.best["since"])
            break


def _unfreeze_due(run: Run, st: TrainState, epoch: int) -> None:
    for i in st.sched.due(epoch):
        n = st.sched.apply(i, st.optimizer)
        log.info("epoch %d: unfroze %d parameter tensors (%s)", epoch + 1, n, st.sched.plan[i][1])
        _wrap_ddp(run)


# What an epoch_end event carries per group: the few figures a live plot can show, not every metric
# (balanced_accuracy: exclusive groups only; select_metric "balanced" reads it).
EPOCH_GROUP_FIELDS = ("top1_accuracy", "f1_micro", "f1_macro", "balanced_accuracy")


def _validate(
    run: Run, val_t: np.ndarray
) -> tuple[np.ndarray, dict[str, float], float, dict[str, dict[str, float]]]:
    """(logits, overall metrics at 0.5, loss, per-group figures at 0.5) on the validation rows.

    The per-group figures (``EPOCH_GROUP_FIELDS`` of ``compute_metrics``' groups) come from the same
    predictions: no second pass over the images.
    """
    logits = predict_rows(run, run.rows["val"], "val")
    m = _measure(run, val_t, _scores(run, logits), 0.5)
    val_loss = _val_loss(run, logits, val_t)
    groups = {g: {k: gm[k] for k in EPOCH_GROUP_FIELDS if k in gm} for g, gm in m["groups"].items()}
    return logits, m["overall"], val_loss, groups


def _epoch_row(
    run: Run,
    st: TrainState,
    epoch: int,
    train_loss: float,
    val_loss: float,
    m: dict[str, float],
    groups: dict[str, dict[str, float]],
    cur_lr: float,
    t0: float,
) -> dict[str, Any]:
    """The epoch's line in the history (and its ``epoch_end`` event)."""
    trainable = sum(p.numel() for g in st.optimizer.param_groups for p in g["params"])
    return {
        "epoch": epoch + 1,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "val_f1_micro": m["f1_micro"],
        "val_f1_macro": m["f1_macro"],
        "val_map": m["map"],
        "val_groups": groups,
        "lr": cur_lr,
        "trainable_params": trainable,
        "partial": run.out_of_time,
        "seconds": time.time() - t0,
    }


def _save_epoch(run: Run, st: TrainState, epoch: int, improved: bool, logits: np.ndarray) -> None:
    """Rank 0 writes the best weights (when ``improved``) and the resumable last checkpoint."""
    if not run.d.main:
        return
    events = run.events
    best_path, last_path = run.out / BEST, run.out / LAST
    if improved:
        checkpoints.save(best_path, checkpoints.best_weights(run.model, epoch, logits))
        events.emit(protocol.CHECKPOINT_SAVED, path=str(best_path), kind="best", epoch=epoch + 1)
    checkpoints.save(last_path, checkpoints.resumable(run.model, st, list(run.table.labels), epoch + 1))
    events.emit(protocol.CHECKPOINT_SAVED, path=str(last_path), kind="last", epoch=epoch + 1)


def _stopped(run: Run, st: TrainState) -> int:
    """Rank 0 saves where the run stopped and says how to resume; returns the "stopped" exit code."""
    events, out, epoch = run.events, run.out, st.epoch
    last_path = out / LAST
    if run.d.main:
        # The interrupted epoch is redone on resume, from the weights it had reached.
        checkpoints.save(last_path, checkpoints.resumable(run.model, st, list(run.table.labels), epoch))
        events.emit(protocol.CHECKPOINT_SAVED, path=str(last_path), kind="last", epoch=epoch)
        events.emit(
            protocol.RUN_STOPPED,
            message=f"stopped at epoch {epoch + 1}; continue with --resume {out}",
            checkpoint=str(last_path),
            resume=str(out),
        )
    log.warning("stopped; the last checkpoint is %s (continue with --resume %s)", last_path, out)
    return stopped_exit_code(run.stop.signum)


# ---------------------------------------------------------------- the end of a run


@dataclass(frozen=True)
class Evaluation:
    """The best epoch measured: tuned thresholds, all metrics, and the split whose scores the bundle keeps."""

    thresholds: np.ndarray
    metrics: dict[str, Any]
    split: str
    rows: np.ndarray
    scores: np.ndarray
    badge: dict[str, Any] | None = None  # the "?" badge's cutoff, chosen on val, measured on test


def _finish(run: Run, history: list[dict[str, Any]]) -> int:
    """Best weights -> thresholds tuned on val -> one test evaluation -> bundle (rank 0). Returns 0."""
    ck = checkpoints.read_best(run.d, run.out / BEST)
    run.model.load_state_dict(ck["model"])
    result = evaluate_best(run, ck, history)
    if run.d.main:
        bundle_path = package_bundle(run, result)
        _report_finished(run, bundle_path, result.metrics)
    # Every rank waits for rank 0's bundle: a rank that destroys the gloo group while another still
    # works can abort in gloo's own thread ("terminate called without an active exception", seen once
    # in a CI-like run).
    barrier(run.d)
    return 0


def evaluate_best(run: Run, best: dict[str, Any], history: list[dict[str, Any]]) -> Evaluation:
    """Thresholds tuned on the best epoch's validation scores, then val and (once) test measured with them.

    Takes the run (its model already holding the best weights), the best checkpoint (its epoch and
    validation logits) and the epoch history; every rank returns the same Evaluation.
    Raises Stopped when a stop arrives during the test pass.
    """
    table = run.table
    val_rows, test_rows = run.rows["val"], run.rows["test"]
    val_t = table.targets[val_rows]
    val_scores = _scores(run, best["val_logits"].numpy())
    previous = previous_thresholds(run.cfg.init_from)
    thresholds, fell_back = final_thresholds(val_t, val_scores, table.labels, run.exclusive, previous)
    metrics: dict[str, Any] = {"best_epoch": int(best["epoch"]) + 1, "history": history}
    # Which labels kept a threshold that was not tuned, and why: the app says so beside the comparison.
    metrics[THRESHOLDS_NOT_TUNED] = {"min_positives": MIN_TUNE_POSITIVES, "labels": fell_back}
    metrics["val"] = _measure(run, val_t, val_scores, thresholds)
    metrics["val_at_0.5"] = compute_metrics(
        val_t, val_scores, 0.5, exclusive=run.exclusive, required=run.required
    )["overall"]
    val = Evaluated(val_t, val_scores, "validation")
    if not len(test_rows):
        return Evaluation(thresholds, metrics, "val", val_rows, val_scores, _badge(run, thresholds, val))
    test_scores = _scores(run, predict_rows(run, test_rows, "test"))  # the one and only look at test
    test_t = table.targets[test_rows]
    metrics["test"] = _measure(run, test_t, test_scores, thresholds)
    by_source = {}
    srcs = np.array(table.sources)[test_rows]
    for src in dict.fromkeys(srcs.tolist()):
        sel = srcs == src
        by_source[src] = _measure(run, test_t[sel], test_scores[sel], thresholds)["groups"]
    metrics["test"]["sources"] = by_source
    test = Evaluated(test_t, test_scores, "test")
    return Evaluation(thresholds, metrics, "test", test_rows, test_scores, _badge(run, thresholds, val, test))


def _badge(
    run: Run, thresholds: np.ndarray, chosen_on: Evaluated, measured_on: Evaluated | None = None
) -> dict[str, Any]:
    """The badge's cutoff chosen on the validation photos (at most a fifth flagged), and what it flags on
    ``measured_on`` (the test photos; the validation ones when there are none)."""
    table = run.table
    return calibrate(
        chosen_on, thresholds, table.labels, table.groups, run.exclusive, measured_on, required=run.required
    )


def _measure(run: Run, targets: np.ndarray, scores: np.ndarray, thresholds: np.ndarray | float) -> dict:
    """Metrics of the tags the tag rule gives at ``thresholds``: overall, per label and per group."""
    table = run.table
    return compute_metrics(
        targets, scores, thresholds, table.labels, table.groups, run.exclusive, required=run.required
    )


def package_bundle(run: Run, result: Evaluation) -> Path:
    """Write the run's bundle (``model.fmodel``: best weights, thresholds, metrics, provenance and the
    evaluated split's scores) and ``metrics.json`` into the run folder; returns the bundle's path.

    Raises BundleError/WriteError (an OSError) when a file cannot be written.
    """
    cfg, table = run.cfg, run.table
    bundle = new_bundle(
        cfg.arch,
        table.labels,
        {k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()},
        input_size=run.input_size,
        resize=cfg.resize,
        mean=run.mean,
        std=run.std,
        groups=table.groups,
        exclusive_groups=tuple(
            g for g in cfg.exclusive_groups if sum(table.groups.get(lab) == g for lab in table.labels) >= 2
        ),
        at_least_one_groups=cfg.at_least_one_groups,
        thresholds=tuple(float(t) for t in result.thresholds),
        badge=result.badge,
        tta_flip=cfg.tta_flip,
        metrics=result.metrics,
        provenance=_provenance(run),
        evaluation={
            "split": result.split,
            "paths": [table.paths[i] for i in result.rows],
            "targets": torch.from_numpy(table.targets[result.rows].astype(np.int8)),
            "scores": torch.from_numpy(result.scores.astype(np.float16)),
        },
    )
    bundle_path = save_bundle(bundle, run.out / BUNDLE)
    atomic_write_bytes(run.out / METRICS, protocol.to_json(result.metrics, indent=1).encode())
    return bundle_path


def _provenance(run: Run) -> dict[str, Any]:
    cfg = run.cfg
    return {
        "model_id": uuid.uuid4().hex,
        "name": cfg.name or f"{cfg.arch} {datetime.now().strftime('%Y-%m-%d %H:%M')}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "trainer": "fashion-finder trainer",
        "data": run.table.summary(),
        "config": cfg.to_dict(),
        "world_size": run.d.world,
        **({"init_from": run.init_from_id} if run.init_from_id else {}),
    }


def _report_finished(run: Run, bundle_path: Path, metrics: dict[str, Any]) -> None:
    test_rows = run.rows["test"]
    summary = {
        "val": metrics["val"]["overall"],
        "val_groups": metrics["val"]["groups"],
        "test": metrics.get("test", {}).get("overall"),
        "test_groups": metrics.get("test", {}).get("groups"),
        "best_epoch": metrics["best_epoch"],
        THRESHOLDS_NOT_TUNED: metrics[THRESHOLDS_NOT_TUNED],
    }
    log.info("finished: bundle %s; val F1-macro %.3f", bundle_path, metrics["val"]["overall"]["f1_macro"])
    run.events.emit(
        protocol.RUN_FINISHED, bundle=str(bundle_path), metrics=summary, test_split=bool(len(test_rows))
    )
