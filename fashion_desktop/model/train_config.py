"""The training-config schema both processes share: a frozen dataclass, its validation, the resume rules."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .bundle_format import INPUT_SIZE_RANGE
from .fileio import atomic_write_bytes
from .run_folder import CONFIG


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; saved resolved as ``config.yaml`` in the run directory.

    ``data`` entries are paths or dicts (read by the trainer's ``data.read_source``). ``unfreeze`` entries are
    ``"EPOCH:PREFIX[,PREFIX...]"`` or ``"EPOCH:all"``: at the start of 0-based EPOCH those backbone
    parameters start training and join the optimizer with ``lr * backbone_lr_mult``.
    """

    data: tuple[Any, ...] = ()
    mapping: str | None = None
    data_root: str | None = None  # relative data paths and mappings are read from here (default: cwd)
    out: str = "runs/train"
    arch: str = "efficientnet_lite0"
    pretrained: bool = True
    init_from: str | None = None  # a bundle to start from: its arch, size and weights (--init-from)
    allow_random_init: bool = False  # explicit choice to train from random weights if none can be had
    allow_download: bool = True
    image_size: int | None = None  # None: the architecture's size (299 for inception_v3)
    resize: str = "squash"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    backbone_lr_mult: float = 0.1
    weight_decay: float = 1e-4
    optimizer: str = "adamw"  # adamw | sgd
    scheduler: str = "plateau"  # plateau (on the select_metric) | cosine | none
    plateau_patience: int = 1
    plateau_factor: float = 0.3
    warmup_epochs: int = 0
    early_stopping: int = 3  # epochs without improvement of the select_metric; 0 disables
    # What chooses the best epoch, drives the plateau scheduler and early stopping: f1_macro (validation
    # F1 macro at 0.5) or balanced (the mean of each exclusive group's balanced accuracy and the category
    # group's F1 macro: a majority value, like a catalogue's men's items, earns nothing by being common).
    select_metric: str = "f1_macro"
    freeze_backbone: bool = True
    unfreeze: tuple[str, ...] = ()  # default when freezing: ("1:all",)
    loss: str = "bce"  # bce | focal (for the labels of groups that are not exclusive)
    # Groups with one value per photo (gender, colour...): softmax cross-entropy over the group, tagged
    # with the group's top value at one floor per group (fashion_desktop.model.groups).
    exclusive_groups: tuple[str, ...] = ()
    # Groups every photo gets a value of in the bundle's tag rule (a model trained on one item per photo:
    # the top category when none passes its threshold); copied into the bundle, measured in its metrics.
    at_least_one_groups: tuple[str, ...] = ()
    label_smoothing: float = 0.0  # for the exclusive groups' cross-entropy
    logit_adjust: float = 0.0  # tau: exclusive groups learn prior-free logits (Menon et al. 2021); 0 = off
    pos_weight: str = "none"  # none | auto (negatives/positives per label, capped at 50)
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    aux_loss_weight: float = 0.4
    sampler: str = "shuffle"  # shuffle | weighted (seed's class-weighted WeightedRandomSampler)
    # Source name -> how many times more often its photos are drawn per epoch (e.g. {clothing-small: 3}):
    # photos like the ones the model must tag (phone photos) weigh more than their count. Empty: all 1.
    source_weights: dict[str, float] = field(default_factory=dict)
    grad_clip: float = 5.0
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (bf16 on CPUs that support it, fp16 AMP on CUDA)
    channels_last: bool = True
    augment: str = "standard"  # none | flip | standard | phone (trainer.pipeline.to_model_input)
    tta_flip: bool = False  # average the scores of each photo and its mirror (validation, test, tagging)
    num_workers: int = 0
    cache_dir: str | None = None  # decode cache; default RUN_DIR/cache
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    min_label_count: int = 1  # drop labels with fewer known positives in train
    allow_new_labels: bool = False  # a mapping target a typo away from a known label is taken as new
    max_images: int = 0  # 0: all; else a deterministic subset per source (quick experiments)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    name: str = ""
    eval_batch_size: int = 64
    progress_per_s: float = 2.0
    time_limit_min: float = 0.0  # >0: end training after this many minutes in this process, keep the best

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for k, v in out.items():
            if isinstance(v, tuple):
                out[k] = list(v)
        return out


_FIELDS = {f.name: f for f in fields(TrainConfig)}
SELECT_METRICS = ("f1_macro", "balanced")  # what chooses the best epoch (TrainConfig.select_metric)
# What ``--resume`` may change: how long, how fast and how carefully the run goes on. Everything else
# decides what the model is or learns from, and changing it mid-run would train something else.
RESUME_APPLIES = (
    "epochs",
    "lr",
    "time_limit_min",
    "early_stopping",
    "batch_size",
    "grad_clip",
    "precision",
    "num_workers",
    "threads",
    "progress_per_s",
    "eval_batch_size",
    "device",
    "name",
    "allow_download",
    "allow_random_init",
)


def _coerce(key: str, value: Any) -> Any:
    """Turn a YAML/JSON/CLI value into the field's type, or raise ConfigError naming the key."""
    f = _FIELDS.get(key)
    if f is None:
        raise ConfigError(f"unknown setting {key!r}; known: {', '.join(sorted(_FIELDS))}")
    kind = str(f.type)
    if kind.startswith("dict"):
        return _coerce_weights(key, value)
    try:
        if kind.startswith("tuple"):
            if value is None:
                return ()
            if isinstance(value, str):
                value = [value]
            return tuple(value)
        if value is None:
            if "None" in kind:
                return None
            raise ConfigError(f"setting {key!r} cannot be empty")
        if kind.startswith("bool"):
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind.startswith("int"):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind.startswith("float"):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {key!r}: cannot use {value!r} (expected {kind})") from None


def _coerce_weights(key: str, value: Any) -> dict[str, float]:
    """``{name: weight}`` from a mapping (None: empty); raises ConfigError naming ``key`` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"setting {key!r} must map source names to weights, e.g. {{clothing-small: 3}}")
    out: dict[str, float] = {}
    for name, weight in value.items():
        bad = ConfigError(f"setting {key!r}: the weight of {name!r} must be a number, not {weight!r}")
        if isinstance(weight, bool):
            raise bad
        try:
            out[str(name)] = float(weight)
        except (TypeError, ValueError):
            raise bad from None
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON mapping. Raises ConfigError for missing files or bad syntax."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file {path} is not valid {path.suffix or 'YAML'}: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings, not {type(raw).__name__}")
    return raw


def make_config(
    file_values: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
) -> TrainConfig:
    """Defaults, then values from a config file, then command-line overrides (None = not given).

    Raises ConfigError for unknown keys, wrong types or inconsistent values.
    """
    values: dict[str, Any] = {}
    for source in (file_values or {}, overrides or {}):
        for key, value in source.items():
            key = key.replace("-", "_")
            if source is overrides and value is None:
                continue
            values[key] = _coerce(key, value)
    cfg = TrainConfig(**values)
    validate(cfg)
    return cfg


def validate(cfg: TrainConfig) -> None:
    """Raise ConfigError for values that cannot work together."""
    choices = {
        "optimizer": ("adamw", "sgd"),
        "scheduler": ("plateau", "cosine", "none"),
        "loss": ("bce", "focal"),
        "pos_weight": ("none", "auto"),
        "sampler": ("shuffle", "weighted"),
        "precision": ("auto", "fp32", "bf16", "fp16"),
        "augment": ("none", "flip", "standard", "phone"),
        "select_metric": SELECT_METRICS,
        "resize": ("squash", "center_crop", "pad"),
        "device": ("auto", "cpu", "cuda"),
    }
    for key, allowed in choices.items():
        if getattr(cfg, key) not in allowed:
            raise ConfigError(
                f"setting {key!r} must be one of {', '.join(allowed)} (got {getattr(cfg, key)!r})"
            )
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ConfigError("epochs and batch_size must be at least 1")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise ConfigError(f"setting 'lr' must be a number above 0 (got {cfg.lr!r})")
    lo, hi = INPUT_SIZE_RANGE
    if cfg.image_size is not None and not lo <= cfg.image_size <= hi:
        raise ConfigError(f"setting 'image_size' must be between {lo} and {hi} pixels (got {cfg.image_size})")
    if cfg.early_stopping < 0 or not cfg.time_limit_min >= 0:
        raise ConfigError("early_stopping and time_limit_min cannot be negative")
    if (
        not 0 <= cfg.val_fraction < 1
        or not 0 <= cfg.test_fraction < 1
        or cfg.val_fraction + cfg.test_fraction >= 1
    ):
        raise ConfigError("val_fraction and test_fraction must be in [0, 1) and sum to less than 1")
    if not 0 <= cfg.label_smoothing < 1 or not 0 <= cfg.logit_adjust <= 5:
        raise ConfigError("label_smoothing must be in [0, 1) and logit_adjust in [0, 5]")
    bad = {k: w for k, w in cfg.source_weights.items() if not k or not (math.isfinite(w) and w > 0)}
    if bad:
        raise ConfigError(f"setting 'source_weights': each weight must be a number above 0 (got {bad})")
    for entry in cfg.unfreeze:
        parse_unfreeze_entry(entry)


def check_source_weights(cfg: TrainConfig, sources: Iterable[str]) -> None:
    """Raise ConfigError when ``source_weights`` names a source that is not among the data's ``sources``."""
    known = list(dict.fromkeys(sources))
    unknown = [name for name in cfg.source_weights if name not in known]
    if unknown:
        raise ConfigError(
            f"setting 'source_weights' names {', '.join(map(repr, unknown))}, which is not a source of "
            f"this data; its sources are {', '.join(map(repr, known))} (a data entry's 'name' sets its name)"
        )


def parse_unfreeze_entry(entry: str) -> tuple[int, tuple[str, ...]]:
    """``"2:_blocks.15,_conv_head"`` -> (2, ("_blocks.15", "_conv_head")); ``"1:all"`` -> (1, ("",))."""
    epoch, sep, rest = str(entry).partition(":")
    try:
        e = int(epoch)
    except ValueError:
        e = -1
    if not sep or e < 0 or not rest.strip():
        raise ConfigError(f"unfreeze entry {entry!r} must look like 'EPOCH:all' or 'EPOCH:prefix,prefix'")
    prefixes = tuple(p.strip() for p in rest.split(",") if p.strip())
    return e, ("",) if prefixes == ("all",) else prefixes


def unfreeze_plan(cfg: TrainConfig) -> list[tuple[int, tuple[str, ...]]]:
    """The unfreeze schedule sorted by epoch (``"1:all"`` by default when the backbone starts frozen)."""
    if not cfg.freeze_backbone:
        return []
    entries = cfg.unfreeze or ("1:all",)
    return sorted((parse_unfreeze_entry(e) for e in entries), key=lambda x: x[0])


def save_config(cfg: TrainConfig, path: Path, extra: Mapping[str, Any] | None = None) -> None:
    """Write the resolved config as YAML (atomically)."""
    data = cfg.to_dict()
    if extra:
        data = {**data, **extra}
    atomic_write_bytes(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8"))


def resume_changes(
    saved: TrainConfig, changes: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    """Sort ``changes`` (None = not given; ``out`` is left out) against run config ``saved``:
    (the changes ``--resume`` applies (RESUME_APPLIES), {key: (saved value, new value)} for those it
    cannot make). A value equal to the saved one is no change. Raises ConfigError for an unknown key or
    a value of the wrong type.
    """
    applies: dict[str, Any] = {}
    refused: dict[str, tuple[Any, Any]] = {}
    for key, value in changes.items():
        key = key.replace("-", "_")
        if value is None or key == "out":
            continue
        new = _coerce(key, value)
        old = getattr(saved, key)
        if new == old:
            continue
        if key in RESUME_APPLIES:
            applies[key] = new
        else:
            refused[key] = (old, new)
    return applies, refused


def resume_config(saved: TrainConfig, run_dir: str | Path, changes: Mapping[str, Any]) -> TrainConfig:
    """The config to continue run ``run_dir`` with: its ``saved`` config plus ``changes`` (None = not
    given) that ``--resume`` applies (RESUME_APPLIES); a value equal to the saved one is no change.

    Raises ConfigError naming the first setting that cannot change on resume, or an invalid value.
    """
    out = changes.get("out")
    if out is not None and Path(_coerce("out", out)).resolve() != Path(run_dir).resolve():
        raise ConfigError(f"--resume {run_dir} continues in that folder; leave out --out")
    applies, refused = resume_changes(saved, changes)
    for key, (old, _new) in refused.items():
        shown = ", ".join(map(str, old)) if isinstance(old, tuple) else old
        raise ConfigError(f"--resume {run_dir} cannot change {key} (was {shown}); start a new run instead")
    cfg = saved.replace(out=str(run_dir), **applies)
    validate(cfg)
    return cfg


def config_from_run_dir(run_dir: Path) -> TrainConfig:
    """The resolved config saved by an earlier run (for ``--resume``). Raises ConfigError if absent."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a training run folder (no {CONFIG})")
    raw = load_config_file(path)
    return make_config({k: v for k, v in raw.items() if k in _FIELDS})
