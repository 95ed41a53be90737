"""HEIC/HEIF and raw camera files decode as photos: colours, orientation applied once, real sizes, clear failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_desktop.model import images
from fashion_desktop.model.images import header_size, is_photo, load_for_model, load_thumbnail, open_image
from fashion_desktop.model.problems import PathProblem
from tests.heic_raw_files import BLUE, RED, bayer_halves, halves, make_dng, make_heic, needs_heif_enc

GREEN = (30, 200, 60)


def close(pixel: tuple, colour: tuple, tolerance: int = 40) -> bool:
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(pixel, colour, strict=True))


def corners(img: Image.Image) -> tuple[tuple, tuple]:
    """The colours near the top-left and the bottom-right corner."""
    return img.getpixel((2, 2)), img.getpixel((img.width - 3, img.height - 3))


def test_heic_and_raw_extensions_are_photos_and_no_longer_refused() -> None:
    for ext in ("heic", "heif", "cr2", "cr3", "nef", "arw", "raf", "orf", "rw2", "dng", "pef", "srw"):
        assert ext in images.EXTENSIONS
        assert ext not in images.UNSUPPORTED_EXTENSIONS


def test_importing_the_image_layer_loads_no_heic_or_raw_decoder() -> None:
    """The window's start imports model.images: libheif and LibRaw load with the first such photo."""
    code = "import sys, json, fashion_desktop.model.images; print(json.dumps([m in sys.modules for m in ('pi_heif', 'rawpy')]))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(proc.stdout) == [False, False]


@needs_heif_enc
def test_heic_decodes_with_its_colours(tmp_path: Path) -> None:
    heic = make_heic(tmp_path / "IMG_0001.HEIC", halves((64, 32)))
    loaded = open_image(heic)
    assert not isinstance(loaded, PathProblem), loaded
    assert loaded.image.mode == "RGB" and loaded.image.size == (64, 32) == loaded.original_size
    left, right = corners(loaded.image)
    assert close(left, RED) and close(right, BLUE)
    assert loaded.format == "HEIF" and loaded.note is None
    assert header_size(heic) == (64, 32) and is_photo(heic)
    thumb = load_thumbnail(heic, 16)
    assert not isinstance(thumb, PathProblem) and thumb.image.size == (16, 8)
    assert load_for_model(heic, 24).shape == (24, 24, 3)


@needs_heif_enc
@pytest.mark.parametrize("exif_orientation", [1, 6])
def test_a_rotated_heic_is_turned_once_by_its_irot_box(tmp_path: Path, exif_orientation: int) -> None:
    """irot 3 (270° anticlockwise = 90° clockwise): the red left half ends on top. A phone also writes EXIF
    orientation 6 for it; turning by that as well would lay the photo on its side again."""
    heic = make_heic(tmp_path / "turned.heic", halves((64, 32)), exif_orientation=exif_orientation, irot=3)
    loaded = open_image(heic)
    assert not isinstance(loaded, PathProblem), loaded
    assert loaded.image.size == (32, 64) == loaded.original_size
    top, bottom = corners(loaded.image)
    assert close(top, RED) and close(bottom, BLUE)
    with open(heic, "rb") as fh:  # how the scan measures it
        assert header_size(fh) == (32, 64)


@needs_heif_enc
def test_a_heic_under_a_jpg_name_still_decodes(tmp_path: Path) -> None:
    named = tmp_path / "phone.jpg"
    make_heic(tmp_path / "phone.heic", halves((64, 32))).rename(named)
    loaded = open_image(named)
    assert not isinstance(loaded, PathProblem), loaded
    assert loaded.note == "file extension .jpg but the content is HEIF"


def test_a_damaged_heic_is_a_problem_with_a_reason(tmp_path: Path) -> None:
    heic = tmp_path / "IMG_0002.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(64))
    result = open_image(heic)
    assert isinstance(result, PathProblem) and "HEIC photo that can be read" in result.reason
    assert header_size(heic) is None and not is_photo(heic)


def test_dng_with_a_preview_is_decoded_from_the_preview(tmp_path: Path) -> None:
    """The preview is green, the mosaic red and blue: green proves the preview was used, not a demosaic."""
    dng = make_dng(tmp_path / "shot.dng", bayer_halves((48, 32)), preview=Image.new("RGB", (24, 16), GREEN))
    loaded = open_image(dng)
    assert not isinstance(loaded, PathProblem), loaded
    assert loaded.image.size == (24, 16) and close(loaded.image.getpixel((5, 5)), GREEN)
    assert loaded.original_size == (48, 32)  # the sensor's size, not the preview's
    assert header_size(dng) == (48, 32) and is_photo(dng)
    with open(dng, "rb") as fh:
        assert header_size(fh) == (48, 32)


def test_dng_without_a_preview_is_demosaiced(tmp_path: Path) -> None:
    dng = make_dng(tmp_path / "plain.DNG", bayer_halves((48, 32)))
    loaded = open_image(dng)
    assert not isinstance(loaded, PathProblem), loaded
    assert loaded.image.mode == "RGB" and loaded.image.size == (24, 16) and loaded.original_size == (48, 32)
    left, right = corners(loaded.image)
    assert left[0] > 200 > left[2] and right[2] > 200 > right[0]  # red left, blue right
    thumb = load_thumbnail(dng, 12)
    assert not isinstance(thumb, PathProblem) and thumb.image.size == (12, 8)
    assert load_for_model(dng, 16).shape == (16, 16, 3)


@pytest.mark.parametrize("with_preview", [True, False])
def test_a_raw_taken_upright_is_shown_upright_by_both_paths(tmp_path: Path, with_preview: bool) -> None:
    """Orientation 6 (turn 90° clockwise): the scene's red left half ends on top, by the preview or the demosaic."""
    preview = halves((24, 16)) if with_preview else None
    dng = make_dng(tmp_path / "upright.dng", bayer_halves((48, 32)), preview=preview, orientation=6)
    loaded = open_image(dng)
    assert not isinstance(loaded, PathProblem), loaded
    assert loaded.image.size == (16, 24) and loaded.original_size == (32, 48) == header_size(dng)
    top, bottom = corners(loaded.image)
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]


def test_a_preview_that_says_its_own_orientation_is_turned_once(tmp_path: Path) -> None:
    dng = make_dng(
        tmp_path / "both.dng", bayer_halves((48, 32)), halves((24, 16)), orientation=6, preview_orientation=6
    )
    loaded = open_image(dng)
    assert not isinstance(loaded, PathProblem), loaded
    assert loaded.image.size == (16, 24)
    top, bottom = corners(loaded.image)
    assert close(top, RED) and close(bottom, BLUE)


def test_a_preview_already_turned_is_not_turned_again(tmp_path: Path) -> None:
    """Some cameras store the preview upright (portrait) with no EXIF of its own; its shape says so."""
    upright = halves((24, 16)).transpose(Image.Transpose.ROTATE_270)
    dng = make_dng(tmp_path / "portrait.dng", bayer_halves((48, 32)), upright, orientation=6)
    loaded = open_image(dng)
    assert not isinstance(loaded, PathProblem) and loaded.image.size == (16, 24)
    assert close(corners(loaded.image)[0], RED)


def test_broken_raw_files_are_problems_with_reasons_never_exceptions(tmp_path: Path) -> None:
    garbage = tmp_path / "IMG_1.CR2"
    garbage.write_bytes(b"not a raw file " * 50)
    truncated = tmp_path / "cut.dng"
    truncated.write_bytes(make_dng(tmp_path / "whole.dng", bayer_halves((48, 32))).read_bytes()[:200])
    for path in (garbage, truncated):
        for result in (open_image(path), load_thumbnail(path, 32), load_for_model(path, 16)):
            assert isinstance(result, PathProblem) and result.path == path, result
            assert "raw" in result.reason
        assert header_size(path) is None and not is_photo(path)
    assert "not a raw file LibRaw can read" in open_image(garbage).reason


def test_a_raw_larger_than_the_pixel_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    dng = make_dng(tmp_path / "big.dng", bayer_halves((48, 32)))
    result = open_image(dng, max_pixels=1000)
    assert isinstance(result, PathProblem) and "decompression bomb" in result.reason


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_named_like_a_raw_file_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "trap.nef"
    os.mkfifo(fifo)
    result = open_image(fifo)
    assert isinstance(result, PathProblem) and "not a regular file" in result.reason
    assert header_size(fifo) is None and not is_photo(fifo)


def test_the_mosaic_helper_is_a_real_bayer_pattern() -> None:
    mosaic = bayer_halves((8, 4))
    assert mosaic.dtype == np.uint16 and mosaic[0, 0] == 60000 and mosaic[1, 7] == 60000


def test_a_preview_smaller_than_asked_for_gives_way_to_the_demosaic(tmp_path: Path) -> None:
    """A green 12 x 8 preview of a 48 x 32 red/blue sensor: a 16-pixel thumbnail is developed from the mosaic."""
    dng = make_dng(tmp_path / "tiny_preview.dng", bayer_halves((48, 32)), Image.new("RGB", (12, 8), GREEN))
    thumb = load_thumbnail(dng, 16)
    assert not isinstance(thumb, PathProblem) and thumb.image.size == (16, 11)
    left, right = corners(thumb.image)
    assert left[0] > 200 > left[2] and right[2] > 200 > right[0]
    small = load_thumbnail(dng, 6)  # the preview is enough for a 6-pixel one
    assert not isinstance(small, PathProblem) and close(small.image.getpixel((2, 2)), GREEN)
