"""Image loading: every bad-input case gives pixels or a reason naming the file, never an exception."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_desktop.model import images
from fashion_desktop.model.images import LoadedImage, load_for_model, load_thumbnail, open_image
from fashion_desktop.model.problems import PathProblem
from tests.conftest import BAD_FAILS, make_bad_inputs, make_photo


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_bad_inputs(tmp_path_factory.mktemp("bad"))


EXPECTED_REASON = {
    "empty": "empty file",
    "truncated": "truncated",
    "not_image": "not an image",
    "bomb": "decompression bomb",
}


@pytest.mark.parametrize("name", sorted(BAD_FAILS))
def test_bad_files_fail_with_a_reason_naming_the_file(cases: dict[str, Path], name: str) -> None:
    for result in (open_image(cases[name]), load_for_model(cases[name], 32), load_thumbnail(cases[name], 64)):
        assert isinstance(result, PathProblem)
        assert result.path == cases[name]
        assert EXPECTED_REASON[name] in result.reason
        assert str(cases[name]) in str(result)


LOADABLE = ["png_as_jpg", "cmyk", "palette", "16bit", "alpha", "grey", "exif_rotated", "gif", "non_ascii"]


@pytest.mark.parametrize("name", LOADABLE)
def test_unusual_but_valid_images_load_as_rgb(cases: dict[str, Path], name: str) -> None:
    loaded = open_image(cases[name])
    assert isinstance(loaded, LoadedImage), loaded
    assert loaded.image.mode == "RGB"
    arr = load_for_model(cases[name], 32)
    assert isinstance(arr, np.ndarray) and arr.shape == (32, 32, 3) and arr.dtype == np.uint8


def test_every_case_of_the_fixture_is_covered(cases: dict[str, Path]) -> None:
    assert set(cases) == BAD_FAILS | set(LOADABLE)


def test_png_named_jpg_is_noted(cases: dict[str, Path]) -> None:
    loaded = open_image(cases["png_as_jpg"])
    assert loaded.format == "PNG" and "content is PNG" in (loaded.note or "")


def test_cmyk_colours_are_converted(cases: dict[str, Path]) -> None:
    px = np.asarray(open_image(cases["cmyk"]).image)[10, 10]
    assert px[0] > 200 and px[1] < 160 and px[2] < 160  # CMYK (0, 120, 120, 0) is reddish


def test_alpha_is_composited_on_white(cases: dict[str, Path]) -> None:
    px = np.asarray(open_image(cases["alpha"]).image)[5, 5].astype(int)
    # (10, 200, 10) at 50 % over white, not over black
    assert np.allclose(px, [132, 227, 132], atol=3)


def test_sixteen_bit_keeps_its_gradient(cases: dict[str, Path]) -> None:
    arr = np.asarray(open_image(cases["16bit"]).image)
    assert arr[0, 0, 0] < 10 and arr[-1, -1, 0] > 245


def test_exif_orientation_is_applied(cases: dict[str, Path]) -> None:
    loaded = open_image(cases["exif_rotated"])
    assert loaded.image.size == (40, 120)
    assert loaded.original_size == (40, 120)


def test_first_frame_of_animated_gif(cases: dict[str, Path]) -> None:
    px = np.asarray(open_image(cases["gif"]).image)[20, 20]
    assert px[0] > 200 and px[1] < 50


def test_missing_file_and_folder_named_like_a_photo(tmp_path: Path) -> None:
    gone = open_image(tmp_path / "gone.jpg")
    assert isinstance(gone, PathProblem) and "not found" in gone.reason
    (tmp_path / "folder.jpg").mkdir()
    folder = open_image(tmp_path / "folder.jpg")
    assert isinstance(folder, PathProblem) and "folder" in folder.reason


def test_unreadable_file_gives_permission_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As root chmod 000 does not stop reads, so the OS refusal is simulated at the open call.
    photo = make_photo(tmp_path / "locked.jpg")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(photo))

    monkeypatch.setattr(images.Image, "open", refuse)
    for result in (open_image(photo), load_for_model(photo, 32)):
        assert isinstance(result, PathProblem)
        assert result.path == photo and "permission denied" in result.reason


def test_jpeg_is_drafted_to_the_needed_size_but_reports_real_dimensions(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "big.jpg", size=(1600, 1200))
    loaded = open_image(photo, draft_size=200)
    assert loaded.original_size == (1600, 1200)
    assert 200 <= min(loaded.image.size) < 1200  # decoded at a fraction of full size
    thumb = load_thumbnail(photo, 128)
    assert max(thumb.image.size) == 128 and thumb.original_size == (1600, 1200)


def test_load_for_model_squash_and_center_crop(tmp_path: Path) -> None:
    img = np.zeros((40, 120, 3), np.uint8)
    img[:, :40] = (255, 0, 0)  # left third red, the rest black
    path = tmp_path / "wide.png"
    Image.fromarray(img).save(path)
    squash = load_for_model(path, 30)
    crop = load_for_model(path, 30, resize="center_crop")
    assert squash[:, 2, 0].min() > 200  # squash keeps the red stripe on the left
    assert crop[:, :, 0].max() < 50  # the centre crop of the wide image is all black


def test_decompression_bomb_guard_is_configurable(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "p.jpg", size=(300, 200))
    failure = open_image(photo, max_pixels=10_000)
    assert isinstance(failure, PathProblem) and "too large" in failure.reason
    assert isinstance(open_image(photo), LoadedImage)


def test_randomly_corrupted_files_never_raise(tmp_path: Path) -> None:
    """Flipped bytes and cut files in every format: pixels or a reason, never an exception."""
    import io
    import random

    rng = random.Random(1234)
    arr = (np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)
    originals = {}
    for fmt, ext in [
        ("JPEG", "jpg"),
        ("PNG", "png"),
        ("TIFF", "tif"),
        ("GIF", "gif"),
        ("WEBP", "webp"),
        ("BMP", "bmp"),
    ]:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format=fmt)
        originals[ext] = buf.getvalue()
    failures = 0
    for i in range(240):
        ext = rng.choice(sorted(originals))
        data = bytearray(originals[ext])
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(1, len(data))]
        path = tmp_path / f"f{i}.{ext}"
        path.write_bytes(bytes(data))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = load_for_model(path, 24, resize=rng.choice(["squash", "center_crop"]))
        assert isinstance(result, (np.ndarray, PathProblem))
        if isinstance(result, PathProblem):
            failures += 1
            assert result.path == path and result.reason
        else:
            assert result.shape == (24, 24, 3)
    assert 0 < failures < 240  # some damage is survivable, some is not: both paths were exercised
