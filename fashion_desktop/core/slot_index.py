"""Photo id -> slot of a library's columns, as one int array indexed by id (the catalog's ids are its row
ids: dense from 1). A dict of a million Python ints took about 100 MB; this takes 8 bytes an id, and looks
up a batch of ids in one numpy step instead of a Python loop."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

MISSING = -1


class SlotIndex:
    """A dict-like map of image id -> slot (``get``, ``[]``, ``in``, ``len``) with ``slots_of`` for arrays."""

    def __init__(self) -> None:
        self._of = np.full(0, MISSING, np.int64)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, ids: np.ndarray, first_slot: int) -> None:
        """Give ``ids`` (new to the index) the slots ``first_slot``, ``first_slot + 1``, ..."""
        ids = np.asarray(ids, np.int64)
        if not len(ids):
            return
        if ids.min() < 0:
            raise ValueError("image ids are never negative")
        top = int(ids.max()) + 1
        if top > len(self._of):
            grown = np.full(max(top, len(self._of) + len(self._of) // 8), MISSING, np.int64)
            grown[: len(self._of)] = self._of
            self._of = grown
        self._of[ids] = np.arange(first_slot, first_slot + len(ids), dtype=np.int64)
        self._count += len(ids)

    def slots_of(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """The slot of each id, -1 where the index does not have it."""
        ids = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), np.int64)
        out = np.full(len(ids), MISSING, np.int64)
        inside = (ids >= 0) & (ids < len(self._of))
        out[inside] = self._of[ids[inside]]
        return out

    def get(self, image_id: int, default: int | None = None) -> int | None:
        i = int(image_id)
        if 0 <= i < len(self._of):
            slot = int(self._of[i])
            if slot != MISSING:
                return slot
        return default

    def __getitem__(self, image_id: int) -> int:
        slot = self.get(image_id)
        if slot is None:
            raise KeyError(image_id)
        return slot

    def __contains__(self, image_id: object) -> bool:
        return isinstance(image_id, (int, np.integer)) and self.get(int(image_id)) is not None
