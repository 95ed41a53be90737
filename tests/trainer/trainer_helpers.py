"""Helpers for trainer tests: tiny photos written into tmp_path, and where the shared real data lives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 30)}


def write_image(path: Path, rgb: tuple[int, int, int], size: int = 32, seed: int = 0) -> Path:
    """A small JPEG of a colour with a little noise (so every file differs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(rgb)[None, None, :] + rng.integers(-20, 20, (size, size, 3)), 0, 255).astype(
        np.uint8
    )
    Image.fromarray(arr).save(path, quality=90)
    return path


def make_class_folders(root: Path, per_class: int = 6, splits: tuple[str, ...] = (), classes=None) -> Path:
    """``root/[split/]<class>/<n>.jpg`` with one colour per class."""
    classes = classes or list(COLOURS)
    k = 0
    for split in splits or ("",):
        for cls in classes:
            for i in range(per_class):
                write_image(root / split / cls / f"{cls}_{i}.jpg", COLOURS.get(cls, (128, 128, 128)), seed=k)
                k += 1
    return root


def shared_data() -> Path:
    """``../shared/data`` beside the repository, or skip the calling test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present beside the repository")
    return SHARED_DATA


def trainer_env(tmp_path: Path) -> dict[str, str]:
    """Environment for trainer subprocesses: repo importable, one thread each (2-core CI)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    return env


def run_trainer(args: list[str], tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trainer", *args],
        cwd=tmp_path,
        env=trainer_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# Settings that keep a run to a second or two on 2 cores.
FAST = [
    "--arch",
    "cnn",
    "--image-size",
    "32",
    "--batch-size",
    "4",
    "--set",
    "augment=flip",
    "--set",
    "threads=1",
]
