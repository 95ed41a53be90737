"""A photo's fingerprint: a hash of its picture data and not of its metadata, so written keywords change nothing."""

from __future__ import annotations

import hashlib
import struct
from typing import BinaryIO

# Fingerprints of this kind start with it; the hashes older catalogs hold (32 hex digits, of the file's
# first and last 64 KiB, metadata included) have no prefix and are never compared with these.
KIND = "v2:"
_SPAN = 64 * 1024  # bytes of each end of a file the legacy hash and the fallback cover
_CHUNK = 1 << 20
_PNG = b"\x89PNG\r\n\x1a\n"
_PNG_PICTURE = (b"IHDR", b"PLTE", b"tRNS", b"IDAT")
_EXIF_ORIENTATION = 0x0112


def is_legacy(digest: str) -> bool:
    """Whether ``digest`` is a hash of an older catalog (metadata included), not a fingerprint."""
    return not digest.startswith(KIND)


def legacy_hash(file: BinaryIO, size: int) -> str:
    """The hash catalogs before schema 11 stored: blake2b-128 of the size, the first and the last 64 KiB."""
    h = hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16)
    _ends(file, size, h)
    return h.hexdigest()


def fingerprint(file: BinaryIO, size: int) -> str:
    """``KIND`` + blake2b-128 of the picture data of the file (read from its start; its position moves).

    JPEG: the frame, quantisation and Huffman segments, the EXIF orientation, and every byte from the
    first start-of-scan marker on (APPn and COM segments, where EXIF, XMP and IPTC keywords live, are
    left out). PNG: the IHDR, PLTE, tRNS and IDAT chunks. TIFF (and the raw formats built on it): the
    first image's size, orientation and strip or tile data. Anything else (HEIC, other raw formats, a
    file these parsers do not understand): the size and the first and last 64 KiB, metadata included,
    so a keyword written there by another app counts as a new picture. Raises OSError when unreadable.
    """
    file.seek(0)
    head = file.read(8)
    for kind, parse in ((b"\xff\xd8", _jpeg), (_PNG, _png), (b"II*\0", _tiff), (b"MM\0*", _tiff)):
        if head.startswith(kind):
            h = hashlib.blake2b(kind, digest_size=16)
            if parse(file, size, h):
                return KIND + h.hexdigest()
    h = hashlib.blake2b(b"file" + size.to_bytes(8, "little"), digest_size=16)
    _ends(file, size, h)
    return KIND + h.hexdigest()


def _ends(file: BinaryIO, size: int, h) -> None:
    file.seek(0)
    h.update(file.read(_SPAN))
    if size > _SPAN:
        file.seek(max(_SPAN, size - _SPAN))
        h.update(file.read(_SPAN))


def _copy(file: BinaryIO, start: int, length: int | None, h) -> bool:
    """Hash ``length`` bytes (None: to the end) from ``start``; False when the file ends before."""
    file.seek(start)
    left = length
    while left is None or left > 0:
        block = file.read(_CHUNK if left is None else min(_CHUNK, left))
        if not block:
            return left is None
        h.update(block)
        if left is not None:
            left -= len(block)
    return True


def _jpeg(file: BinaryIO, size: int, h) -> bool:
    pos = 2
    while pos + 4 <= size:
        file.seek(pos)
        marker = file.read(4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return False
        code = marker[1]
        if code == 0xFF:  # fill byte
            pos += 1
            continue
        if code == 0x01 or 0xD0 <= code <= 0xD8:  # markers without a length
            pos += 2
            continue
        length = int.from_bytes(marker[2:4], "big")
        if length < 2:
            return False
        if code == 0xDA:  # start of scan: the compressed picture, to the end of the file
            return _copy(file, pos, None, h)
        body = file.read(length - 2)
        if len(body) < length - 2:
            return False
        if code == 0xE1 and body.startswith(b"Exif\0\0"):
            h.update(b"orientation%d" % _exif_orientation(body[6:]))
        elif not (0xE0 <= code <= 0xEF or code == 0xFE):  # APPn and COM are metadata
            h.update(marker[:2] + body)
        pos += 2 + length
    return False


def _exif_orientation(tiff: bytes) -> int:
    """The orientation tag of an EXIF block's first directory (1: none, 0: unreadable)."""
    order = "little" if tiff[:2] == b"II" else "big"
    try:
        ifd = int.from_bytes(tiff[4:8], order)
        for i in range(int.from_bytes(tiff[ifd : ifd + 2], order)):
            entry = tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
            if len(entry) == 12 and int.from_bytes(entry[:2], order) == _EXIF_ORIENTATION:
                return int.from_bytes(entry[8:10], order)
    except (ValueError, IndexError):
        return 0
    return 1


def _png(file: BinaryIO, size: int, h) -> bool:
    pos = 8
    while pos + 8 <= size:
        file.seek(pos)
        head = file.read(8)
        length, kind = int.from_bytes(head[:4], "big"), head[4:8]
        if kind == b"IEND":
            return True
        if kind in _PNG_PICTURE:
            h.update(kind)
            if not _copy(file, pos + 8, length, h):
                return False
        pos += 12 + length
    return False


def _tiff(file: BinaryIO, size: int, h) -> bool:
    from PIL import Image

    try:
        with Image.open(file) as im:
            tags = im.tag_v2  # type: ignore[attr-defined]
            offsets = tags.get(273) or tags.get(324)  # strips, else tiles
            counts = tags.get(279) or tags.get(325)
            if not offsets or not counts or len(offsets) != len(counts):
                return False
            h.update(b"%d,%d,%d" % (im.width, im.height, int(tags.get(_EXIF_ORIENTATION, 1))))
            return all(_copy(file, int(o), int(c), h) for o, c in zip(offsets, counts, strict=True))
    except (
        OSError,
        ValueError,
        TypeError,
        SyntaxError,
        KeyError,
        EOFError,
        struct.error,
        Image.DecompressionBombError,
    ):
        return False  # a TIFF Pillow cannot read (or a read error: the fallback reads again, and raises)
