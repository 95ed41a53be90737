"""The library's id -> slot map answers as the dict it replaced did, for single ids and for arrays."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_desktop.core.slot_index import SlotIndex


def test_ids_map_to_their_slots_and_unknown_ids_to_nothing():
    index = SlotIndex()
    index.add(np.array([5, 2, 9]), 0)
    index.add(np.array([40, 11]), 3)
    want = {5: 0, 2: 1, 9: 2, 40: 3, 11: 4}
    assert len(index) == 5
    for i in range(-3, 60):
        assert index.get(i) == want.get(i) and (i in index) == (i in want)
        assert index.get(i, -1) == want.get(i, -1)
    assert index[40] == 3
    with pytest.raises(KeyError):
        index[3]
    asked = np.array([11, 3, 5, -1, 1000, 2])
    assert index.slots_of(asked).tolist() == [4, -1, 0, -1, -1, 1]
    assert index.slots_of([9]).tolist() == [2] and index.slots_of(np.zeros(0, np.int64)).tolist() == []
    assert np.int64(9) in index and "9" not in index
