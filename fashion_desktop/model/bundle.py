"""Model bundle: one self-describing file (weights, labels, preprocessing, thresholds, metrics).

A bundle is a safetensors file (see ``bundle_format``): it holds no code, its header is checked against
the file before anything is read (``bundle_file``), and every field of its description is validated.
Format-1 bundles (torch zips) are only converted (``convert_old_bundle``), with ``weights_only=True``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import uuid
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from .archs import ARCHITECTURES, build_model, get_arch
from .bundle_file import read_header
from .bundle_format import (  # noqa: F401  (FORMAT_VERSION, SUFFIX, OldBundleFormat: part of this module's API)
    DEFAULT_THRESHOLD,
    EVALUATION_PREFIX,
    FORMAT,
    FORMAT_VERSION,
    MAX_FILE_BYTES,
    METADATA_KEY,
    SUFFIX,
    WEIGHTS_PREFIX,
    BundleDescription,
    BundleError,
    OldBundleFormat,
    content_model_id,
    refused_message,
    require,
)
from .fileio import atomic_write_bytes

# safetensors dtype names <-> torch dtypes (the ones bundle_file reads)
_TORCH_DTYPES: dict[str, torch.dtype] = {
    "BOOL": torch.bool,
    "U8": torch.uint8,
    "I8": torch.int8,
    "I16": torch.int16,
    "U16": torch.uint16,
    "I32": torch.int32,
    "U32": torch.uint32,
    "I64": torch.int64,
    "U64": torch.uint64,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F32": torch.float32,
    "F64": torch.float64,
}
_DTYPE_NAMES = {v: k for k, v in _TORCH_DTYPES.items()}


@dataclass(frozen=True, kw_only=True)
class Bundle(BundleDescription):
    """Everything inference needs, plus what the Models tab shows: a description's fields (declared once,
    in ``BundleDescription``) and the weights.

    ``evaluation`` optionally holds ``{"split": str, "paths": [str], "targets": int8 tensor [N, L] with -1
    for unknown, "scores": float tensor [N, L]}`` so metrics can be recomputed at other thresholds.
    """

    state_dict: Mapping[str, torch.Tensor]
    path: Path | None = None

    @cached_property
    def model_id(self) -> str:
        """Stable id of this bundle's weights (keys predictions in the catalog): the stored one, else one
        derived from the weights and labels (never the architecture's name)."""
        stored = self.provenance.get("model_id")
        if stored:
            return str(stored)
        return content_model_id(
            ((k, _dtype_name(t), tuple(t.shape), [_raw_bytes(t)]) for k, t in self.state_dict.items()),
            self.labels,
        )

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
        try:
            missing, unexpected = model.load_state_dict(dict(self.state_dict), strict=False)
        except RuntimeError as exc:  # shapes that differ from the architecture's
            where = f" in {self.path}" if self.path else ""
            detail = next(
                (ln.strip() for ln in str(exc).splitlines() if "size mismatch" in ln), str(exc)[:200]
            )
            raise BundleError(f"weights{where} do not fit architecture {self.arch!r}: {detail}") from None
        real_missing = [k for k in missing if not k.startswith("AuxLogits.")]
        if real_missing or unexpected:
            where = f" in {self.path}" if self.path else ""
            raise BundleError(
                f"weights{where} do not fit architecture {self.arch!r} with {len(self.labels)} labels "
                f"(missing: {real_missing[:3]}, unexpected: {unexpected[:3]})"
            )
        return model.eval()

    def description(self) -> BundleDescription:
        """What the bundle says about its model, validated. Raises BundleError naming the field."""
        return BundleDescription.from_raw(self._raw_description(), self.path or "bundle")

    def _raw_description(self) -> dict[str, Any]:
        """``to_raw`` with numpy/torch values made plain and the evaluation's arrays (tensors) left out."""
        ev = self.evaluation
        return {
            **self.to_raw(),
            "metrics": _plain(dict(self.metrics)),
            "provenance": _plain(dict(self.provenance)),
            "evaluation": (
                _plain({k: v for k, v in ev.items() if not _is_array(v)}) if ev is not None else None
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        """The bundle as one dict of plain values and tensors (the shape format-1 files held)."""
        d = self._raw_description()
        d["evaluation"] = dict(self.evaluation) if self.evaluation is not None else None
        d["state_dict"] = {k: v.detach().cpu() for k, v in self.state_dict.items()}
        return d


def _is_array(value: Any) -> bool:
    return isinstance(value, torch.Tensor) or (hasattr(value, "dtype") and hasattr(value, "shape"))


def _plain(value: Any) -> Any:
    """``value`` with numpy/torch scalars and arrays turned into JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):  # numpy or torch scalar/array
        return value.tolist()
    return value


def _dtype_name(t: torch.Tensor) -> str:
    try:
        return _DTYPE_NAMES[t.dtype]
    except KeyError:
        raise BundleError(f"tensors of type {t.dtype} cannot be stored in a bundle") from None


def _raw_bytes(t: torch.Tensor) -> bytes:
    """A tensor's bytes as safetensors stores them (C order, little-endian)."""
    t = t.detach().cpu().contiguous().reshape(-1)
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def new_bundle(arch: str, labels: Sequence[str], state_dict: Mapping[str, torch.Tensor], **kw: Any) -> Bundle:
    """A bundle with the architecture's default input size and normalisation unless given."""
    spec = get_arch(arch)
    kw.setdefault("input_size", spec.input_size)
    kw.setdefault("mean", spec.mean)
    kw.setdefault("std", spec.std)
    return Bundle(arch=arch, labels=tuple(labels), state_dict=state_dict, **kw)


def _storable(tensors: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Tensors safetensors accepts: contiguous CPU tensors that share no storage."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, value in tensors.items():
        t = value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
        t = t.detach().cpu().contiguous()
        _dtype_name(t)
        storage = t.untyped_storage()
        if storage.data_ptr() in seen or storage.nbytes() != t.numel() * t.element_size():
            t = t.clone()  # a view of a bigger tensor, or weights tied to another name
        seen.add(t.untyped_storage().data_ptr())
        out[name] = t
    return out


def save_bundle(bundle: Bundle, path: str | os.PathLike) -> Path:
    """Write ``bundle`` atomically to ``path`` as a safetensors bundle; return the path.

    The bundle's model id is kept; a bundle without one gets a fresh one. Raises BundleError when the
    description is invalid (nothing is written), WriteError (an OSError) on write failures.
    """
    from safetensors.torch import save

    path = Path(path)
    provenance = dict(bundle.provenance)
    if not provenance.get("model_id"):
        provenance["model_id"] = uuid.uuid4().hex
    bundle = replace(bundle, provenance=provenance, path=path)
    description = bundle.description()
    tensors = {WEIGHTS_PREFIX + k: v for k, v in bundle.state_dict.items()}
    if bundle.evaluation is not None:
        tensors.update({EVALUATION_PREFIX + k: v for k, v in bundle.evaluation.items() if _is_array(v)})
    # NaN in metrics (AP of a label without positives) round-trips through Python's JSON.
    metadata = {METADATA_KEY: json.dumps(description.to_raw(), ensure_ascii=False, default=str)}
    atomic_write_bytes(path, save(_storable(tensors), metadata=metadata))
    return path


def _tensor(buf: bytearray, dtype: str, shape: tuple[int, ...], begin: int, end: int) -> torch.Tensor:
    tdtype = _TORCH_DTYPES[dtype]
    if begin == end:
        return torch.empty(shape, dtype=tdtype)
    t = torch.frombuffer(buf, dtype=tdtype, count=math.prod(shape), offset=begin).reshape(shape)
    return t.byteswap() if sys.byteorder == "big" else t  # type: ignore[attr-defined]


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read and validate a bundle; nothing in the file can run code or make this allocate more than it holds.

    Raises BundleError (naming the file and the field) for missing or damaged files, foreign files,
    newer format versions, invalid descriptions, unknown architectures, head/label mismatches or
    non-finite weights; OldBundleFormat for a format-1 file (see ``load_bundle_converting``).
    """
    path = Path(path)
    description, header = read_header(path)
    size = header.data_start + (max((e for *_x, e in header.tensors.values()), default=0))
    buf = bytearray(size - header.data_start)
    try:
        with open(path, "rb") as fh:
            fh.seek(header.data_start)
            got = fh.readinto(buf)
    except OSError as exc:
        raise BundleError(f"{path}: not a model bundle (cannot be read: {exc.strerror or exc})") from None
    if got != len(buf):
        raise BundleError(f"{path}: not a model bundle (the file is cut short)")
    tensors = {name: _tensor(buf, *spec) for name, spec in header.tensors.items()}
    weights = {k[len(WEIGHTS_PREFIX) :]: t for k, t in tensors.items() if k.startswith(WEIGHTS_PREFIX)}
    arrays = {k[len(EVALUATION_PREFIX) :]: t for k, t in tensors.items() if k.startswith(EVALUATION_PREFIX)}
    return _checked_bundle(description, weights, arrays, path)


def _checked_bundle(
    d: BundleDescription, state: Mapping[str, Any], arrays: Mapping[str, torch.Tensor], path: Path
) -> Bundle:
    """A Bundle from a validated description and its tensors, after the checks that need torch."""
    require(d.arch in ARCHITECTURES, path, f"unknown architecture {d.arch!r}")
    require(
        isinstance(state, Mapping) and state and all(isinstance(v, torch.Tensor) for v in state.values()),
        path,
        "weights missing",
    )
    head = _head_weight(d.arch, state)
    if head is not None:
        require(
            head.dim() == 2 and head.shape[0] == len(d.labels),
            path,
            f"the model head has {head.shape[0] if head.dim() else 0} outputs but the bundle lists {len(d.labels)} labels",
        )
    for name, t in state.items():
        require(_finite(t), path, f"weights contain NaN or infinite values ({name})")
    evaluation = None
    if d.evaluation is not None or arrays:
        evaluation = {**dict(d.evaluation or {}), **arrays}
    described = {f.name: getattr(d, f.name) for f in fields(BundleDescription)}
    return Bundle(**{**described, "evaluation": evaluation}, state_dict=dict(state), path=path)


def _finite(t: torch.Tensor) -> bool:
    """Whether every value of ``t`` is finite; a sum is 20x quicker than isfinite() and NaN/inf always
    reach it, so the exact check runs only when the sum is not finite (or overflowed)."""
    if not t.is_floating_point() or t.numel() == 0:
        return True
    return math.isfinite(t.sum().item()) or bool(torch.isfinite(t).all())


def _head_weight(arch: str, state: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
    for prefix in get_arch(arch).head_prefixes:
        w = state.get(f"{prefix}.weight")
        if isinstance(w, torch.Tensor):
            return w
    return None


def with_thresholds(bundle: Bundle, thresholds: Sequence[float]) -> Bundle:
    return replace(bundle, thresholds=tuple(float(t) for t in thresholds))


# -- format 1 (torch zip): converted, never used as it is ------------------------------------------
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


def _check_old_container(path: Path) -> None:
    """Refuse a torch zip whose entries would expand beyond the file (torch itself never compresses)."""
    size = path.stat().st_size
    require(size <= MAX_FILE_BYTES, path, f"{size / 1024**3:.1f} GiB is more than a bundle may hold")
    if not zipfile.is_zipfile(path):
        return  # a bare pickle: torch reads it as it is, no larger than the file
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BundleError(f"{path}: not a model bundle (cannot be read: {exc})") from None
    packed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
    require(
        not packed,
        path,
        f"compressed entries ({packed[0][:80]}...), which torch never writes" if packed else "",
    )
    total = sum(i.file_size for i in infos)
    require(total <= size, path, f"its entries claim {total} bytes in a file of {size}")


def convert_old_bundle(path: str | os.PathLike) -> Bundle:
    """Read a format-1 bundle (a torch zip) with ``weights_only=True`` and return it as a Bundle.

    Its model id is kept (or derived from its content when it has none), so a catalog's scores stay
    with it; ``save_bundle`` then writes it in the current format. The same validation as
    ``load_bundle`` applies. Raises BundleError naming the file (crafted pickles: "refused to load").
    """
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: model file not found")
    _check_old_container(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError (zip), EOFError ...
        raise BundleError(_load_failure(path, exc)) from None
    if isinstance(raw, dict) and raw.get("format") == FORMAT and raw.get("arch") in ARCHITECTURES:
        spec = get_arch(raw["arch"])  # format 1 allowed these to be left out
        raw = {"input_size": spec.input_size, "mean": list(spec.mean), "std": list(spec.std), **raw}
        raw = {k: v for k, v in raw.items() if v is not None or k == "evaluation"}
    description = BundleDescription.from_raw(raw, path)
    ev = raw.get("evaluation")
    arrays = {k: v for k, v in ev.items() if isinstance(v, torch.Tensor)} if isinstance(ev, dict) else {}
    bundle = _checked_bundle(description, raw.get("state_dict"), arrays, path)
    if not bundle.provenance.get("model_id"):
        bundle = replace(bundle, provenance={**bundle.provenance, "model_id": bundle.model_id})
    return bundle


def load_bundle_converting(path: str | os.PathLike, note: Callable[[str], None]) -> Bundle:
    """``load_bundle``, but a format-1 bundle is converted in memory (``note`` is told, with the fix)."""
    try:
        return load_bundle(path)
    except OldBundleFormat:
        note(
            f"{path} is in the old bundle format; converting it in memory for this run "
            f"(run 'fashion convert {path} NEW.fmodel' once to skip this)"
        )
        return convert_old_bundle(path)
