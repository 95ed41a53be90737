"""Model bundle: one self-describing file (weights, labels, preprocessing, thresholds, metrics).

A bundle is a ``torch.save``d dict of plain Python values and tensors, read back with
``weights_only=True`` so that a file from a stranger cannot run code when it is opened.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .archs import ARCHITECTURES, build_model, get_arch
from .bundle_format import (  # noqa: F401  (FORMAT_VERSION, SUFFIX: part of this module's API)
    FORMAT,
    FORMAT_VERSION,
    SUFFIX,
    BundleError,
    check_description,
    model_id,
    refused_message,
    require,
)
from .fileio import atomic_write_bytes


@dataclass(frozen=True)
class Bundle:
    """Everything inference needs, plus what the Models tab shows.

    ``groups`` maps each label to a group name (e.g. ``category``, ``colour``) or is empty.
    ``thresholds`` holds one default threshold per label. ``evaluation`` optionally holds
    ``{"split": str, "targets": int8 tensor [N, L] with -1 for unknown, "scores": float tensor [N, L]}``
    so metrics can be recomputed at other thresholds.
    """

    arch: str
    labels: tuple[str, ...]
    state_dict: Mapping[str, torch.Tensor]
    input_size: int = 224
    resize: str = "squash"  # "squash": resize to input_size x input_size, as the seed did
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    groups: Mapping[str, str] = field(default_factory=dict)
    thresholds: tuple[float, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)
    evaluation: Mapping[str, Any] | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        if not self.thresholds:
            object.__setattr__(self, "thresholds", tuple(0.5 for _ in self.labels))

    @property
    def model_id(self) -> str:
        """Stable id of this bundle's weights (used to key predictions in the catalog)."""
        return model_id(self.provenance, self.arch)

    @property
    def name(self) -> str:
        return str(self.provenance.get("name") or (self.path.stem if self.path else self.arch))

    def group_names(self) -> list[str]:
        """Group names in the order their first label appears."""
        seen: dict[str, None] = {}
        for label in self.labels:
            g = self.groups.get(label)
            if g:
                seen.setdefault(g, None)
        return list(seen)

    def build_model(self) -> torch.nn.Module:
        """Instantiate the architecture and load the weights; the model is returned in eval mode."""
        model = build_model(self.arch, len(self.labels), pretrained=False)
        missing, unexpected = model.load_state_dict(dict(self.state_dict), strict=False)
        real_missing = [k for k in missing if not k.startswith("AuxLogits.")]
        if real_missing or unexpected:
            where = f" in {self.path}" if self.path else ""
            raise BundleError(
                f"weights{where} do not fit architecture {self.arch!r} with {len(self.labels)} labels "
                f"(missing: {real_missing[:3]}, unexpected: {unexpected[:3]})"
            )
        return model.eval()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "arch": self.arch,
            "labels": list(self.labels),
            "groups": dict(self.groups),
            "input_size": int(self.input_size),
            "resize": self.resize,
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "thresholds": [float(t) for t in self.thresholds],
            "metrics": dict(self.metrics),
            "provenance": dict(self.provenance),
            "evaluation": dict(self.evaluation) if self.evaluation is not None else None,
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict.items()},
        }


def new_bundle(arch: str, labels: Sequence[str], state_dict: Mapping[str, torch.Tensor], **kw: Any) -> Bundle:
    """A bundle with the architecture's default input size and normalisation unless given."""
    spec = get_arch(arch)
    kw.setdefault("input_size", spec.input_size)
    kw.setdefault("mean", spec.mean)
    kw.setdefault("std", spec.std)
    return Bundle(arch=arch, labels=tuple(labels), state_dict=state_dict, **kw)


def save_bundle(bundle: Bundle, path: str | os.PathLike) -> Path:
    """Write ``bundle`` atomically to ``path``; return the path. Raises OSError on write failures."""
    path = Path(path)
    buf = io.BytesIO()
    torch.save(bundle.to_dict(), buf)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _load_failure(path: Path, exc: BaseException) -> str:
    """Say whether torch refused Python objects (a crafted or foreign pickle) or the file is just not a bundle."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    # torch wraps every weights_only failure in the same preamble; the specific cause is on its own line.
    detail = next((ln for ln in lines if "GLOBAL" in ln or "Unsupported" in ln), lines[0] if lines else "")
    detail = detail or type(exc).__name__
    if "GLOBAL" in detail or "Unsupported global" in detail:
        return refused_message(path, detail)
    if isinstance(exc, EOFError):
        return f"{path}: not a model bundle (the file is empty or cut short)"
    return f"{path}: not a model bundle (cannot be read: {detail[:200]})"


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read and validate a bundle without executing any code from the file.

    Raises BundleError (naming the file) for missing files, foreign or crafted pickles,
    wrong format versions, unknown architectures, or label/threshold/head shape mismatches.
    """
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: model file not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError (zip), EOFError ...
        raise BundleError(_load_failure(path, exc)) from None
    check_description(raw, path)
    arch, labels = raw["arch"], raw["labels"]
    require(arch in ARCHITECTURES, path, f"unknown architecture {arch!r}")
    thresholds = raw.get("thresholds") or [0.5] * len(labels)
    state = raw.get("state_dict")
    require(isinstance(state, dict) and state, path, "weights missing")
    head = _head_weight(arch, state)
    if head is not None:
        require(
            head.shape[0] == len(labels),
            path,
            f"the model head has {head.shape[0]} outputs but the bundle lists {len(labels)} labels",
        )
    evaluation = raw.get("evaluation")
    return Bundle(
        arch=arch,
        labels=tuple(labels),
        state_dict=state,
        input_size=int(raw.get("input_size") or get_arch(arch).input_size),
        resize=str(raw.get("resize") or "squash"),
        mean=tuple(raw.get("mean") or get_arch(arch).mean),
        std=tuple(raw.get("std") or get_arch(arch).std),
        groups=dict(raw.get("groups") or {}),
        thresholds=tuple(float(t) for t in thresholds),
        metrics=dict(raw.get("metrics") or {}),
        provenance=dict(raw.get("provenance") or {}),
        evaluation=dict(evaluation) if isinstance(evaluation, dict) else None,
        path=path,
    )


def _head_weight(arch: str, state: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
    for prefix in get_arch(arch).head_prefixes:
        w = state.get(f"{prefix}.weight")
        if isinstance(w, torch.Tensor):
            return w
    return None


def with_thresholds(bundle: Bundle, thresholds: Sequence[float]) -> Bundle:
    return replace(bundle, thresholds=tuple(float(t) for t in thresholds))
