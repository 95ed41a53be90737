"""A library's adapter: its examples from the catalog, its fit, storage and switch, and adapted scores for export."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..model.groups import exclusive_columns
from .adapter import Adapter, AdapterError, Examples, fit_adapter
from .catalog import Catalog
from .catalog_records import CatalogError, ModelRecord, timestamp
from .embeddings import decode

__all__ = [
    "AdapterError",
    "LibraryData",
    "LibraryFit",
    "adapted_scores",
    "adapter_enabled",
    "fit_library",
    "stored_adapter",
]


@dataclass
class LibraryFit:
    """A fitted adapter and what it learnt from (``skipped``: decided photos without an embedding)."""

    adapter: Adapter
    skipped: int


def _record(catalog: Catalog, model_key: str) -> ModelRecord:
    rec = catalog.model(model_key)
    if rec is None:
        raise CatalogError(f"{catalog.path}: no model {model_key!r} in this catalog")
    return rec


def decision_rows(
    decided: Mapping[int, Mapping[str, bool]], ids: Sequence[int], labels: Sequence[str]
) -> np.ndarray:
    """int8 [len(ids), len(labels)]: 1 yes, 0 no, -1 undecided."""
    index = {lab: j for j, lab in enumerate(labels)}
    out = np.full((len(ids), len(labels)), -1, np.int8)
    for r, i in enumerate(ids):
        for lab, value in decided.get(i, {}).items():
            j = index.get(lab)
            if j is not None:
                out[r, j] = int(bool(value))
    return out


@dataclass
class LibraryData:
    """A model's stored embeddings and scores of every present photo that has both, loaded once for refits."""

    ids: np.ndarray  # int64 [N] ascending
    blobs: list[bytes]
    scores: np.ndarray  # float32 [N, L]

    @classmethod
    def load(cls, catalog: Catalog, model_key: str) -> LibraryData:
        rec = _record(catalog, model_key)
        ids, blobs = catalog.embeddings(model_key)
        scored = catalog.scores(model_key)
        keep = [r for r, i in enumerate(ids.tolist()) if len(scored.get(i, ())) == len(rec.labels)]
        scores = np.stack([scored[int(ids[r])] for r in keep]) if keep else np.zeros((0, len(rec.labels)))
        return cls(ids[keep], [blobs[r] for r in keep], scores.astype(np.float32))

    def rescore(
        self, adapter: Adapter, exclusive: Sequence[np.ndarray], block: int = 8192
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every photo's scores under ``adapter``, a block of embeddings at a time: float32 [N, L] for the
        model's labels and [N, P] for the person's own labels it learnt (``Adapter.person_labels``)."""
        out = np.empty_like(self.scores)
        person = np.empty((len(self.ids), len(adapter.person_labels)), np.float32)
        for start in range(0, len(self.ids), block):
            stop = start + block
            out[start:stop], person[start:stop] = adapter.rescore(
                decode(self.blobs[start:stop]), self.scores[start:stop], exclusive
            )
        return out, person


def library_examples(
    catalog: Catalog, model_key: str, data: LibraryData | None = None
) -> tuple[Examples, int]:
    """The decided photos with this model's embedding (and how many decided photos have none)."""
    rec = _record(catalog, model_key)
    decided = {i: d for i, d in catalog.all_decisions().items() if d}
    person = tuple(lab for lab in catalog.person_labels() if lab not in rec.labels)
    ids_all, blobs = (data.ids, data.blobs) if data is not None else catalog.embeddings(model_key)
    row = {int(i): r for r, i in enumerate(ids_all.tolist())}
    ids = [i for i in sorted(decided) if i in row]
    scores = catalog.scores(model_key, ids)
    ids = [i for i in ids if i in scores and len(scores[i]) == len(rec.labels)]
    k = len(blobs[0]) - 4 if blobs else 0
    x = decode([blobs[row[i]] for i in ids]) if ids else np.zeros((0, k), np.float32)
    base = np.stack([scores[i] for i in ids]) if ids else np.zeros((0, len(rec.labels)), np.float32)
    ex = Examples(
        x, base, decision_rows(decided, ids, rec.labels), decision_rows(decided, ids, person), person
    )
    return ex, len(decided) - len(ids)


def fit_library(
    catalog: Catalog, model_key: str, store: bool = True, data: LibraryData | None = None
) -> LibraryFit:
    """Fit the library's adapter for ``model_key`` from every decision; store it (switch unchanged)."""
    rec = _record(catalog, model_key)
    ex, skipped = library_examples(catalog, model_key, data)
    adapter = fit_adapter(model_key, rec.labels, rec.groups, rec.exclusive, ex)
    if store:
        store_adapter(catalog, adapter)
    return LibraryFit(adapter, skipped)


def store_adapter(catalog: Catalog, adapter: Adapter) -> None:
    """Keep ``adapter`` as the library's one adapter for its model. Raises CatalogError naming the file."""
    rec = _record(catalog, adapter.model_key)
    try:
        with catalog.transaction() as db:
            db.execute(
                "INSERT INTO adapters(model_id, payload, fitted_at) VALUES(?,?,?) ON CONFLICT(model_id)"
                " DO UPDATE SET payload=excluded.payload, fitted_at=excluded.fitted_at",
                (rec.id, adapter.to_bytes(), timestamp()),
            )
    except sqlite3.Error as exc:
        raise CatalogError(f"{catalog.path}: the adapter was not saved ({exc})") from exc


def stored_adapter(catalog: Catalog, model_key: str) -> Adapter | None:
    """The library's adapter for ``model_key`` (None: none fitted yet). Raises AdapterError for one that
    cannot be read or was fitted for other labels."""
    rec = catalog.model(model_key)
    if rec is None:
        return None
    rows = catalog.query_newer_table("adapters", "SELECT payload FROM adapters WHERE model_id=?", (rec.id,))
    if not rows or rows[0][0] is None:
        return None
    adapter = Adapter.from_bytes(rows[0][0])
    if adapter.model_key != model_key or adapter.labels != rec.labels:
        raise AdapterError(f"{catalog.path}: the stored adapter is another model's")
    return adapter


def adapter_enabled(catalog: Catalog, model_key: str) -> bool:
    """The person's switch (on unless they turned it off)."""
    rec = catalog.model(model_key)
    if rec is None:
        return True
    rows = catalog.query_newer_table("adapters", "SELECT enabled FROM adapters WHERE model_id=?", (rec.id,))
    return not rows or bool(rows[0][0])


def set_adapter_enabled(catalog: Catalog, model_key: str, on: bool) -> None:
    """Save the switch. Raises CatalogError naming the file."""
    rec = _record(catalog, model_key)
    try:
        with catalog.transaction() as db:
            db.execute(
                "INSERT INTO adapters(model_id, enabled) VALUES(?,?) ON CONFLICT(model_id)"
                " DO UPDATE SET enabled=excluded.enabled",
                (rec.id, int(on)),
            )
    except sqlite3.Error as exc:
        raise CatalogError(f"{catalog.path}: the adapter switch was not saved ({exc})") from exc


def active_adapter(catalog: Catalog, model_key: str) -> Adapter | None:
    """The adapter exports and the window use: stored, switched on and better than the model; else None."""
    if not adapter_enabled(catalog, model_key):
        return None
    try:
        adapter = stored_adapter(catalog, model_key)
    except AdapterError:
        return None
    return adapter if adapter is not None and adapter.useful else None


class AdaptedScorer:
    """Applies ``adapter`` to chunks of a library's scores, reading the embeddings and the reviewed photos
    once (an export goes through a big library a chunk at a time)."""

    def __init__(self, catalog: Catalog, model_key: str, adapter: Adapter) -> None:
        rec = _record(catalog, model_key)
        self.adapter = adapter
        self.width = len(rec.labels)
        self.exclusive = exclusive_columns(rec.labels, rec.groups, rec.exclusive)
        self.reviewed = {
            r[0] for r in catalog.query("SELECT id FROM images WHERE reviewed_at IS NOT NULL AND present=1")
        }
        ids_all, self.blobs = catalog.embeddings(model_key)
        self.row = {int(i): r for r, i in enumerate(ids_all.tolist())}

    def __call__(self, scores: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        """``scores`` (by image id) with the adapter's applied to unreviewed photos that have an
        embedding; reviewed photos and photos without one keep the model's."""
        row = self.row
        todo = [i for i in scores if i not in self.reviewed and i in row and len(scores[i]) == self.width]
        out = dict(scores)
        for start in range(0, len(todo), 4096):
            chunk = todo[start : start + 4096]
            new, _ = self.adapter.rescore(
                decode([self.blobs[row[i]] for i in chunk]),
                np.stack([scores[i] for i in chunk]),
                self.exclusive,
            )
            out.update(zip(chunk, new, strict=True))
        return out


def adapted_scores(
    catalog: Catalog, model_key: str, scores: Mapping[int, np.ndarray], adapter: Adapter
) -> dict[int, np.ndarray]:
    """``scores`` (by image id) with the adapter's applied to unreviewed photos that have an embedding;
    reviewed photos and photos without one keep the model's."""
    return AdaptedScorer(catalog, model_key, adapter)(scores)
