"""The search box's grammar and its mask over a library's columns; the Needs attention queue (issue 24)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.catalog_images import content_changed
from fashion_desktop.core.library_columns import LibraryColumns, ViewSpec
from fashion_desktop.core.tag_search import Term, completions, parse
from tests.conftest import make_photo

LABELS = ["dress", "sundress", "shoe", "shirt, blouse", "black", "white", "Men", "Women"]
GROUPS = {
    "dress": "category", "sundress": "category", "shoe": "category", "shirt, blouse": "category",
    "black": "colour", "white": "colour", "Men": "gender", "Women": "gender",
}  # fmt: skip
BASE = np.array([0.1, 0.1, 0.1, 0.1, 0.8, 0.2, 0.9, 0.1], np.float32)  # far from 0.5: sure of each


def test_parse_reads_words_groups_negation_states_and_quotes():
    assert parse("dress") == [Term("dress")]
    assert parse("Colour:Black") == [Term("black", "colour")]
    assert parse("-reviewed") == [Term("reviewed", negate=True, state="reviewed")]
    assert parse('"shirt, blouse" -"shirt, blouse"') == [
        Term("shirt, blouse"),
        Term("shirt, blouse", negate=True),
    ]
    assert parse("unreviewed to-confirm") == [
        Term("unreviewed", state="unreviewed"), Term("to-confirm", state="to confirm")
    ]  # fmt: skip
    assert parse('"reviewed"') == [Term("reviewed")]  # in quotes: a label's name
    assert parse("") == [] and parse("  - colour: ") == []  # words still being typed
    assert parse('"light blue":navy') == [Term("navy", "light blue")]


def test_completions_offer_labels_group_values_and_state_words():
    words = completions(["dress", "shirt, blouse"], {"dress": "category", "shirt, blouse": "category"})
    assert {"dress", '"shirt, blouse"', "category:dress", 'category:"shirt, blouse"'} <= set(words)
    assert {"reviewed", "unreviewed", "to-confirm", "-reviewed"} <= set(words)


def make_catalog(tmp_path, rows: list[np.ndarray]) -> tuple[Catalog, list[int]]:
    folder = tmp_path / "photos"
    paths = [folder / f"p{i}.jpg" for i in range(len(rows))]
    for p in paths:
        make_photo(p, (32, 24), "red")
    cat = Catalog(tmp_path / "lib.ffcat")
    cat.add_folder(str(folder))
    got = cat.ensure_images([str(p) for p in paths])
    ids = [got[str(p)] for p in paths]
    cat.register_model(
        "m", LABELS, "model", None, GROUPS, thresholds=[0.5] * len(LABELS), exclusive=["colour", "gender"]
    )
    cat.add_predictions("m", list(zip(ids, rows, strict=True)))
    return cat, ids


def columns(cat: Catalog) -> LibraryColumns:
    c = LibraryColumns(cat)
    c.reload()
    c.set_active_model("m")
    return c


def names(c: LibraryColumns, spec: ViewSpec) -> list[str]:
    return [c.slots.names[int(s)] for s in c.view(spec)]


@pytest.fixture
def lib(tmp_path):
    rows = [BASE.copy() for _ in range(5)]
    rows[0][0] = 0.9  # p0: a dress, black
    rows[1][1] = 0.9  # p1: a sundress
    rows[2][4], rows[2][5] = 0.1, 0.9  # p2: white
    rows[3][3] = 0.9  # p3: a shirt, blouse
    cat, ids = make_catalog(tmp_path, rows)
    cat.set_reviewed([ids[0]], True)
    cat.add_person_labels({"vintage": "style"}, [(ids[4], "vintage", True)])  # p4: a person's own tag
    yield columns(cat), ids
    cat.close()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("", ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg", "p4.jpg"]),
        ("dress", ["p0.jpg", "p1.jpg"]),  # a label whose name contains the word
        ("DRESS -sun", ["p0.jpg"]),
        ("colour:black", ["p0.jpg", "p1.jpg", "p3.jpg", "p4.jpg"]),
        ("colour:white", ["p2.jpg"]),
        ("gender:black", []),  # black is no gender
        ("-reviewed", ["p1.jpg", "p2.jpg", "p3.jpg", "p4.jpg"]),
        ("reviewed", ["p0.jpg"]),
        ('"shirt, blouse"', ["p3.jpg"]),
        ("vintage", ["p4.jpg"]),
        ("style:vintage unreviewed", ["p4.jpg"]),
        ("nosuchtag", []),
        ("to-confirm", []),
    ],
)
def test_the_search_mask_follows_the_grammar(lib, text, shown):
    c, _ids = lib
    assert names(c, ViewSpec(search=text)) == shown


def test_a_persons_decision_wins_over_the_model_in_the_search(lib):
    c, ids = lib
    c.write_decisions([(ids[2], "black", True)])  # one value of colour: black replaces white
    assert names(c, ViewSpec(search="colour:black")) == ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg", "p4.jpg"]
    assert names(c, ViewSpec(search="white")) == []


def queue_library(tmp_path):
    rows = [BASE.copy() for _ in range(7)]
    rows[1][0] = 0.52  # p1: near the dress threshold
    rows[2][0] = 0.505  # p2: nearer: more likely wrong
    rows[5][2] = 0.51  # p5: near, but reviewed
    cat, ids = make_catalog(tmp_path, rows)
    cat.set_reviewed([ids[3], ids[5]], True)
    with cat.transaction() as db:  # p3's picture changed after a person reviewed it
        content_changed(db, ids[3], time.time())
    cat.set_decision(ids[4], "Men", True)  # p4: two values of gender (an older catalog's)
    cat.set_decision(ids[4], "Women", True)
    return cat, ids


def test_needs_attention_lists_to_confirm_then_two_values_then_the_most_uncertain(tmp_path):
    cat, ids = queue_library(tmp_path)
    c = columns(cat)
    assert names(c, ViewSpec(review="attention", sort="date", descending=True)) == [
        "p3.jpg", "p4.jpg", "p2.jpg", "p1.jpg"
    ]  # fmt: skip
    assert c.attention_count() == 4
    assert all(c.uncertain(int(s)) for s in c.view(ViewSpec(review="attention"))[2:])
    c.write_reviewed([ids[2]], True)
    assert c.attention_count() == 3
    c.write_reviewed([ids[3], ids[4]], True)  # reviewed: settled, whatever they hold
    assert c.attention_count() == 1
    c.write_reviewed([ids[2]], False)
    assert c.attention_count() == 2
    cat.close()


def test_the_queue_count_after_an_edit_is_cheap_over_a_million_photos(tmp_path):
    cat, _ids = queue_library(tmp_path)
    c = columns(cat)
    n, nl = 1_000_000, len(LABELS)
    rng = np.random.default_rng(0)
    s = c.slots  # a million photos' columns in place of the seven
    s.paths = s.names = [""] * n
    s.reviewed, s.to_confirm, s.rank = np.zeros(n, bool), np.zeros(n, bool), np.arange(n)
    c._scores = rng.random((n, nl), dtype=np.float32)
    c._scored, c._pred = np.ones(n, bool), c._scores > 0.5
    c._dec = np.full((n, nl), -1, np.int8)
    c._queue_stale()
    while c.warm_queue():  # the full pass, a block at a time (the window does one per event)
        pass
    before, first = c.attention_count(), int(c.needs_attention(np.arange(20)).sum())
    assert first > 0
    t = time.perf_counter()
    for i in range(20):  # a person reviews: one photo changes, the count follows
        s.reviewed[i] = True
        c._queue_stale([i])
        c.attention_count()
    assert (time.perf_counter() - t) / 20 < 0.005
    assert c.attention_count() == before - first
    cat.close()


def test_with_a_calibrated_badge_the_queue_takes_the_badges_photos_riskiest_first(tmp_path):
    cat, _ids = queue_library(tmp_path)
    c = columns(cat)
    c.set_active_model("m", badge={"cutoff": 0.45})
    slots = np.arange(len(c))
    badge = np.array([c.uncertain(int(s)) for s in slots])
    confirm_or_two = np.isin([c.slots.names[int(s)] for s in slots], ["p3.jpg", "p4.jpg"])
    assert badge.any() and not badge.all()
    assert (c.needs_attention(slots) == (badge | confirm_or_two)).all()
    queue = c.view(ViewSpec(review="attention"))
    risks = c.risk(queue[2:])
    assert list(risks) == sorted(risks, reverse=True)
    cat.close()
