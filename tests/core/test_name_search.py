"""The file-name filter of a big library (names joined and searched at C speed) finds exactly the photos
a name-by-name test finds, whatever the case, the order of the slots asked about, or odd names."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_desktop.core import name_search
from fashion_desktop.core.name_search import NameSearch

NAMES = [f"IMG_{i:05d}.JPG" for i in range(300)] + [
    "x0042y.jpg", "Beach-0042.PNG", "0042", "İstanbul_0042.jpg", "ÉTÉ_0042.heic", "line\nbreak0042.jpg", "img_00042",
]  # fmt: skip


def _naive(names, slots, needle):
    return np.array([needle in names[int(s)].lower() for s in slots], bool)


@pytest.mark.parametrize("small", [0, 10_000])
@pytest.mark.parametrize("needle", ["0042", "img_0004", "beach", "été", "x", "jpg", "zzz"])
def test_matches_a_name_by_name_test(monkeypatch, small, needle):
    monkeypatch.setattr(name_search, "SMALL", small)
    slots = np.arange(len(NAMES))
    for asked in (slots, slots[::-1], slots[::7], slots[:0]):
        assert (NameSearch().mask(NAMES, asked, needle) == _naive(NAMES, asked, needle)).all()


def test_names_added_later_are_searched_too(monkeypatch):
    monkeypatch.setattr(name_search, "SMALL", 0)
    names = ["a.jpg", "b.jpg"]
    search = NameSearch()
    assert search.mask(names, np.arange(2), "b").tolist() == [False, True]
    names += ["bb.jpg"]
    assert search.mask(names, np.arange(3), "bb").tolist() == [False, False, True]


def test_name_order_is_the_file_name_then_the_folder_whatever_the_case_or_script():
    import os
    import random

    from fashion_desktop.core.library_columns import name_ranks

    random.seed(1)
    names = [
        "a.jpg",
        "A.jpg",
        "b.JPG",
        "é.jpg",
        "E.jpg",
        "z",
        "Z.jpg",
        "ab",
        "a",
        "日本.jpg",
        "\udcff.jpg",
        "ä.png",
    ]
    paths = [
        f"/{random.choice(['x', 'y', 'Y', 'é', 'aa'])}/{random.choice(['s', 't'])}/{random.choice(names)}"
        for _ in range(3000)
    ]
    ranks = name_ranks(paths)
    by_rank = [p for _r, p in sorted(zip(ranks.tolist(), paths, strict=True))]
    assert by_rank == sorted(paths, key=lambda p: (os.path.basename(p).lower(), p))
    assert sorted(ranks.tolist()) == list(range(len(paths)))
    long_path = "/" + "d" * 2000 + "/x.jpg"  # wider than a fixed-width column: compared as strings
    assert name_ranks([long_path, "/a/y.jpg", "/b/X.jpg"]).tolist() == [1, 2, 0]


def test_the_name_order_from_a_librarys_string_columns_is_the_order_from_its_strings():
    import os

    from fashion_desktop.core.library_columns import name_ranks
    from fashion_desktop.core.string_column import StringColumn

    # 120,000 photos: chunks of 50,000 all ASCII, one with a few accented or undecodable names, the last
    # with upper-case ones only (each chunk lower-cased its own way)
    paths = [
        f"/Shop/{'Set' if i % 3 else 'set'}{i % 7}/IMG_{(i * 7919) % 120_000:06d}.JPG" for i in range(120_000)
    ]
    for i, odd in enumerate(
        ["/x/\u00c9t\u00e9.jpg", "/x/\udcff.jpg", "/y/\u65e5\u672c.jpg", "/y/\u00e9t\u00e9.JPG"]
    ):
        paths[60_000 + i * 1000] = odd
    names = [os.path.basename(p) for p in paths]
    from_strings = name_ranks(paths)
    assert np.array_equal(name_ranks(StringColumn(paths), StringColumn(names)), from_strings)
    by_rank = np.empty(len(paths), np.int64)
    by_rank[from_strings] = np.arange(len(paths))
    assert [paths[i] for i in by_rank] == sorted(paths, key=lambda p: (os.path.basename(p).lower(), p))
