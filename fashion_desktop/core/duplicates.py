"""Duplicates: groups of photos whose files are equal (content hash) or whose embeddings are nearly identical."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

import numpy as np

from ..model.cancel import CancelFlag, is_cancelled
from .catalog import Catalog
from .similar import SimilarityIndex

# Cosine of two photos' stored embeddings at or above which they are one photo (a resized or re-encoded
# copy). Measured with the shipped default model (EfficientNet-Lite0 v2, 160 px) on 1,034 real photos
# (all 372 of clothing-small/test, 662 fashion-products photos of 6 kinds), a copy of every 8th:
#   JPEG quality 70:                   phone photos min 0.993 (median 0.998); product shots min 0.972
#   half size (quality 90):            phone photos min 0.943 (median 0.984); product shots (112 px, below
#                                      the model's input size) min 0.690 (median 0.903)
#   half size and quality 70:          phone photos min 0.897 (median 0.954)
#   different photos (545,000 pairs):  phone photos max 0.821; product shots max 0.904 (the same model in
#                                      the same pose wearing another print), 99.99th percentile 0.853
# (31 of the 662 product shots are pixel-identical to another under a different product id: duplicates,
# counted as such.) 0.94 takes every re-encode and half-size phone photo while staying 0.036 above the
# closest different photos: a person reviews each group, and a wrong one costs a glance.
NEAR_DUPLICATE = 0.94

# Tiles of the pairwise search first compare the first 64 codes (a random projection of the features too,
# see core.embeddings), a quarter of the work, then check the pairs that pass with all codes. Over the
# measured photos' pairs at or above 0.93 the 64-code cosine was at most 0.039 below the full one (std
# 0.007), so a margin of 0.08 loses none; different photos rarely pass (about 8 pairs in 10,000).
PREFILTER_DIMS = 64
PREFILTER_MARGIN = 0.08
TILE = 2048
_CHECK_CHUNK = 65536  # candidate pairs checked at once: bounds the gathered codes to ~32 MB


@dataclass(frozen=True)
class DuplicateReport:
    """What a search for duplicates found among the library's present photos."""

    groups: list[list[int]]  # image ids; each group the largest photo first, the largest groups first
    photos: int  # present photos looked at
    without_embedding: int  # of them, those with no embedding from the model: found by content hash only

    @property
    def duplicate_photos(self) -> int:
        return sum(len(g) for g in self.groups)


class _Forest:
    """Union-find over ``n`` items, merged a batch of pairs at a time; ``parent`` stays flat between
    batches, so a batch finds its roots with one lookup."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n, dtype=np.int64)

    def _find(self, x: int) -> int:
        p = self.parent
        while p[x] != x:
            p[x] = p[p[x]]
            x = int(p[x])
        return x

    def merge(self, a: np.ndarray, b: np.ndarray) -> None:
        """Join the items ``a[i]`` and ``b[i]`` for every i."""
        ra, rb = self.parent[a], self.parent[b]
        apart = ra != rb
        if not apart.any():
            return
        # Thousands of pairs of one tile often join the same two groups: each distinct pair once.
        pairs = np.unique(np.stack([np.minimum(ra, rb)[apart], np.maximum(ra, rb)[apart]], axis=1), axis=0)
        for x, y in pairs.tolist():
            x, y = self._find(x), self._find(y)
            if x != y:
                self.parent[max(x, y)] = min(x, y)
        while True:  # flatten: pointer jumping halves every path's length each round
            up = self.parent[self.parent]
            if np.array_equal(up, self.parent):
                break
            self.parent = up

    def groups(self) -> list[np.ndarray]:
        """The items of every group of two or more."""
        order = np.argsort(self.parent, kind="stable")
        roots = self.parent[order]
        cuts = np.flatnonzero(np.diff(roots)) + 1
        return [g for g in np.split(order, cuts) if len(g) > 1]


def near_duplicate_pairs(
    codes: np.ndarray, threshold: float = NEAR_DUPLICATE, tile: int = TILE, cancel: CancelFlag = None
) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
    """Every pair of rows of ``codes`` (int8 [N, k], core.embeddings' codes) whose cosine is at least
    ``threshold``, found a tile of rows at a time: yields (rows a, rows b with a < b, fraction of the work
    done) once per band of ``tile`` rows, and stops early when ``cancel`` says so.

    Compares every pair (N^2 / 2), in float32 matrix products of ``tile`` x ``tile``; this is the one place a
    faster nearest-neighbour search would go.
    """
    n = len(codes)
    if n < 2:
        return
    short = codes[:, :PREFILTER_DIMS].astype(np.float32)
    short /= np.maximum(np.linalg.norm(short, axis=1, keepdims=True), 1e-12)
    inv = 1.0 / np.maximum(_norms(codes, tile), 1e-12)
    total, done = n * (n + 1) / 2, 0.0
    for start in range(0, n, tile):
        band = short[start : start + tile]
        found_a, found_b = [], []
        for other in range(start, n, tile):
            if is_cancelled(cancel):
                return
            sims = band @ short[other : other + tile].T
            if other == start:
                np.fill_diagonal(sims, -1.0)  # a photo is not its own duplicate
            # Most rows of a tile have no candidate: a row maximum is ~20 times cheaper than a nonzero
            # over the whole tile, which then runs on the few rows that have one.
            rows = np.flatnonzero(sims.max(axis=1) >= threshold - PREFILTER_MARGIN)
            ii, jj = np.nonzero(sims[rows] >= threshold - PREFILTER_MARGIN)
            a, b = rows[ii] + start, jj + other
            keep = a < b
            a, b = _check(codes, inv, a[keep], b[keep], threshold)
            found_a.append(a)
            found_b.append(b)
        done += len(band) * (n - start) - len(band) * (len(band) - 1) / 2
        yield np.concatenate(found_a), np.concatenate(found_b), min(1.0, done / total)


def _norms(codes: np.ndarray, tile: int) -> np.ndarray:
    out = np.empty(len(codes), np.float32)
    for start in range(0, len(codes), tile):
        out[start : start + tile] = np.linalg.norm(codes[start : start + tile].astype(np.float32), axis=1)
    return out


def _check(
    codes: np.ndarray, inv: np.ndarray, a: np.ndarray, b: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (a[i], b[i]) whose cosine over all codes is at least ``threshold``."""
    keep = np.zeros(len(a), bool)
    for s in range(0, len(a), _CHECK_CHUNK):
        ca, cb = a[s : s + _CHECK_CHUNK], b[s : s + _CHECK_CHUNK]
        dots = np.einsum("ij,ij->i", codes[ca].astype(np.float32), codes[cb].astype(np.float32))
        keep[s : s + len(ca)] = dots * inv[ca] * inv[cb] >= threshold
    return a[keep], b[keep]


def find_duplicates(
    catalog: Catalog, model_key: str | None, threshold: float = NEAR_DUPLICATE, cancel: CancelFlag = None
) -> Generator[float, None, DuplicateReport | None]:
    """Group the present photos of ``catalog`` whose content hash is equal or whose embeddings from model
    ``model_key`` (None: content hash only) have a cosine of at least ``threshold``.

    Yields the fraction of the work done; returns the DuplicateReport, or None when cancelled. Raises
    core.similar.SimilarError when the stored embeddings are unreadable.
    """
    records = catalog.images()
    ids = np.fromiter((r.id for r in records), np.int64, len(records))
    order = np.argsort(ids, kind="stable")
    forest = _Forest(len(records))
    by_hash: dict[str, list[int]] = {}
    for pos, r in enumerate(records):
        if r.content_hash:
            by_hash.setdefault(r.content_hash, []).append(pos)
    same = [(g[0], other) for g in by_hash.values() for other in g[1:]]
    if same:
        forest.merge(*np.array(same, np.int64).T)
    embedded = 0
    if model_key is not None:
        index = SimilarityIndex.load(catalog, model_key)
        # Each embedding's position in ``records``; one of a photo a scan took away meanwhile is left out.
        where = np.minimum(np.searchsorted(ids, index.ids, sorter=order), max(len(ids) - 1, 0))
        rows = order[where] if len(ids) else np.zeros(0, np.int64)
        known = ids[rows] == index.ids if len(ids) else np.zeros(len(index), bool)
        rows, codes = rows[known], index.codes[known]
        embedded = len(rows)
        for a, b, done in near_duplicate_pairs(codes, threshold, cancel=cancel):
            if len(a):
                forest.merge(rows[a], rows[b])
            yield done
    if is_cancelled(cancel):
        return None

    def rank(pos: int) -> tuple:
        r = records[pos]
        return (-((r.width or 0) * (r.height or 0)), -(r.size or 0), r.path)

    groups = [sorted(g.tolist(), key=rank) for g in forest.groups()]
    groups.sort(key=lambda g: (-len(g), rank(g[0])[2]))
    return DuplicateReport(
        [[records[p].id for p in g] for g in groups], len(records), len(records) - embedded
    )


def duplicate_groups(
    catalog: Catalog, model_key: str | None, threshold: float = NEAR_DUPLICATE
) -> list[list[int]]:
    """The image ids of each group of duplicates ``find_duplicates`` finds, the largest groups first."""
    search = find_duplicates(catalog, model_key, threshold)
    while True:
        try:
            next(search)
        except StopIteration as stop:
            report = stop.value
            return report.groups if report is not None else []
