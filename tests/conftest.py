"""Shared test fixtures: generated photos, every bad-input case, a tiny model bundle, ../shared/data."""

from __future__ import annotations

import os
import struct
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (30, 60, 220)}


def make_photo(
    path: Path,
    size: tuple[int, int] = (96, 64),
    colour: str | tuple = "red",
    fmt: str | None = None,
    **save_kw,
) -> Path:
    """Write a small photo-like image (a flat colour with noise) and return its path."""
    rgb = COLOURS.get(colour, colour) if isinstance(colour, str) else colour
    # Seeded by the file name (not hash(): randomised per process), so every run draws the same photo.
    rng = np.random.default_rng(zlib.crc32(f"{path.name}:{size}".encode()))
    arr = np.clip(np.array(rgb)[None, None, :] + rng.normal(0, 12, (size[1], size[0], 3)), 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint8), "RGB").save(path, format=fmt, **save_kw)
    return path


def split_seed(entries: list, val: float, test: float, fits: Callable[[dict[str, int], Any], bool]) -> int:
    """The first seed at which the trainer splits data ``entries`` (``val``, ``test`` fractions) as ``fits``
    wants, given the photos per split and the trainer's table. The split hashes each photo's path, which
    holds pytest's temporary folder (pytest-N): a few photos otherwise leave a split empty, or a label
    with no training photo, in one such folder of some dozens or hundreds."""
    from trainer.data import DataError, load_dataset

    for seed in range(1000):
        try:
            table = load_dataset(entries, None, val, test, seed)
        except DataError:  # no training photo at all
            continue
        if fits({split: len(table.split_rows(split)) for split in ("train", "val", "test")}, table):
            return seed
    raise AssertionError("no seed below 1000 splits the photos as the test needs")


def make_bad_inputs(folder: Path) -> dict[str, Path]:
    """Every bad-input case of DESIGN.md that can be made in a folder; returns name -> path.

    Cases that load fine (CMYK, palette, 16-bit, alpha, EXIF-rotated, PNG named .jpg, non-ASCII
    name, multi-frame) are included as well as files that must fail (empty, truncated, not an image,
    decompression bomb).
    """
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Path] = {}
    cases["empty"] = folder / "empty.jpg"
    cases["empty"].write_bytes(b"")
    good = make_photo(folder / "_tmp_good.jpg", (120, 90))
    data = good.read_bytes()
    cases["truncated"] = folder / "truncated.jpg"
    cases["truncated"].write_bytes(data[: len(data) // 3])
    good.unlink()
    cases["not_image"] = folder / "notes.jpg"
    cases["not_image"].write_text("this is not a photo\n")
    cases["png_as_jpg"] = make_photo(folder / "really_png.jpg", fmt="PNG")
    cmyk = Image.new("CMYK", (80, 60), (0, 120, 120, 0))
    cases["cmyk"] = folder / "cmyk.jpg"
    cmyk.save(cases["cmyk"])
    pal = Image.new("RGB", (70, 50), (200, 40, 40)).convert("P", palette=Image.ADAPTIVE, colors=8)
    cases["palette"] = folder / "palette.png"
    pal.save(cases["palette"], transparency=0)
    arr16 = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    cases["16bit"] = folder / "sixteen.png"
    Image.fromarray(arr16).save(cases["16bit"])
    rgba = Image.new("RGBA", (64, 64), (10, 200, 10, 128))
    cases["alpha"] = folder / "alpha.png"
    rgba.save(cases["alpha"])
    grey = Image.new("L", (50, 40), 128)
    cases["grey"] = folder / "grey.tif"
    grey.save(cases["grey"])
    rot = Image.new("RGB", (120, 40), (200, 200, 0))
    exif = rot.getexif()
    exif[0x0112] = 6  # rotate 90° on display: the photo is really 40 x 120
    cases["exif_rotated"] = folder / "rotated.jpg"
    rot.save(cases["exif_rotated"], exif=exif)
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 255, 0))]
    cases["gif"] = folder / "anim.gif"
    frames[0].save(cases["gif"], save_all=True, append_images=frames[1:])
    cases["non_ascii"] = make_photo(folder / "robe été — 女装.jpg")
    cases["bomb"] = folder / "bomb.png"
    cases["bomb"].write_bytes(_png_header_only(30000, 30000))
    return cases


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size (a decompression bomb) but holds almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


BAD_FAILS = {"empty", "truncated", "not_image", "bomb"}


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """Nine small photos in three colours, some in a subfolder."""
    folder = tmp_path / "photos"
    for i, colour in enumerate(["red", "green", "blue"] * 3):
        sub = folder / ("sub" if i % 3 == 2 else "")
        make_photo(sub / f"{colour}_{i}.jpg", (96 + i, 64), colour)
    return folder


@pytest.fixture
def bad_folder(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    folder = tmp_path / "mixed"
    cases = make_bad_inputs(folder)
    make_photo(folder / "good_1.jpg")
    make_photo(folder / "good_2.jpg", colour="blue")
    return folder, cases


TINY_LABELS = ["red", "green", "blue"]


@pytest.fixture(scope="session")
def tiny_bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ``cnn`` bundle whose scores follow the photo's colour (red photo: red ≈ 0.98, others ≈ 0.05)."""
    from fashion_desktop.core.demo import save_colour_bundle

    path = tmp_path_factory.mktemp("bundles") / "tiny.fmodel"
    return save_colour_bundle(path, model_id="tiny-test-model", name="tiny")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present on this machine")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep settings, caches and data dirs of every test out of the user's real profile."""
    home = tmp_path / "_home"
    monkeypatch.setenv("FASHION_FINDER_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))


def pytest_report_header(config: pytest.Config) -> str:
    return f"shared data: {'present' if SHARED_DATA.is_dir() else 'absent'} ({SHARED_DATA}); python {sys.version.split()[0]}"


class HeldTagging:
    """Tagging runs started by the app hold after their first photos until cancelled (``release`` ends that)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, after: int) -> None:
        self._monkeypatch = monkeypatch
        monkeypatch.setenv("FASHION_TEST_HOLD_AFTER", str(after))

    def release(self) -> None:
        """Runs started from now on run through, as the real tagging process does."""
        self._monkeypatch.delenv("FASHION_TEST_HOLD_AFTER")


@pytest.fixture
def held_tagging(monkeypatch: pytest.MonkeyPatch) -> HeldTagging:
    """The app's tagging process replaced by tests/held_tag_process.py, whose runs hold after 3 photos
    until the app cancels them: the cancel, kill and quit paths run on a machine of any speed."""
    from fashion_desktop.core import tag_process

    script = str(Path(__file__).with_name("held_tag_process.py"))
    real = tag_process.command

    def held_command(mode: str) -> tuple[str, list[str]]:
        real(mode)  # the same checks
        return sys.executable, [script, mode]

    # Every module that imported ``command`` by name (the worker) starts the held process.
    for name, module in list(sys.modules.items()):
        if name.startswith("fashion_desktop") and getattr(module, "command", None) is real:
            monkeypatch.setattr(module, "command", held_command)
    return HeldTagging(monkeypatch, after=3)


def save_pink_blind_bundle(path: Path, model_id: str = "pink-blind", name: str = "Pink-blind") -> Path:
    """A real tiny ``cnn`` bundle with one-value colours Red / Pink / Blue that calls pink photos Red: its head
    reads the red channel as Red and the blue one as Blue and never says Pink (what the adapter learns)."""
    from fashion_desktop.core.demo import colour_reading_cnn
    from fashion_desktop.model.bundle import new_bundle, save_bundle

    model = colour_reading_cnn(3, {0: 0, 2: 2})  # red channel -> Red, blue -> Blue, nothing -> Pink
    labels = ("Red", "Pink", "Blue")
    bundle = new_bundle(
        "cnn", labels, model.state_dict(), input_size=32, groups=dict.fromkeys(labels, "colour"),
        exclusive_groups=("colour",), provenance={"model_id": model_id, "name": name},
    )  # fmt: skip
    return save_bundle(bundle, path)


def scored_library(
    tmp_path: Path,
    names: Sequence[str],
    labels: Sequence[str],
    groups: dict[str, str],
    scores: Sequence[float],
    exclusive: Sequence[str] = (),
    size: tuple[int, int] = (48, 32),
) -> tuple[Path, Path]:
    """A catalog of red JPEGs ``names`` under ``tmp_path/photos`` and a model "m" that gave each the same
    ``scores`` (thresholds 0.5); returns (catalog, folder)."""
    from fashion_desktop.core.catalog import Catalog

    folder = tmp_path / "photos"
    for name in names:
        make_photo(folder / name, size, "red")
    db = tmp_path / "lib.ffcat"
    with Catalog(db) as cat:
        cat.add_folder(str(folder))
        ids = cat.ensure_images([str(folder / n) for n in names])
        cat.register_model(
            "m", list(labels), "model", None, groups, [0.5] * len(labels), exclusive=list(exclusive)
        )
        row = np.float32(scores)
        cat.add_predictions("m", [(i, row) for i in ids.values()])
    return db, folder
