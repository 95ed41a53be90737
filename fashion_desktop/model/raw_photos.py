"""Raw camera files through LibRaw (rawpy): the embedded JPEG preview, else a half-size demosaic."""

from __future__ import annotations

import io
import os
import stat
from typing import Any

from PIL import Image

# Raw extensions LibRaw reads (the sidecar writer's raw list, less PSD which is no raw).
RAW_EXTENSIONS = (
    "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "dng", "orf", "rw2", "raf", "pef", "srw",
    "x3f", "3fr", "iiq", "erf", "kdc", "mos", "mrw", "rwl",
)  # fmt: skip
# LibRaw's ``flip`` (dcraw's bits: 4 = swap axes) as the EXIF orientation it stands for.
_FLIP_TO_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class RawError(Exception):
    """A raw file that cannot be decoded; ``str()`` is a reason a person can act on."""


def _reason(exc: Exception) -> str:
    """A person's reason for one of LibRaw's errors (rawpy names them by LibRaw's error codes)."""
    name = type(exc).__name__
    if name == "LibRawFileUnsupportedError":
        return "not a raw file LibRaw can read (damaged, or from a camera it does not know)"
    if name in ("LibRawIOError", "LibRawDataError"):
        return "truncated or corrupt raw data"
    if name in ("LibRawTooBigError", "LibRawUnsufficientMemoryError", "LibRawMemPoolOverflowError"):
        return "raw image too large to decode"
    return f"cannot decode this raw file ({name}: {str(exc)[:120]})"


def _open(path: str | os.PathLike) -> Any:
    """The LibRaw handle of ``path`` (header parsed, nothing decoded); raises RawError or OSError."""
    try:
        import rawpy
    except ImportError as exc:
        raise RawError(f"raw camera files cannot be read by this installation ({exc})") from None
    if not stat.S_ISREG(os.stat(path).st_mode):  # LibRaw would wait on a pipe for ever
        raise RawError("not a regular file (a pipe or device); not read")
    try:
        return rawpy.imread(os.fspath(path))
    except rawpy.LibRawError as exc:
        raise RawError(_reason(exc)) from None


def _sensor_size(raw: Any) -> tuple[int, int]:
    """(width, height) of the developed picture before orientation."""
    return int(raw.sizes.width), int(raw.sizes.height)


def raw_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) of a raw photo as shown (orientation applied), from its header; None if unreadable."""
    try:
        with _open(path) as raw:
            width, height = _sensor_size(raw)
            swap = bool(raw.sizes.flip & 4)
    except Exception:  # corrupt or hostile headers: no size, no error (header_size's contract)
        return None
    return (height, width) if swap else (width, height)


def _preview(
    raw: Any, draft_size: int | None, needed: int, max_pixels: int
) -> tuple[Image.Image, int] | None:
    """The embedded preview (JPEG or bitmap) at ``draft_size`` or more, and the EXIF orientation it carries.

    None when the file has none, or one whose short side is under ``needed`` pixels. LibRaw gives a JPEG
    preview without EXIF of its own one that states the raw's orientation: the orientation is the camera's
    either way."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.BITMAP:
        bitmap = Image.fromarray(thumb.data).convert("RGB")
        return (bitmap, 1) if min(bitmap.size) >= needed else None
    preview = Image.open(io.BytesIO(thumb.data), formats=["JPEG"])
    if preview.width * preview.height > max_pixels:
        raise RawError("embedded preview too large; possible decompression bomb")
    if min(preview.size) < needed:
        return None
    if draft_size:
        preview.draft("RGB", (draft_size, draft_size))
    preview.load()
    return preview.convert("RGB"), int(preview.getexif().get(0x0112, 1))


def open_raw(
    path: str | os.PathLike, draft_size: int | None, max_pixels: int
) -> tuple[Image.Image, tuple[int, int], str]:
    """(RGB picture oriented as shown, real (width, height) as shown, how it was decoded) of a raw file.

    The embedded preview is used when there is one big enough (cameras embed a full or large JPEG: fast,
    and developed as the camera saw it); else LibRaw demosaics at half size. Raises RawError or OSError.
    """
    import rawpy

    with _open(path) as raw:
        width, height = _sensor_size(raw)
        if raw.sizes.raw_width * raw.sizes.raw_height > max_pixels:
            raise RawError(
                f"raw image too large ({width}x{height}, limit {max_pixels / 1e6:.0f} MP); "
                "possible decompression bomb"
            )
        orientation = _FLIP_TO_ORIENTATION.get(int(raw.sizes.flip), 1)
        shown = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        try:
            # A preview smaller than asked for, and than the half-size demosaic, would be a blurred photo.
            needed = min(draft_size or width + height, width // 2, height // 2)
            preview = _preview(raw, draft_size, needed, max_pixels)
            if preview is not None:
                image, own = preview
                turn = own if own in _TRANSPOSE else orientation
                # Previews are stored as the sensor lies; one stored upright already (its shape says so)
                # is not turned onto its side.
                if turn in _TRANSPOSE and not (
                    turn in (5, 6, 7, 8) and (image.width >= image.height) != (width >= height)
                ):
                    image = image.transpose(_TRANSPOSE[turn])
                return image, shown, "preview"
            array = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)  # applies the flip
        except rawpy.LibRawError as exc:
            raise RawError(_reason(exc)) from None
    return Image.fromarray(array, "RGB"), shown, "demosaic"
