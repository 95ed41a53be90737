"""Which device and precision the tagging engine runs on: resolution of user choices, CPU bf16 support."""

from __future__ import annotations

import os
from functools import cache

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


class DeviceError(ValueError):
    """A device that was asked for but is not usable here; the message says why and what is."""


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """Turn ``auto`` / ``cpu`` / ``cuda`` / ``cuda:N`` / ``mps`` into a usable torch.device.

    ``auto`` prefers CUDA, then Apple's MPS, then the CPU. Raises DeviceError when an explicit
    device is absent (no CUDA build, no visible GPU, index out of range, no MPS) or the name is unknown.
    """
    if isinstance(name, torch.device):
        name = str(name)
    text = (name or "auto").strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not _mps_available():
            raise DeviceError(
                "device 'mps' was requested but Apple's Metal (MPS) backend is not available on this "
                "machine; use --device cpu or auto"
            )
        return torch.device("mps")
    if text == "cuda" or text.startswith("cuda:"):
        index_text = text.partition(":")[2]
        if index_text and not index_text.isdigit():
            raise DeviceError(f"device {name!r} is not understood; use cuda or cuda:N with N a GPU number")
        if not torch.cuda.is_available():
            why = (
                "this PyTorch build has no CUDA support"
                if torch.version.cuda is None
                else "no CUDA GPU is visible (driver missing, or CUDA_VISIBLE_DEVICES hides it)"
            )
            raise DeviceError(f"device {name!r} was requested but {why}; use --device cpu or auto")
        count = torch.cuda.device_count()
        index = int(index_text) if index_text else torch.cuda.current_device()
        if index >= count:
            raise DeviceError(
                f"device {name!r} was requested but only {count} CUDA GPU(s) are visible (cuda:0..cuda:{count - 1})"
            )
        return torch.device("cuda", index)
    raise DeviceError(f"unknown device {name!r}; choose one of: {', '.join(DEVICE_CHOICES)}")


@cache
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


@cache
def cpu_supports_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX tiles).

    oneDNN emulates bf16 on any AVX-512 CPU, but emulated bf16 is slower than fp32, so only native
    support counts; ATen's own dispatch level must be vectorised too. Where /proc/cpuinfo is absent
    (macOS, Windows) fp32 is kept: the autocast gain there is unproven.
    """
    native = bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return native and cpu_capability() not in ("", "DEFAULT")


def cpu_capability() -> str:
    """ATen's vector instruction level for this CPU (e.g. ``AVX512``, ``AVX2``), or '' if unknown."""
    get = getattr(torch.backends.cpu, "get_cpu_capability", None)
    return str(get()) if get else ""


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``device`` (None = plain fp32).

    ``precision``: ``auto`` (bf16 on CPUs with native bf16, bf16/fp16 AMP on CUDA, fp32 elsewhere),
    ``fp32``, ``bf16`` or ``fp16``. Raises DeviceError for an unknown precision.
    """
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise DeviceError(f"unknown precision {precision!r}; choose auto, fp32, bf16 or fp16")
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        if device.type == "cpu":
            raise DeviceError("fp16 is not supported on the CPU; use bf16 or fp32")
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if cpu_supports_bf16() else None
    return None  # MPS: fp32 unless asked; fp16 autocast there is recent and model-dependent


def cpu_count() -> int:
    """CPUs this process may run on (respects affinity masks and container CPU sets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
