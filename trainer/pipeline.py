"""Input pipeline: decode each photo once into a resized uint8 cache, then batch augmentation in torch."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

log = logging.getLogger("trainer")

ProgressFn = Callable[[int, int], None]


def _cache_key(paths: Sequence[str], size: int, resize: str) -> str:
    h = hashlib.sha1(f"v1|{size}|{resize}|{len(paths)}".encode())
    for p in paths:
        try:
            st = os.stat(p)
            h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}|missing\n".encode())
    return h.hexdigest()[:20]


def _decode_chunk(args: tuple[str, int, int, list[str], int, str]) -> list[tuple[int, str]]:
    """Worker: decode paths into rows [start, start+len) of the memmap; return (row, reason) failures."""
    from fashion_desktop.model.images import load_for_model
    from fashion_desktop.model.problems import PathProblem

    file, total, start, paths, size, resize = args
    arr = np.memmap(file, dtype=np.uint8, mode="r+", shape=(total, size, size, 3))
    failures = []
    for k, p in enumerate(paths):
        out = load_for_model(p, size, resize)
        if isinstance(out, PathProblem):
            failures.append((start + k, out.reason))
        else:
            arr[start + k] = out
    arr.flush()
    del arr
    return failures


class DecodeCache:
    """``N x S x S x 3`` uint8 images on disk (memory-mapped), decoded once per (paths, size, resize).

    ``ok[i]`` is False for files that could not be decoded (``failures`` says why).
    """

    def __init__(self, file: Path, n: int, size: int, ok: np.ndarray, failures: dict[int, str]) -> None:
        self.file = file
        self.size = size
        self.ok = ok
        self.failures = failures
        self.array = (
            np.memmap(file, dtype=np.uint8, mode="r", shape=(n, size, size, 3))
            if n
            else np.zeros((0, size, size, 3), np.uint8)
        )

    @classmethod
    def open_or_build(
        cls,
        cache_dir: Path,
        paths: Sequence[str],
        size: int,
        resize: str = "squash",
        workers: int = 0,
        progress: ProgressFn | None = None,
        build: bool = True,
    ) -> DecodeCache:
        """Reuse a finished cache for exactly these files, else decode them (in ``workers`` processes).

        ``build=False`` (DDP ranks other than 0) waits for nothing and raises FileNotFoundError if the
        cache is not finished. Raises OSError when the cache folder cannot be written.
        """
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        key = _cache_key(paths, size, resize)
        file = cache_dir / f"images-{key}.u8"
        meta = cache_dir / f"images-{key}.json"
        n = len(paths)
        if meta.is_file():
            info = json.loads(meta.read_text())
            failures = {int(k): v for k, v in info["failures"].items()}
            ok = np.ones(n, dtype=bool)
            ok[list(failures)] = False
            return cls(file, n, size, ok, failures)
        if not build:
            raise FileNotFoundError(f"decode cache {meta} is not built")
        t0 = time.time()
        np.memmap(file, dtype=np.uint8, mode="w+", shape=(max(n, 1), size, size, 3)).flush()
        chunk = 64
        jobs = [
            (str(file), max(n, 1), s, list(paths[s : s + chunk]), size, resize) for s in range(0, n, chunk)
        ]
        failures: dict[int, str] = {}
        done = 0
        workers = max(0, workers)
        if workers > 1 and len(jobs) > 1:
            import multiprocessing as mp

            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                for job, res in zip(jobs, pool.map(_decode_chunk, jobs), strict=True):
                    failures.update(res)
                    done += len(job[3])
                    if progress:
                        progress(done, n)
        else:
            for job in jobs:
                failures.update(_decode_chunk(job))
                done += len(job[3])
                if progress:
                    progress(done, n)
        from fashion_desktop.model.fileio import atomic_write_bytes

        atomic_write_bytes(
            meta, json.dumps({"n": n, "size": size, "resize": resize, "failures": failures}).encode()
        )
        log.info("decoded %d images at %d px in %.1fs (%d failed)", n, size, time.time() - t0, len(failures))
        ok = np.ones(n, dtype=bool)
        ok[list(failures)] = False
        return cls(file, n, size, ok, failures)


class CachedImages(Dataset):
    """Rows of a DecodeCache with their targets: items are (uint8 HWC tensor, int8 targets, index)."""

    def __init__(self, cache: DecodeCache, rows: np.ndarray, targets: np.ndarray) -> None:
        self.cache = cache
        self.rows = np.asarray(rows, dtype=np.int64)
        self.targets = torch.from_numpy(np.ascontiguousarray(targets[self.rows]))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        img = torch.from_numpy(np.array(self.cache.array[self.rows[i]]))
        return img, self.targets[i], i


def to_model_input(
    batch: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    augment: str = "none",
    generator: torch.Generator | None = None,
    channels_last: bool = True,
) -> torch.Tensor:
    """uint8 NHWC batch -> normalised float NCHW (channels_last memory), with optional augmentation.

    ``flip``: random horizontal flips. ``standard``: flips, random scale/aspect/position crops
    (RandomResizedCrop-like, done for the whole batch with one grid_sample) and mild brightness/contrast.
    ``phone``: flips, then what sets a phone photo apart from a product shot (``_phone_geometry``), and
    stronger brightness/contrast. Hue and saturation are never changed, because colour is a label:
    brightness and contrast scale a pixel's channels alike and add the same to each.
    """
    x = batch.permute(0, 3, 1, 2).float().div_(255.0)
    n = x.shape[0]
    if augment in ("flip", "standard", "phone") and n:
        flip = torch.rand(n, generator=generator) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if augment == "standard" and n:
        scale = 0.75 + 0.25 * torch.rand(n, generator=generator)
        aspect = torch.exp((torch.rand(n, generator=generator) - 0.5) * 0.3)
        sx, sy = scale * aspect.sqrt(), scale / aspect.sqrt()
        sx, sy = sx.clamp(max=1.0), sy.clamp(max=1.0)
        tx = (1 - sx) * (2 * torch.rand(n, generator=generator) - 1)
        ty = (1 - sy) * (2 * torch.rand(n, generator=generator) - 1)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx, tx, sy, ty
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        x = _light(x, generator, 0.3)
    if augment == "phone" and n:
        x = _light(_phone_geometry(x, generator), generator, 0.5)
    mean_t = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    x = (x - mean_t) / std_t
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _light(x: torch.Tensor, generator: torch.Generator | None, spread: float) -> torch.Tensor:
    """Random brightness and contrast per photo, each a factor in 1 +- spread / 2 (float NCHW in [0, 1])."""
    n = x.shape[0]
    bright = 1 + (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * spread
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * spread
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - m) * contrast + m * bright).clamp_(0, 1)


PHONE_CROP_AREA = (0.6, 1.0)  # share of the photo a crop keeps (a garment off-centre, partly cut)
PHONE_ROTATION_DEG = 10.0  # a hand-held camera's tilt, either way
PHONE_PERSPECTIVE = 0.08  # how far a corner moves in or out (share of half the side): a camera not square-on


def _phone_geometry(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Per photo a random resized crop (area PHONE_CROP_AREA, aspect 3:4 to 4:3), a rotation and a
    slight perspective, in one ``grid_sample`` of the float NCHW batch (edges reflected)."""
    n, _, h, w = x.shape

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return (lo + (hi - lo) * torch.rand(n, generator=generator)).view(n, 1, 1)

    area = uniform(*PHONE_CROP_AREA)
    aspect = torch.exp(uniform(math.log(3 / 4), math.log(4 / 3)))
    sx, sy = (area * aspect).sqrt().clamp(max=1.0), (area / aspect).sqrt().clamp(max=1.0)
    tx, ty = (1 - sx) * uniform(-1.0, 1.0), (1 - sy) * uniform(-1.0, 1.0)
    angle = uniform(-PHONE_ROTATION_DEG, PHONE_ROTATION_DEG) * (math.pi / 180)
    px, py = uniform(-PHONE_PERSPECTIVE, PHONE_PERSPECTIVE), uniform(-PHONE_PERSPECTIVE, PHONE_PERSPECTIVE)
    # Output pixel centres in grid_sample's [-1, 1] coordinates (align_corners=False), then back through
    # the perspective, the rotation and the crop to where each one reads the photo.
    ys = (torch.arange(h, dtype=x.dtype) * 2 + 1) / h - 1
    xs = (torch.arange(w, dtype=x.dtype) * 2 + 1) / w - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    depth = 1 + px * gx + py * gy
    gx, gy = gx / depth, gy / depth
    cos, sin = angle.cos(), angle.sin()
    grid = torch.stack((sx * (cos * gx - sin * gy) + tx, sy * (sin * gx + cos * gy) + ty), dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
