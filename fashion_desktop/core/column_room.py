"""Room at the end of a column's buffer, so that appending a scan chunk copies the chunk, not the column.

``extend_rows`` hands out a view of a bigger buffer and remembers how much of it is handed out; the next
append to that same view writes into the room. Room never written takes no memory (the system gives a
page when it is first written), so even a million-photo library's columns get it.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

_ROOMS: dict[int, tuple[weakref.ReferenceType[np.ndarray], int]] = {}  # id -> (room, rows handed out)


def extend_rows(arr: np.ndarray, n: int, values: Any, grow: bool = False, room_for: int = 0) -> np.ndarray:
    """``arr`` with ``n`` rows more set to ``values``, written into room at the end of its buffer when
    there is some (then only the new rows are copied); else (or with ``grow``) the rows are copied into a
    new buffer with room for half as many again (at least ``room_for`` rows). Room not written yet takes no
    memory (the system gives a page when it is first written), so a million-photo library's columns get it
    too."""
    rows = len(arr)
    room = arr.base
    kept = _ROOMS.get(id(room)) if room is not None else None
    # Only room made here, grown from the array it last handed out (an older or other view never is)
    if grow or kept is None or kept[0]() is not room or kept[1] != rows or len(room) < rows + n:
        room = np.empty((rows + n + max((rows + n) // 2, room_for), *arr.shape[1:]), arr.dtype)
        room[:rows] = arr
        key = id(room)
        kept = (weakref.ref(room, lambda _gone, key=key: _ROOMS.pop(key, None)), rows)
    _ROOMS[id(room)] = (kept[0], rows + n)
    out = room[: rows + n]
    if n:
        out[rows:] = values
    return out


def new_column(n: int, values: Any, dtype: Any, *width: int) -> np.ndarray:
    """A column of ``n`` rows set to ``values`` (``width``: numbers per row), with room to grow."""
    return extend_rows(np.zeros((0, *width), dtype), n, values)


def room_left(arr: np.ndarray) -> int:
    """How many rows ``extend_rows`` can add to ``arr`` without copying it (0 when it has no room)."""
    room = arr.base
    kept = _ROOMS.get(id(room)) if room is not None else None
    if kept is None or kept[0]() is not room or kept[1] != len(arr):
        return 0
    return len(room) - len(arr)
