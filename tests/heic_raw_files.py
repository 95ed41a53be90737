"""Small HEIC (heif-enc) and DNG (written by hand) photos for the tests, with a known layout of colours."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

needs_heif_enc = pytest.mark.skipif(
    shutil.which("heif-enc") is None, reason="heif-enc (libheif-examples) missing"
)
RED, BLUE = (220, 30, 30), (30, 60, 220)


def halves(size: tuple[int, int], left: tuple = RED, right: tuple = BLUE) -> Image.Image:
    """A ``size`` picture whose left half is ``left`` and right half ``right``: its orientation shows."""
    img = Image.new("RGB", size, right)
    img.paste(left, (0, 0, size[0] // 2, size[1]))
    return img


def _boxes(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """Box type -> (offset, size) of the ISO-BMFF boxes between ``start`` and ``end`` (first of each type)."""
    found: dict[bytes, tuple[int, int]] = {}
    while start < end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        found.setdefault(kind, (start, size))
        start += size
    return found


def _resized(data: bytearray, at: int, delta: int) -> None:
    data[at : at + 4] = struct.pack(">I", struct.unpack(">I", data[at : at + 4])[0] + delta)


def add_irot(heic: bytes, quarter_turns: int) -> bytes:
    """``heic`` with an irot box on its primary image: libheif turns it ``quarter_turns`` x 90° anticlockwise.

    heif-enc writes no irot (it keeps a JPEG's EXIF orientation as EXIF only), yet phones rotate by irot and
    also say so in EXIF: such a file shows whether a decoder turns a photo twice.
    """
    data = bytearray(heic)
    meta_at, meta_size = _boxes(data, 0, len(data))[b"meta"]
    inner = _boxes(data, meta_at + 12, meta_at + meta_size)
    primary = struct.unpack(">H", data[inner[b"pitm"][0] + 12 : inner[b"pitm"][0] + 14])[0]
    iprp_at, iprp_size = inner[b"iprp"]
    props = _boxes(data, iprp_at + 8, iprp_at + iprp_size)
    ipco_at, ipco_size = props[b"ipco"]
    count, at = 0, ipco_at + 8
    while at < ipco_at + ipco_size:
        count, at = count + 1, at + struct.unpack(">I", data[at : at + 4])[0]
    ipma_at, ipma_size = props[b"ipma"]
    assert data[ipma_at + 8] == 0 and data[ipma_at + 11] & 1 == 0, "ipma with 7-bit property indices"
    # The primary item's association list gains the new property (essential, as transforms must be).
    at = ipma_at + 16
    for _ in range(struct.unpack(">I", data[ipma_at + 12 : ipma_at + 16])[0]):
        item, n = struct.unpack(">HB", data[at : at + 3])
        if item == primary:
            data[at + 2] = n + 1
            data[at + 3 + n : at + 3 + n] = bytes([0x80 | (count + 1)])
            break
        at += 3 + n
    else:
        raise AssertionError("primary item has no properties")
    irot = struct.pack(">I4sB", 9, b"irot", quarter_turns & 3)
    data[ipco_at + ipco_size : ipco_at + ipco_size] = irot
    delta = len(irot) + 1
    _resized(data, meta_at, delta)
    _resized(data, iprp_at, delta)
    _resized(data, ipco_at, len(irot))
    _resized(data, ipma_at + len(irot), 1)
    _shift_iloc(data, inner[b"iloc"][0], meta_at + meta_size, delta)
    return bytes(data)


def _shift_iloc(data: bytearray, iloc_at: int, after: int, delta: int) -> None:
    """Move the file offsets in the iloc box at ``iloc_at`` that point at or past ``after`` by ``delta``."""
    version = data[iloc_at + 8]
    offset_size, length_size = data[iloc_at + 12] >> 4, data[iloc_at + 12] & 15
    base_size, index_size = data[iloc_at + 13] >> 4, (data[iloc_at + 13] & 15 if version else 0)
    assert offset_size == 4 and base_size in (0, 4), "iloc with 32-bit offsets"
    at = iloc_at + 14
    items = (
        struct.unpack(">H", data[at : at + 2])[0]
        if version < 2
        else struct.unpack(">I", data[at : at + 4])[0]
    )
    at += 2 if version < 2 else 4
    for _ in range(items):
        at += 2 if version < 2 else 4
        method = struct.unpack(">H", data[at : at + 2])[0] & 15 if version else 0
        at += (2 if version else 0) + 2
        base = struct.unpack(">I", data[at : at + 4])[0] if base_size else 0
        at += base_size
        extents = struct.unpack(">H", data[at : at + 2])[0]
        at += 2
        for _ in range(extents):
            at += index_size
            offset = struct.unpack(">I", data[at : at + 4])[0]
            if method == 0 and base + offset >= after:
                data[at : at + 4] = struct.pack(">I", offset + delta)
            at += offset_size + length_size


def make_heic(path: Path, image: Image.Image, exif_orientation: int = 1, irot: int = 0) -> Path:
    """Encode ``image`` as HEIC with heif-enc (lossless-ish quality); optionally EXIF orientation and irot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    source = path.with_name(path.name + ".src.jpg")
    exif = Image.Exif()
    if exif_orientation != 1:
        exif[0x0112] = exif_orientation
    image.save(source, "JPEG", quality=98, exif=exif.tobytes())
    subprocess.run(["heif-enc", "-q", "95", str(source), "-o", str(path)], check=True, capture_output=True)
    source.unlink()
    if irot:
        path.write_bytes(add_irot(path.read_bytes(), irot))
    return path


_TIFF_TYPES = {1: "B", 2: "s", 3: "H", 4: "I", 5: "II", 10: "ii"}


def _ifd(tags: list[tuple[int, int, object]], at: int) -> bytes:
    """One little-endian TIFF IFD placed at file offset ``at``, its out-of-line values right after it."""
    tags = sorted(tags, key=lambda t: t[0])
    body, extra = struct.pack("<H", len(tags)), bytearray()
    extra_at = at + 2 + 12 * len(tags) + 4
    for tag, kind, values in tags:
        if kind == 2:
            data = str(values).encode() + b"\x00"
            count = len(data)
        elif kind in (5, 10):
            data = b"".join(struct.pack("<" + _TIFF_TYPES[kind], *v) for v in values)  # type: ignore[union-attr]
            count = len(values)  # type: ignore[arg-type]
        else:
            data = struct.pack(f"<{len(values)}{_TIFF_TYPES[kind]}", *values)  # type: ignore[arg-type]
            count = len(values)  # type: ignore[arg-type]
        if len(data) <= 4:
            body += struct.pack("<HHI", tag, kind, count) + data.ljust(4, b"\x00")
        else:
            extra += b"\x00" * (len(extra) % 2)
            body += struct.pack("<HHII", tag, kind, count, extra_at + len(extra))
            extra += data
    return body + struct.pack("<I", 0) + bytes(extra)


def bayer_halves(size: tuple[int, int]) -> np.ndarray:
    """An RGGB mosaic (16-bit) of a scene red on its left half and blue on its right half."""
    w, h = size
    mosaic = np.full((h, w), 600, np.uint16)
    mosaic[0::2, 0 : w // 2 : 2] = 60000  # red sites, left half
    mosaic[1::2, w // 2 + 1 :: 2] = 60000  # blue sites, right half
    return mosaic


def make_dng(
    path: Path,
    mosaic: np.ndarray,
    preview: Image.Image | None = None,
    orientation: int = 1,
    preview_orientation: int = 1,
) -> Path:
    """A minimal DNG LibRaw reads: IFD0 the raw CFA mosaic (RGGB), a SubIFD with a JPEG ``preview`` if given
    (whose own EXIF says ``preview_orientation`` when that is not 1)."""
    h, w = mosaic.shape
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    raw_at = len(out)
    out += mosaic.astype("<u2").tobytes()
    jpeg = b""
    if preview is not None:
        buffer = io.BytesIO()
        exif = Image.Exif()
        if preview_orientation != 1:
            exif[0x0112] = preview_orientation
        preview.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
        jpeg = buffer.getvalue()
    jpeg_at = len(out)
    out += jpeg + b"\x00" * (len(jpeg) % 2)
    identity = [(1, 1), (0, 1), (0, 1), (0, 1), (1, 1), (0, 1), (0, 1), (0, 1), (1, 1)]
    raw_tags: list[tuple[int, int, object]] = [
        (254, 4, [0]), (256, 4, [w]), (257, 4, [h]), (258, 3, [16]), (259, 3, [1]), (262, 3, [32803]),
        (271, 2, "Test"), (272, 2, "Camera"), (274, 3, [orientation]), (273, 4, [raw_at]), (277, 3, [1]),
        (278, 4, [h]), (279, 4, [w * h * 2]), (284, 3, [1]), (33421, 3, [2, 2]), (33422, 1, [0, 1, 1, 2]),
        (50706, 1, [1, 4, 0, 0]), (50707, 1, [1, 1, 0, 0]), (50708, 2, "Test Camera"), (50717, 4, [65535]),
        (50721, 10, identity), (50728, 5, [(1, 1)] * 3), (50778, 3, [21]),
    ]  # fmt: skip
    ifd0_at = len(out)
    if preview is not None:
        sub_at = ifd0_at + len(_ifd([*raw_tags, (330, 4, [0])], ifd0_at))
        sub_at += sub_at % 2
        out += _ifd([*raw_tags, (330, 4, [sub_at])], ifd0_at)
        out += b"\x00" * (sub_at - len(out))
        pw, ph = preview.size
        out += _ifd(
            [
                (254, 4, [1]),
                (256, 4, [pw]),
                (257, 4, [ph]),
                (258, 3, [8, 8, 8]),
                (259, 3, [7]),
                (262, 3, [6]),
                (273, 4, [jpeg_at]),
                (277, 3, [3]),
                (278, 4, [ph]),
                (279, 4, [len(jpeg)]),
            ],  # fmt: skip
            sub_at,
        )
    else:
        out += _ifd(raw_tags, ifd0_at)
    out[4:8] = struct.pack("<I", ifd0_at)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
    return path
