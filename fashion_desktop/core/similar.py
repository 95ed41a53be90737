"""Similar photos: nearest neighbours by the cosine similarity of the embeddings stored at tagging time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .catalog import Catalog
from .embeddings import decode_codes


class SimilarError(ValueError):
    """A similar-photo search that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Neighbour:
    """A photo found similar: its catalog id, path and cosine similarity (1.0: the same direction)."""

    image_id: int
    path: str
    similarity: float


class SimilarityIndex:
    """One model's stored embeddings, kept as their int8 codes [N, k] with each row's inverse norm.

    The scale of a photo's embedding cancels in a cosine, so the codes alone are searched: 1,000,000
    photos of 256 codes hold ~260 MB, a quarter of the float32 matrix. A query converts the codes to
    float32 a block of rows at a time, so it never holds a float32 copy of the whole matrix; blocks of
    1,024 rows (1 MB as float32) stay in the CPU's cache, and there a query beat the float32 matrix's
    (benchmarks/bench_similar.py; larger blocks were 3 to 8 times slower on a 2-core machine).

    Plain numpy rather than a nearest-neighbour library (``bench_similar.py --libraries``, 1,000,000 photos,
    one core each, in one run; this search took 60 ms): usearch's exact int8 search took 87 ms; faiss's flat
    index 52 ms, but it holds float32, four times the memory; faiss's 8-bit index 22 ms, but inexact
    (recall@10 0.97) and a second copy of the embeddings besides these codes, which the Duplicates view
    searches too; usearch's HNSW graph under 1 ms, but it found 81 % of the true 10 nearest, held 504 MB and
    took 12 minutes to build. This search is exact, holds 256 MB and took 60 ms (88 ms median, 129 ms
    at the 95th percentile, with other work on both cores).
    """

    BLOCK_ROWS = 1024

    def __init__(self, ids: np.ndarray, codes: np.ndarray) -> None:
        """``ids`` int64 [N] ascending, ``codes`` int8 [N, k] (row i is the photo ids[i])."""
        self.ids = np.asarray(ids, np.int64)
        self.codes = np.ascontiguousarray(codes, np.int8)
        if self.codes.ndim != 2 or len(self.codes) != len(self.ids):
            raise ValueError(f"{len(self.ids)} ids for codes of shape {self.codes.shape}")
        norms = np.zeros(len(self.ids), np.float32)
        for start in range(0, len(self.ids), self.BLOCK_ROWS):
            block = self.codes[start : start + self.BLOCK_ROWS].astype(np.float32)
            norms[start : start + len(block)] = np.sqrt(np.einsum("ij,ij->i", block, block))
        self.inv_norms = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0).astype(np.float32)

    @classmethod
    def load(cls, catalog: Catalog, model_key: str) -> SimilarityIndex:
        """The index of every present photo with an embedding from model ``model_key`` (may be empty)."""
        ids, blobs = catalog.embeddings(model_key)
        try:
            codes, _scales = decode_codes(blobs)
        except ValueError as exc:
            raise SimilarError(f"{catalog.path}: {exc}") from None
        return cls(ids, codes)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """Memory the index holds (codes, ids and inverse norms)."""
        return int(self.codes.nbytes + self.ids.nbytes + self.inv_norms.nbytes)

    def row_of(self, image_id: int) -> int | None:
        """The row of photo ``image_id``, or None when it has no embedding here."""
        row = int(np.searchsorted(self.ids, image_id))
        return row if row < len(self.ids) and self.ids[row] == image_id else None

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """float32 [N]: the cosine similarity of every photo's embedding with ``query`` (float [k])."""
        q = np.asarray(query, np.float32).reshape(-1)
        norm = float(np.linalg.norm(q))
        out = np.zeros(len(self.ids), np.float32)
        if norm == 0.0 or not len(self.ids):
            return out
        q = q / norm
        for start in range(0, len(self.ids), self.BLOCK_ROWS):
            block = self.codes[start : start + self.BLOCK_ROWS]
            out[start : start + len(block)] = block.astype(np.float32) @ q
        out *= self.inv_norms
        return out

    def nearest(self, query: np.ndarray, k: int, exclude: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Image ids and similarities of the ``k`` photos nearest ``query``, best first (``exclude``: a row
        left out, e.g. the query photo's own)."""
        sims = self.similarities(query)
        if exclude is not None:
            sims[exclude] = -np.inf
        k = max(0, min(k, len(sims) - (exclude is not None)))
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        return self.ids[top], sims[top]

    def similar_to(self, image_id: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Photo ``image_id`` itself (similarity 1.0) followed by its ``k`` nearest others, best first.

        Raises SimilarError when the photo has no embedding in this index.
        """
        row = self.row_of(image_id)
        if row is None:
            raise SimilarError(f"photo {image_id} has no stored embedding for this model")
        ids, sims = self.nearest(self.codes[row].astype(np.float32), k, exclude=row)
        return np.concatenate([[image_id], ids]), np.concatenate([np.float32([1.0]), sims])


def pick_model(catalog: Catalog, model_key: str | None = None) -> str:
    """``model_key`` when the catalog has it, else the latest registered model that has embeddings (else the
    latest model). Raises SimilarError when there is no such model."""
    models = catalog.models()
    if model_key is not None:
        if catalog.model(model_key) is None:
            known = ", ".join(m.key for m in models) or "none"
            raise SimilarError(f"{catalog.path}: no model {model_key!r} in this catalog (known: {known})")
        return model_key
    if not models:
        raise SimilarError(f"{catalog.path}: no photo has been tagged yet, so none has an embedding")
    with_embeddings = [m.key for m in models if len(catalog.embeddings(m.key)[0])]
    return with_embeddings[-1] if with_embeddings else models[-1].key


def find_photo(catalog: Catalog, photo: str | os.PathLike) -> int:
    """The catalog id of ``photo`` (as given, absolute, or with links resolved). Raises SimilarError."""
    text = os.fspath(photo)
    for candidate in dict.fromkeys(
        (os.path.normpath(text), os.path.abspath(text), os.path.realpath(text), str(Path(text).resolve()))
    ):
        record = catalog.image_by_path(candidate)
        if record is not None:
            return record.id
    raise SimilarError(f"{text}: not a photo of {catalog.path} (add its folder and tag it first)")


def similar_photos(
    catalog: Catalog, photo: str | os.PathLike, k: int = 10, model_key: str | None = None
) -> list[Neighbour]:
    """``photo`` itself, then the ``k`` photos of ``catalog`` most similar to it by model ``model_key``'s
    embeddings (default: ``pick_model``), best first.

    Raises SimilarError when the photo is not in the catalog, the model is unknown, or the photo has no
    embedding from the model (tagged before embeddings were stored, or not tagged by it).
    """
    key = pick_model(catalog, model_key)
    image_id = find_photo(catalog, photo)
    index = SimilarityIndex.load(catalog, key)
    if index.row_of(image_id) is None:
        scored = catalog.scores(key, [image_id])
        why = (
            "it was tagged before embeddings were stored: re-tag it (fashion tag ... --force)"
            if scored
            else "it has not been tagged with this model yet"
        )
        raise SimilarError(f"{os.fspath(photo)}: no embedding from model {key!r}; {why}")
    ids, sims = index.similar_to(image_id, k)
    found = []
    for i, s in zip(ids.tolist(), sims.tolist(), strict=True):
        record = catalog.image(i)
        found.append(Neighbour(i, record.path if record is not None else "?", s))
    return found
