"""Read what a model bundle says about itself (labels, thresholds, metrics, evaluation) without torch.

A ``.fmodel`` is torch's zip format: a pickle of plain values whose tensors point at raw storage
files beside it. To show a model the app needs its description and evaluation scores, not torch (a
half-gigabyte import that holds the interpreter lock for hundreds of milliseconds), so this reads
just that format. Its unpickler builds dicts, lists, strings and numbers and torch's tensor records,
nothing else: any other global (code) is refused, as torch's ``weights_only`` loader refuses it.
Tagging still loads the bundle with torch (``weights_only=True``) in its own process.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fashion_desktop.model.bundle_format import BundleError, check_description, refused_message

# torch's storage classes as they appear in the pickle, and their element type.
_STORAGE_DTYPES = {
    "DoubleStorage": "f8",
    "FloatStorage": "f4",
    "HalfStorage": "f2",
    "BFloat16Storage": "bf16",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: str


class TensorRef:
    """A tensor of the bundle, read from the file only when ``numpy()`` is called."""

    def __init__(
        self,
        read: Callable[[str], bytes],
        storage: _Storage,
        offset: int,
        shape: Sequence[int],
        stride: Sequence[int],
        big_endian: bool,
    ) -> None:
        self._read = read
        self._storage = storage
        self._offset = int(offset)
        self.shape = tuple(int(s) for s in shape)
        self._stride = tuple(int(s) for s in stride)
        self._big = big_endian

    @property
    def dtype(self) -> str:
        return self._storage.dtype

    def numpy(self) -> np.ndarray:
        """The values as a new array (bfloat16 comes back as float32). Raises BundleError."""
        raw = self._read(self._storage.key)
        order = ">" if self._big else "<"
        if self.dtype == "bf16":  # no numpy type: the upper half of a float32
            halves = np.frombuffer(raw, f"{order}u2").astype(np.uint32) << 16
            flat = halves.view(np.float32)
        else:
            flat = np.frombuffer(
                raw, self.dtype if self.dtype in ("?", "u1", "i1") else f"{order}{self.dtype}"
            )
        if not self.shape:
            return flat[self._offset : self._offset + 1].reshape(()).copy()
        last = self._offset + sum((n - 1) * s for n, s in zip(self.shape, self._stride, strict=True))
        if min(self.shape) > 0 and (self._offset < 0 or last >= len(flat) or min(self._stride) < 0):
            raise BundleError(f"a tensor of shape {self.shape} points outside its data")
        view = np.lib.stride_tricks.as_strided(
            flat[self._offset :],
            shape=self.shape,
            strides=tuple(s * flat.itemsize for s in self._stride),
            writeable=False,
        )
        return np.array(view)

    def __repr__(self) -> str:
        return f"TensorRef(shape={self.shape}, dtype={self.dtype})"


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, read: Callable[[str], bytes], big_endian: bool) -> None:
        super().__init__(io.BytesIO(data))
        self._read = read
        self._big = big_endian

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return self._rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        raise pickle.UnpicklingError(f"refused global {module}.{name}: only plain data and tensors are read")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (
            isinstance(pid, tuple)
            and len(pid) >= 3
            and pid[0] == "storage"
            and pid[1] in _STORAGE_DTYPES.values()
        ):
            raise pickle.UnpicklingError(f"unknown storage record {str(pid)[:80]}")
        return _Storage(str(pid[2]), pid[1])

    def _rebuild_tensor(self, storage: Any, offset: Any, size: Any, stride: Any, *_rest: Any) -> TensorRef:
        if not isinstance(storage, _Storage) or not isinstance(size, tuple) or not isinstance(stride, tuple):
            raise pickle.UnpicklingError("malformed tensor record")
        if len(size) != len(stride):
            raise pickle.UnpicklingError("malformed tensor record (shape and strides differ in length)")
        return TensorRef(self._read, storage, offset, size, stride, self._big)


def read_bundle_dict(path: str | os.PathLike) -> dict[str, Any]:
    """The bundle's top-level dict with every tensor as a TensorRef (weights are not read).

    Raises BundleError naming ``path`` when the file is missing, not a torch zip, holds code or
    anything but plain data, or is not a Fashion Finder bundle of a version this app understands.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise BundleError(f"{path}: model file not found")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BundleError(f"{path}: not a model bundle (cannot be read: {exc})") from None
    with zf:
        names = zf.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise BundleError(f"{path}: not a model bundle (no data record in the archive)")
        prefix = pkl[: -len("data.pkl")]
        big = zf.read(prefix + "byteorder").strip() == b"big" if prefix + "byteorder" in names else False
        cache: dict[str, bytes] = {}

        def read(key: str) -> bytes:
            if key not in cache:
                try:
                    with zipfile.ZipFile(path) as again:  # read lazily, after this function returned
                        cache[key] = again.read(f"{prefix}data/{key}")
                except (KeyError, OSError, zipfile.BadZipFile) as exc:
                    raise BundleError(f"{path}: tensor data {key} missing or unreadable ({exc})") from None
            return cache[key]

        try:
            raw = _Unpickler(zf.read(pkl), read, big).load()
        except pickle.UnpicklingError as exc:
            if "refused global" in str(exc):
                raise BundleError(refused_message(path, str(exc))) from None
            raise BundleError(f"{path}: not a model bundle (cannot be read: {exc})") from None
        except Exception as exc:  # EOFError, struct errors, ... from a damaged file
            raise BundleError(f"{path}: not a model bundle (cannot be read: {type(exc).__name__})") from None
    check_description(raw, path)
    return raw
