"""Embeddings stored once at tagging time, compact, per model; `fashion similar` searches them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_desktop.cli import main
from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.demo import save_colour_bundle
from fashion_desktop.core.embeddings import decode, encode, projection
from fashion_desktop.core.engine import ScoreOptions, tag_into_catalog
from fashion_desktop.core.scan import sync_folder
from fashion_desktop.core.similar import SimilarError, SimilarityIndex, similar_photos
from fashion_desktop.model.arch_table import ARCH_TABLE
from tests.conftest import make_photo

CPU = ScoreOptions(device="cpu", batch_size=4)


def _library(tmp_path: Path, bundle: Path, n: int = 9, force: bool = False) -> Path:
    """A catalog of ``n`` photos in three colours (made on the first call), tagged by ``bundle`` in-process."""
    folder = tmp_path / "photos"
    if not folder.exists():
        for i in range(n):
            make_photo(folder / f"p{i}.jpg", (80 + i, 64), ("red", "green", "blue")[i % 3])
    db = tmp_path / "lib.ffcat"
    with Catalog(db) as cat:
        for _ in sync_folder(cat, folder):
            pass
        paths = [r.path for r in cat.images()]
        list(tag_into_catalog(cat, paths, bundle, CPU, force=force))
    return db


def _rows(db: Path, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_tagging_stores_one_embedding_per_photo_from_the_same_pass(
    tmp_path: Path, tiny_bundle_path: Path
) -> None:
    db = _library(tmp_path, tiny_bundle_path)
    with Catalog(db) as cat:
        ids, blobs = cat.embeddings("tiny-test-model")
        assert len(ids) == 9 and sorted(ids.tolist()) == sorted(r.id for r in cat.images())
        assert all(len(b) == 4 + 128 for b in blobs)  # the cnn's 128 pooled features: 128 codes + scale
        assert cat.without_embeddings("tiny-test-model") == 0
        vectors = decode(blobs)
        by_colour = {r.id: Path(r.path).stem for r in cat.images()}
    # The demo model's pooled features carry the colour: photos of one colour point the same way.
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    colour = np.array([int(by_colour[i][1:]) % 3 for i in ids.tolist()])
    sims = unit @ unit.T
    same = sims[colour[:, None] == colour[None, :]].min()
    other = sims[colour[:, None] != colour[None, :]].max()
    assert same > other


def test_an_embedding_costs_at_most_300_bytes_a_photo_in_the_file(tmp_path: Path) -> None:
    """A 1,280-wide model (the default model's width) is reduced to 256 int8 codes; measured in SQLite."""
    n = 3000
    features = np.random.default_rng(1).normal(size=(n, 1280)).astype(np.float32)
    blobs = encode(features, "wide-model")
    assert {len(b) for b in blobs} == {260}
    sizes = []
    for with_embeddings in (False, True):
        db = tmp_path / f"lib-{with_embeddings}.ffcat"
        with Catalog(db) as cat:
            ids = cat.ensure_images([f"/photos/p{i}.jpg" for i in range(n)])
            cat.register_model("wide-model", ["a", "b", "c"])
            scores = [(ids[f"/photos/p{i}.jpg"], np.zeros(3, np.float32)) for i in range(n)]
            for start in range(0, n, 500):
                chunk = slice(start, start + 500)
                cat.add_predictions("wide-model", scores[chunk], blobs[chunk] if with_embeddings else None)
            cat.query("PRAGMA wal_checkpoint(TRUNCATE)")
        sizes.append(db.stat().st_size)
    per_photo = (sizes[1] - sizes[0]) / n
    assert per_photo <= 300 + 16, per_photo


def test_encoding_keeps_directions_and_belongs_to_the_model_id() -> None:
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(20, 1280))
    group = np.repeat(np.arange(20), 5)
    features = (centres[group] + 0.5 * rng.normal(size=(100, 1280))).astype(np.float32)
    a = decode(encode(features, "model-a"))
    assert a.shape == (100, 256)

    def cosines(x: np.ndarray) -> np.ndarray:
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        return unit @ unit.T

    # Random projection to 256 dims plus int8 rounding: cosines survive (JL), neighbours stay neighbours.
    want, got = cosines(features), cosines(a)
    assert np.abs(want - got).mean() < 0.06  # about 1 / sqrt(256) for unrelated directions
    np.fill_diagonal(got, -1)
    assert np.array_equal(group[got.argmax(1)], group)
    p = projection("model-a", 1280)
    assert np.allclose(p.T @ p, np.eye(256) * 1280 / 256, atol=1e-3)  # orthogonal columns
    assert np.array_equal(projection("model-a", 1280), p)
    assert not np.allclose(projection("model-b", 1280), p)


def test_retagging_with_force_replaces_rows_and_a_new_model_gets_its_own(
    tmp_path: Path, tiny_bundle_path: Path
) -> None:
    db = _library(tmp_path, tiny_bundle_path)
    with Catalog(db) as cat:
        before = dict(zip(*cat.embeddings("tiny-test-model"), strict=True))
    assert _rows(db, "embeddings") == 9
    _library(tmp_path, tiny_bundle_path, force=True)
    assert _rows(db, "embeddings") == 9 and _rows(db, "predictions") == 9
    other = save_colour_bundle(tmp_path / "other.fmodel", model_id="other-model", name="other")
    _library(tmp_path, other)
    assert _rows(db, "embeddings") == 18
    with Catalog(db) as cat:
        after = dict(zip(*cat.embeddings("tiny-test-model"), strict=True))
        mine = dict(zip(*cat.embeddings("other-model"), strict=True))
    assert after == before  # same photos, same model: the same bytes
    assert set(mine) == set(before) and all(mine[i] != before[i] for i in before)  # its own projection


def test_an_embedding_goes_with_its_scores_when_the_photo_changes(
    tmp_path: Path, tiny_bundle_path: Path
) -> None:
    db = _library(tmp_path, tiny_bundle_path)
    changed = make_photo(tmp_path / "photos" / "p0.jpg", (200, 150), "blue")
    (tmp_path / "photos" / "p1.jpg").unlink()
    with Catalog(db) as cat:
        for _ in sync_folder(cat, tmp_path / "photos"):
            pass
        ids, _ = cat.embeddings("tiny-test-model")
        changed_id = cat.image_by_path(str(changed)).id
        assert changed_id not in ids.tolist() and len(ids) == 7  # stale one dropped; a missing photo unlisted
        assert cat.without_embeddings("tiny-test-model") == 0


def _v8_library(tmp_path: Path, bundle: Path) -> Path:
    """A library as this app's previous version (schema 8) left it: scores, decisions, no embeddings."""
    db = _library(tmp_path, bundle)
    with Catalog(db) as cat:
        first = cat.images()[0].id
        cat.set_decision(first, "red", True)
        cat.set_decision(first, "green", False)
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER predictions_drop_embedding")
    con.execute("DROP TABLE embeddings")
    con.execute("UPDATE meta SET value='8' WHERE key='schema_version'")
    con.commit()
    con.close()
    return db


def test_a_schema_8_library_upgrades_keeping_everything(tmp_path: Path, tiny_bundle_path: Path) -> None:
    db = _v8_library(tmp_path, tiny_bundle_path)
    with Catalog(db, read_only=True) as old:  # read as it is, nothing written
        assert old.schema_version == 8 and old.without_embeddings("tiny-test-model") == 9
        assert len(old.embeddings("tiny-test-model")[0]) == 0
        scores = old.scores("tiny-test-model")
        decisions = old.all_decisions()
    with Catalog(db) as cat:
        assert cat.schema_version == 11
        assert cat.backup_path == tmp_path / "lib.ffcat.bak-v8" and cat.backup_path.is_file()
        assert cat.all_decisions() == decisions and len(decisions) == 1
        now = cat.scores("tiny-test-model")
        assert now.keys() == scores.keys() and all(np.array_equal(now[i], scores[i]) for i in now)
        assert cat.without_embeddings("tiny-test-model") == 9  # tagged before: none, and counted
        with pytest.raises(SimilarError, match="re-tag"):
            similar_photos(cat, cat.images()[0].path, 3)
        paths = [r.path for r in cat.images()]
        list(tag_into_catalog(cat, paths, tiny_bundle_path, CPU))  # a plain run re-scores nothing
        assert cat.without_embeddings("tiny-test-model") == 9
        summary = list(tag_into_catalog(cat, paths[:4], tiny_bundle_path, CPU, force=True))[-1]
        assert summary.tagged == 4 and cat.without_embeddings("tiny-test-model") == 5
        events = list(tag_into_catalog(cat, paths, tiny_bundle_path, CPU, fill_embeddings=True))
        assert events[-1].tagged == 5 and events[-1].skipped == 4  # only those without one
        assert cat.without_embeddings("tiny-test-model") == 0
        assert cat.all_decisions() == decisions


def _pattern_photos(folder: Path) -> Path:
    """Twelve photos of random colour blocks, and a half-size re-encoded copy of one; returns the original."""
    rng = np.random.default_rng(5)
    folder.mkdir(parents=True)
    for i in range(12):
        blocks = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(blocks).resize((192, 192), Image.NEAREST).save(folder / f"p{i:02d}.jpg", quality=92)
    original = folder / "p03.jpg"
    Image.open(original).resize((96, 96), Image.BILINEAR).save(folder / "p03_small.jpg", quality=85)
    return original


def _random_cnn_bundle(path: Path) -> Path:
    import torch

    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.bundle import new_bundle, save_bundle

    torch.manual_seed(3)
    model = build_model("cnn", 3)
    provenance = {"model_id": "random-cnn", "name": "random cnn"}
    return save_bundle(
        new_bundle("cnn", ["a", "b", "c"], model.state_dict(), input_size=64, provenance=provenance), path
    )


def test_fashion_similar_lists_the_photo_then_its_resized_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = _pattern_photos(tmp_path / "photos")
    bundle = _random_cnn_bundle(tmp_path / "random.fmodel")
    db = tmp_path / "lib.ffcat"
    assert main(["tag", str(tmp_path / "photos"), "--model", str(bundle), "--catalog", str(db),
                 "--out", str(tmp_path / "tags.csv"), "--device", "cpu"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["similar", str(original), "--catalog", str(db), "-k", "4"]) == 0
    lines = [ln.rsplit("\t", 1) for ln in capsys.readouterr().out.splitlines()]
    assert len(lines) == 5
    assert Path(lines[0][0]).name == "p03.jpg" and float(lines[0][1]) == pytest.approx(1.0)
    assert Path(lines[1][0]).name == "p03_small.jpg"
    sims = [float(s) for _, s in lines]
    assert sims == sorted(sims, reverse=True)
    assert main(["similar", str(tmp_path / "nope.jpg"), "--catalog", str(db)]) == 1
    assert "not a photo of" in capsys.readouterr().err
    assert main(["similar", str(original), "--catalog", str(db), "--model", "nope"]) == 1


def test_the_index_finds_the_nearest_in_blocks_and_holds_int8() -> None:
    rng = np.random.default_rng(4)
    codes = rng.integers(-127, 128, (1000, 64), dtype=np.int8)
    index = SimilarityIndex(np.arange(10, 1010, dtype=np.int64), codes)
    index.BLOCK_ROWS = 128  # several blocks
    floats = codes.astype(np.float32)
    want = floats @ floats[7] / np.linalg.norm(floats, axis=1) / np.linalg.norm(floats[7])
    ids, sims = index.similar_to(17, 5)
    assert ids[0] == 17 and ids.tolist()[1:] == (np.argsort(-want)[1:6] + 10).tolist()
    assert np.allclose(sims[1:], np.sort(want)[::-1][1:6], atol=1e-5)
    assert index.nbytes < floats.nbytes / 3


@pytest.mark.slow
def test_the_tagging_process_stores_the_embeddings(tmp_path: Path, tiny_bundle_path: Path) -> None:
    from tests.core.test_tag_process import _run

    folder = tmp_path / "photos"
    for i in range(5):
        make_photo(folder / f"p{i}.jpg", (90, 64), ("red", "green", "blue")[i % 3])
    db = tmp_path / "lib.ffcat"
    with Catalog(db) as cat:
        for _ in sync_folder(cat, folder):
            pass
    code, _events, err = _run("tag", {"catalog": str(db), "bundle": str(tiny_bundle_path), "batch_size": 2})
    assert code == 0, err
    with Catalog(db) as cat:
        assert (
            len(cat.embeddings("tiny-test-model")[0]) == 5 and cat.without_embeddings("tiny-test-model") == 0
        )


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(ARCH_TABLE))
def test_every_architecture_gives_its_pooled_features_from_the_scoring_pass(arch: str) -> None:
    """The hook finds each registry architecture's head and catches what it reads: one row per photo."""
    import torch

    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.scoring import HeadInput

    try:
        model = build_model(arch, 3).eval()
    except ImportError as exc:  # an optional architecture package that is not installed here
        pytest.skip(str(exc))
    hook = HeadInput.find(model, arch)
    assert hook is not None
    head = model.get_submodule(ARCH_TABLE[arch].head_prefixes[0])
    size = ARCH_TABLE[arch].input_size if arch in ("vit_b_16", "inception_v3") else 64
    with torch.inference_mode(), hook.catch() as caught:
        logits = model(torch.rand(2, 3, size, size))
        features = HeadInput.pooled(caught)
        assert features is not None and features.shape == (2, head.in_features)
        again = head(torch.from_numpy(features))  # the head alone, on what was caught: the same logits
    assert logits.shape == (2, 3)
    assert np.allclose(again.numpy(), logits.numpy(), atol=1e-4)


def test_a_merged_photo_keeps_the_embedding_with_the_scores(tmp_path: Path) -> None:
    """Relinking onto a row a scan of the new place made (and tagging scored) keeps that row's embedding."""
    from fashion_desktop.core.catalog import ImageMove

    with Catalog(tmp_path / "lib.ffcat") as cat:
        ids = cat.ensure_images(["/old/a.jpg", "/new/a.jpg"])
        cat.register_model("m", ["a", "b", "c"])
        blob = encode(np.arange(8, dtype=np.float32)[None], "m")
        cat.add_predictions("m", [(ids["/new/a.jpg"], np.zeros(3, np.float32))], blob)
        assert cat.move_images([ImageMove(ids["/old/a.jpg"], "/new/a.jpg", 1, 1.0)], "/old", "/new") == 1
        got_ids, blobs = cat.embeddings("m")
        assert got_ids.tolist() == [ids["/old/a.jpg"]] and blobs == blob
        assert cat.without_embeddings("m") == 0


def test_with_flip_averaging_the_features_are_the_mean_of_the_photo_and_its_mirror() -> None:
    import torch

    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.bundle import new_bundle
    from fashion_desktop.model.scoring import ModelRunner

    torch.manual_seed(0)
    state = build_model("cnn", 3).state_dict()
    photos = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    options = ScoreOptions(device="cpu", precision="fp32", batch_size=4)

    def runner(tta: bool) -> ModelRunner:
        return ModelRunner(new_bundle("cnn", ["a", "b", "c"], state, input_size=32, tta_flip=tta), options)

    _, direct = runner(False).scores_and_features(photos)
    _, mirrored = runner(False).scores_and_features(photos.flip(2))
    _, averaged = runner(True).scores_and_features(photos)
    assert averaged is not None and averaged.shape == (4, 128)
    np.testing.assert_allclose(averaged, (direct + mirrored) / 2, rtol=1e-4, atol=1e-5)


def test_a_batch_halved_on_out_of_memory_keeps_every_photos_features(tiny_bundle_path: Path) -> None:
    import torch

    from fashion_desktop.model.bundle import load_bundle
    from fashion_desktop.model.scoring import ModelRunner

    runner = ModelRunner(load_bundle(tiny_bundle_path), ScoreOptions(device="cpu", precision="fp32"))
    photos = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8))
    whole_scores, whole = runner.scores_and_features(photos)
    real_forward = runner.forward

    def small_batches_only(batch: torch.Tensor):
        if len(batch) > 2:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real_forward(batch)

    runner.forward = small_batches_only  # type: ignore[method-assign]
    scores, features = runner.scores_and_features(photos)
    assert runner.max_batch <= 2 and runner.notices and features is not None
    np.testing.assert_allclose(scores, whole_scores, atol=1e-6)
    np.testing.assert_allclose(features, whole, atol=1e-6)
