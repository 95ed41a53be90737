"""Many strings kept as one UTF-8 buffer: a library's paths and file names without a Python object each.

A list of a million paths is a million string objects (108 MB for the paths, 68 MB for the names at a
million photos) and one container that every full pass of Python's garbage collector walks item by item
(37 ms of each pass at a million, on the GUI thread whatever thread set it off). Here the strings are
NUL-separated bytes in one numpy buffer (a path holds no NUL on any system) with the offset where each
ends: about half the memory, and nothing for the collector to walk. A string is decoded when asked.

Appending writes only past the end (``extend_rows``' room) and swaps the (buffer, ends) pair in one
assignment, so a reader in another thread sees the column as it was or as it is, never half of an append.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from .column_room import extend_rows, room_left

ENCODING = ("utf-8", "surrogateescape")  # file names that are not valid UTF-8 come back as they were
CHUNK = 50_000  # strings joined and encoded per step


def _decode(raw: bytes) -> str:
    return raw.decode(*ENCODING)


class StringColumn:
    """A growable sequence of strings: ``len``, ``col[i]`` (a str), ``col[a:b]`` (a list), iteration,
    ``extend``."""

    def __init__(self, strings: Iterable[str] = ()) -> None:
        # (bytes, where each string's NUL is): one tuple, replaced whole
        self._state: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.uint8), np.zeros(0, np.int64))
        self.extend(strings)

    def __len__(self) -> int:
        return len(self._state[1])

    def __getitem__(self, index):
        data, ends = self._state
        if isinstance(index, slice):
            start, stop, step = index.indices(len(ends))
            if step != 1:
                return self[start:stop][::step]
            if stop <= start:
                return []
            first = int(ends[start - 1]) + 1 if start else 0
            return _decode(data[first : int(ends[stop - 1])].tobytes()).split("\0")
        i = int(index)
        if i < 0:
            i += len(ends)
        if not 0 <= i < len(ends):
            raise IndexError(f"string {index} of {len(ends)}")
        first = int(ends[i - 1]) + 1 if i else 0
        return _decode(data[first : int(ends[i])].tobytes())

    def raw_chunks(self, chunk: int = CHUNK) -> Iterator[list[bytes]]:
        """The strings' UTF-8 bytes (as stored), ``chunk`` strings a list, in order: no decoding."""
        data, ends = self._state
        for start in range(0, len(ends), chunk):
            stop = min(start + chunk, len(ends))
            first = int(ends[start - 1]) + 1 if start else 0
            yield data[first : int(ends[stop - 1])].tobytes().split(b"\0")

    def __iter__(self) -> Iterator[str]:
        n = len(self)
        for start in range(0, n, 50_000):
            yield from self[start : min(start + 50_000, n)]

    def index(self, value: str) -> int:
        """The position of the first string equal to ``value``; ValueError when there is none."""
        n = len(self)
        for start in range(0, n, 50_000):
            part = self[start : min(start + 50_000, n)]
            if value in part:
                return start + part.index(value)
        raise ValueError(f"{value!r} is not in the column")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StringColumn):
            return len(self) == len(other) and bool(np.array_equal(self._state[0], other._state[0]))
        if isinstance(other, list | tuple):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"StringColumn({len(self):,} strings)"

    def extend(self, strings: Iterable[str]) -> None:
        """Add ``strings`` at the end. Raises ValueError for a string holding a NUL character (then none of
        ``strings`` is added)."""
        items = strings if isinstance(strings, list | tuple) else list(strings)
        parts = []
        # A chunk at a time: joining and encoding a million paths in one step held the interpreter lock for
        # 100 ms (a library opening in a worker froze the window that long)
        for start in range(0, len(items), CHUNK):
            part = items[start : start + CHUNK]
            new = np.frombuffer(("\0".join(part) + "\0").encode(*ENCODING), np.uint8)
            nul = np.flatnonzero(new == 0)
            if len(nul) != len(part):
                raise ValueError("a string with a NUL character cannot be kept in a StringColumn")
            parts.append((new, nul))
        for new, nul in parts:
            data, ends = self._state
            base = len(data)
            self._state = (extend_rows(data, len(new), new), extend_rows(ends, len(nul), nul + base))

    def _bytes_per_string(self) -> int:
        data, ends = self._state
        return max(1, len(data) // len(ends)) if len(ends) else 1

    def room_left(self) -> int:
        """About how many strings can be added without copying the buffer (``library_columns.grow_ahead``)."""
        data, ends = self._state
        return min(room_left(ends), room_left(data) // self._bytes_per_string())

    def make_room(self, strings: int = 0) -> None:
        """Copy the strings into buffers with room for half as many again, at least ``strings`` more
        (untouched room takes no memory)."""
        data, ends = self._state
        self._state = (
            extend_rows(data, 0, None, grow=True, room_for=strings * self._bytes_per_string()),
            extend_rows(ends, 0, None, grow=True, room_for=strings),
        )

    def nbytes(self) -> int:
        data, ends = self._state
        return int(data.nbytes + ends.nbytes)
