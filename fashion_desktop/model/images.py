"""Image loading that never ends a run: decode to the size needed, fix orientation and mode, or say why not."""

from __future__ import annotations

import importlib.util
import os
import stat
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .problems import PathProblem
from .raw_photos import RAW_EXTENSIONS, RawError, open_raw, raw_size

# Largest image we decode (pixels). Bigger files are reported as possible decompression bombs.
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # PIL raises DecompressionBombError past twice this
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated photo is reported, not silently half-grey


def _pillow_reads(feature: str) -> bool:
    """Whether this Pillow build has the optional decoder ``feature`` (e.g. "avif")."""
    try:
        from PIL import features

        return bool(features.check(feature))
    except Exception:  # an old Pillow that does not know the feature's name
        return False


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (the window's start stays quick)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


AVIF_READABLE = _pillow_reads("avif")  # Pillow 11.2+ wheels bundle libavif; a build may lack it
HEIF_READABLE = _installed("pi_heif")  # libheif with only its HEVC decoder (no GPL encoder)
RAW_READABLE = _installed("rawpy")  # LibRaw
HEIF_EXTENSIONS = ("heic", "heif", "hif")  # .hif: Canon's and Fujifilm's HEIF
EXTENSIONS = (
    ("jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif")
    + (("avif",) if AVIF_READABLE else ())
    + (HEIF_EXTENSIONS if HEIF_READABLE else ())
    + (RAW_EXTENSIONS if RAW_READABLE else ())
)
_FORMAT_EXTENSIONS = {
    "JPEG": {"jpg", "jpeg", "jpe", "jfif"},
    "PNG": {"png"},
    "WEBP": {"webp"},
    "BMP": {"bmp", "dib"},
    "TIFF": {"tif", "tiff"},
    "GIF": {"gif"},
    "MPO": {"jpg", "jpeg", "mpo"},
    "AVIF": {"avif", "avifs"},
    "HEIF": {"heic", "heif", "hif", "heics", "heifs"},
}
# Photo types a person expects to be tagged that this build cannot decode: the scan names each such
# file with this reason instead of passing over it without a word.
UNSUPPORTED_EXTENSIONS = {
    **({} if AVIF_READABLE else {"avif": "AVIF photos cannot be read by this build (convert them to JPEG)"}),
    **(
        {}
        if HEIF_READABLE
        else {
            e: "HEIC photos cannot be read by this build (its HEIC decoder is missing; convert them to JPEG)"
            for e in HEIF_EXTENSIONS
        }
    ),
    **(
        {}
        if RAW_READABLE
        else {
            e: "raw camera files cannot be read by this build (its raw decoder is missing; export them as JPEG)"
            for e in RAW_EXTENSIONS
        }
    ),
}
_heif_registered = False
_heif_lock = threading.Lock()  # decode threads meet their first HEIC together


def _register_heif() -> bool:
    """Let Pillow open HEIC/HEIF (once, on the first such photo); False when no decoder is installed."""
    global _heif_registered
    if _heif_registered or not HEIF_READABLE:
        return _heif_registered
    with _heif_lock:
        if not _heif_registered:
            try:
                import pi_heif
            except ImportError:  # found but broken: its photos fail as unrecognised, the rest go on
                return False
            Image.init()  # Pillow's own openers first: an AVIF is never claimed by the HEIC opener
            pi_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
            _heif_registered = True
    return True


def _file_path(file: object) -> str | os.PathLike | None:
    """``file`` itself when it is a path, an open file's name when it has one, else None."""
    name = file if isinstance(file, (str, os.PathLike)) else getattr(file, "name", None)
    return name if isinstance(name, (str, os.PathLike)) else None


def _extension(file: object) -> str:
    """Lower-case extension of a path, or of an open file's name; "" when there is none."""
    name = _file_path(file)
    return os.path.splitext(name)[1].lower().lstrip(".") if name is not None else ""


@dataclass(frozen=True)
class LoadedImage:
    """An RGB image plus facts about the file it came from."""

    path: Path
    image: Image.Image
    original_size: tuple[int, int]  # after EXIF orientation
    format: str | None
    note: str | None = None  # e.g. extension does not match content


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = float(arr.max()) if arr.size else 0.0
        if mode == "F" and hi <= 1.0:
            arr = arr * 255.0
        elif hi > 255.0:
            arr = arr / (65535.0 if hi <= 65535.0 else hi) * 255.0
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, img).convert("RGB")
    return img.convert("RGB")


def _describe_os_error(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied (cannot read the file)"
    if isinstance(exc, FileNotFoundError):
        return "file not found (moved or deleted?)"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    text = str(exc)
    if "truncated" in text or "broken data stream" in text or "premature end" in text.lower():
        return "truncated or corrupt image data"
    return f"cannot read: {exc.strerror or text or type(exc).__name__}"


def open_image(
    path: str | os.PathLike, draft_size: int | None = None, max_pixels: int = MAX_PIXELS
) -> LoadedImage | PathProblem:
    """Decode ``path`` to RGB, oriented as shown, at no less than ``draft_size`` on its short side.

    ``draft_size`` lets JPEGs (and raw files' JPEG previews) decode at 1/2, 1/4 or 1/8 scale
    (``Image.draft``), which is much faster for thumbnails and model inputs. Orientation: EXIF's, a
    HEIC's own irot/imir boxes (applied by libheif, its EXIF then ignored, as the HEIF standard says),
    a raw file's (see raw_photos). Only regular files are read. Never raises for bad files: returns
    PathProblem with a reason.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        return PathProblem(path, _describe_os_error(exc))
    if stat.S_ISDIR(st.st_mode):
        return PathProblem(path, "is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        return PathProblem(path, "not a regular file (a pipe or device); not read")
    if st.st_size == 0:
        return PathProblem(path, "empty file (0 bytes)")
    ext = path.suffix.lower().lstrip(".")
    if ext in RAW_EXTENSIONS:  # before Pillow, which reads a DNG or CR2 as a TIFF and finds a small preview
        return _open_raw(path, draft_size, max_pixels)
    if ext in HEIF_EXTENSIONS:
        _register_heif()
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > max_pixels:
                return PathProblem(
                    path,
                    f"image too large ({w}x{h} = {w * h / 1e6:.0f} MP, limit {max_pixels / 1e6:.0f} MP); "
                    "possible decompression bomb",
                )
            fmt = img.format
            if draft_size and fmt == "JPEG":
                img.draft("RGB", (draft_size, draft_size))
            img.seek(0)
            img.load()
            # libheif has turned a HEIF as its irot/imir boxes say; its EXIF orientation must not turn it again.
            heif = fmt == "HEIF"
            try:
                orientation = 1 if heif else img.getexif().get(0x0112, 1)
            except Exception:
                orientation = 1
            try:
                oriented = img if heif else ImageOps.exif_transpose(img)
            except Exception:  # broken EXIF must not cost the photo
                oriented = img
            rgb = _to_rgb(oriented)
            if rgb is img:
                rgb = img.copy()
    except UnidentifiedImageError:
        if not _heif_registered and _register_heif():  # a HEIC under another name
            return open_image(path, draft_size, max_pixels)
        if ext in HEIF_EXTENSIONS and _heif_registered:
            return PathProblem(path, "not a HEIC photo that can be read (damaged or truncated)")
        return PathProblem(path, "not an image (unrecognised file format)")
    except Image.DecompressionBombError as exc:
        return PathProblem(path, f"image too large; possible decompression bomb ({exc})")
    except OSError as exc:
        return PathProblem(path, _describe_os_error(exc))
    except Exception as exc:  # decoders raise many types on corrupt data (struct.error, KeyError ...)
        return PathProblem(path, f"corrupt image ({type(exc).__name__}: {str(exc)[:120]})")
    note = None
    if fmt and ext and ext not in _FORMAT_EXTENSIONS.get(fmt, {ext}):
        note = f"file extension .{ext} but the content is {fmt}"
    # Draft decoding shrinks the pixels: report the file's real dimensions, oriented like the pixels.
    orig = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    return LoadedImage(path, rgb, orig, fmt, note)


def _open_raw(path: Path, draft_size: int | None, max_pixels: int) -> LoadedImage | PathProblem:
    """A raw camera file decoded through LibRaw (see raw_photos), or why not. Never raises."""
    try:
        image, shown, _how = open_raw(path, draft_size, max_pixels)
    except RawError as exc:
        return PathProblem(path, str(exc))
    except Image.DecompressionBombError as exc:
        return PathProblem(path, f"image too large; possible decompression bomb ({exc})")
    except OSError as exc:
        return PathProblem(path, _describe_os_error(exc))
    except Exception as exc:  # a corrupt embedded preview raises what Pillow's JPEG decoder raises
        return PathProblem(path, f"corrupt image ({type(exc).__name__}: {str(exc)[:120]})")
    return LoadedImage(path, image, shown, "RAW")


def is_photo(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds an image of a photo format this app reads (header check only). Never raises."""
    if _extension(path) in RAW_EXTENSIONS:
        return raw_size(path) is not None
    _register_heif()
    Image.init()
    formats = [f for f in _FORMAT_EXTENSIONS if f in Image.OPEN]  # a Pillow without AVIF has no such opener
    try:
        with Image.open(path, formats=formats):
            return True
    except Exception:
        return False


def header_size(file: str | os.PathLike | BinaryIO) -> tuple[int, int] | None:
    """(width, height) of an image as shown (EXIF orientation applied), read from its header only.

    Takes a path or a binary file open at its start (left open). Returns None when the file is not
    an image Pillow can identify; never raises. No pixels are decoded, so this costs one header read.
    A raw file (known by its name) is measured by LibRaw from its path: its sensor size, not a preview's.
    """
    ext = _extension(file)
    if ext in RAW_EXTENSIONS:
        return raw_size(_file_path(file))  # type: ignore[arg-type]
    if ext in HEIF_EXTENSIONS:
        _register_heif()
    try:
        with Image.open(file) as img:
            w, h = img.size
            orientation = 1
            # PNG's getexif() decodes the whole image when the header holds no EXIF: only ask when it does.
            if "exif" in img.info or img.format == "TIFF":
                orientation = img.getexif().get(0x0112, 1)
    except Exception:  # unidentified, truncated or hostile headers raise many types: no size, no error
        return None
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


PAD_COLOUR = (124, 116, 104)  # ImageNet's mean RGB


def load_for_model(
    path: str | os.PathLike, input_size: int, resize: str = "squash"
) -> np.ndarray | PathProblem:
    """Return an ``input_size`` x ``input_size`` x 3 uint8 array ready for the model, or PathProblem.

    ``resize='squash'`` stretches to a square (the seed's ``Resize((s, s))``); ``'center_crop'``
    resizes the short side and crops the centre; ``'pad'`` keeps the aspect ratio: the long side fits
    and the rest is filled with ImageNet's mean colour (zero after normalisation).
    """
    loaded = open_image(path, draft_size=input_size)
    if isinstance(loaded, PathProblem):
        return loaded
    img = loaded.image
    try:
        if resize == "center_crop":
            img = ImageOps.fit(img, (input_size, input_size), Image.BILINEAR)
        elif resize == "pad":
            img = ImageOps.pad(img, (input_size, input_size), Image.BILINEAR, color=PAD_COLOUR)
        else:
            img = img.resize((input_size, input_size), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError, MemoryError) as exc:
        return PathProblem(Path(path), f"cannot resize ({exc})")


def load_thumbnail(path: str | os.PathLike, size: int) -> LoadedImage | PathProblem:
    """An RGB image whose longer side is at most ``size``, decoded as cheaply as possible."""
    loaded = open_image(path, draft_size=size)
    if isinstance(loaded, PathProblem):
        return loaded
    img = loaded.image
    img.thumbnail((size, size), Image.BILINEAR)
    return LoadedImage(loaded.path, img, loaded.original_size, loaded.format, loaded.note)
