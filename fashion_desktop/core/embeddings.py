"""Compact photo embeddings: a model's pooled features, projected to at most 256 numbers and kept as int8.

Layout of one stored embedding (the ``embeddings.vector`` blob of the catalog, one per photo and model):
bytes 0-3 the photo's scale, float32 little-endian; then ``k`` int8 codes (``k = min(256, D)``, D the
model's feature width). The embedding is ``codes * scale``: 4 + k <= 260 bytes a photo.

The projection is a fixed random orthogonal map, seeded by the model id: it needs no fitting (a library
of ten photos gets the same map as one of a million, and a photo tagged today lands in the same space as
one tagged next year), it keeps inner products on average (Johnson-Lindenstrauss; scaled by sqrt(D/k)),
and a PCA would have to be refitted, and every stored embedding recomputed, as the library grows. It is
drawn with numpy's legacy RandomState, whose stream numpy promises never to change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

MAX_DIMS = 256
SCALE_BYTES = 4


@lru_cache(maxsize=8)
def projection(model_id: str, width: int) -> np.ndarray:
    """float32 [width, min(256, width)]: orthonormal columns drawn from ``model_id``, times sqrt(width / k)."""
    if width < 1:
        raise ValueError("a feature width of at least 1 is needed")
    k = min(MAX_DIMS, width)
    seed = np.frombuffer(hashlib.sha256(f"{model_id}:{width}".encode()).digest(), dtype="<u4")
    gauss = np.random.RandomState(seed).standard_normal((width, k))
    q, r = np.linalg.qr(gauss)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)  # a unique Q whatever sign convention LAPACK uses
    return (q * np.sqrt(width / k)).astype(np.float32)


def encode(features: np.ndarray, model_id: str) -> list[bytes]:
    """One blob per row of ``features`` (float [B, D], a model's pooled features) in the layout above."""
    feats = np.asarray(features, dtype=np.float32)
    if feats.ndim != 2:
        raise ValueError(f"features must be [photos, width], not of shape {feats.shape}")
    projected = feats @ projection(model_id, feats.shape[1])
    peak = np.abs(projected).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype("<f4")
    codes = np.clip(np.rint(projected / scale[:, None]), -127, 127).astype(np.int8)
    return [s.tobytes() + c.tobytes() for s, c in zip(scale, codes, strict=True)]


def decode_codes(blobs: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """int8 codes [N, k] and float32 scales [N] of ``blobs`` (all of one model, so of one length).

    Raises ValueError when the blobs are not all of one valid length.
    """
    if not blobs:
        return np.zeros((0, 0), np.int8), np.zeros(0, np.float32)
    size = len(blobs[0])
    if size <= SCALE_BYTES or any(len(b) != size for b in blobs):
        raise ValueError("stored embeddings of different lengths: they are not of one model")
    raw = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), size)
    scales = raw[:, :SCALE_BYTES].copy().view("<f4").reshape(-1).astype(np.float32)
    return raw[:, SCALE_BYTES:].view(np.int8), scales


def decode(blobs: Sequence[bytes]) -> np.ndarray:
    """float32 [N, k] embeddings of ``blobs`` (``codes * scale``)."""
    codes, scales = decode_codes(blobs)
    return codes.astype(np.float32) * scales[:, None]
