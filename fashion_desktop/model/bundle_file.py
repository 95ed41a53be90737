"""Read a model bundle (a safetensors file) with the standard library and numpy: no torch, no code, bounded memory.

The app shows a model's description and evaluation scores without importing torch (a half-gigabyte
import). The header is parsed here, not by a library, so that every declared tensor is checked against
the file before anything is read: the header length is bounded, each tensor's bytes (shape times item
size) must equal its span, spans must tile the data exactly, and the file has an absolute size cap.
A hostile file therefore gets a BundleError and nothing else. Tensors are read only when asked.
The torch loader (``fashion_desktop.model.bundle``) validates with this same code.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fashion_desktop.model.bundle_format import (
    EVALUATION_PREFIX,
    MAX_FILE_BYTES,
    MAX_HEADER_BYTES,
    METADATA_KEY,
    WEIGHTS_PREFIX,
    BundleDescription,
    BundleError,
    OldBundleFormat,
    content_model_id,
    old_format_message,
)

# safetensors dtype -> (item size, numpy dtype; None: bfloat16, which numpy lacks)
DTYPES: dict[str, tuple[int, str | None]] = {
    "BOOL": (1, "?"),
    "U8": (1, "u1"),
    "I8": (1, "i1"),
    "I16": (2, "<i2"),
    "U16": (2, "<u2"),
    "I32": (4, "<i4"),
    "U32": (4, "<u4"),
    "I64": (8, "<i8"),
    "U64": (8, "<u8"),
    "F16": (2, "<f2"),
    "BF16": (2, None),
    "F32": (4, "<f4"),
    "F64": (8, "<f8"),
}
_MAX_DIMS = 8
_HASH_CHUNK = 1 << 20

# What the first bytes of a format-1 bundle look like: a zip (torch.save) or a bare pickle.
_OLD_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


@dataclass(frozen=True)
class TensorRef:
    """A tensor of the bundle, checked against the file but read only when ``numpy()`` is called."""

    path: str
    name: str
    dtype: str  # safetensors name: F32, BF16, I8 ...
    shape: tuple[int, ...]
    offset: int  # absolute position of the first byte in the file
    nbytes: int

    def read_bytes(self) -> bytes:
        """The tensor's raw little-endian bytes. Raises BundleError when the file changed under us."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read(self.nbytes)
        except OSError as exc:
            raise BundleError(f"{self.path}: tensor {self.name} cannot be read ({exc})") from None
        if len(data) != self.nbytes:
            raise BundleError(f"{self.path}: tensor {self.name} is cut short (the file changed?)")
        return data

    def chunks(self) -> Iterator[bytes]:
        """The raw bytes in pieces of at most 1 MiB (for hashing without holding a big tensor)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                left = self.nbytes
                while left:
                    piece = fh.read(min(left, _HASH_CHUNK))
                    if not piece:
                        raise BundleError(f"{self.path}: tensor {self.name} is cut short (the file changed?)")
                    left -= len(piece)
                    yield piece
        except OSError as exc:
            raise BundleError(f"{self.path}: tensor {self.name} cannot be read ({exc})") from None

    def numpy(self) -> np.ndarray:
        """The values as a new array (bfloat16 comes back as float32). Raises BundleError."""
        return array_from_bytes(self.read_bytes(), self.dtype, self.shape)


def array_from_bytes(data: bytes | memoryview, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """A writable array of ``shape`` from a tensor's raw bytes; bfloat16 is widened to float32."""
    np_dtype = DTYPES[dtype][1]
    if np_dtype is None:  # bfloat16 is the upper half of a float32
        flat = (np.frombuffer(data, "<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        flat = np.frombuffer(data, np_dtype).copy()
    return flat.reshape(shape)


@dataclass(frozen=True)
class Header:
    """A safetensors header that passed every check: where the data starts and each tensor's place."""

    data_start: int
    tensors: Mapping[str, tuple[str, tuple[int, ...], int, int]]  # name -> (dtype, shape, begin, end)
    metadata: Mapping[str, str]


def header_length(prefix: bytes, file_size: int, path: str | os.PathLike) -> int:
    """The header's length from the file's first 8 bytes, checked against the file and MAX_HEADER_BYTES.

    Raises OldBundleFormat for a torch zip or pickle, BundleError for anything else that is not a bundle.
    """
    if file_size > MAX_FILE_BYTES:
        raise BundleError(
            f"{path}: not a model bundle: {file_size / 1024**3:.1f} GiB is more than a bundle may hold "
            f"({MAX_FILE_BYTES / 1024**3:.0f} GiB)"
        )
    if prefix.startswith(_OLD_MAGIC):
        raise OldBundleFormat(old_format_message(path))
    if file_size < 8 or len(prefix) < 8:
        raise BundleError(f"{path}: not a model bundle (the file is empty or cut short)")
    (n,) = struct.unpack("<Q", prefix[:8])
    if n > MAX_HEADER_BYTES:
        raise BundleError(
            f"{path}: not a model bundle: its header claims {n} bytes (at most {MAX_HEADER_BYTES} allowed)"
        )
    if 8 + n > file_size:
        raise BundleError(
            f"{path}: not a model bundle (the header runs past the end of the file: cut short?)"
        )
    return n


def parse_header(header: bytes, file_size: int, path: str | os.PathLike) -> Header:
    """Check a safetensors header (the JSON after the 8-byte length) against a file of ``file_size`` bytes.

    Every tensor must have a known dtype, a shape of non-negative whole numbers, and ``data_offsets``
    whose span equals shape x item size; the spans must tile the data from start to end with no gap or
    overlap, and begin at a multiple of the item size. Raises BundleError naming ``path`` and the tensor.
    """
    data_start = 8 + len(header)
    data_len = file_size - data_start
    try:
        parsed = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleError(f"{path}: not a model bundle (its header is not readable JSON)") from None
    if not isinstance(parsed, dict):
        raise BundleError(f"{path}: not a model bundle (its header is not a table of tensors)")
    metadata = parsed.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise BundleError(f"{path}: not a model bundle (its metadata is not a table of texts)")
    tensors: dict[str, tuple[str, tuple[int, ...], int, int]] = {}
    for name, info in parsed.items():
        where = f"{path}: not a valid model bundle: tensor {str(name)[:80]!r}"
        if not name.startswith((WEIGHTS_PREFIX, EVALUATION_PREFIX)):
            raise BundleError(f"{where} is neither a weight nor an evaluation array")
        if not isinstance(info, dict):
            raise BundleError(f"{where} is not described")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in DTYPES:
            raise BundleError(f"{where} has an unknown dtype {str(dtype)[:20]!r}")
        if not (
            isinstance(shape, list)
            and len(shape) <= _MAX_DIMS
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
        ):
            raise BundleError(f"{where} has a malformed shape")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        ):
            raise BundleError(f"{where} has malformed data offsets")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise BundleError(
                f"{where} lies outside the file (bytes {begin}..{end} of {data_len}: cut short?)"
            )
        itemsize = DTYPES[dtype][0]
        declared = math.prod(shape) * itemsize  # Python ints: a huge shape cannot overflow
        if declared != end - begin:
            raise BundleError(f"{where} declares {declared} bytes but spans {end - begin}")
        if (data_start + begin) % itemsize:
            raise BundleError(f"{where} is not aligned to its item size")
        tensors[name] = (dtype, tuple(shape), begin, end)
    pos = 0
    for _name, (_d, _s, begin, end) in sorted(tensors.items(), key=lambda kv: (kv[1][2], kv[1][3])):
        if begin != pos:
            raise BundleError(f"{path}: not a valid model bundle: tensor data overlaps or has gaps")
        pos = end
    if pos != data_len:
        raise BundleError(f"{path}: not a valid model bundle: {data_len - pos} bytes after the last tensor")
    return Header(data_start, tensors, metadata)


MAX_DESCRIPTION_DEPTH = 32  # a bundle's card nests a few levels; a stranger's 900 crashed whoever printed it


def nesting_depth(value: object) -> int:
    """How deep lists and tables nest in ``value`` (a scalar: 0), walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def description_from_metadata(metadata: Mapping[str, str], path: str | os.PathLike) -> BundleDescription:
    """The bundle's description from its safetensors metadata. Raises BundleError."""
    text = metadata.get(METADATA_KEY)
    if text is None:
        raise BundleError(
            f"{path}: not a valid model bundle: it is not a Fashion Finder bundle (no {METADATA_KEY!r} "
            "description in its metadata)"
        )
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise BundleError(f"{path}: not a valid model bundle: its description is not readable JSON") from None
    depth = nesting_depth(raw)
    if depth > MAX_DESCRIPTION_DEPTH:
        raise BundleError(
            f"{path}: not a valid model bundle: its description nests {depth} levels deep "
            f"(at most {MAX_DESCRIPTION_DEPTH})"
        )
    return BundleDescription.from_raw(raw, path)


def read_header(path: str | os.PathLike) -> tuple[BundleDescription, Header]:
    """Read and check the header of the bundle at ``path`` (no tensor data is read).

    Raises BundleError (OldBundleFormat for a format-1 torch bundle) naming the file and the problem.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            n = header_length(fh.read(8), size, path)
            header = fh.read(n)
    except FileNotFoundError:
        raise BundleError(f"{path}: model file not found") from None
    except IsADirectoryError:
        raise BundleError(f"{path}: not a model bundle (it is a folder)") from None
    except OSError as exc:
        raise BundleError(f"{path}: not a model bundle (cannot be read: {exc.strerror or exc})") from None
    if len(header) != n:
        raise BundleError(f"{path}: not a model bundle (the file is cut short)")
    parsed = parse_header(header, size, path)
    return description_from_metadata(parsed.metadata, path), parsed


@dataclass(frozen=True)
class BundleFile:
    """A bundle as the app sees it: the validated description and its tensors, not yet read."""

    path: Path
    description: BundleDescription
    tensors: Mapping[str, TensorRef]  # full names: state_dict.<name>, evaluation.<name>

    def weights(self) -> dict[str, TensorRef]:
        """The model's weights by state-dict name (described, not read)."""
        n = len(WEIGHTS_PREFIX)
        return {k[n:]: t for k, t in self.tensors.items() if k.startswith(WEIGHTS_PREFIX)}

    def evaluation_arrays(self) -> dict[str, TensorRef]:
        """The evaluation arrays (``targets``, ``scores`` ...) by name (described, not read)."""
        n = len(EVALUATION_PREFIX)
        return {k[n:]: t for k, t in self.tensors.items() if k.startswith(EVALUATION_PREFIX)}

    @property
    def model_id(self) -> str:
        """The id stored in the bundle, else one derived from its weights and labels (reads the weights)."""
        stored = self.description.stored_model_id
        if stored:
            return stored
        return content_model_id(
            ((name, t.dtype, t.shape, t.chunks()) for name, t in self.weights().items()),
            self.description.labels,
        )


def read_bundle_file(path: str | os.PathLike) -> BundleFile:
    """Open the bundle at ``path``: its description is validated and its tensors located; none is read.

    Raises BundleError naming ``path`` when the file is missing, not a bundle, damaged or hostile, of a
    newer format version, or describes something unusable (see ``BundleDescription.from_raw``);
    OldBundleFormat (a BundleError) for a format-1 torch bundle, which ``fashion convert`` turns into this one.
    """
    description, header = read_header(path)
    p = Path(path)
    tensors = {
        name: TensorRef(os.fspath(p), name, dtype, shape, header.data_start + begin, end - begin)
        for name, (dtype, shape, begin, end) in header.tensors.items()
    }
    return BundleFile(p, description, tensors)


def evaluation_dict(bundle: BundleFile) -> dict[str, Any] | None:
    """The bundle's evaluation as one mapping: its plain values plus its arrays as TensorRefs; None if absent."""
    arrays = bundle.evaluation_arrays()
    if bundle.description.evaluation is None and not arrays:
        return None
    return {**dict(bundle.description.evaluation or {}), **arrays}
