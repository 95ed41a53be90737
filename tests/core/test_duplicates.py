"""Duplicates: photos of equal content hash or nearly identical embeddings, grouped."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.duplicates import (
    NEAR_DUPLICATE,
    duplicate_groups,
    find_duplicates,
    near_duplicate_pairs,
)
from fashion_desktop.core.embeddings import encode
from fashion_desktop.core.engine import ScoreOptions, tag_into_catalog
from fashion_desktop.core.scan import sync_folder
from fashion_desktop.model.resources import default_model_path
from tests.conftest import make_photo


def _scan(folder: Path, db: Path) -> Catalog:
    cat = Catalog(db)
    for _ in sync_folder(cat, folder):
        pass
    return cat


def _names(cat: Catalog, groups: list[list[int]]) -> list[list[str]]:
    return [[Path(cat.image(i).path).name for i in g] for g in groups]


def test_photos_of_equal_content_hash_group_without_any_model(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    make_photo(folder / "a.jpg", (120, 80), "red")
    make_photo(folder / "c.jpg", (120, 80), "blue")
    shutil.copy(folder / "a.jpg", folder / "b.jpg")
    (folder / "sub").mkdir()
    shutil.copy(folder / "a.jpg", folder / "sub" / "a.jpg")
    with _scan(folder, tmp_path / "lib.ffcat") as cat:
        report = _drain(find_duplicates(cat, None))
        assert _names(cat, report.groups) == [["a.jpg", "b.jpg", "a.jpg"]]  # same size: by path
        assert report.photos == 4 and report.without_embedding == 4 and report.duplicate_photos == 3
        assert duplicate_groups(cat, None) == report.groups


def _drain(gen):
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def _synthetic(tmp_path: Path, vectors: np.ndarray, names: list[str], embedded: int | None = None) -> Catalog:
    """A catalog of photos ``names`` (no files) whose embeddings are ``vectors`` (the first ``embedded``)."""
    cat = Catalog(tmp_path / "lib.ffcat")
    ids = cat.ensure_images([f"/photos/{n}" for n in names])
    cat.register_model("m", ["a"])
    n = len(vectors) if embedded is None else embedded
    rows = [(ids[f"/photos/{names[i]}"], np.zeros(1, np.float32)) for i in range(n)]
    cat.add_predictions("m", rows, encode(vectors[:n], "m"))
    return cat


def _with_cosine(base: np.ndarray, cos: float, rng: np.random.Generator) -> np.ndarray:
    """A vector whose cosine with ``base`` is ``cos``."""
    u = base / np.linalg.norm(base)
    other = rng.normal(size=base.shape)
    other -= (other @ u) * u
    other /= np.linalg.norm(other)
    return (cos * u + np.sqrt(1 - cos**2) * other) * np.linalg.norm(base)


def test_nearly_identical_embeddings_group_and_merely_alike_ones_do_not(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=1280)
    vectors = np.stack(
        [
            base,
            _with_cosine(base, 0.99, rng),  # a re-encoded copy
            _with_cosine(base, 0.88, rng),  # the same garment on the same model in another print
            rng.normal(size=1280),
            rng.normal(size=1280),
        ]
    ).astype(np.float32)
    names = ["orig.jpg", "copy.jpg", "alike.jpg", "x.jpg", "y.jpg", "no_embedding.jpg"]
    with _synthetic(tmp_path, vectors, names) as cat:
        report = _drain(find_duplicates(cat, "m"))
        assert _names(cat, report.groups) == [["copy.jpg", "orig.jpg"]]
        assert report.photos == 6 and report.without_embedding == 1


def test_a_copy_by_hash_joins_the_group_its_original_is_in_by_embedding(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=64)
    vectors = np.stack([base, _with_cosine(base, 0.995, rng), rng.normal(size=64)]).astype(np.float32)
    with _synthetic(tmp_path, vectors, ["a.jpg", "b.jpg", "c.jpg", "b_copy.jpg"], embedded=3) as cat:
        ids = {Path(r.path).name: r.id for r in cat.images()}
        cat.query(
            "UPDATE images SET content_hash='h', size=1000 WHERE id IN (?, ?)",
            (ids["b.jpg"], ids["b_copy.jpg"]),
        )
        cat.query("UPDATE images SET size=500 WHERE id=?", (ids["a.jpg"],))
        (group,) = duplicate_groups(cat, "m")
        # the largest file first, then by path
        assert [Path(cat.image(i).path).name for i in group] == ["b.jpg", "b_copy.jpg", "a.jpg"]


def test_the_search_in_tiles_finds_what_comparing_every_pair_finds_and_stops_when_cancelled() -> None:
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(30, 128))
    which = rng.integers(0, 30, 200)
    noise = rng.uniform(0.0, 0.5, 200)[:, None] * rng.normal(size=(200, 128))
    vectors = (centres[which] + noise).astype(np.float32)
    codes = np.frombuffer(b"".join(b[4:] for b in encode(vectors, "m")), np.int8).reshape(200, -1)
    unit = codes.astype(np.float32) / np.linalg.norm(codes.astype(np.float32), axis=1, keepdims=True)
    sims = unit @ unit.T
    want = {(i, j) for i, j in zip(*np.nonzero(sims >= NEAR_DUPLICATE), strict=True) if i < j}
    assert 20 < len(want) < 5000
    got = set()
    steps = list(near_duplicate_pairs(codes, NEAR_DUPLICATE, tile=16))
    for a, b, done in steps:
        got |= set(zip(a.tolist(), b.tolist(), strict=True))
        assert 0.0 < done <= 1.0
    assert got == want and steps[-1][2] == 1.0
    cancelled = list(near_duplicate_pairs(codes, NEAR_DUPLICATE, tile=16, cancel=lambda: True))
    assert len(cancelled) <= 1


@pytest.mark.slow
def test_a_re_encoded_and_a_halved_copy_of_a_real_photo_group_with_the_default_model(
    tmp_path: Path, shared_data: Path
) -> None:
    """Real phone photos of one kind (t-shirts) with the shipped default model: the copies group, the
    other photos do not."""
    bundle = default_model_path()
    assert bundle is not None
    folder = tmp_path / "photos"
    folder.mkdir()
    sources = sorted((shared_data / "clothing-small" / "test" / "t-shirt").glob("*.jpg"))[:8]
    for i, src in enumerate(sources):
        shutil.copy(src, folder / f"t{i}.jpg")
    im = Image.open(sources[0]).convert("RGB")
    im.save(folder / "t0_q70.jpg", quality=70)
    im.resize((im.width // 2, im.height // 2), Image.BICUBIC).save(folder / "t0_half.jpg", quality=90)
    with _scan(folder, tmp_path / "lib.ffcat") as cat:
        list(tag_into_catalog(cat, [r.path for r in cat.images()], bundle, ScoreOptions(device="cpu")))
        key = cat.models()[0].key
        assert [sorted(g) for g in _names(cat, duplicate_groups(cat, key))] == [
            ["t0.jpg", "t0_half.jpg", "t0_q70.jpg"]
        ]


def test_a_photo_gone_between_the_two_reads_is_left_out(tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=64)
    vectors = np.stack([base, rng.normal(size=64), _with_cosine(base, 0.995, rng)]).astype(np.float32)
    with _synthetic(tmp_path, vectors, ["a.jpg", "b.jpg", "c.jpg"]) as cat:
        records = cat.images()
        monkeypatch.setattr(cat, "images", lambda: records[:2])  # c.jpg (a's copy) left meanwhile
        report = _drain(find_duplicates(cat, "m"))
        assert report.groups == [] and report.photos == 2 and report.without_embedding == 0
