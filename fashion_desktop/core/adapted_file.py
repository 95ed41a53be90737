"""The adapter's re-scored photos as the ``adapt`` child wrote them (an npz: ``ids``, ``scores``, ``person``),
read a block of rows at a time.

The window shows adapted scores a block per turn of its event loop; reading the whole file first held a second
copy of every photo's scores for as long as that took (264 MB at a million photos and 66 labels, beside the
264 MB the window shows). Only the ids are read at once; ``scores`` and ``person`` are read in order, as the
blocks are shown, straight from the (uncompressed) members of the file.
"""

from __future__ import annotations

import math
import shutil
import zipfile
from pathlib import Path
from typing import IO

import numpy as np


class NpyRows:
    """Rows of one ``.npy`` stream (C order), read front to back."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        fmt = np.lib.format
        version = fmt.read_magic(stream)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(stream)
        if fortran or not shape:
            raise ValueError(f"{name}: not a table of rows")
        self._stream, self.name = stream, name
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self._row_bytes = self.dtype.itemsize * math.prod(self.shape[1:])
        self._next = 0

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start``..``stop`` (``start`` is where the last call stopped)."""
        if start != self._next:
            raise ValueError(f"{self.name}: rows are read in order ({self._next} next, {start} asked for)")
        stop = min(stop, self.shape[0])
        n = max(stop - start, 0)
        data = self._stream.read(n * self._row_bytes)
        if len(data) != n * self._row_bytes:
            raise ValueError(f"{self.name}: the file is cut short")
        self._next = stop
        return np.frombuffer(data, self.dtype).reshape(n, *self.shape[1:])

    def close(self) -> None:
        self._stream.close()


class AdaptedFile:
    """``folder``/``name`` (an npz the ``adapt`` child wrote): ``ids`` read now, ``scores`` and ``person``
    row by row (``block``). ``close`` removes ``folder``. Raises ValueError for a file that is not one."""

    def __init__(self, folder: str | Path, name: str = "scores.npz") -> None:
        self.folder = Path(folder)
        self._zip: zipfile.ZipFile | None = None
        try:
            self._zip = zipfile.ZipFile(self.folder / name)
            with self._zip.open("ids.npy") as f:
                self.ids = np.lib.format.read_array(f, allow_pickle=False)
            self.scores = NpyRows(self._zip.open("scores.npy"), "scores")
            self.person = NpyRows(self._zip.open("person.npy"), "person")
        except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
            self.close()
            raise ValueError(f"{self.folder / name}: not the adapter's scores ({exc})") from exc
        if len(self.scores) != len(self.ids) or len(self.person) != len(self.ids):
            self.close()
            raise ValueError(f"{self.folder / name}: ids, scores and person differ in length")

    def __len__(self) -> int:
        return len(self.ids)

    def block(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, scores, person) of photos ``start``..``stop``, in order."""
        return self.ids[start:stop], self.scores.rows(start, stop), self.person.rows(start, stop)

    def close(self) -> None:
        for part in ("scores", "person"):
            rows = getattr(self, part, None)
            if rows is not None:
                rows.close()
        if self._zip is not None:
            self._zip.close()
        shutil.rmtree(self.folder, ignore_errors=True)
