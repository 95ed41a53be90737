"""StringColumn: a library's paths and names as one buffer give back exactly the strings put in."""

import sys
import threading

import pytest

from fashion_desktop.core.string_column import StringColumn

ODD = [
    "/photos/a.jpg",
    "",
    "/ph\u00f6tos/\u00e9t\u00e9 \U0001f457.JPG",
    "/x/line\nbreak.png",
    "/raw/\udcff\udcfe.jpg",
]


def test_strings_come_back_as_they_went_in_one_by_one_in_slices_and_in_order():
    col = StringColumn(ODD[:2])
    col.extend(ODD[2:])
    assert len(col) == len(ODD)
    assert [col[i] for i in range(len(ODD))] == ODD
    assert col[-1] == ODD[-1]
    assert col[1:4] == ODD[1:4]
    assert col[3:1] == []
    assert col[::2] == ODD[::2]
    assert list(col) == ODD
    assert col == ODD
    assert col.index(ODD[3]) == 3
    with pytest.raises(IndexError):
        col[len(ODD)]
    with pytest.raises(ValueError):
        col.index("/not/there.jpg")


def test_a_nul_in_a_string_is_refused_and_the_column_is_left_as_it_was(monkeypatch):
    import fashion_desktop.core.string_column as sc

    col = StringColumn(["a"])
    with pytest.raises(ValueError, match="NUL"):
        col.extend(["b", "c\0d"])
    assert list(col) == ["a"]
    monkeypatch.setattr(sc, "CHUNK", 2)  # strings added a chunk at a time: a NUL in the last chunk adds none
    col.extend(["b", "c", "d"])
    with pytest.raises(ValueError, match="NUL"):
        col.extend(["e", "f", "g", "h\0"])
    assert list(col) == ["a", "b", "c", "d"]


def test_many_appends_keep_every_string_and_a_reader_never_sees_half_an_append():
    col = StringColumn()
    seen_bad = []
    stop = threading.Event()

    def read():
        while not stop.is_set():
            n = len(col)
            if n and col[n - 1] != f"/p/{n - 1:06d}.jpg":
                seen_bad.append(n)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for start in range(0, 20_000, 100):
            col.extend(f"/p/{i:06d}.jpg" for i in range(start, start + 100))
    finally:
        stop.set()
        reader.join()
    assert not seen_bad
    assert col[12_345] == "/p/012345.jpg"
    assert len(col) == 20_000


def test_a_hundred_thousand_paths_take_well_under_the_memory_of_a_list_of_them():
    paths = [f"/Volumes/Shop/2026/set{i // 1000:04d}/IMG_{i:07d}.jpg" for i in range(100_000)]
    as_list = sys.getsizeof(paths) + sum(map(sys.getsizeof, paths))
    col = StringColumn(paths)
    assert col.nbytes() < 0.6 * as_list
    assert col[99_999] == paths[99_999]


def test_appending_a_scan_chunk_at_a_time_copies_the_buffer_rarely():
    col = StringColumn(f"/Volumes/Shop/set/IMG_{i:07d}.jpg" for i in range(100_000))
    buffers = set()
    for start in range(100_000, 200_000, 100):  # a thousand scan chunks of 100 photos
        col.extend(f"/Volumes/Shop/set/IMG_{i:07d}.jpg" for i in range(start, start + 100))
        buffers.add(id(col._state[0].base))
    # room for an eighth more at a time: a handful of copies, not one every other chunk
    assert len(buffers) <= 8
    assert col[199_999] == "/Volumes/Shop/set/IMG_0199999.jpg"
