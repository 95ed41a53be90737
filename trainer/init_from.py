"""Start a run from an existing bundle: its architecture and input settings, its backbone, its head rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from fashion_desktop.model.archs import get_arch
from fashion_desktop.model.bundle_file import read_header
from fashion_desktop.model.bundle_format import BundleError
from fashion_desktop.model.train_config import ConfigError, TrainConfig

from .errors import TrainError


@dataclass(frozen=True)
class HeadTransplant:
    """What ``transplant`` did: labels whose head rows came from the bundle, fresh ones, dropped ones."""

    kept: tuple[str, ...]
    new: tuple[str, ...]
    dropped: tuple[str, ...]

    def note(self, source: str) -> str:
        """One line for the log: ``started from X: 2 labels kept, 1 new (denim), 1 dropped (blue)``."""

        def part(what: str, names: tuple[str, ...]) -> str:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            return f"{len(names)} {what}" + (f" ({shown})" if names else "")

        return (
            f"started from {source}: {part('labels kept', self.kept)}, {part('new', self.new)}, "
            f"{part('dropped', self.dropped)}"
        )


def resolve_init_from(cfg: TrainConfig, explicit: Mapping[str, object]) -> TrainConfig:
    """``cfg`` with the architecture, image size, resize and (when not set) name taken from bundle
    ``cfg.init_from``; ``explicit`` holds the settings the person gave (file or command line).

    Raises ConfigError naming the file when it is not a readable bundle, or when an explicit ``arch``
    differs from the bundle's.
    """
    if not cfg.init_from:
        return cfg
    path = Path(cfg.init_from)
    try:
        desc, _header = read_header(path)
    except BundleError as exc:
        raise ConfigError(f"--init-from: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"--init-from {path}: cannot read it ({exc.strerror or exc})") from None
    arch = explicit.get("arch")
    if arch is not None and arch != desc.arch:
        raise ConfigError(
            f"--init-from {path} is a {desc.arch} model; --arch {arch} cannot start from it "
            f"(leave out --arch, or pass --arch {desc.arch})"
        )
    changes: dict[str, object] = {"arch": desc.arch}
    if explicit.get("image_size") is None:
        changes["image_size"] = desc.input_size
    if explicit.get("resize") is None:
        changes["resize"] = desc.resize
    return cfg.replace(**changes)


def source_identity(
    path: str, mean: tuple[float, float, float], std: tuple[float, float, float]
) -> tuple[str | None, tuple[float, float, float], tuple[float, float, float]]:
    """(model id, mean, std) of bundle ``path`` for a resumed run's provenance and normalisation; the id
    None and the given ``mean``/``std`` when the bundle can no longer be read (never raises)."""
    try:
        desc, _header = read_header(Path(path))
    except (BundleError, OSError):
        return None, mean, std
    model_id = desc.provenance.get("model_id")
    return (str(model_id) if model_id else None), tuple(desc.mean), tuple(desc.std)


def _is_head(key: str, prefixes: Sequence[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def transplant(
    model: nn.Module,
    labels: Sequence[str],
    source_state: Mapping[str, torch.Tensor],
    source_labels: Sequence[str],
    arch: str,
) -> HeadTransplant:
    """Load ``source_state`` (a bundle's weights for ``source_labels``) into ``model`` (built fresh for
    ``labels``): backbone tensors as they are; in every head of the architecture (``ArchSpec.head_prefixes``,
    Inception's auxiliary head too) the rows of labels the source knows, fresh rows for the others.

    Raises TrainError naming the first tensor whose shape does not fit (another architecture's weights).
    """
    prefixes = get_arch(arch).head_prefixes
    src_index = {name: i for i, name in enumerate(source_labels)}
    pairs = [(i, src_index[name]) for i, name in enumerate(labels) if name in src_index]
    state = model.state_dict()
    new_state: dict[str, torch.Tensor] = {}
    for key, fresh in state.items():
        src = source_state.get(key)
        if src is None:
            if _is_head(key, prefixes):
                new_state[key] = fresh
                continue
            raise TrainError(f"--init-from: the bundle has no weights for {key}; it is not a {arch} model")
        if _is_head(key, prefixes) and fresh.dim() >= 1 and src.shape[1:] == fresh.shape[1:]:
            merged = fresh.clone()
            for i, j in pairs:
                merged[i] = src[j].to(merged.dtype)
            new_state[key] = merged
            continue
        if tuple(src.shape) != tuple(fresh.shape):
            raise TrainError(
                f"--init-from: weights {key} have shape {tuple(src.shape)} in the bundle but the model "
                f"needs {tuple(fresh.shape)} (a different image size or architecture?)"
            )
        new_state[key] = src.to(fresh.dtype)
    model.load_state_dict(new_state)
    kept = tuple(labels[i] for i, _ in pairs)
    new = tuple(name for name in labels if name not in src_index)
    dropped = tuple(name for name in source_labels if name not in set(labels))
    return HeadTransplant(kept, new, dropped)
